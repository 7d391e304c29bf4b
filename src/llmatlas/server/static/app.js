/* llmatlas web UI: a single-page app with hash routing, plain DOM, no dependencies. */
"use strict";

/* ---------- helpers ---------- */
const SVGNS = "http://www.w3.org/2000/svg";

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}
function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", v);
    else if (k === "text") el.textContent = v;
    else if (k === "value" && "value" in el) el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : v);
  }
}
function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
}
function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

let uid = 0;
function nextId(p) { uid += 1; return `${p}-${uid}`; }

/* a labelled field: returns [wrapper, control] */
function field(label, control, cls) {
  if (!control.id) control.id = nextId("f");
  return h("div", { class: "field " + (cls || "") }, h("label", { for: control.id }, label), control);
}
function checkField(label, control) {
  if (!control.id) control.id = nextId("c");
  return h("div", { class: "check" }, control, h("label", { for: control.id }, label));
}
function select(options, value, attrs) {
  const el = h("select", attrs);
  for (const o of options) {
    const [v, t] = Array.isArray(o) ? o : [o, o];
    el.append(h("option", { value: v }, t));
  }
  if (value !== undefined && value !== null) el.value = value;
  return el;
}

class ApiError extends Error {}

async function api(path, opts) {
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(`cannot reach the llmatlas server (${e.message})`);
  }
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  if (!res.ok) {
    const msg = body && body.error ? body.error.message : `HTTP ${res.status}`;
    throw new ApiError(msg);
  }
  return body;
}

function qstr(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "" || v === false) continue;
    u.set(k, String(v));
  }
  return u.toString();
}

function debounce(fn, ms) {
  let t = null;
  const d = (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  d.cancel = () => clearTimeout(t);
  return d;
}

const GiB = 1024 ** 3;
function fmtBytes(b) {
  if (b === null || b === undefined) return "–";
  if (b >= GiB) return `${(b / GiB).toFixed(b >= 100 * GiB ? 0 : 1)} GiB`;
  return `${Math.round(b / 1024 ** 2)} MiB`;
}
function fmtNum(x, d = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  return Number(x).toLocaleString("en-US", { maximumFractionDigits: d });
}
function fmtParams(m) {
  if (m.params_b == null) return "–";
  const p = m.params_b >= 10 ? fmtNum(m.params_b, 0) : fmtNum(m.params_b, 2);
  return m.active_params_b ? `${p} (${fmtNum(m.active_params_b, 1)} active)` : p;
}
function fmtCtx(c) {
  if (!c) return "–";
  return c >= 1024 ? `${Math.round(c / 1024)}k` : String(c);
}
function errorBox(e) {
  return h("p", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e));
}
function gradeEl(g) { return h("span", { class: `grade grade-${g}`, title: `openness grade ${g}` }, g); }
function commercialEl(c) {
  const cls = { yes: "ok", conditional: "warn", no: "bad" }[c] || "";
  const label = { yes: "commercial OK", conditional: "conditional", no: "non-commercial" }[c] || c;
  return h("span", { class: `badge ${cls}` }, label);
}
function modelLink(id, name) { return h("a", { href: `#/model/${encodeURIComponent(id)}` }, name || id); }
function extLink(url, text) {
  return h("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, text || url);
}

/* ---------- shared data (cached) ---------- */
const cache = {};
function once(key, fn) {
  if (!cache[key]) cache[key] = fn().catch((e) => { delete cache[key]; throw e; });
  return cache[key];
}
const getModels = () => once("models", () => api("/api/atlas/models?sort=family"));
const getHw = () => once("hw", () => api("/api/atlas/hw"));
const getFitAll = () => once("fitall", () => api("/api/atlas/fit?limit=0"));
const getOpenData = () => once("opendata", () => api("/api/atlas/models?open_data=true"));

function deviceOptions(devs) {
  return [["this", "This machine"], ...devs.map((d) => [d.id, `${d.name} (${fmtNum(d.memory_gb, 0)} GB)`])];
}

/* ---------- router ---------- */
let page = { cleanup: [], gen: 0 };
function onLeave(fn) { page.cleanup.push(fn); }

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query || "") };
}
function setQuery(params) {
  const { parts } = parseHash();
  const q = qstr(params);
  const path = "#/" + parts.map(encodeURIComponent).join("/");
  history.replaceState(null, "", q ? `${path}?${q}` : path);
}

const routes = {
  "": renderCatalog,
  model: renderModel,
  fit: renderFit,
  compare: renderCompare,
  tree: renderTree,
  chat: renderChat,
  bench: renderBench,
};

function route() {
  for (const fn of page.cleanup) { try { fn(); } catch (_) { /* ignore */ } }
  page = { cleanup: [], gen: page.gen + 1 };
  const { parts, query } = parseHash();
  const name = parts[0] || "";
  const fn = routes[name];
  const app = clear(document.getElementById("app"));
  const navKey = { "": "catalog", model: "catalog" }[name] || name;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === navKey) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!fn) {
    app.append(h("h1", null, "Not found"), h("p", null, "No such page. ", h("a", { href: "#/" }, "Back to the catalog")));
    return;
  }
  const gen = page.gen;
  Promise.resolve(fn(app, parts.slice(1), query, () => gen === page.gen)).catch((e) => {
    if (gen === page.gen && e.name !== "AbortError") app.append(errorBox(e));
  });
}

/* ---------- Catalog ---------- */
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

