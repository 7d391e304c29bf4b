/* Catalog page. */
import { checkField, clear, commercialEl, field, gradeEl, h, modelLink, select } from "../dom.js";
import { api, debounce, getFitAll, getModels, getOpenData, qstr } from "../api.js";
import { fmtBytes, fmtCtx, fmtDate, fmtNum, fmtParams } from "../format.js";
import { N_, t, tn } from "../i18n.js";
import { languageLabel, taskLabel } from "../labels.js";
import { setQuery } from "../router.js";

const COLS = [
  { key: "name", label: N_("Model"), get: (m) => m.name.toLowerCase() },
  { key: "family", label: N_("Family"), get: (m) => m.family, cls: "hide-narrow" },
  { key: "developer", label: N_("Developer"), get: (m) => m.developer.toLowerCase(), cls: "hide-narrow" },
  { key: "params", label: N_("Params (B)"), get: (m) => m.params_b ?? -1, num: true },
  { key: "context", label: N_("Context"), get: (m) => m.context_length ?? -1, num: true, cls: "hide-narrow" },
  { key: "license", label: N_("License"), get: (m) => m.license },
  { key: "openness", label: N_("Open"), get: (m) => m.openness },
  { key: "released", label: N_("Released"), get: (m) => m.released, cls: "hide-narrow" },
  { key: "fit", label: N_("This machine"), get: (m) => (m._fit ? m._fit.decode_tps : -1), num: true },
];
const FILTER_KEYS = ["search", "family", "developer", "license", "commercial", "allow_conditional", "task", "language",
  "min_params", "max_params", "open_data", "open_weights", "instruct", "fits", "sort"];

function langMatch(want, langs) {
  const w = want.trim().toLowerCase();
  if (w === "zh" || w === "chinese") return langs.some((l) => l.startsWith("zh"));
  return langs.some((l) => l.toLowerCase() === w || l.toLowerCase().startsWith(w + "-"));
}

