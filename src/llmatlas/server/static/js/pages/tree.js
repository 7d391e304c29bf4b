/* Family tree page: lineages as an SVG graph with pan, zoom and keyboard navigation. */
import { checkField, clear, field, h, s, select } from "../dom.js";
import { api, getModels, qstr } from "../api.js";
import { N_, t, tn } from "../i18n.js";
import { relationLabel } from "../labels.js";
import { setQuery } from "../router.js";

// short labels that fit between the columns (the node's title gives the full relation)
const REL_SHORT = { "continued-pretraining": N_("cont. pretrain"), "vocabulary-extension": N_("vocab ext."),
  distillation: N_("distilled"), finetune: N_("fine-tune"), quantized: N_("quantized"), merge: N_("merge") };
const relShort = (r) => (r in REL_SHORT ? t(REL_SHORT[r]) : relationLabel(r));
export async function renderTree(app, parts, query, alive) {
  const root = parts[0] || "";
  app.append(h("h1", null, root ? t("Family tree") : t("Family trees")));
  const [forestRaw, cat] = await Promise.all([
    api(`/api/atlas/tree${root ? `?${qstr({ root })}` : ""}`), getModels()]);
  if (!alive()) return;
  const count = (n) => 1 + n.children.reduce((a, c) => a + count(c), 0);
  const allRoots = root ? null : forestRaw;
  const singles = h("input", { type: "checkbox", checked: query.get("all") === "true" });
  const pick = select([["", t("all lineages")], ...(allRoots || forestRaw).filter((n) => n.children.length || root)
    .map((n) => [n.id, `${n.name} (${count(n)})`])], root);
  const zoomIn = h("button", { type: "button", "aria-label": t("Zoom in") }, "+");
  const zoomOut = h("button", { type: "button", "aria-label": t("Zoom out") }, "−");
  const zoomReset = h("button", { type: "button" }, t("Fit to view"));
  app.append(h("form", { class: "filters", onsubmit: (e) => e.preventDefault(), "aria-label": t("Tree options") },
    field(t("Lineage"), pick), root ? null : checkField(t("Show models without relatives"), singles),
    h("div", { class: "row", role: "group", "aria-label": t("Zoom") }, zoomIn, zoomOut, zoomReset),
    h("span", { class: "small muted" }, t("Drag to pan, wheel or buttons to zoom; Tab through nodes, Enter opens a model."))));
  pick.addEventListener("change", () => { location.hash = pick.value ? `#/tree/${encodeURIComponent(pick.value)}` : "#/tree"; });

  const box = h("div", { class: "tree-box", id: "tree-box" });
  app.append(box);
  const families = new Map(cat.families.map((f) => [f.id, f.name]));

  function draw() {
    const forest = (root || singles.checked) ? forestRaw : forestRaw.filter((n) => n.children.length);
    setQuery(singles.checked ? { all: "true" } : {});
    // layout: x by depth, y by leaf order; parents centred on their children
    const colW = 320, rowH = 30, nodeW = 210, nodeH = 22, pad = 20;
    let leaf = 0, maxDepth = 0;
    const nodes = [], edges = [];
    function lay(n, depth, parent) {
      maxDepth = Math.max(maxDepth, depth);
      const node = { n, depth, x: pad + depth * colW };
      if (n.children.length) {
        const ys = n.children.map((c) => lay(c, depth + 1, node).y);
        node.y = (Math.min(...ys) + Math.max(...ys)) / 2;
      } else {
        node.y = pad + leaf * rowH;
        leaf += 1;
      }
      nodes.push(node);
      if (parent) edges.push([parent, node]);
      return node;
    }
    forest.forEach((r) => { lay(r, 0, null); leaf += 0.6; });
    const W = pad * 2 + maxDepth * colW + nodeW, H = pad * 2 + leaf * rowH;
    const g = s("g");
    const labels = [];
    for (const [p, c] of edges) {
      const x1 = p.x + nodeW, y1 = p.y + nodeH / 2, x2 = c.x, y2 = c.y + nodeH / 2, mx = (x1 + x2) / 2;
      g.append(s("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
      // short labels fit the gap between columns (the full relation is in the node's title)
      if (c.n.relation) labels.push(s("text", { class: "rel", x: x2 - 6, y: y2 - 3, "text-anchor": "end" }, relShort(c.n.relation)));
    }
    g.append(...labels); // above every edge, on a halo, so converging edges never hide them
    for (const nd of nodes) {
      const label = nd.n.name.length > 30 ? nd.n.name.slice(0, 29) + "…" : nd.n.name;
      const a = s("a", { href: `#/model/${encodeURIComponent(nd.n.id)}`, class: "node" + (nd.depth === 0 ? " root" : ""), "data-id": nd.n.id,
        "aria-label": `${nd.n.name}${nd.n.relation ? `, ${relationLabel(nd.n.relation)}` : ""}` },
      s("title", null, `${nd.n.name} (${families.get(nd.n.family) || nd.n.family})${nd.n.relation ? ` — ${relationLabel(nd.n.relation)}` : ""}`),
      s("rect", { x: nd.x, y: nd.y, width: nodeW, height: nodeH, rx: 4 }),
      s("text", { x: nd.x + 6, y: nd.y + 15 }, label));
      g.append(a);
    }
    const svg = s("svg", { role: "group", "aria-label": tn("Lineage graph, {n} model", "Lineage graph, {n} models", nodes.length) }, g);
    clear(box).append(svg);
    // zoom and pan
    let view = { k: 1, x: 0, y: 0 };
    const apply = () => g.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
    const fitView = () => {
      const bw = box.clientWidth || 800, bh = box.clientHeight || 500;
      const k = Math.min(1.2, Math.max(0.6, Math.min(bw / W, root ? bh / H : 1)));
      view = { k, x: Math.max(0, (bw - W * k) / 2), y: root ? Math.max(0, (bh - H * k) / 2) : 0 };
      apply();
    };
    const zoomAt = (f, cx, cy) => {
      const k = Math.min(4, Math.max(0.1, view.k * f));
      view.x = cx - ((cx - view.x) * k) / view.k;
      view.y = cy - ((cy - view.y) * k) / view.k;
      view.k = k;
      apply();
    };
    const centre = () => [box.clientWidth / 2, box.clientHeight / 2];
    zoomIn.onclick = () => zoomAt(1.25, ...centre());
    zoomOut.onclick = () => zoomAt(0.8, ...centre());
    zoomReset.onclick = fitView;
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = svg.getBoundingClientRect();
      if (e.ctrlKey || e.metaKey || Math.abs(e.deltaY) > 0 && !e.shiftKey) zoomAt(e.deltaY < 0 ? 1.12 : 0.89, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (e) => {
      if (e.target.closest("a")) return;
      drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
      svg.setPointerCapture(e.pointerId);
    });
    svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      view.x = drag.vx + e.clientX - drag.x;
      view.y = drag.vy + e.clientY - drag.y;
      apply();
    });
    const end = () => { drag = null; };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    // keep a focused node in view
    svg.addEventListener("focusin", (e) => {
      const a = e.target.closest("a.node");
      if (!a) return;
      const rect = a.querySelector("rect");
      const nx = Number(rect.getAttribute("x")) * view.k + view.x, ny = Number(rect.getAttribute("y")) * view.k + view.y;
      if (nx < 0 || ny < 0 || nx > box.clientWidth - 50 || ny > box.clientHeight - 20) {
        view.x = box.clientWidth / 3 - Number(rect.getAttribute("x")) * view.k;
        view.y = box.clientHeight / 2 - Number(rect.getAttribute("y")) * view.k;
        apply();
      }
      box.scrollTop = 0; box.scrollLeft = 0;
    });
    fitView();
  }
  singles.addEventListener("change", draw);
  draw();
}