async function renderCatalog(app, _parts, query, alive) {
  const t0 = performance.now();
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
  window.__catalogReadyMs = performance.now() - t0; // since this page's render began
  window.__catalogReadyAt = performance.now(); // since navigation start
  document.body.dataset.catalogReady = "1";
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

/* ---------- Model page ---------- */
const OPEN_COMPONENTS = ["weights", "training_data", "training_code", "evaluation_code", "finetuning_code", "training_logs"];

async function renderModel(app, parts, query, alive) {
  const id = parts[0];
  if (!id) { location.hash = "#/"; return; }
  const m = await api(`/api/atlas/models/${encodeURIComponent(id)}`);
  if (!alive()) return;
  document.title = `${m.name} – llmatlas`;
  onLeave(() => { document.title = "llmatlas"; });
  const src = m.sources || {};
  app.append(
    h("p", { class: "small" }, h("a", { href: "#/" }, "← Catalog")),
    h("h1", null, m.name),
    h("p", { class: "row" },
      commercialEl(m.commercial_use), gradeEl(m.openness.grade),
      h("span", { class: "muted" }, `${m.developer} · ${m.family_name} · released ${m.released}`),
      h("a", { class: "btn", href: `#/compare?ids=${encodeURIComponent(m.id)}` }, "Compare…"),
      h("a", { class: "btn", href: `#/tree/${encodeURIComponent((m.ancestors && m.ancestors.length) ? m.ancestors[m.ancestors.length - 1] : m.id)}` }, "Family tree")),
  );

  // facts
  const a = m.architecture;
  const facts = [
    ["ID", h("code", null, m.id)],
    ["Parameters", m.params_b != null ? `${fmtNum(m.params_b, 2)} B${m.active_params_b ? ` (${fmtNum(m.active_params_b, 1)} B active)` : ""}` : "–"],
    ["Context length", m.context_length ? fmtNum(m.context_length, 0) + " tokens" : "–"],
    ["Kind", m.instruct ? "instruct / chat" : "base (completion)"],
    ["Availability", m.availability],
    ["Tasks", m.tasks.join(", ")],
    ["Languages", m.languages.join(", ")],
    ["Training tokens", m.training_tokens_t ? `${m.training_tokens_t} T` : "–"],
    ["Hugging Face", (m.hf_repos || []).length ? (m.hf_repos || []).map((r, i) => [i ? ", " : "", extLink(`https://huggingface.co/${r}`, r)]) : "–"],
    ["Aliases", (m.aliases || []).join(", ") || "–"],
    ["Sources", Object.keys(src).length ? Object.entries(src).map(([k, u], i) => [i ? " · " : "", extLink(u, k)]) : "–"],
  ];
  if (m.notes) facts.push(["Notes", m.notes]);
  const archRows = a ? Object.entries(a).filter(([, v]) => v !== null && v !== false && v !== 0) : [];
  app.append(h("div", { class: "grid2" },
    h("section", null, h("h2", null, "Facts"), dl(facts),
      a ? h("details", null, h("summary", null, "Architecture", src.config ? [" (", extLink(src.config, "config.json"), ")"] : null),
        dl(archRows.map(([k, v]) => [k.replace(/_/g, " "), typeof v === "number" ? fmtNum(v, 4) : String(v)]))) : null),
    h("section", null, h("h2", null, "License"),
      h("p", null, commercialEl(m.commercial_use), " ", m.license_url ? extLink(m.license_url, m.license_name) : m.license_name, " ", h("code", { class: "muted" }, m.license)),
      m.license_conditions ? h("p", null, h("strong", null, "Conditions: "), m.license_conditions) : null,
      m.license_note ? h("p", { class: "muted" }, m.license_note) : null,
      (m.license_history || []).length ? [h("h3", null, "License history"), h("ul", null, m.license_history.map((x) => h("li", null, typeof x === "string" ? x : Object.values(x).filter(Boolean).join(" · "))))] : null,
      h("h2", null, "Openness ", gradeEl(m.openness.grade), h("span", { class: "muted small" }, ` score ${fmtNum(m.openness.score, 2)}`)),
      h("div", { class: "table-wrap" }, h("table", null, h("tbody", null, OPEN_COMPONENTS.map((c) =>
        h("tr", null, h("th", { scope: "row" }, c.replace(/_/g, " ")), h("td", { class: `st-${m.openness[c]}` }, m.openness[c] || "–")))))),
      m.openness.note ? h("p", { class: "small" }, m.openness.note) : null,
      m.openness.source ? h("p", { class: "small" }, "Source: ", extLink(m.openness.source)) : null)));

  // benchmarks
  app.append(h("h2", null, "Benchmarks"));
  if ((m.benchmarks || []).length) {
    app.append(h("div", { class: "table-wrap" }, h("table", { id: "bench-table" },
      h("thead", null, h("tr", null, ["Benchmark", "Score", "Metric", "Shots", "Evaluator", "Source"].map((t, i) => h("th", { scope: "col", class: i === 1 || i === 3 ? "num" : "" }, t)))),
      h("tbody", null, m.benchmarks.map((b) => h("tr", null,
        h("td", null, b.name), h("td", { class: "num" }, fmtNum(b.value, 2)), h("td", null, b.metric || "–"),
        h("td", { class: "num" }, b.shots ?? "–"), h("td", null, b.evaluator || "–"),
        h("td", null, b.source ? extLink(b.source, "source") : "–")))))));
  } else app.append(h("p", { class: "muted" }, "No benchmark scores in the catalog."));

  // lineage
  const ids = [...(m.ancestors || []), ...(m.derivatives || [])].map((x) => (typeof x === "string" ? x : x.id));
  const names = {};
  try { for (const x of (await getModels()).models) names[x.id] = x.name; } catch (_) { /* ids then */ }
  const idOf = (x) => (typeof x === "string" ? x : x.id);
  app.append(h("h2", null, "Lineage"), h("div", { class: "grid2", id: "lineage" },
    h("div", null, h("h3", null, "Ancestors"), (m.ancestors || []).length
      ? h("ol", null, m.ancestors.map((x) => h("li", null, modelLink(idOf(x), names[idOf(x)]))))
      : h("p", { class: "muted" }, "None (a base model)."),
    m.relation ? h("p", { class: "small muted" }, `Relation to ${m.base_model}: ${m.relation}`) : null),
    h("div", null, h("h3", null, "Derivatives"), (m.derivatives || []).length
      ? h("ul", null, m.derivatives.map((x) => h("li", null, modelLink(idOf(x), names[idOf(x)]))))
      : h("p", { class: "muted" }, "None in the catalog."))));
  void ids;

  // errata
  if ((m.errata || []).length) {
    app.append(h("h2", null, "Errata"), h("ul", null, m.errata.map((e) => h("li", null,
      h("s", null, e.claim), " → ", e.correction, e.source ? [" (", extLink(e.source, "source"), ")"] : null))));
  }

  // sizing
  app.append(h("h2", null, "Memory and speed"));
  if (!a) { app.append(h("p", { class: "muted" }, "This model cannot be sized: the catalog has no architecture for it.")); return; }
  await sizingSection(app, m, query, alive);
}

function dl(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

async function sizingSection(app, m, query, alive) {
  const hw = await getHw();
  if (!alive()) return;
  const maxCtx = m.architecture.max_position_embeddings;
  const ctl = {
    device: select(deviceOptions(hw.devices), query.get("device") || "this"),
    gpus: h("input", { type: "number", min: "1", max: "64", value: query.get("gpus") || "1" }),
    ctx: h("input", { type: "number", min: "256", max: String(maxCtx), step: "256", value: query.get("ctx") || String(Math.min(8192, maxCtx)), id: "ctx-input" }),
    quant: select(["F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_K_S", "IQ4_XS", "Q3_K_M", "Q2_K"], query.get("quant") || "Q4_K_M"),
    engine: select(["llama.cpp", "vllm", "transformers"], query.get("engine") || "llama.cpp"),
  };
  const out = h("div", { id: "estimate", "aria-live": "polite" });
  const chart = h("div", { id: "size-chart" });
  const tableBox = h("div", { id: "size-table" });
  app.append(h("form", { class: "filters", onsubmit: (e) => e.preventDefault(), "aria-label": "Sizing inputs" },
    field("Device", ctl.device), field("GPUs", ctl.gpus), field(`Context (max ${fmtNum(maxCtx, 0)})`, ctl.ctx),
    field("Quantization", ctl.quant), field("Engine", ctl.engine)), out,
  h("h3", null, "Memory by quantization at this context"),
  h("p", { class: "small muted" }, "GPU memory with llama.cpp and every layer offloaded, against the selected device's budget (the figures above follow the chosen engine and device)."), chart,
  h("h3", null, "Sizing table (GPU memory, llama.cpp, all layers offloaded)"), tableBox);

  // quant options from the sizing table (authoritative list)
  let ctrl = null;
  async function update() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    let ctx = Math.round(Number(ctl.ctx.value));
    if (!ctx || ctx < 1) ctx = 2048;
    ctx = Math.min(ctx, maxCtx);
    const dev = ctl.device.value;
    const gpus = Math.max(1, Math.round(Number(ctl.gpus.value) || 1));
    setQuery({ device: dev === "this" ? "" : dev, gpus: gpus > 1 ? gpus : "", ctx, quant: ctl.quant.value, engine: ctl.engine.value === "llama.cpp" ? "" : ctl.engine.value });
    const ctxs = [...new Set([2048, 8192, 32768, ctx].filter((c) => c <= maxCtx))].sort((x, y) => x - y);
    try {
      const [e, t] = await Promise.all([
        api(`/api/atlas/estimate?${qstr({ model: m.id, quant: ctl.quant.value, ctx, device: dev, gpus, engine: ctl.engine.value })}`, { signal }),
        api(`/api/atlas/sizing-table?${qstr({ model: m.id, contexts: ctxs.join(",") })}`, { signal }),
      ]);
      if (!alive() || signal.aborted) return;
      drawEstimate(out, e);
      const limit = e.budget_bytes;
      drawSizeChart(chart, t, ctx, limit, e);
      drawSizeTable(tableBox, t, ctx, limit);
    } catch (err) {
      if (err.name === "AbortError") return;
      clear(out).append(errorBox(err));
    }
  }
  const deb = debounce(update, 250);
  onLeave(() => { deb.cancel(); if (ctrl) ctrl.abort(); });
  for (const el of Object.values(ctl)) {
    el.addEventListener(el.type === "number" ? "input" : "change", deb);
  }
  await update();
}

function drawEstimate(out, e) {
  const fitsEl = e.fits ? h("span", { class: "badge ok" }, "fits")
    : h("span", { class: "badge bad" }, e.gpus_needed ? `needs ${e.gpus_needed} GPUs` : "does not fit");
  clear(out).append(h("div", { class: "card" },
    h("div", { class: "stats" },
      h("div", { class: "stat" }, h("span", { class: "lbl" }, `Total at ${fmtNum(e.context, 0)} tokens (${e.quant})`),
        h("span", { class: "big", id: "est-total", "data-bytes": String(e.total_bytes) }, fmtBytes(e.total_bytes)), " ", fitsEl),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, "Weights"), fmtBytes(e.weights_bytes)),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, "KV cache"), h("span", { id: "est-kv" }, fmtBytes(e.kv_cache_bytes))),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, "Buffers + overhead"), fmtBytes((e.buffers_bytes || 0) + (e.overhead_bytes || 0))),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, "Budget"), fmtBytes(e.budget_bytes)),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, "Decode"), `${fmtNum(e.decode_tps, 1)} tok/s`, e.speed ? h("span", { class: "muted small" }, ` (${e.speed})`) : null),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, "Prefill"), `${fmtNum(e.prefill_tps, 0)} tok/s`),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, "At max context"), `${fmtBytes(e.total_bytes_at_max_context)} (${fmtNum(e.max_context, 0)})`)),
    h("p", { class: "small muted" }, `${e.device}${e.pool ? ` — ${e.pool}` : ""}`),
    (e.notes || []).length ? h("ul", { class: "small" }, e.notes.map((n) => h("li", null, n))) : null));
}

