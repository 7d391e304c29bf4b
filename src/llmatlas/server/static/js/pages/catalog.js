/* Catalog page. */
import { checkField, clear, commercialEl, field, gradeEl, h, modelLink, select } from "../dom.js";
import { api, debounce, getFitAll, getModels, getOpenData, qstr } from "../api.js";
import { fmtBytes, fmtCtx, fmtNum, fmtParams } from "../format.js";
import { setQuery } from "../router.js";

const COLS = [
  { key: "name", label: "Model", get: (m) => m.name.toLowerCase() },
  { key: "family", label: "Family", get: (m) => m.family, cls: "hide-narrow" },
  { key: "developer", label: "Developer", get: (m) => m.developer.toLowerCase(), cls: "hide-narrow" },
  { key: "params", label: "Params (B)", get: (m) => m.params_b ?? -1, num: true },
  { key: "context", label: "Context", get: (m) => m.context_length ?? -1, num: true, cls: "hide-narrow" },
  { key: "license", label: "License", get: (m) => m.license },
  { key: "openness", label: "Open", get: (m) => m.openness },
  { key: "released", label: "Released", get: (m) => m.released, cls: "hide-narrow" },
  { key: "fit", label: "This machine", get: (m) => (m._fit ? m._fit.decode_tps : -1), num: true },
];
const FILTER_KEYS = ["search", "family", "developer", "license", "commercial", "task", "language",
  "min_params", "max_params", "open_data", "open_weights", "instruct", "fits", "sort"];

function langMatch(want, langs) {
  const w = want.trim().toLowerCase();
  if (w === "zh" || w === "chinese") return langs.some((l) => l.startsWith("zh"));
  return langs.some((l) => l.toLowerCase() === w || l.toLowerCase().startsWith(w + "-"));
}