export async function renderCatalog(app, _parts, query, alive) {
  performance.mark("catalog-start");
  app.append(h("h1", null, t("Catalog")));
  const status = h("p", { class: "muted", "aria-live": "polite", id: "cat-count" }, t("Loading models…"));
  app.append(status);
  const data = await getModels();
  if (!alive()) return;
  const models = data.models.map((m) => Object.assign({}, m));
  const byId = new Map(models.map((m) => [m.id, m]));
  const familyName = new Map(data.families.map((f) => [f.id, f.name]));
  const uniq = (arr) => [...new Set(arr)].sort((a, b) => a.localeCompare(b));
  const any = t("any");

  const st = {};
  for (const k of FILTER_KEYS) st[k] = query.get(k) || "";
  if (!st.sort) st.sort = "family";

  const ctl = {
    search: h("input", { type: "search", placeholder: t("name, family, developer…"), value: st.search, autocomplete: "off" }),
    family: select([["", any], ...data.families.map((f) => [f.id, f.name])], st.family),
    developer: select([["", any], ...uniq(models.map((m) => m.developer))], st.developer),
    license: select([["", any], ...uniq(models.map((m) => m.license))], st.license),
    task: select([["", any], ...uniq(models.flatMap((m) => m.tasks)).map((x) => [x, taskLabel(x)])], st.task),
    language: select([["", any], ["zh", t("Chinese (any script)")],
      ...uniq(models.flatMap((m) => m.languages)).map((x) => [x, languageLabel(x)])], st.language),
    min_params: h("input", { type: "number", min: "0", step: "any", placeholder: "0", value: st.min_params }),
    max_params: h("input", { type: "number", min: "0", step: "any", placeholder: "∞", value: st.max_params }),
    instruct: select([["", any], ["true", t("instruct / chat")], ["false", t("base")]], st.instruct),
    commercial: h("input", { type: "checkbox", checked: st.commercial === "true" }),
    allow_conditional: h("input", { type: "checkbox", checked: st.allow_conditional === "true" }),
    open_data: h("input", { type: "checkbox", checked: st.open_data === "true" }),
    open_weights: h("input", { type: "checkbox", checked: st.open_weights === "true" }),
    fits: h("input", { type: "checkbox", checked: st.fits === "true" }),
    sort: select([["family", t("family")], ["name", t("name")], ["-params", t("params ↓")], ["params", t("params ↑")],
      ["-released", t("newest")], ["released", t("oldest")], ["-context", t("context ↓")], ["-mmlu", t("MMLU ↓")],
      ["-fit", t("fastest here")]], st.sort),
  };
  const reset = h("button", { type: "button" }, t("Reset"));
  const searchForm = h("form", { class: "row searchbar", role: "search", "aria-label": t("Search models"), onsubmit: (e) => e.preventDefault() },
    field(t("Search"), ctl.search, "grow"));
  const form = h("form", { class: "filters", "aria-label": t("Filter models"), onsubmit: (e) => e.preventDefault() },
    field(t("Family"), ctl.family), field(t("Developer"), ctl.developer),
    field(t("License"), ctl.license), field(t("Task"), ctl.task), field(t("Language"), ctl.language),
    field(t("Min params (B)"), ctl.min_params), field(t("Max params (B)"), ctl.max_params),
    field(t("Kind"), ctl.instruct), field(t("Sort by"), ctl.sort),
    checkField(t("Commercial use"), ctl.commercial),
    checkField(t("Commercial use on conditions too (Llama, Gemma…)"), ctl.allow_conditional),
    checkField(t("Open training data"), ctl.open_data),
    checkField(t("Downloadable weights"), ctl.open_weights), checkField(t("Fits this machine"), ctl.fits), reset);
  const narrow = window.matchMedia("(max-width: 720px)").matches;
  const active = FILTER_KEYS.some((k) => k !== "sort" && k !== "search" && st[k]);
  const details = h("details", { class: "filter-box", open: !narrow || active }, h("summary", null, t("Filters and sorting")), form);
  app.insertBefore(searchForm, status);
  app.insertBefore(details, status);

  // table, rendered once
  const ths = COLS.map((c) => {
    const b = h("button", { type: "button", class: "sort" }, t(c.label));
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
      h("td", null, modelLink(m.id, m.name), m.instruct ? null : h("span", { class: "muted small" }, " ", t("base"))),
      h("td", { class: "hide-narrow" }, h("a", { href: `#/family/${encodeURIComponent(m.family)}` }, familyName.get(m.family) || m.family)),
      h("td", { class: "hide-narrow" }, m.developer),
      h("td", { class: "num" }, fmtParams(m)),
      h("td", { class: "num hide-narrow" }, fmtCtx(m.context_length)),
      h("td", null, h("span", { class: "small hide-narrow" }, m.license, " "), commercialEl(m.commercial_use)),
      h("td", null, gradeEl(m.openness)),
      h("td", { class: "hide-narrow nowrap" }, fmtDate(m.released)),
      fitCell);
    m._hay = [m.id, m.name, m.family, m.developer, m.license].join(" ").toLowerCase();
    frag.append(m._row);
  }
  tbody.append(frag);
  const table = h("table", { id: "catalog-table" }, h("caption", { class: "muted small", style: "text-align:left;caption-side:bottom;padding:.4em" },
    t("Openness grade A (fully open) … E (weights only, or less). ‘This machine’: best quantization and expected decode speed from the advisor.")),
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
    // as the CLI and the API: an unconditional yes, or also a conditional one when asked
    const commercialOk = f.allow_conditional === "true" ? ["yes", "conditional"] : ["yes"];
    if (f.commercial === "true" && !commercialOk.includes(m.commercial_use)) return false;
    if (f.task && !m.tasks.includes(f.task)) return false;
    if (f.language && !langMatch(f.language, m.languages)) return false;
    if (f.min_params !== "" && (m.params_b || 0) < Number(f.min_params)) return false;
    if (f.max_params !== "" && (m.params_b == null || m.params_b > Number(f.max_params))) return false;
    if (f.open_weights === "true" && m.availability !== "open-weights") return false;
    if (f.open_data === "true" && openData && !openData.has(m.id)) return false;
    if (f.instruct && String(m.instruct) !== f.instruct) return false;
    if (f.fits === "true" && !m._fit) return false;
    if (f.search) {
      const q = f.search.trim().toLowerCase();
      const hit = m._hay.includes(q) || (serverSearch && serverSearch.q === q && serverSearch.ids.has(m.id));
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
    if (key === "mmlu" && !mmluOrder) loadMmlu().catch((e) => { status.textContent = t("MMLU order unavailable: {error}", { error: e.message }); });
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
    status.textContent = tn("{n} of {total} model", "{n} of {total} models", models.length, { n: fmtNum(n, 0), total: fmtNum(models.length, 0) });
    const q = {};
    for (const k of FILTER_KEYS) if (st[k] && !(k === "sort" && st[k] === "family")) q[k] = st[k];
    setQuery(q);
  }

  async function loadMmlu() {
    const r = await api("/api/atlas/models?sort=mmlu");
    mmluOrder = new Map(r.models.map((m, i) => [m.id, i]));
    if (alive()) apply();
  }

  const searchServer = debounce(async (q) => {
    if (!q) return;
    try {
      const r = await api(`/api/atlas/models?${qstr({ search: q })}`);
      if (!alive() || st.search.trim().toLowerCase() !== q) return;
      serverSearch = { q, ids: new Set(r.models.map((m) => m.id)) };
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
  const fitNote = h("p", { class: "muted small" }, t("Checking what fits this machine…"));
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
        h("span", { class: "badge ok", title: r.why.join("; ") }, t("fits")), " ",
        h("span", { class: "mono small" }, r.quant), h("br"),
        h("span", { class: "small muted" }, t("{tps} tok/s", { tps: fmtNum(r.decode_tps, 0) })));
    }
    fitNote.textContent = tn("{n} instruct model fits {target} ({budget}: {pool}).", "{n} instruct models fit {target} ({budget}: {pool}).", n,
      { target: fit.target, budget: fmtBytes(fit.budget_bytes), pool: fit.pool });
    apply();
  } catch (e) {
    fitNote.textContent = t("Could not check this machine: {error}", { error: e.message });
  }
}

