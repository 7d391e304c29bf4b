/* DOM building helpers: elements, labelled form fields, links and badges. */
import { t } from "./i18n.js";

const SVGNS = "http://www.w3.org/2000/svg";

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}
export function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}
function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", v);
    else if (k === "text") el.textContent = v;
    else if (k === "value" && "value" in el) el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : v);
  }
}
function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
}
export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

let uid = 0;
export function nextId(p) { uid += 1; return `${p}-${uid}`; }

/* a labelled field: returns [wrapper, control] */
export function field(label, control, cls) {
  if (!control.id) control.id = nextId("f");
  return h("div", { class: "field " + (cls || "") }, h("label", { for: control.id }, label), control);
}
export function checkField(label, control) {
  if (!control.id) control.id = nextId("c");
  return h("div", { class: "check" }, control, h("label", { for: control.id }, label));
}
export function select(options, value, attrs) {
  const el = h("select", attrs);
  for (const o of options) {
    const [v, t] = Array.isArray(o) ? o : [o, o];
    el.append(h("option", { value: v }, t));
  }
  if (value !== undefined && value !== null) el.value = value;
  return el;
}

export function errorBox(e) {
  return h("p", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e));
}
export function gradeEl(g) { return h("span", { class: `grade grade-${g}`, title: t("openness grade {grade}", { grade: g }) }, g); }
export function commercialEl(c) {
  const cls = { yes: "ok", conditional: "warn", no: "bad" }[c] || "";
  const label = { yes: t("commercial OK"), conditional: t("conditional"), no: t("non-commercial") }[c] || c;
  return h("span", { class: `badge ${cls}` }, label);
}
export function modelLink(id, name) { return h("a", { href: `#/model/${encodeURIComponent(id)}` }, name || id); }
export function extLink(url, text) {
  return h("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, text || url);
}

/** A translated sentence with elements in its {placeholders}: an array of text and nodes. */
export function tNodes(msgid, nodes) { return withNodes(t(msgid), nodes); }
/** Text whose remaining {placeholders} are filled with elements: an array of text and nodes. */
export function withNodes(text, nodes) {
  return text.split(/(\{\w+\})/).map((part) => {
    const m = /^\{(\w+)\}$/.exec(part);
    return m && m[1] in nodes ? nodes[m[1]] : part;
  }).filter((x) => x !== "");
}

export function dl(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

