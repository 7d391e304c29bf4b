/* Fit calculator page: which models run on a machine, ranked, with the advisor's reasons.
   The machine is this one, a device from the table (GPUs x count), an Apple Silicon chip with
   one of the unified-memory sizes it is sold with, or memory sizes typed in (VRAM per GPU,
   GPU count, system RAM). */
import { checkField, clear, commercialEl, errorBox, field, h, modelLink, select, withNodes } from "../dom.js";
import { api, debounce, getHw, getModels, qstr } from "../api.js";
import { fmtBytes, fmtNum } from "../format.js";
import { N_, t, tn } from "../i18n.js";
import { languageLabel, speedLabel, taskLabel } from "../labels.js";
import { onLeave, setQuery } from "../router.js";

const GRADE_RANK = { good: 0, usable: 1, "too slow": 2 };

/** A benchmark score as a number (the API sends a number, or an object with a value). */
const scoreOf = (r, name) => {
  const v = r.scores ? r.scores[name] : name === "MMLU" ? r.mmlu : null;
  return v === null || v === undefined ? null : Number(typeof v === "object" ? v.value : v);
};

/** Columns of the results table; `get` gives the sort key (null sorts last). Each benchmark
    the rows carry scores for (MMLU, TMMLU+, C-Eval, ...) is a column. */
function columns(rows) {
  const scoreNames = [...new Set(rows.flatMap((r) => Object.keys(r.scores || (r.mmlu != null ? { MMLU: 1 } : {}))))];
  return [
    { key: "rank", label: "#", num: true, get: (r) => r._rank },
    { key: "name", label: N_("Model"), get: (r) => r.name.toLowerCase() },
    { key: "quant", label: N_("Quant"), get: (r) => r.quant },
    { key: "memory", label: N_("Memory"), num: true, get: (r) => r.total_bytes },
    { key: "decode", label: N_("Decode tok/s"), num: true, get: (r) => r.decode_tps },
    { key: "grade", label: N_("Speed"), get: (r) => GRADE_RANK[r.grade] ?? 9 },
    ...scoreNames.map((name) => ({ key: `score:${name}`, label: name, num: true, get: (r) => scoreOf(r, name) })),
    { key: "license", label: N_("License"), get: (r) => r.license },
    { key: "why", label: N_("Why"), get: null },
  ];
}

