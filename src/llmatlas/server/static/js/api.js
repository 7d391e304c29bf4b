/* Talking to the llmatlas server: JSON calls, errors, and data shared between pages. */
import { fmtNum } from "./format.js";

export class ApiError extends Error {}

export async function api(path, opts) {
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

export function qstr(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "" || v === false) continue;
    u.set(k, String(v));
  }
  return u.toString();
}

export function debounce(fn, ms) {
  let t = null;
  const d = (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  d.cancel = () => clearTimeout(t);
  return d;
}

/* ---------- shared data (cached) ---------- */
const cache = {};
function once(key, fn) {
  if (!cache[key]) cache[key] = fn().catch((e) => { delete cache[key]; throw e; });
  return cache[key];
}
export const getModels = () => once("models", () => api("/api/atlas/models?sort=family"));
export const getHw = () => once("hw", () => api("/api/atlas/hw"));
export const getFitAll = () => once("fitall", () => api("/api/atlas/fit?limit=0"));
export const getOpenData = () => once("opendata", () => api("/api/atlas/models?open_data=true"));

export function deviceOptions(devs) {
  return [["this", "This machine"], ...devs.map((d) => [d.id, `${d.name} (${fmtNum(d.memory_gb, 0)} GB)`])];
}

