/* Signing in when the server runs with --api-key: the key goes once to POST /api/login, which
   answers with an HttpOnly, SameSite=Strict session cookie; the page never stores the key. */
import { h } from "./dom.js";
import { t } from "./i18n.js";

let pending = null; // one form for every request that met a 401 meanwhile

/** Show the sign-in form; resolves once the server accepted a key. */
export function signIn() {
  if (!pending) pending = showForm().finally(() => { pending = null; });
  return pending;
}

function showForm() {
  return new Promise((resolve) => {
    const key = h("input", { type: "password", id: "login-key", autocomplete: "current-password", required: true });
    const msg = h("p", { class: "error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "primary" }, t("Sign in"));
    const form = h("form", { method: "dialog", class: "login" },
      h("h2", { id: "login-title" }, t("This server needs its API key")),
      h("p", { class: "small muted" }, t("It was started with an API key. Enter it to continue: the server then keeps you signed in with a cookie for this browser session.")),
      h("div", { class: "field" }, h("label", { for: "login-key" }, t("API key")), key), msg,
      h("div", { class: "row" }, submit));
    const dialog = h("dialog", { id: "login", "aria-labelledby": "login-title" }, form);
    dialog.addEventListener("cancel", (e) => e.preventDefault()); // nothing works without a key
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      submit.disabled = true;
      msg.hidden = true;
      try {
        const res = await fetch("/api/login", {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ key: key.value }),
        });
        if (res.ok) {
          dialog.close();
          dialog.remove();
          showSignOut(true);
          resolve();
          return;
        }
        msg.textContent = res.status === 401 ? t("That is not this server's API key.") : t("Sign-in failed (HTTP {status}).", { status: res.status });
      } catch (err) {
        msg.textContent = t("cannot reach the llmatlas server ({error})", { error: err.message });
      }
      msg.hidden = false;
      submit.disabled = false;
      key.select();
    });
    document.body.append(dialog);
    dialog.showModal();
    key.focus();
  });
}

/** The header's sign-out button, shown while a key-protected session is open. */
export function showSignOut(show) {
  let btn = document.getElementById("logout");
  if (!btn) {
    btn = h("button", { type: "button", id: "logout", class: "link", hidden: true }, t("Sign out"));
    btn.addEventListener("click", async () => {
      await fetch("/api/logout", { method: "POST" });
      btn.hidden = true;
      location.reload();
    });
    document.querySelector("header.top").append(btn);
  }
  btn.textContent = t("Sign out");
  btn.hidden = !show;
}

/** At start: does this server want a key, and is this browser signed in? */
export async function checkSession() {
  try {
    const res = await fetch("/api/session");
    if (!res.ok) return;
    const s = await res.json();
    showSignOut(Boolean(s.auth_required && s.authenticated));
  } catch (_) { /* an older server without /api/session: 401s still bring the form */ }
}
