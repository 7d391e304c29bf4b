/* Model page: facts with sources, license, openness, benchmarks, lineage, memory and speed. */
import { clear, commercialEl, dl, errorBox, extLink, field, gradeEl, h, modelLink, s, select } from "../dom.js";
import { api, debounce, deviceOptions, getHw, getModels, qstr } from "../api.js";
import { fmtBytes, fmtCount, fmtDate, fmtNum } from "../format.js";
import { t, tn } from "../i18n.js";
import { availabilityLabel, componentLabel, languageLabel, relationLabel, speedLabel, statusLabel, taskLabel } from "../labels.js";
import { onLeave, setQuery } from "../router.js";

export const OPEN_COMPONENTS = ["weights", "training_data", "training_code", "evaluation_code", "finetuning_code", "training_logs"];

export async function renderModel(app, parts, query, alive) {
  const id = parts[0];
  if (!id) { location.hash = "#/"; return; }
  const m = await api(`/api/atlas/models/${encodeURIComponent(id)}`);
  if (!alive()) return;
  document.title = `${m.name} – llmatlas`;
  onLeave(() => { document.title = "llmatlas"; });
  const src = m.sources || {};
  app.append(
    h("p", { class: "small" }, h("a", { href: "#/" }, "← ", t("Catalog"))),
    h("h1", null, m.name),
    h("p", { class: "row" },
      commercialEl(m.commercial_use), gradeEl(m.openness.grade),
      h("span", { class: "muted" }, `${m.developer} · `, h("a", { href: `#/family/${encodeURIComponent(m.family)}` }, m.family_name), " · ", t("released {date}", { date: fmtDate(m.released) })),
      h("a", { class: "btn", href: `#/compare?ids=${encodeURIComponent(m.id)}` }, t("Compare…")),
      m.architecture && (m.hf_repos || []).length ? h("a", { class: "btn", href: `#/deploy/${encodeURIComponent(m.id)}` }, t("Deploy…")) : null,
      h("a", { class: "btn", href: `#/tree/${encodeURIComponent((m.ancestors && m.ancestors.length) ? m.ancestors[m.ancestors.length - 1] : m.id)}` }, t("Family tree"))),
  );

  // facts
  const a = m.architecture;
  const facts = [
    [t("ID"), h("code", null, m.id)],
    [t("Parameters"), m.params_b == null ? "–" : m.active_params_b
      ? t("{total} ({active} active)", { total: fmtCount(m.params_b * 1e9), active: fmtCount(m.active_params_b * 1e9) })
      : fmtCount(m.params_b * 1e9)],
    [t("Context length"), m.context_length ? t("{n} tokens", { n: fmtNum(m.context_length, 0) }) : "–"],
    [t("Kind"), m.instruct ? t("instruct / chat") : t("base (completion)")],
    [t("Availability"), availabilityLabel(m.availability)],
    [t("Tasks"), m.tasks.map(taskLabel).join(t(", "))],
    [t("Languages"), m.languages.map(languageLabel).join(t(", "))],
    [t("Training tokens"), m.training_tokens_t ? fmtCount(m.training_tokens_t * 1e12) : "–"],
    ["Hugging Face", (m.hf_repos || []).length ? (m.hf_repos || []).map((r, i) => [i ? ", " : "", extLink(`https://huggingface.co/${r}`, r)]) : "–"],
    [t("Aliases"), (m.aliases || []).join(", ") || "–"],
    [t("Sources"), Object.keys(src).length ? Object.entries(src).map(([k, u], i) => [i ? " · " : "", extLink(u, k)]) : "–"],
  ];
  if (m.notes) facts.push([t("Notes"), m.notes]);
  const archRows = a ? Object.entries(a).filter(([, v]) => v !== null && v !== false && v !== 0) : [];
  app.append(h("div", { class: "grid2" },
    h("section", null, h("h2", null, t("Facts")), dl(facts),
      a ? h("details", null, h("summary", null, t("Architecture"), src.config ? [" (", extLink(src.config, "config.json"), ")"] : null),
        dl(archRows.map(([k, v]) => [h("code", null, k), typeof v === "number" ? fmtNum(v, 4) : h("code", null, String(v))]))) : null),
    h("section", null, h("h2", null, t("License")),
      h("p", null, commercialEl(m.commercial_use), " ", m.license_url ? extLink(m.license_url, m.license_name) : m.license_name, " ", h("code", { class: "muted" }, m.license)),
      m.license_conditions ? h("p", null, h("strong", null, t("Conditions:"), " "), m.license_conditions) : null,
      m.license_note ? h("p", { class: "muted" }, m.license_note) : null,
      (m.license_history || []).length ? [h("h3", null, t("License history")), h("ul", null, m.license_history.map((x) => h("li", null, typeof x === "string" ? x : Object.values(x).filter(Boolean).join(" · "))))] : null,
      h("h2", null, t("Openness"), " ", gradeEl(m.openness.grade), " ", h("span", { class: "muted small" }, t("score {score}", { score: fmtNum(m.openness.score, 2) }))),
      h("div", { class: "table-wrap" }, h("table", null, h("tbody", null, OPEN_COMPONENTS.map((c) =>
        h("tr", null, h("th", { scope: "row" }, componentLabel(c)), h("td", { class: `st-${m.openness[c]}` }, m.openness[c] ? statusLabel(m.openness[c]) : "–")))))),
      m.openness.note ? h("p", { class: "small" }, m.openness.note) : null,
      m.openness.source ? h("p", { class: "small" }, t("Source:"), " ", extLink(m.openness.source)) : null)));

  // benchmarks
  app.append(h("h2", null, t("Benchmarks")));
  if ((m.benchmarks || []).length) {
    app.append(h("div", { class: "table-wrap" }, h("table", { id: "bench-table" },
      h("thead", null, h("tr", null, [t("Benchmark"), t("Score"), t("Metric"), t("Shots"), t("Evaluator"), t("Source")].map((x, i) => h("th", { scope: "col", class: i === 1 || i === 3 ? "num" : "" }, x)))),
      h("tbody", null, m.benchmarks.map((b) => h("tr", null,
        h("td", null, b.name), h("td", { class: "num" }, fmtNum(b.value, 2)), h("td", null, b.metric || "–"),
        h("td", { class: "num" }, b.shots ?? "–"), h("td", null, b.evaluator || "–"),
        h("td", null, b.source ? extLink(b.source, t("source")) : "–")))))));
  } else app.append(h("p", { class: "muted" }, t("No benchmark scores in the catalog.")));

  // lineage
  const names = {};
  try { for (const x of (await getModels()).models) names[x.id] = x.name; } catch (_) { /* ids then */ }
  const idOf = (x) => (typeof x === "string" ? x : x.id);
  app.append(h("h2", null, t("Lineage")), h("div", { class: "grid2", id: "lineage" },
    h("div", null, h("h3", null, t("Ancestors")), (m.ancestors || []).length
      ? h("ol", null, m.ancestors.map((x) => h("li", null, modelLink(idOf(x), names[idOf(x)]))))
      : h("p", { class: "muted" }, t("None (a base model).")),
    m.relation ? h("p", { class: "small muted" }, t("Relation to {base}: {relation}", { base: names[m.base_model] || m.base_model, relation: relationLabel(m.relation) })) : null),
    h("div", null, h("h3", null, t("Derivatives")), (m.derivatives || []).length
      ? h("ul", null, m.derivatives.map((x) => h("li", null, modelLink(idOf(x), names[idOf(x)]))))
      : h("p", { class: "muted" }, t("None in the catalog.")))));

  // errata
  if ((m.errata || []).length) {
    app.append(h("h2", null, t("Claims in common circulation that primary sources contradict")), h("ul", null, m.errata.map((e) => h("li", null,
      h("s", null, e.claim), " → ", e.correction, e.source ? [" (", extLink(e.source, t("source")), ")"] : null))));
  }

  // sizing
  app.append(h("h2", null, t("Memory and speed")));
  if (!a) { app.append(h("p", { class: "muted" }, t("This model cannot be sized: the catalog has no architecture for it."))); return; }
  await sizingSection(app, m, query, alive);
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
  app.append(h("form", { class: "filters", onsubmit: (e) => e.preventDefault(), "aria-label": t("Sizing inputs") },
    field(t("Device"), ctl.device), field(t("GPUs"), ctl.gpus), field(t("Context (max {n})", { n: fmtNum(maxCtx, 0) }), ctl.ctx),
    field(t("Quantization"), ctl.quant), field(t("Engine"), ctl.engine)), out,
  h("h3", null, t("Memory by quantization at this context")),
  h("p", { class: "small muted" }, t("GPU memory with llama.cpp and every layer offloaded, against the selected device's budget (the figures above follow the chosen engine and device).")), chart,
  h("h3", null, t("Sizing table (GPU memory, llama.cpp, all layers offloaded)")), tableBox);

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
      const [e, table] = await Promise.all([
        api(`/api/atlas/estimate?${qstr({ model: m.id, quant: ctl.quant.value, ctx, device: dev, gpus, engine: ctl.engine.value })}`, { signal }),
        api(`/api/atlas/sizing-table?${qstr({ model: m.id, contexts: ctxs.join(",") })}`, { signal }),
      ]);
      if (!alive() || signal.aborted) return;
      drawEstimate(out, e);
      const limit = e.budget_bytes;
      drawSizeChart(chart, table, ctx, limit, e);
      drawSizeTable(tableBox, table, ctx, limit);
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
  const fitsEl = e.fits ? h("span", { class: "badge ok" }, t("fits"))
    : h("span", { class: "badge bad" }, e.gpus_needed ? tn("needs {n} GPU", "needs {n} GPUs", e.gpus_needed) : t("does not fit"));
  clear(out).append(h("div", { class: "card" },
    h("div", { class: "stats" },
      h("div", { class: "stat" }, h("span", { class: "lbl" }, t("Total at {n} tokens ({quant})", { n: fmtNum(e.context, 0), quant: e.quant })),
        h("data", { class: "big", id: "est-total", value: String(e.total_bytes) }, fmtBytes(e.total_bytes)), " ", fitsEl),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, t("Weights")), fmtBytes(e.weights_bytes)),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, t("KV cache")), h("span", { id: "est-kv" }, fmtBytes(e.kv_cache_bytes))),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, t("Buffers + overhead")), fmtBytes((e.buffers_bytes || 0) + (e.overhead_bytes || 0))),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, t("Budget")), fmtBytes(e.budget_bytes)),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, t("Decode")), t("{tps} tok/s", { tps: fmtNum(e.decode_tps, 1) }), e.speed ? h("span", { class: "muted small" }, " ", t("({grade})", { grade: speedLabel(e.speed) })) : null),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, t("Prefill")), t("{tps} tok/s", { tps: fmtNum(e.prefill_tps, 0) })),
      h("div", { class: "stat" }, h("span", { class: "lbl" }, t("At max context")), `${fmtBytes(e.total_bytes_at_max_context)} (${fmtNum(e.max_context, 0)})`)),
    h("p", { class: "small muted" }, `${e.device}${e.pool ? ` — ${e.pool}` : ""}`),
    (e.notes || []).length ? h("ul", { class: "small" }, e.notes.map((n) => h("li", null, n))) : null));
}