function drawSizeChart(box, t, ctx, limit, e) {
  const rows = t.rows.map((r) => ({ quant: r.quant, cell: r.cells.find((c) => c.context === Math.min(ctx, Math.max(...t.contexts))) || r.cells[r.cells.length - 1] }));
  const maxV = Math.max(limit || 0, ...rows.map((r) => r.cell.total_bytes)) * 1.05;
  const W = 720, left = 70, right = 75, barH = 22, gap = 8, top = 10;
  const H = top + rows.length * (barH + gap) + 34;
  const x = (v) => left + (v / maxV) * (W - left - right);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-title" },
    s("title", { id: "chart-title" }, `Memory by quantization at ${ctx} tokens against a budget of ${fmtBytes(limit)}`));
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const c = r.cell;
    const parts = [["weights", c.weights_bytes, "var(--c-weights)"], ["KV cache", c.kv_cache_bytes, "var(--c-kv)"], ["other", c.other_bytes, "var(--c-other)"]];
    svg.append(s("text", { x: left - 6, y: y + barH / 2 + 4, "text-anchor": "end", "font-weight": r.quant === e.quant ? "700" : "400" }, r.quant));
    let acc = 0;
    for (const [name, v, col] of parts) {
      if (v <= 0) continue;
      svg.append(s("rect", { x: x(acc), y, width: Math.max(0.5, x(acc + v) - x(acc)), height: barH, fill: col },
        s("title", null, `${r.quant} ${name}: ${fmtBytes(v)}`)));
      acc += v;
    }
    svg.append(s("text", { x: x(acc) + 4, y: y + barH / 2 + 4, "font-size": "11" }, fmtBytes(c.total_bytes)));
  });
  const axisY = top + rows.length * (barH + gap);
  svg.append(s("line", { class: "axis", x1: left, x2: W - right, y1: axisY, y2: axisY }));
  if (limit) {
    const lx = x(limit);
    svg.append(s("line", { class: "limit", x1: lx, x2: lx, y1: top - 4, y2: axisY + 4 }),
      s("text", { class: "limit-label", x: Math.min(lx, W - right - 4), y: axisY + 20, "text-anchor": lx > W - 140 ? "end" : "middle" }, `budget ${fmtBytes(limit)}`));
  }
  clear(box).append(svg, h("div", { class: "legend" },
    h("span", null, h("span", { class: "sw", style: "background:var(--c-weights)" }), "weights"),
    h("span", null, h("span", { class: "sw", style: "background:var(--c-kv)" }), "KV cache"),
    h("span", null, h("span", { class: "sw", style: "background:var(--c-other)" }), "compute buffers + other"),
    h("span", null, h("span", { class: "sw", style: "background:var(--bad)" }), "device budget")));
}

