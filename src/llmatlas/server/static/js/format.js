/* Numbers, sizes and dates for display, in the page's locale (Intl). */
import { langTag, t } from "./i18n.js";

export const GiB = 1024 ** 3;
const nf = new Map();
function numberFormat(d) {
  const key = `${langTag()}|${d}`;
  if (!nf.has(key)) nf.set(key, new Intl.NumberFormat(langTag(), { maximumFractionDigits: d }));
  return nf.get(key);
}

export function fmtNum(x, d = 1) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return "–";
  return numberFormat(d).format(Number(x));
}
export function fmtBytes(b) {
  if (b === null || b === undefined) return "–";
  if (b >= GiB) return `${fmtNum(b / GiB, b >= 100 * GiB ? 0 : 1)} GiB`;
  return `${fmtNum(b / 1024 ** 2, 0)} MiB`;
}
export function fmtParams(m) {
  if (m.params_b == null) return "–";
  const p = m.params_b >= 10 ? fmtNum(m.params_b, 0) : fmtNum(m.params_b, 2);
  return m.active_params_b ? t("{total} ({active} active)", { total: p, active: fmtNum(m.active_params_b, 1) }) : p;
}
export function fmtCtx(c) {
  if (!c) return "–";
  return c >= 1024 ? `${fmtNum(Math.round(c / 1024), 0)}k` : fmtNum(c, 0);
}
/** A count in the locale's compact words: 7.24B / 72.4億 / 72.4亿. */
export function fmtCount(x) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return "–";
  return new Intl.NumberFormat(langTag(), { notation: "compact", maximumSignificantDigits: 3 }).format(Number(x));
}
/** "2024-01-12" (a calendar date, no time zone) -> the locale's medium date. */
export function fmtDate(iso) {
  if (!iso) return "–";
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) return iso;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return new Intl.DateTimeFormat(langTag(), { dateStyle: "medium", timeZone: "UTC" }).format(d);
}
/** A timestamp ("2024-01-12 10:31:02", UTC, or ISO with an offset) -> the locale's date and time. */
export function fmtDateTime(s) {
  if (!s) return "–";
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s.replace(" ", "T") : `${s.replace(" ", "T")}Z`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return s;
  return new Intl.DateTimeFormat(langTag(), { dateStyle: "medium", timeStyle: "short" }).format(d);
}
