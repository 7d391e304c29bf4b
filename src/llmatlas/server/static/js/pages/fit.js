/* Fit calculator page: which models run on a machine, ranked, with the advisor's reasons. */
import { checkField, clear, commercialEl, errorBox, field, h, modelLink, select } from "../dom.js";
import { api, debounce, deviceOptions, getHw, getModels, qstr } from "../api.js";
import { fmtBytes, fmtNum } from "../format.js";
import { t, tn } from "../i18n.js";
import { languageLabel, speedLabel, taskLabel } from "../labels.js";
import { onLeave, setQuery } from "../router.js";

export async function renderFit(app, _parts, query, alive) {
  app.append(h("h1", null, t("What can I run?")));
  const [hw, cat] = await Promise.all([getHw(), getModels()]);
  if (!alive()) return;
  const uniq = (arr) => [...new Set(arr)].sort();
  const ctl = {
    device: select(deviceOptions(hw.devices), query.get("device") || "this"),
    gpus: h("input", { type: "number", min: "1", max: "64", value: query.get("gpus") || "1" }),
    ctx: h("input", { type: "number", min: "512", step: "512", value: query.get("ctx") || "4096" }),
    task: select([["", t("any")], ...uniq(cat.models.flatMap((m) => m.tasks)).map((x) => [x, taskLabel(x)])], query.get("task") || ""),
    language: select([["", t("any")], ["zh", t("Chinese (any script)")],
      ...uniq(cat.models.flatMap((m) => m.languages)).map((x) => [x, languageLabel(x)])], query.get("language") || ""),
    min_tps: h("input", { type: "number", min: "0", step: "1", value: query.get("min_tps") || "0" }),
    engine: select(["llama.cpp", "vllm", "transformers"], query.get("engine") || "llama.cpp"),
    commercial: h("input", { type: "checkbox", checked: query.get("commercial") === "true" }),
    fully_open: h("input", { type: "checkbox", checked: query.get("fully_open") === "true" }),
  };
  const m = hw.machine;
  app.append(h("p", { class: "muted small" }, (m.gpus || []).length
    ? t("This machine: {cpu}, {ram} RAM, {gpus}", { cpu: m.cpu_model, ram: fmtBytes(m.ram_bytes), gpus: m.gpus.map((g) => g.name).join(", ") })
    : t("This machine: {cpu}, {ram} RAM, no GPU detected", { cpu: m.cpu_model, ram: fmtBytes(m.ram_bytes) })),
  h("form", { class: "filters", onsubmit: (e) => e.preventDefault(), "aria-label": t("Fit inputs") },
    field(t("Device"), ctl.device), field(t("GPUs"), ctl.gpus), field(t("Context"), ctl.ctx), field(t("Task"), ctl.task),
    field(t("Language"), ctl.language), field(t("Min tok/s"), ctl.min_tps), field(t("Engine"), ctl.engine),
    checkField(t("Commercial use"), ctl.commercial), checkField(t("Fully open (A/B)"), ctl.fully_open)));
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
    status.textContent = t("Ranking models…");
    out.setAttribute("aria-busy", "true");
    try {
      const r = await api(`/api/atlas/fit?${qstr(Object.assign({ limit: 50 }, p))}`, { signal: ctrl.signal });
      if (!alive()) return;
      status.textContent = tn("{n} model fits {target} — budget {budget} ({pool}).", "{n} models fit {target} — budget {budget} ({pool}).", r.rows.length,
        { target: r.target, budget: fmtBytes(r.budget_bytes), pool: r.pool });
      clear(out).append(r.rows.length ? h("div", { class: "table-wrap" }, h("table", { id: "fit-table" },
        h("thead", null, h("tr", null, ["#", t("Model"), t("Quant"), t("Memory"), t("Decode tok/s"), t("Speed"), "MMLU", t("License"), t("Why")].map((x, i) =>
          h("th", { scope: "col", class: [0, 3, 4, 6].includes(i) ? "num" : (i === 8 ? "hide-narrow" : "") }, x)))),
        h("tbody", null, r.rows.map((x, i) => h("tr", null,
          h("td", { class: "num" }, i + 1), h("td", null, modelLink(x.model, x.name)), h("td", { class: "mono" }, x.quant),
          h("td", { class: "num" }, fmtBytes(x.total_bytes)), h("td", { class: "num" }, fmtNum(x.decode_tps, 1)),
          h("td", null, h("span", { class: `badge ${x.grade === "good" ? "ok" : x.grade === "too slow" ? "bad" : "warn"}` }, speedLabel(x.grade))),
          h("td", { class: "num" }, x.mmlu != null ? fmtNum(x.mmlu, 1) : "–"),
          h("td", null, h("span", { class: "small" }, x.license), " ", commercialEl(x.commercial_use)),
          h("td", { class: "small muted hide-narrow" }, (x.why || []).join("; ")))))))
        : h("p", null, t("Nothing fits these constraints. Try a smaller context, more GPUs or fewer filters.")));
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

