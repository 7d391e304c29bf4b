/* Benchmarks page. */
import { h, modelLink, s, tNodes } from "../dom.js";
import { api } from "../api.js";
import { fmtBytes, fmtDateTime, fmtNum } from "../format.js";
import { t } from "../i18n.js";

export async function renderBench(app, _parts, _query, alive) {
  app.append(h("h1", null, t("Benchmarks: measured vs estimated")));
  const r = await api("/api/atlas/bench");
  if (!alive()) return;
  const runs = r.runs || [];
  if (!runs.length) {
    app.append(h("p", { id: "bench-empty" }, tNodes("No benchmark runs yet. Measure a model with {command} and the results (with the estimator's prediction) appear here.",
      { command: h("code", null, "llmatlas bench gemma-3-270m") })));
    return;
  }
  app.append(h("p", { class: "muted small" }, t("Solid bars: measured on this machine; pale bars: what the estimator predicted. Closer is better.")),
    h("div", { class: "legend" },
      h("span", null, h("span", { class: "sw", style: "background:var(--c-weights)" }), t("measured")),
      h("span", null, h("span", { class: "sw", style: "background:var(--c-est)" }), t("estimated"))));
  const label = (x) => `${x.model} ${x.quant} · ${t("{n} ctx", { n: fmtNum(x.n_ctx, 0) })}`;
  app.append(h("h2", null, t("Decode (tokens/s)")), barChart(runs, label, "tg_tps", "est_tg_tps", t("Decode tokens per second, measured vs estimated")),
    h("h2", null, t("Prefill (tokens/s)")), barChart(runs, label, "pp_tps", "est_pp_tps", t("Prefill tokens per second, measured vs estimated")));
  app.append(h("h2", null, t("Runs")), h("div", { class: "table-wrap" }, h("table", { id: "bench-runs" },
    h("thead", null, h("tr", null, [t("Model"), t("Quant"), t("Machine"), t("Context"), t("Prefill tok/s"), t("est."), t("Decode tok/s"), t("est."), t("Time to first token"), t("Peak memory (RSS)"), t("est. memory"), t("When")].map((x, i) =>
      h("th", { scope: "col", class: i >= 3 && i <= 10 ? "num" : "" }, x)))),
    h("tbody", null, runs.map((x) => h("tr", null,
      h("td", null, x.catalog_id ? modelLink(x.catalog_id, x.model) : x.model), h("td", { class: "mono" }, x.quant), h("td", null, x.machine),
      h("td", { class: "num" }, fmtNum(x.n_ctx, 0)), h("td", { class: "num" }, fmtNum(x.pp_tps, 1)), h("td", { class: "num muted" }, fmtNum(x.est_pp_tps, 1)),
      h("td", { class: "num" }, fmtNum(x.tg_tps, 1)), h("td", { class: "num muted" }, fmtNum(x.est_tg_tps, 1)),
      h("td", { class: "num" }, x.ttft_s != null ? t("{s} s", { s: fmtNum(x.ttft_s, 2) }) : "–"), h("td", { class: "num" }, fmtBytes(x.peak_rss_bytes)),
      h("td", { class: "num muted" }, fmtBytes(x.est_total_bytes)), h("td", { class: "small" }, fmtDateTime(x.created_at))))))));
}

function barChart(runs, label, key, estKey, title) {
  const W = 720, left = 230, right = 60, bh = 12, groupH = 2 * bh + 12, top = 8;
  const H = top + runs.length * groupH + 24;
  const maxV = Math.max(1, ...runs.flatMap((x) => [x[key] || 0, x[estKey] || 0])) * 1.08;
  const xs = (v) => ((v || 0) / maxV) * (W - left - right);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  runs.forEach((x, i) => {
    const y = top + i * groupH;
    const lab = label(x);
    svg.append(s("text", { x: left - 8, y: y + bh + 4, "text-anchor": "end" }, lab.length > 34 ? lab.slice(0, 33) + "…" : lab));
    svg.append(s("rect", { x: left, y, width: Math.max(1, xs(x[key])), height: bh, fill: "var(--c-weights)" }, s("title", null, t("{run}: measured {tps} tok/s", { run: lab, tps: fmtNum(x[key], 1) }))));
    svg.append(s("text", { x: left + xs(x[key]) + 4, y: y + bh - 2, "font-size": "11" }, fmtNum(x[key], 1)));
    svg.append(s("rect", { x: left, y: y + bh + 2, width: Math.max(1, xs(x[estKey])), height: bh, fill: "var(--c-est)" }, s("title", null, t("{run}: estimated {tps} tok/s", { run: lab, tps: fmtNum(x[estKey], 1) }))));
    svg.append(s("text", { x: left + xs(x[estKey]) + 4, y: y + 2 * bh, "font-size": "11", class: "muted" }, x[estKey] != null ? fmtNum(x[estKey], 1) : t("no estimate")));
  });
  svg.append(s("line", { class: "axis", x1: left, x2: left, y1: top - 4, y2: H - 20 }));
  return svg;
}

