/* Deploy page: `llmatlas deploy` in the browser. A serving recipe planned from sizing for one
   model (target, GPU, context, quantization): the plan's memory lines and notes, the commands
   in order, and the files they need, all as the server wrote them. */
import { clear, errorBox, field, h, modelLink, select } from "../dom.js";
import { api, debounce, getHw, qstr } from "../api.js";
import { fmtNum } from "../format.js";
import { t } from "../i18n.js";
import { onLeave, setQuery } from "../router.js";

const TARGETS = ["llama.cpp", "ollama", "lmstudio", "vllm", "tgi", "kubernetes", "kserve", "llmatlas"];
const QUANTS = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "BF16", "FP8", "AWQ-4BIT", "GPTQ-4BIT"];

export async function renderDeploy(app, parts, query, alive) {
  const id = parts[0];
  if (!id) { location.hash = "#/"; return; }
  const [m, hw] = await Promise.all([api(`/api/atlas/models/${encodeURIComponent(id)}`), getHw()]);
  if (!alive()) return;
  const gpus = hw.devices.filter((d) => d.kind === "gpu");
  const maxCtx = m.context_length || 8192;
  const ctl = {
    target: select(TARGETS, query.get("target") || "llama.cpp"),
    device: select([["", t("No GPU (CPU only)")], ...gpus.map((d) => [d.id, `${d.name} (${fmtNum(d.memory_gb, 0)} GB)`])],
      query.get("device") || ""),
    gpus: h("input", { type: "number", min: "1", max: "64", value: query.get("gpus") || "", placeholder: t("as many as needed") }),
    ctx: h("input", { type: "number", min: "256", max: String(maxCtx), step: "256", value: query.get("ctx") || String(Math.min(8192, maxCtx)) }),
    quant: select([["", t("the target's default")], ...QUANTS], query.get("quant") || ""),
  };
  const out = h("div", { id: "deploy-out", "aria-live": "polite" });
  app.append(
    h("p", { class: "small" }, "← ", modelLink(m.id, m.name)),
    h("h1", null, t("Deploy {model}", { model: m.name })),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault(), "aria-label": t("Deployment inputs") },
      field(t("Target"), ctl.target), field(t("Device"), ctl.device), field(t("GPUs"), ctl.gpus),
      field(t("Context"), ctl.ctx), field(t("Quantization"), ctl.quant)),
    out);

  let ctrl = null;
  async function update() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    const want = { model: m.id, target: ctl.target.value, device: ctl.device.value, gpus: ctl.gpus.value,
      ctx: ctl.ctx.value, quant: ctl.quant.value };
    setQuery({ target: want.target, device: want.device, gpus: want.gpus, ctx: want.ctx, quant: want.quant });
    try {
      const r = await api(`/api/atlas/deploy?${qstr(want)}`, { signal });
      if (!alive() || signal.aborted) return;
      drawRecipe(out, r);
    } catch (err) {
      if (err.name === "AbortError") return;
      clear(out).append(errorBox(err));
    }
  }
  const deb = debounce(update, 250);
  onLeave(() => { deb.cancel(); if (ctrl) ctrl.abort(); });
  for (const el of Object.values(ctl)) el.addEventListener(el.type === "number" ? "input" : "change", deb);
  await update();
}

function drawRecipe(out, r) {
  const notes = [...new Set([...(r.plan.notes || []), ...(r.notes || [])])];  // recipes repeat the plan's notes
  clear(out).append(
    h("section", { class: "card" }, h("h2", null, t("Plan")),
      h("ul", { id: "deploy-plan" }, r.plan.summary.map((line) => h("li", null, line))),
      notes.length ? h("ul", { class: "small", id: "deploy-notes" }, notes.map((n) => h("li", null, n))) : null),
    h("h2", null, t("Commands")),
    h("pre", { id: "deploy-shell" }, h("code", null, r.shell)),
    ...Object.entries(r.files || {}).flatMap(([name, text]) => [h("h3", null, name), h("pre", null, h("code", null, text))]));
}