function drawSizeTable(box, t, ctx, limit) {
  clear(box).append(h("div", { class: "table-wrap" }, h("table", null,
    h("thead", null, h("tr", null, h("th", { scope: "col" }, "Quant"), t.contexts.map((c) => h("th", { scope: "col", class: "num" }, `${fmtNum(c, 0)} ctx${c === ctx ? " ◀" : ""}`)))),
    h("tbody", null, t.rows.map((r) => h("tr", null, h("th", { scope: "row" }, r.quant), r.cells.map((c) =>
      h("td", { class: "num " + (limit ? (c.total_bytes > limit ? "over" : "fits") : ""), title: `weights ${fmtBytes(c.weights_bytes)} + KV ${fmtBytes(c.kv_cache_bytes)} + other ${fmtBytes(c.other_bytes)}` }, fmtBytes(c.total_bytes)))))))),
  h("p", { class: "small muted" }, "Green: fits the budget above; red: over it. Hover a cell for its breakdown."));
}

/* ---------- Fit calculator ---------- */
async function renderFit(app, _parts, query, alive) {
  app.append(h("h1", null, "What can I run?"));
  const [hw, cat] = await Promise.all([getHw(), getModels()]);
  if (!alive()) return;
  const uniq = (arr) => [...new Set(arr)].sort();
  const ctl = {
    device: select(deviceOptions(hw.devices), query.get("device") || "this"),
    gpus: h("input", { type: "number", min: "1", max: "64", value: query.get("gpus") || "1" }),
    ctx: h("input", { type: "number", min: "512", step: "512", value: query.get("ctx") || "4096" }),
    task: select([["", "any"], ...uniq(cat.models.flatMap((m) => m.tasks))], query.get("task") || ""),
    language: select([["", "any"], ["zh", "zh (any)"], ...uniq(cat.models.flatMap((m) => m.languages))], query.get("language") || ""),
    min_tps: h("input", { type: "number", min: "0", step: "1", value: query.get("min_tps") || "0" }),
    engine: select(["llama.cpp", "vllm", "transformers"], query.get("engine") || "llama.cpp"),
    commercial: h("input", { type: "checkbox", checked: query.get("commercial") === "true" }),
    fully_open: h("input", { type: "checkbox", checked: query.get("fully_open") === "true" }),
  };
  const m = hw.machine;
  app.append(h("p", { class: "muted small" }, `This machine: ${m.cpu_model}, ${fmtBytes(m.ram_bytes)} RAM`,
    (m.gpus || []).length ? `, ${m.gpus.map((g) => g.name || JSON.stringify(g)).join(", ")}` : ", no GPU detected"),
  h("form", { class: "filters", onsubmit: (e) => e.preventDefault(), "aria-label": "Fit inputs" },
    field("Device", ctl.device), field("GPUs", ctl.gpus), field("Context", ctl.ctx), field("Task", ctl.task),
    field("Language", ctl.language), field("Min tok/s", ctl.min_tps), field("Engine", ctl.engine),
    checkField("Commercial use", ctl.commercial), checkField("Fully open (A/B)", ctl.fully_open)));
  const status = h("p", { class: "muted", "aria-live": "polite", id: "fit-status" });
  const out = h("div", { id: "fit-results" });
  app.append(status, out);
  let ctrl = null;
  async function update() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const p = {
      device: ctl.device.value, gpus: ctl.gpus.value > 1 ? ctl.gpus.value : "", ctx: ctl.ctx.value,
      task: ctl.task.value, language: ctl.language.value, min_tps: Number(ctl.min_tps.value) > 0 ? ctl.min_tps.value : "",
      engine: ctl.engine.value === "llama.cpp" ? "" : ctl.engine.value,
      commercial: ctl.commercial.checked ? "true" : "", fully_open: ctl.fully_open.checked ? "true" : "",
    };
    setQuery(Object.assign({}, p, { device: p.device === "this" ? "" : p.device }));
    status.textContent = "Ranking models…";
    out.setAttribute("aria-busy", "true");
    try {
      const r = await api(`/api/atlas/fit?${qstr(Object.assign({ limit: 50 }, p))}`, { signal: ctrl.signal });
      if (!alive()) return;
      status.textContent = `${r.rows.length} models fit ${r.target} — budget ${fmtBytes(r.budget_bytes)} (${r.pool}).`;
      clear(out).append(r.rows.length ? h("div", { class: "table-wrap" }, h("table", { id: "fit-table" },
        h("thead", null, h("tr", null, ["#", "Model", "Quant", "Memory", "Decode tok/s", "Speed", "MMLU", "License", "Why"].map((t, i) =>
          h("th", { scope: "col", class: [0, 3, 4, 6].includes(i) ? "num" : (i === 8 ? "hide-narrow" : "") }, t)))),
        h("tbody", null, r.rows.map((x, i) => h("tr", null,
          h("td", { class: "num" }, i + 1), h("td", null, modelLink(x.model, x.name)), h("td", { class: "mono" }, x.quant),
          h("td", { class: "num" }, fmtBytes(x.total_bytes)), h("td", { class: "num" }, fmtNum(x.decode_tps, 1)),
          h("td", null, h("span", { class: `badge ${x.grade === "good" ? "ok" : x.grade === "too slow" ? "bad" : "warn"}` }, x.grade)),
          h("td", { class: "num" }, x.mmlu != null ? fmtNum(x.mmlu, 1) : "–"),
          h("td", null, h("span", { class: "small" }, x.license), " ", commercialEl(x.commercial_use)),
          h("td", { class: "small muted hide-narrow" }, (x.why || []).join("; ")))))))
        : h("p", null, "Nothing fits these constraints. Try a smaller context, more GPUs or fewer filters."));
    } catch (e) {
      if (e.name === "AbortError") return;
      status.textContent = "";
      clear(out).append(errorBox(e));
    } finally {
      out.removeAttribute("aria-busy");
    }
  }
  const deb = debounce(update, 300);
  onLeave(() => { deb.cancel(); if (ctrl) ctrl.abort(); });
  for (const el of Object.values(ctl)) el.addEventListener(el.type === "number" ? "input" : "change", deb);
  await update();
}

