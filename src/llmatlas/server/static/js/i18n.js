/* The page's language: messages from the server's gettext catalog (domain "ui"), chosen by the
   browser's Accept-Language unless the user picked one in the switcher (kept in localStorage).
   msgids are the English text; "{name}" placeholders are filled from an object. */

const STORE_KEY = "llmatlas.lang";
let current = { lang: "en", tag: "en", messages: {}, languages: [] };

function fill(text, vars) {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

/** Translate a message; vars fill its {placeholders}. */
export function t(msgid, vars) {
  const tr = current.messages[msgid];
  return fill(typeof tr === "string" ? tr : msgid, vars);
}

/** Translate a message that depends on a count n (available as {n}, formatted per locale). */
export function tn(singular, plural, n, vars) {
  const forms = current.messages[singular];
  const all = Object.assign({ n: new Intl.NumberFormat(current.tag).format(n) }, vars);
  if (Array.isArray(forms)) {
    const one = new Intl.PluralRules(current.tag).select(n) === "one";
    return fill(forms.length > 1 && !one ? forms[1] : forms[0], all);
  }
  return fill(n === 1 ? singular : plural, all);
}

/** Mark a msgid for extraction where it is defined (translated by t() where it is shown). */
export const N_ = (msgid) => msgid;

/** The BCP 47 tag for Intl formatting and <html lang>. */
export function langTag() { return current.tag; }
/** The catalog name ("en", "zh_TW", "zh_CN"). */
export function lang() { return current.lang; }
/** [{lang, tag, name}] the server has catalogs for. */
export function languages() { return current.languages; }

function stored() {
  try { return localStorage.getItem(STORE_KEY); } catch (_) { return null; }
}

/** Load the messages: the remembered choice, else what the browser asks for. */
export async function loadLanguage(choice) {
  const want = choice || stored();
  const url = want ? `/ui/messages?${new URLSearchParams({ lang: want })}` : "/ui/messages";
  try {
    const res = await fetch(url, { headers: { Accept: "application/json" } });
    if (res.ok) current = await res.json();
  } catch (_) { /* English, the msgids, stands */ }
  document.documentElement.lang = current.tag;
  return current.lang;
}

/** Switch language and remember the choice. */
export async function chooseLanguage(name) {
  try { localStorage.setItem(STORE_KEY, name); } catch (_) { /* private mode: not remembered */ }
  return loadLanguage(name);
}
