/* Hash routing: "#/page/arg?query". Each page is a function (app, parts, query, alive);
   alive() turns false once the user has navigated away, so late answers are dropped. */
import { qstr } from "./api.js";
import { clear, errorBox, h } from "./dom.js";
import { t } from "./i18n.js";

let page = { cleanup: [], gen: 0 };
export function onLeave(fn) { page.cleanup.push(fn); }

export function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query || "") };
}
export function setQuery(params) {
  const { parts } = parseHash();
  const q = qstr(params);
  const path = "#/" + parts.map(encodeURIComponent).join("/");
  history.replaceState(null, "", q ? `${path}?${q}` : path);
}

const routes = new Map();
/** Register the page shown for "#/name/..."; the empty name is the start page. */
export function addRoute(name, render) { routes.set(name, render); }

export function route() {
  for (const fn of page.cleanup) { try { fn(); } catch (_) { /* ignore */ } }
  page = { cleanup: [], gen: page.gen + 1 };
  const { parts, query } = parseHash();
  const name = parts[0] || "";
  const fn = routes.get(name);
  const app = clear(document.getElementById("app"));
  const navKey = { "": "catalog", model: "catalog", family: "catalog", deploy: "catalog" }[name] || name;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === navKey) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!fn) {
    app.append(h("h1", null, t("Not found")), h("p", null, t("No such page."), " ", h("a", { href: "#/" }, t("Back to the catalog"))));
    return;
  }
  const gen = page.gen;
  Promise.resolve(fn(app, parts.slice(1), query, () => gen === page.gen)).catch((e) => {
    if (gen === page.gen && e.name !== "AbortError") app.append(errorBox(e));
  });
}

/** Render the current hash now and on every change. */
export function start() {
  window.addEventListener("hashchange", () => {
    route();
    document.getElementById("main").focus({ preventScroll: true });
    window.scrollTo(0, 0);
  });
  document.getElementById("skip").addEventListener("click", (e) => { e.preventDefault(); document.getElementById("main").focus(); });
  route();
}