/* ---------- Compare ---------- */
async function renderCompare(app, _parts, query, alive) {
  app.append(h("h1", null, "Compare models"));
  const cat = await getModels();
  if (!alive()) return;
  const names = new Map(cat.models.map((m) => [m.id, m.name]));
  let ids = (query.get("ids") || "").split(",").map((x) => x.trim()).filter((x) => names.has(x)).slice(0, 4);

  const listId = nextId("models");
  const dlist = h("datalist", { id: listId }, cat.models.map((m) => h("option", { value: m.id }, m.name)));
  const input = h("input", { type: "text", list: listId, placeholder: "model id or name", autocomplete: "off" });
  const addBtn = h("button", { type: "submit", class: "primary" }, "Add");
  const msg = h("span", { class: "muted small", "aria-live": "polite" });
  const chips = h("div", { class: "chips", "aria-label": "Selected models" });
  const out = h("div", { id: "compare-out" });
  const form = h("form", { class: "filters", "aria-label": "Pick models" }, field("Add a model (2–4)", input), addBtn, msg, dlist);
  app.append(form, chips, out);

  function resolve(v) {
    const t = v.trim().toLowerCase();
    if (!t) return null;
    for (const m of cat.models) if (m.id === t || m.name.toLowerCase() === t) return m.id;
    const hits = cat.models.filter((m) => m.id.includes(t) || m.name.toLowerCase().includes(t));
    return hits.length === 1 ? hits[0].id : null;
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = resolve(input.value);
    if (!id) { msg.textContent = `No single model matches “${input.value}”.`; return; }
    if (ids.includes(id)) { msg.textContent = "Already in the comparison."; return; }
    if (ids.length >= 4) { msg.textContent = "At most 4 models."; return; }
    ids.push(id);
    input.value = "";
    msg.textContent = "";
    refresh();
  });

  function refresh() {
    return refreshInner().catch((e) => { if (alive()) clear(out).append(errorBox(e)); });
  }
  async function refreshInner() {
    setQuery({ ids: ids.join(",") });
    addBtn.disabled = ids.length >= 4;
    clear(chips).append(...ids.map((id) => h("span", { class: "chip" }, names.get(id),
      h("button", { type: "button", "aria-label": `Remove ${names.get(id)}`, onclick: () => { ids = ids.filter((x) => x !== id); refresh(); } }, "×"))));
    if (ids.length < 2) {
      clear(out).append(h("p", { class: "muted" }, "Pick at least two models to compare."));
      return;
    }
    const want = ids.slice();
    const ds = await Promise.all(want.map((id) => api(`/api/atlas/models/${encodeURIComponent(id)}`)));
    const sizes = await Promise.all(ds.map((d) => d.architecture
      ? api(`/api/atlas/sizing-table?${qstr({ model: d.id, contexts: "4096" })}`).catch(() => null) : null));
    if (!alive() || want.join() !== ids.join()) return;
    const q4 = (i) => { const t = sizes[i]; const r = t && t.rows.find((x) => x.quant === "Q4_K_M"); return r ? fmtBytes(r.cells[0].total_bytes) : "–"; };
    const benchNames = [...new Set(ds.flatMap((d) => (d.benchmarks || []).map((b) => b.name)))];
    const rows = [
      ["Developer", (d) => d.developer],
      ["Family", (d) => d.family_name],
      ["Released", (d) => d.released],
      ["Parameters (B)", (d) => (d.params_b != null ? fmtNum(d.params_b, 2) : "–")],
      ["Active params (B)", (d) => (d.active_params_b != null ? fmtNum(d.active_params_b, 1) : "–")],
      ["Context length", (d) => (d.context_length ? fmtNum(d.context_length, 0) : "–")],
      ["Kind", (d) => (d.instruct ? "instruct" : "base")],
      ["Architecture", (d) => (d.architecture ? d.architecture.model_type : "–")],
      ["Layers", (d) => (d.architecture ? d.architecture.num_hidden_layers : "–")],
      ["KV heads", (d) => (d.architecture ? d.architecture.num_key_value_heads : "–")],
      ["Memory Q4_K_M @ 4k", (d, i) => q4(i)],
      ["License", (d) => d.license_name],
      ["Commercial use", (d) => d.commercial_use],
      ["Openness grade", (d) => d.openness.grade],
      ...OPEN_COMPONENTS.map((c) => [`↳ ${c.replace(/_/g, " ")}`, (d) => d.openness[c] || "–"]),
      ["Languages", (d) => d.languages.join(", ")],
      ["Tasks", (d) => d.tasks.join(", ")],
      ["Base model", (d) => d.base_model || "–"],
      ...benchNames.map((n) => [n, (d) => {
        const b = (d.benchmarks || []).find((x) => x.name === n);
        return b ? `${fmtNum(b.value, 2)}${b.shots != null ? ` (${b.shots}-shot)` : ""}` : "–";
      }]),
    ];
    clear(out).append(h("p", { class: "small muted" }, "Rows where the models differ are highlighted (≠)."),
      h("div", { class: "table-wrap" }, h("table", { id: "compare-table" },
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Field"), ds.map((d) => h("th", { scope: "col" }, modelLink(d.id, d.name))))),
        h("tbody", null, rows.map(([label, get]) => {
          const vals = ds.map((d, i) => String(get(d, i)));
          const differ = new Set(vals).size > 1;
          return h("tr", { class: differ ? "diff" : null }, h("th", { scope: "row" }, label), vals.map((v) => h("td", null, v)));
        })))));
  }
  await refresh();
}