export async function renderFit(app, _parts, query, alive) {
  app.append(h("h1", null, t("What can I run?")));
  const [hw, cat] = await Promise.all([getHw(), getModels()]);
  if (!alive()) return;
  const uniq = (arr) => [...new Set(arr)].sort();
  const apple = hw.devices.filter((d) => d.kind === "apple");
  const others = hw.devices.filter((d) => d.kind !== "apple");
  const device = h("select");
  device.append(h("option", { value: "this" }, t("This machine")), h("option", { value: "custom" }, t("Memory sizes I type in")),
    h("optgroup", { label: t("GPUs and accelerators") }, others.map((d) => h("option", { value: d.id }, `${d.name} (${fmtNum(d.memory_gb, 0)} GB)`))),
    h("optgroup", { label: t("Apple Silicon (unified memory)") }, apple.map((d) => h("option", { value: d.id }, d.name))));
  device.value = query.get("device") || (query.get("vram_gb") || query.get("ram_gb") ? "custom" : "this");
  if (!device.value) device.value = "this";
  const ctl = {
    device,
    unified: h("select"),
    vram_gb: h("input", { type: "number", min: "1", max: "4096", step: "any", placeholder: "24", value: query.get("vram_gb") || "" }),
    gpus: h("input", { type: "number", min: "1", max: "64", value: query.get("gpus") || "1" }),
    ram_gb: h("input", { type: "number", min: "1", max: "100000", step: "any", placeholder: "32", value: query.get("ram_gb") || "" }),
    ctx: h("input", { type: "number", min: "512", step: "512", value: query.get("ctx") || "4096" }),
    task: select([["", t("any")], ...uniq(cat.models.flatMap((m) => m.tasks)).map((x) => [x, taskLabel(x)])], query.get("task") || ""),
    language: select([["", t("any")], ["zh", t("Chinese (any script)")],
      ...uniq(cat.models.flatMap((m) => m.languages)).map((x) => [x, languageLabel(x)])], query.get("language") || ""),
    min_tps: h("input", { type: "number", min: "0", step: "1", value: query.get("min_tps") || "0" }),
    engine: select(["llama.cpp", "vllm", "transformers"], query.get("engine") || "llama.cpp"),
    commercial: h("input", { type: "checkbox", checked: query.get("commercial") === "true" }),
    allow_conditional: h("input", { type: "checkbox", checked: query.get("allow_conditional") === "true" }),
    fully_open: h("input", { type: "checkbox", checked: query.get("fully_open") === "true" }),
  };
  const boxes = {
    unified: field(t("Unified memory"), ctl.unified),
    vram_gb: field(t("VRAM per GPU (GB)"), ctl.vram_gb),
    gpus: field(t("GPUs"), ctl.gpus),
    ram_gb: field(t("System RAM (GB)"), ctl.ram_gb),
  };
  /* show the inputs that describe the chosen kind of machine */
  function shape(initialUnified) {
    const v = device.value;
    const chip = apple.find((d) => d.id === v);
    const isGpu = others.some((d) => d.id === v);
    boxes.unified.hidden = !chip;
    boxes.vram_gb.hidden = v !== "custom";
    boxes.ram_gb.hidden = v !== "custom";
    boxes.gpus.hidden = !(isGpu || v === "custom");
    if (chip) {
      const sizes = chip.memory_options_gib || [Math.round(chip.memory_gb)];
      const keep = initialUnified || ctl.unified.value;
      clear(ctl.unified).append(...sizes.map((g) => h("option", { value: String(g) }, `${fmtNum(g, 0)} GB`)));
      ctl.unified.value = sizes.map(String).includes(keep) ? keep : String(sizes[sizes.length - 1]);
    }
  }
  shape(query.get("unified_gb"));

  const m = hw.machine;
  app.append(h("p", { class: "muted small" }, (m.gpus || []).length
    ? t("This machine: {cpu}, {ram} RAM, {gpus}", { cpu: m.cpu_model, ram: fmtBytes(m.ram_bytes), gpus: m.gpus.map((g) => g.name).join(", ") })
    : t("This machine: {cpu}, {ram} RAM, no GPU detected", { cpu: m.cpu_model, ram: fmtBytes(m.ram_bytes) })),
  h("form", { class: "filters", onsubmit: (e) => e.preventDefault(), "aria-label": t("Fit inputs") },
    field(t("Device"), ctl.device), boxes.unified, boxes.vram_gb, boxes.gpus, boxes.ram_gb,
    field(t("Context"), ctl.ctx), field(t("Task"), ctl.task),
    field(t("Language"), ctl.language), field(t("Min tok/s"), ctl.min_tps), field(t("Engine"), ctl.engine),
    checkField(t("Commercial use"), ctl.commercial),
    checkField(t("Commercial use on conditions too (Llama, Gemma…)"), ctl.allow_conditional),
    checkField(t("Fully open (A/B)"), ctl.fully_open)));
  const status = h("p", { class: "muted", "aria-live": "polite", id: "fit-status" });
  const out = h("div", { id: "fit-results" });
  app.append(status, out);

  let rows = [];
  let sort = { key: "rank", desc: false };
  function draw() {
    const cols = columns(rows);
    const col = cols.find((c) => c.key === sort.key) || cols[0];
    const sorted = rows.slice().sort((a, b) => {
      const x = col.get(a), y = col.get(b);
      if (x === y) return a._rank - b._rank;
      if (x === null || x === undefined) return 1; // unknown scores last, either direction
      if (y === null || y === undefined) return -1;
      const r = x < y ? -1 : 1;
      return sort.desc ? -r : r;
    });
    const ths = cols.map((c) => {
      const th = h("th", { scope: "col", class: c.num ? "num" : "", "data-col": c.key,
        "aria-sort": c.get ? (c.key === sort.key ? (sort.desc ? "descending" : "ascending") : "none") : null });
      const label = c.label === "#" || c.key.startsWith("score:") ? c.label : t(c.label);
      if (!c.get) th.append(label);
      else {
        th.append(h("button", { type: "button", class: "sort", onclick: () => {
          // numbers (scores, speed) first click high to low; words and rank low to high
          sort = { key: c.key, desc: sort.key === c.key ? !sort.desc : c.num && c.key !== "rank" };
          draw();
        } }, label));
      }
      return th;
    });
    const cell = (r, c) => {
      switch (c.key) {
        case "rank": return h("td", { class: "num" }, fmtNum(r._rank, 0));
        case "name": return h("td", null, modelLink(r.model, r.name));
        case "quant": return h("td", { class: "mono" }, r.quant);
        case "memory": return h("td", { class: "num" }, fmtBytes(r.total_bytes));
        case "decode": return h("td", { class: "num" }, fmtNum(r.decode_tps, 1));
        case "grade": return h("td", null, h("span", { class: `badge ${r.grade === "good" ? "ok" : r.grade === "too slow" ? "bad" : "warn"}` }, speedLabel(r.grade)));
        case "license": return h("td", null, h("span", { class: "small" }, r.license), " ", commercialEl(r.commercial_use));
        case "why": return h("td", { class: "why small" }, (r.why || []).length ? h("ul", null, r.why.map((w) => h("li", null, w))) : "–");
        default: {
          const v = c.get(r);
          return h("td", { class: "num" }, v === null || v === undefined ? "–" : fmtNum(v, 1));
        }
      }
    };
    const focusKey = document.activeElement && document.activeElement.closest("th") ? sort.key : null;
    clear(out).append(h("div", { class: "table-wrap" }, h("table", { id: "fit-table" },
      h("thead", null, h("tr", null, ths)),
      h("tbody", null, sorted.map((r) => h("tr", { "data-id": r.model }, cols.map((c) => cell(r, c))))))));
    if (focusKey) { const b = out.querySelector(`th[data-col="${focusKey}"] button`); if (b) b.focus(); }
  }

  let ctrl = null;
  async function update() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const v = device.value;
    const chip = apple.find((d) => d.id === v);
    const gpus = boxes.gpus.hidden ? 1 : Math.max(1, Math.round(Number(ctl.gpus.value) || 1));
    const p = {
      device: chip ? `${v}-${ctl.unified.value}gb` : (v === "this" || v === "custom" ? "" : v),
      gpus: gpus > 1 ? gpus : "",
      vram_gb: v === "custom" ? ctl.vram_gb.value : "", ram_gb: v === "custom" ? ctl.ram_gb.value : "",
      ctx: ctl.ctx.value, task: ctl.task.value, language: ctl.language.value,
      min_tps: Number(ctl.min_tps.value) > 0 ? ctl.min_tps.value : "",
      engine: ctl.engine.value === "llama.cpp" ? "" : ctl.engine.value,
      commercial: ctl.commercial.checked ? "true" : "",
      allow_conditional: ctl.commercial.checked && ctl.allow_conditional.checked ? "true" : "",
      fully_open: ctl.fully_open.checked ? "true" : "",
    };
    setQuery(Object.assign({}, p, { device: v === "this" || v === "custom" ? "" : v, unified_gb: chip ? ctl.unified.value : "" }));
    if (v === "custom" && !p.vram_gb && !p.ram_gb) {
      status.textContent = t("Type the memory of each GPU, or the system RAM for a machine without one.");
      clear(out);
      return;
    }
    status.textContent = t("Ranking models…");
    out.setAttribute("aria-busy", "true");
    try {
      const r = await api(`/api/atlas/fit?${qstr(Object.assign({ limit: 50 }, p))}`, { signal: ctrl.signal });
      if (!alive()) return;
      rows = r.rows.map((x, i) => Object.assign({ _rank: i + 1 }, x));
      const budget = h("data", { id: "fit-budget", value: String(r.budget_bytes) }, fmtBytes(r.budget_bytes));
      clear(status).append(...withNodes(tn("{n} model fits {target} — budget {budget} ({pool}).", "{n} models fit {target} — budget {budget} ({pool}).",
        rows.length, { target: r.target, pool: r.pool }), { budget }));
      if (rows.length) draw();
      else clear(out).append(h("p", null, t("Nothing fits these constraints. Try a smaller context, more GPUs or fewer filters.")));
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
  device.addEventListener("change", () => shape());
  for (const el of Object.values(ctl)) el.addEventListener(el.type === "number" ? "input" : "change", deb);
  await update();
}
