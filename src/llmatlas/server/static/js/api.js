/* Talking to the llmatlas server: JSON calls, errors, and data shared between pages. */
import { fmtNum } from "./format.js";
import { langTag, t } from "./i18n.js";
import { signIn } from "./login.js";

export class ApiError extends Error {}

/** fetch() for the server's API: the page's language goes along (so texts the server writes
    can follow it), and a 401 (a server with --api-key) shows the sign-in form, then retries. */
export async function authFetch(path, opts) {
  const o = Object.assign({}, opts);
  o.headers = Object.assign({ "Accept-Language": langTag() }, o.headers);
  for (;;) {
    let res;
    try {
      res = await fetch(path, o);
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new ApiError(t("cannot reach the llmatlas server ({error})", { error: e.message }));
    }
    if (res.status !== 401) return res;
    await signIn();
    if (o.signal && o.signal.aborted) throw new DOMException("aborted", "AbortError");
  }
}

/** A JSON call; errors carry the server's one-line message. */
export async function api(path, opts) {
  const res = await authFetch(path, opts);
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
  let timer = null;
  const d = (...a) => { clearTimeout(timer); timer = setTimeout(() => fn(...a), ms); };
  d.cancel = () => clearTimeout(timer);
  return d;
}

/* ---------- shared data (cached) ---------- */
const cache = {};
/** Drop what was fetched (after a language change: the server's texts follow the language). */
export function forget() { for (const k of Object.keys(cache)) delete cache[k]; }
function once(key, fn) {
  if (!cache[key]) cache[key] = fn().catch((e) => { delete cache[key]; throw e; });
  return cache[key];
}
export const getModels = () => once("models", () => api("/api/atlas/models?sort=family"));
export const getHw = () => once("hw", () => api("/api/atlas/hw"));
export const getFitAll = () => once("fitall", () => api("/api/atlas/fit?limit=0"));
export const getOpenData = () => once("opendata", () => api("/api/atlas/models?open_data=true"));

export function deviceOptions(devs) {
  return [["this", t("This machine")], ...devs.map((d) => [d.id, `${d.name} (${fmtNum(d.memory_gb, 0)} GB)`])];
}