/* ---------- Family tree ---------- */
const REL_SHORT = { "continued-pretraining": "cont. pretrain", "vocabulary-extension": "vocab ext.",
  distillation: "distilled", finetune: "fine-tune", quantized: "quantized", merge: "merge" };
async function renderTree(app, parts, query, alive) {
  const root = parts[0] || "";
  app.append(h("h1", null, root ? "Family tree" : "Family trees"));
  const [forestRaw, cat] = await Promise.all([
    api(`/api/atlas/tree${root ? `?${qstr({ root })}` : ""}`), getModels()]);
  if (!alive()) return;
  const count = (n) => 1 + n.children.reduce((a, c) => a + count(c), 0);
  const allRoots = root ? null : forestRaw;
  const singles = h("input", { type: "checkbox", checked: query.get("all") === "true" });
  const pick = select([["", "all lineages"], ...(allRoots || forestRaw).filter((n) => n.children.length || root)
    .map((n) => [n.id, `${n.name} (${count(n)})`])], root);
  const zoomIn = h("button", { type: "button", "aria-label": "Zoom in" }, "+");
  const zoomOut = h("button", { type: "button", "aria-label": "Zoom out" }, "−");
  const zoomReset = h("button", { type: "button" }, "Fit to view");
  app.append(h("form", { class: "filters", onsubmit: (e) => e.preventDefault(), "aria-label": "Tree options" },
    field("Lineage", pick), root ? null : checkField("Show models without relatives", singles),
    h("div", { class: "row", role: "group", "aria-label": "Zoom" }, zoomIn, zoomOut, zoomReset),
    h("span", { class: "small muted" }, "Drag to pan, wheel or buttons to zoom; Tab through nodes, Enter opens a model.")));
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
      if (c.n.relation) labels.push(s("text", { class: "rel", x: x2 - 6, y: y2 - 3, "text-anchor": "end" }, REL_SHORT[c.n.relation] || c.n.relation));
    }
    g.append(...labels); // above every edge, on a halo, so converging edges never hide them
    for (const nd of nodes) {
      const label = nd.n.name.length > 30 ? nd.n.name.slice(0, 29) + "…" : nd.n.name;
      const a = s("a", { href: `#/model/${encodeURIComponent(nd.n.id)}`, class: "node" + (nd.depth === 0 ? " root" : ""), "data-id": nd.n.id,
        "aria-label": `${nd.n.name}${nd.n.relation ? `, ${nd.n.relation}` : ""}` },
      s("title", null, `${nd.n.name} (${families.get(nd.n.family) || nd.n.family})${nd.n.relation ? ` — ${nd.n.relation}` : ""}`),
      s("rect", { x: nd.x, y: nd.y, width: nodeW, height: nodeH, rx: 4 }),
      s("text", { x: nd.x + 6, y: nd.y + 15 }, label));
      g.append(a);
    }
    const svg = s("svg", { role: "group", "aria-label": `Lineage graph, ${nodes.length} models` }, g);
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

