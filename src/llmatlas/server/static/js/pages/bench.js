/* Benchmarks page. */
import { h, modelLink, s } from "../dom.js";
import { api } from "../api.js";
import { fmtBytes, fmtNum } from "../format.js";

export async function renderBench(app, _parts, _query, alive) {
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

