/* Numbers, sizes and dates for display. */

export const GiB = 1024 ** 3;
export function fmtBytes(b) {
  if (b === null || b === undefined) return "–";
  if (b >= GiB) return `${(b / GiB).toFixed(b >= 100 * GiB ? 0 : 1)} GiB`;
  return `${Math.round(b / 1024 ** 2)} MiB`;
}
export function fmtNum(x, d = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  return Number(x).toLocaleString("en-US", { maximumFractionDigits: d });
}
export function fmtParams(m) {
  if (m.params_b == null) return "–";
  const p = m.params_b >= 10 ? fmtNum(m.params_b, 0) : fmtNum(m.params_b, 2);
  return m.active_params_b ? `${p} (${fmtNum(m.active_params_b, 1)} active)` : p;
}
export function fmtCtx(c) {
  if (!c) return "–";
  return c >= 1024 ? `${Math.round(c / 1024)}k` : String(c);
}