/* ---------- Chat playground ---------- */
async function renderChat(app, _parts, query, alive) {
  app.append(h("h1", null, "Chat playground"));
  const info = await api("/api/atlas/loaded");
  if (!alive()) return;
  const models = [...new Set([...(info.loaded || []), ...(info.local || [])])];
  const ctl = {
    model: select(models.map((m) => [m, (info.loaded || []).includes(m) ? `${m} (loaded)` : m]), query.get("model") || models[0]),
    system: h("textarea", { rows: "3", placeholder: "optional" }),
    temperature: h("input", { type: "number", min: "0", max: "2", step: "0.1", value: "0.7" }),
    top_p: h("input", { type: "number", min: "0", max: "1", step: "0.05", value: "0.95" }),
    max_tokens: h("input", { type: "number", min: "1", max: "8192", step: "1", value: "128" }),
    seed: h("input", { type: "number", step: "1", placeholder: "random" }),
  };
  const log = h("div", { class: "chat-log", id: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const prompt = h("textarea", { rows: "3", placeholder: "Type a message — Enter sends, Shift+Enter for a new line", id: "chat-input" });
  const send = h("button", { type: "submit", class: "primary", id: "chat-send" }, "Send");
  const stop = h("button", { type: "button", id: "chat-stop", disabled: true }, "Stop");
  const clearBtn = h("button", { type: "button" }, "Clear");
  const stat = (id, label) => h("div", { class: "stat" }, h("span", { class: "lbl" }, label), h("span", { id, class: "mono" }, "–"));
  const stats = h("div", { class: "stats", "aria-live": "off" }, stat("chat-ttft", "Time to first token"), stat("chat-tps", "Tokens/s"), stat("chat-ntok", "Tokens"), stat("chat-state", "State"));
  const form = h("form", { "aria-label": "Send a message" }, field("Message", prompt), h("div", { class: "row", style: "margin-top:.4em" }, send, stop, clearBtn));
  app.append(h("div", { class: "chat" },
    h("details", { class: "filter-box chat-settings", open: !window.matchMedia("(max-width: 720px)").matches },
      h("summary", null, "Model and sampling settings"),
      h("div", { class: "panel", role: "group", "aria-label": "Settings" },
      field("Model", ctl.model), field("System prompt", ctl.system), field("Temperature", ctl.temperature),
      field("top_p", ctl.top_p), field("Max tokens", ctl.max_tokens), field("Seed", ctl.seed),
      h("p", { class: "small muted" }, "The embedded gemma-3-270m is a small base model: it continues text rather than following instructions."))),
    h("section", { "aria-label": "Chat" }, log, stats, form)));

  let history = [];
  let ctrl = null;
  onLeave(() => { if (ctrl) ctrl.abort(); });
  const setStat = (id, v) => { document.getElementById(id).textContent = v; };

  prompt.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  stop.addEventListener("click", () => { if (ctrl) ctrl.abort(); });
  clearBtn.addEventListener("click", () => { if (ctrl) ctrl.abort(); history = []; clear(log); });

  function bubble(role, text) {
    const body = h("span", { class: "body" }, text);
    const el = h("div", { class: `msg ${role}` }, h("span", { class: "who" }, role), body);
    log.append(el);
    log.scrollTop = log.scrollHeight;
    return body;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = prompt.value.trim();
    if (!text || ctrl) return;
    prompt.value = "";
    history.push({ role: "user", content: text });
    bubble("user", text);
    const out = bubble("assistant", "");
    out.parentElement.classList.add("streaming");
    const msgs = ctl.system.value.trim() ? [{ role: "system", content: ctl.system.value.trim() }, ...history] : history.slice();
    const body = {
      model: ctl.model.value, messages: msgs, stream: true, stream_options: { include_usage: true },
      temperature: Number(ctl.temperature.value), top_p: Number(ctl.top_p.value), max_tokens: Math.round(Number(ctl.max_tokens.value)) || 128,
    };
    if (ctl.seed.value !== "") body.seed = Math.round(Number(ctl.seed.value));
    ctrl = new AbortController();
    send.disabled = true; stop.disabled = false;
    setStat("chat-state", "waiting…"); setStat("chat-ttft", "–"); setStat("chat-tps", "–"); setStat("chat-ntok", "0");
    const t0 = performance.now();
    let tFirst = null, n = 0, reply = "", usage = null, finish = null;
    const tick = () => {
      if (tFirst === null) return;
      const dt = (performance.now() - tFirst) / 1000;
      setStat("chat-ntok", String(usage ? usage.completion_tokens : n));
      if (dt > 0 && n > 1) setStat("chat-tps", fmtNum((n - 1) / dt, 1));
    };
    try {
      const res = await fetch("/v1/chat/completions", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal: ctrl.signal,
      });
      if (!res.ok) {
        let m = `HTTP ${res.status}`;
        try { const j = await res.json(); m = (j.error && j.error.message) || m; } catch (_) { /* keep */ }
        throw new ApiError(m);
      }
      setStat("chat-state", "streaming");
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          let chunk;
          try { chunk = JSON.parse(data); } catch (_) { continue; }
          if (chunk.error) throw new ApiError(chunk.error.message || "stream error");
          if (chunk.usage) usage = chunk.usage;
          for (const c of chunk.choices || []) {
            const d = c.delta && c.delta.content;
            if (d) {
              if (tFirst === null) { tFirst = performance.now(); setStat("chat-ttft", `${fmtNum((tFirst - t0) / 1000, 2)} s`); }
              n += 1;
              reply += d;
              out.textContent = reply;
              log.scrollTop = log.scrollHeight;
            }
            if (c.finish_reason) finish = c.finish_reason;
          }
          tick();
        }
      }
      if (usage && tFirst !== null) {
        const dt = (performance.now() - tFirst) / 1000;
        if (dt > 0 && usage.completion_tokens > 1) setStat("chat-tps", fmtNum((usage.completion_tokens - 1) / dt, 1));
      }
      setStat("chat-state", finish ? `done (${finish})` : "done");
    } catch (err) {
      if (err.name === "AbortError") setStat("chat-state", "stopped");
      else { setStat("chat-state", "error"); out.parentElement.after(errorBox(err)); }
    } finally {
      tick();
      if (reply) history.push({ role: "assistant", content: reply });
      out.parentElement.classList.remove("streaming");
      ctrl = null;
      if (alive()) { send.disabled = false; stop.disabled = true; }
    }
  });
}