function drawSizeChart(box, table, ctx, limit, e) {
  const rows = table.rows.map((r) => ({ quant: r.quant, cell: r.cells.find((c) => c.context === Math.min(ctx, Math.max(...table.contexts))) || r.cells[r.cells.length - 1] }));
  const maxV = Math.max(limit || 0, ...rows.map((r) => r.cell.total_bytes)) * 1.05;
  const W = 720, left = 70, right = 75, barH = 22, gap = 8, top = 10;
  const H = top + rows.length * (barH + gap) + 34;
  const x = (v) => left + (v / maxV) * (W - left - right);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-title" },
    s("title", { id: "chart-title" }, t("Memory by quantization at {n} tokens against a budget of {budget}", { n: fmtNum(ctx, 0), budget: fmtBytes(limit) })));
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const c = r.cell;
    const parts = [[t("weights"), c.weights_bytes, "var(--c-weights)"], [t("KV cache"), c.kv_cache_bytes, "var(--c-kv)"], [t("other"), c.other_bytes, "var(--c-other)"]];
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
      s("text", { class: "limit-label", x: Math.min(lx, W - right - 4), y: axisY + 20, "text-anchor": lx > W - 140 ? "end" : "middle" }, t("budget {budget}", { budget: fmtBytes(limit) })));
  }
  clear(box).append(svg, h("div", { class: "legend" },
    h("span", null, h("span", { class: "sw", style: "background:var(--c-weights)" }), t("weights")),
    h("span", null, h("span", { class: "sw", style: "background:var(--c-kv)" }), t("KV cache")),
    h("span", null, h("span", { class: "sw", style: "background:var(--c-other)" }), t("compute buffers + other")),
    h("span", null, h("span", { class: "sw", style: "background:var(--bad)" }), t("device budget"))));
}

function drawSizeTable(box, table, ctx, limit) {
  clear(box).append(h("div", { class: "table-wrap" }, h("table", null,
    h("thead", null, h("tr", null, h("th", { scope: "col" }, t("Quant")), table.contexts.map((c) => h("th", { scope: "col", class: "num" }, t("{n} ctx", { n: fmtNum(c, 0) }), c === ctx ? " ◀" : "")))),
    h("tbody", null, table.rows.map((r) => h("tr", null, h("th", { scope: "row" }, r.quant), r.cells.map((c) =>
      h("td", { class: "num " + (limit ? (c.total_bytes > limit ? "over" : "fits") : ""),
        title: t("weights {weights} + KV {kv} + other {other}", { weights: fmtBytes(c.weights_bytes), kv: fmtBytes(c.kv_cache_bytes), other: fmtBytes(c.other_bytes) }) }, fmtBytes(c.total_bytes)))))))),
  h("p", { class: "small muted" }, t("Green: fits the budget above; red: over it. Hover a cell for its breakdown.")));
}