export async function renderCatalog(app, _parts, query, alive) {
  performance.mark("catalog-start");
  app.append(h("h1", null, "Catalog"));
  const status = h("p", { class: "muted", "aria-live": "polite", id: "cat-count" }, "Loading models…");
  app.append(status);
  const data = await getModels();
  if (!alive()) return;
  const models = data.models.map((m) => Object.assign({}, m));
  const byId = new Map(models.map((m) => [m.id, m]));
  const uniq = (arr) => [...new Set(arr)].sort((a, b) => a.localeCompare(b));

  const st = {};
  for (const k of FILTER_KEYS) st[k] = query.get(k) || "";
  if (!st.sort) st.sort = "family";

  const ctl = {
    search: h("input", { type: "search", placeholder: "name, family, developer…", value: st.search, autocomplete: "off" }),
    family: select([["", "any"], ...data.families.map((f) => [f.id, f.name])], st.family),
    developer: select([["", "any"], ...uniq(models.map((m) => m.developer))], st.developer),
    license: select([["", "any"], ...uniq(models.map((m) => m.license))], st.license),
    task: select([["", "any"], ...uniq(models.flatMap((m) => m.tasks))], st.task),
    language: select([["", "any"], ["zh", "zh (any)"], ...uniq(models.flatMap((m) => m.languages))], st.language),
    min_params: h("input", { type: "number", min: "0", step: "any", placeholder: "0", value: st.min_params }),
    max_params: h("input", { type: "number", min: "0", step: "any", placeholder: "∞", value: st.max_params }),
    instruct: select([["", "any"], ["true", "instruct / chat"], ["false", "base"]], st.instruct),
    commercial: h("input", { type: "checkbox", checked: st.commercial === "true" }),
    open_data: h("input", { type: "checkbox", checked: st.open_data === "true" }),
    open_weights: h("input", { type: "checkbox", checked: st.open_weights === "true" }),
    fits: h("input", { type: "checkbox", checked: st.fits === "true" }),
    sort: select([["family", "family"], ["name", "name"], ["-params", "params ↓"], ["params", "params ↑"],
      ["-released", "newest"], ["released", "oldest"], ["-context", "context ↓"], ["-mmlu", "MMLU ↓"],
      ["-fit", "fastest here"]], st.sort),
  };
  const reset = h("button", { type: "button" }, "Reset");
  const searchForm = h("form", { class: "row searchbar", role: "search", "aria-label": "Search models", onsubmit: (e) => e.preventDefault() },
    field("Search", ctl.search, "grow"));
  const form = h("form", { class: "filters", "aria-label": "Filter models", onsubmit: (e) => e.preventDefault() },
    field("Family", ctl.family), field("Developer", ctl.developer),
    field("License", ctl.license), field("Task", ctl.task), field("Language", ctl.language),
    field("Min params (B)", ctl.min_params), field("Max params (B)", ctl.max_params),
    field("Kind", ctl.instruct), field("Sort by", ctl.sort),
    checkField("Commercial use", ctl.commercial), checkField("Open training data", ctl.open_data),
    checkField("Downloadable weights", ctl.open_weights), checkField("Fits this machine", ctl.fits), reset);
  const narrow = window.matchMedia("(max-width: 720px)").matches;
  const active = FILTER_KEYS.some((k) => k !== "sort" && k !== "search" && st[k]);
  const details = h("details", { class: "filter-box", open: !narrow || active }, h("summary", null, "Filters and sorting"), form);
  app.insertBefore(searchForm, status);
  app.insertBefore(details, status);

  // table, rendered once
  const ths = COLS.map((c) => {
    const b = h("button", { type: "button", class: "sort" }, c.label);
    const th = h("th", { scope: "col", class: (c.num ? "num " : "") + (c.cls || ""), "data-col": c.key }, b);
    b.addEventListener("click", () => {
      const cur = st.sort.replace(/^-/, "");
      const desc = cur === c.key ? !st.sort.startsWith("-") : c.num;
      st.sort = (desc ? "-" : "") + c.key;
      ctl.sort.value = st.sort;
      if (ctl.sort.value !== st.sort) ctl.sort.value = "";
      apply();
    });
    return th;
  });
  const tbody = h("tbody");
  const frag = document.createDocumentFragment();
  for (const m of models) {
    const fitCell = h("td", { class: "num fitcell" });
    m._fitCell = fitCell;
    m._row = h("tr", { "data-id": m.id },
      h("td", null, modelLink(m.id, m.name), m.instruct ? null : h("span", { class: "muted small" }, " base")),
      h("td", { class: "hide-narrow" }, m.family),
      h("td", { class: "hide-narrow" }, m.developer),
      h("td", { class: "num" }, fmtParams(m)),
      h("td", { class: "num hide-narrow" }, fmtCtx(m.context_length)),
      h("td", null, h("span", { class: "small hide-narrow" }, m.license, " "), commercialEl(m.commercial_use)),
      h("td", null, gradeEl(m.openness)),
      h("td", { class: "hide-narrow nowrap" }, m.released),
      fitCell);
    m._hay = [m.id, m.name, m.family, m.developer, m.license].join(" ").toLowerCase();
    frag.append(m._row);
  }
  tbody.append(frag);
  const table = h("table", { id: "catalog-table" }, h("caption", { class: "muted small", style: "text-align:left;caption-side:bottom;padding:.4em" },
    "Openness grade A (fully open) … E (weights only, or less). ‘This machine’: best quantization and expected decode speed from the advisor."),
  h("thead", null, h("tr", null, ths)), tbody);
  app.append(h("div", { class: "table-wrap" }, table));

  let serverSearch = null; // ids matching the server-side search (aliases, HF repos, notes)
  let openData = null;
  let mmluOrder = null;

  function matches(m) {
    const f = st;
    if (f.family && m.family !== f.family) return false;
    if (f.developer && m.developer !== f.developer) return false;
    if (f.license && m.license !== f.license) return false;
    if (f.commercial === "true" && !["yes", "conditional"].includes(m.commercial_use)) return false;
    if (f.task && !m.tasks.includes(f.task)) return false;
    if (f.language && !langMatch(f.language, m.languages)) return false;
    if (f.min_params !== "" && (m.params_b || 0) < Number(f.min_params)) return false;
    if (f.max_params !== "" && (m.params_b == null || m.params_b > Number(f.max_params))) return false;
    if (f.open_weights === "true" && m.availability !== "open-weights") return false;
    if (f.open_data === "true" && openData && !openData.has(m.id)) return false;
    if (f.instruct && String(m.instruct) !== f.instruct) return false;
    if (f.fits === "true" && !m._fit) return false;
    if (f.search) {
      const t = f.search.trim().toLowerCase();
      const hit = m._hay.includes(t) || (serverSearch && serverSearch.q === t && serverSearch.ids.has(m.id));
      if (!hit) return false;
    }
    return true;
  }

  function sortKey() {
    const desc = st.sort.startsWith("-");
    const key = st.sort.replace(/^-/, "");
    let get;
    if (key === "mmlu") get = (m) => (mmluOrder ? mmluOrder.get(m.id) ?? -1 : 0);
    else if (key === "family") get = (m) => `${m.family}\u0000${m.released}\u0000${String(m.params_b || 0).padStart(9, "0")}`;
    else get = (COLS.find((c) => c.key === key) || COLS[1]).get;
    return { key, desc, get };
  }

  function apply() {
    const { key, desc, get } = sortKey();
    if (key === "mmlu" && !mmluOrder) loadMmlu().catch((e) => { status.textContent = `MMLU order unavailable: ${e.message}`; });
    const sorted = models.slice().sort((a, b) => {
      const x = get(a), y = get(b);
      const r = x < y ? -1 : x > y ? 1 : a.id.localeCompare(b.id);
      return desc ? -r : r;
    });
    let n = 0;
    for (const m of sorted) {
      const show = matches(m);
      m._row.hidden = !show;
      if (show) n += 1;
      tbody.append(m._row);
    }
    for (const th of ths) {
      th.setAttribute("aria-sort", th.dataset.col === key ? (desc ? "descending" : "ascending") : "none");
    }
    status.textContent = `${n} of ${models.length} models`;
    const q = {};
    for (const k of FILTER_KEYS) if (st[k] && !(k === "sort" && st[k] === "family")) q[k] = st[k];
    setQuery(q);
  }

  async function loadMmlu() {
    const r = await api("/api/atlas/models?sort=mmlu");
    mmluOrder = new Map(r.models.map((m, i) => [m.id, i]));
    if (alive()) apply();
  }

  const searchServer = debounce(async (t) => {
    if (!t) return;
    try {
      const r = await api(`/api/atlas/models?${qstr({ search: t })}`);
      if (!alive() || st.search.trim().toLowerCase() !== t) return;
      serverSearch = { q: t, ids: new Set(r.models.map((m) => m.id)) };
      apply();
    } catch (_) { /* the client-side match stands */ }
  }, 250);

  for (const [k, el] of Object.entries(ctl)) {
    const ev = el.tagName === "INPUT" && (el.type === "search" || el.type === "number") ? "input" : "change";
    el.addEventListener(ev, () => {
      st[k] = el.type === "checkbox" ? (el.checked ? "true" : "") : el.value;
      if (k === "search") searchServer(st.search.trim().toLowerCase());
      if (k === "open_data" && el.checked && !openData) loadOpenData().catch(() => {});
      apply();
    });
  }
  reset.addEventListener("click", () => {
    for (const [k, el] of Object.entries(ctl)) {
      if (el.type === "checkbox") el.checked = false; else el.value = k === "sort" ? "family" : "";
      st[k] = k === "sort" ? "family" : "";
    }
    apply();
  });

  async function loadOpenData() {
    const r = await getOpenData();
    openData = new Set(r.models.map((m) => m.id));
    if (alive()) apply();
  }

  apply();
  // User Timing marks (visible in the browser's performance panel): the table is interactive
  performance.measure("catalog-render", "catalog-start");
  if (st.search) searchServer(st.search.trim().toLowerCase());
  if (st.open_data === "true") loadOpenData().catch(() => {});

  // advisor badges, after the table is interactive
  const fitNote = h("p", { class: "muted small" }, "Checking what fits this machine…");
  status.after(fitNote);
  try {
    const fit = await getFitAll();
    if (!alive()) return;
    let n = 0;
    for (const r of fit.rows) {
      const m = byId.get(r.model);
      if (!m) continue;
      n += 1;
      m._fit = r;
      clear(m._fitCell).append(
        h("span", { class: "badge ok", title: r.why.join("; ") }, "fits"), " ",
        h("span", { class: "mono small" }, r.quant), h("br"),
        h("span", { class: "small muted" }, `${fmtNum(r.decode_tps, 0)} tok/s`));
    }
    fitNote.textContent = `${n} instruct models fit ${fit.target} (${fmtBytes(fit.budget_bytes)}: ${fit.pool}).`;
    apply();
  } catch (e) {
    fitNote.textContent = `Could not check this machine: ${e.message}`;
  }
}