/* ---------- Benchmarks ---------- */
async function renderBench(app, _parts, _query, alive) {
  app.append(h("h1", null, "Benchmarks: measured vs estimated"));
  const r = await api("/api/atlas/bench");
  if (!alive()) return;
  const runs = r.runs || [];
  if (!runs.length) {
    app.append(h("p", { id: "bench-empty" }, "No benchmark runs yet. Measure a model with ", h("code", null, "llmatlas bench gemma-3-270m"),
      " and the results (with the estimator's prediction) appear here."));
    return;
  }
  app.append(h("p", { class: "muted small" }, "Solid bars: measured on this machine; pale bars: what the estimator predicted. Closer is better."),
    h("div", { class: "legend" },
      h("span", null, h("span", { class: "sw", style: "background:var(--c-weights)" }), "measured"),
      h("span", null, h("span", { class: "sw", style: "background:var(--c-est)" }), "estimated")));
  const label = (x) => `${x.model} ${x.quant} · ctx ${x.n_ctx}`;
  app.append(h("h2", null, "Decode (tokens/s)"), barChart(runs, label, "tg_tps", "est_tg_tps", "decode"),
    h("h2", null, "Prefill (tokens/s)"), barChart(runs, label, "pp_tps", "est_pp_tps", "prefill"));
  app.append(h("h2", null, "Runs"), h("div", { class: "table-wrap" }, h("table", { id: "bench-runs" },
    h("thead", null, h("tr", null, ["Model", "Quant", "Machine", "Context", "Prefill tok/s", "est.", "Decode tok/s", "est.", "TTFT", "Peak RSS", "est. memory", "When"].map((t, i) =>
      h("th", { scope: "col", class: i >= 3 && i <= 10 ? "num" : "" }, t)))),
    h("tbody", null, runs.map((x) => h("tr", null,
      h("td", null, x.catalog_id ? modelLink(x.catalog_id, x.model) : x.model), h("td", { class: "mono" }, x.quant), h("td", null, x.machine),
      h("td", { class: "num" }, x.n_ctx), h("td", { class: "num" }, fmtNum(x.pp_tps, 1)), h("td", { class: "num muted" }, fmtNum(x.est_pp_tps, 1)),
      h("td", { class: "num" }, fmtNum(x.tg_tps, 1)), h("td", { class: "num muted" }, fmtNum(x.est_tg_tps, 1)),
      h("td", { class: "num" }, x.ttft_s != null ? `${fmtNum(x.ttft_s, 2)} s` : "–"), h("td", { class: "num" }, fmtBytes(x.peak_rss_bytes)),
      h("td", { class: "num muted" }, fmtBytes(x.est_total_bytes)), h("td", { class: "small" }, x.created_at)))))));
}

function barChart(runs, label, key, estKey, what) {
  const W = 720, left = 230, right = 60, bh = 12, groupH = 2 * bh + 12, top = 8;
  const H = top + runs.length * groupH + 24;
  const maxV = Math.max(1, ...runs.flatMap((x) => [x[key] || 0, x[estKey] || 0])) * 1.08;
  const xs = (v) => ((v || 0) / maxV) * (W - left - right);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${what} tokens per second, measured vs estimated` });
  runs.forEach((x, i) => {
    const y = top + i * groupH;
    const lab = label(x);
    svg.append(s("text", { x: left - 8, y: y + bh + 4, "text-anchor": "end" }, lab.length > 34 ? lab.slice(0, 33) + "…" : lab));
    svg.append(s("rect", { x: left, y, width: Math.max(1, xs(x[key])), height: bh, fill: "var(--c-weights)" }, s("title", null, `${lab}: measured ${fmtNum(x[key], 1)} tok/s`)));
    svg.append(s("text", { x: left + xs(x[key]) + 4, y: y + bh - 2, "font-size": "11" }, fmtNum(x[key], 1)));
    svg.append(s("rect", { x: left, y: y + bh + 2, width: Math.max(1, xs(x[estKey])), height: bh, fill: "var(--c-est)" }, s("title", null, `${lab}: estimated ${fmtNum(x[estKey], 1)} tok/s`)));
    svg.append(s("text", { x: left + xs(x[estKey]) + 4, y: y + 2 * bh, "font-size": "11", class: "muted" }, x[estKey] != null ? fmtNum(x[estKey], 1) : "no estimate"));
  });
  svg.append(s("line", { class: "axis", x1: left, x2: left, y1: top - 4, y2: H - 20 }));
  return svg;
}

/* ---------- start ---------- */
window.addEventListener("hashchange", () => { route(); document.getElementById("main").focus({ preventScroll: true }); window.scrollTo(0, 0); });
document.getElementById("skip").addEventListener("click", (e) => { e.preventDefault(); document.getElementById("main").focus(); });
route();
