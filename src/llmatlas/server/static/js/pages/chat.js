/* Chat playground page: streams from the OpenAI-compatible endpoint, with timing. */
import { clear, errorBox, field, h, select } from "../dom.js";
import { ApiError, api, authFetch } from "../api.js";
import { fmtNum } from "../format.js";
import { N_, t } from "../i18n.js";
import { onLeave } from "../router.js";

const ROLES = { user: N_("you"), assistant: N_("model") };
const FINISH = { stop: N_("end of text"), length: N_("token limit") };

export async function renderChat(app, _parts, query, alive) {
  app.append(h("h1", null, t("Chat playground")));
  const info = await api("/api/atlas/loaded");
  if (!alive()) return;
  const models = [...new Set([...(info.loaded || []), ...(info.local || [])])];
  const ctl = {
    model: select(models.map((m) => [m, (info.loaded || []).includes(m) ? t("{model} (loaded)", { model: m }) : m]), query.get("model") || models[0]),
    system: h("textarea", { rows: "3", placeholder: t("optional") }),
    temperature: h("input", { type: "number", min: "0", max: "2", step: "0.1", value: "0.7" }),
    top_p: h("input", { type: "number", min: "0", max: "1", step: "0.05", value: "0.95" }),
    max_tokens: h("input", { type: "number", min: "1", max: "8192", step: "1", value: "128" }),
    seed: h("input", { type: "number", step: "1", placeholder: t("random") }),
  };
  const log = h("div", { class: "chat-log", id: "chat-log", role: "log", "aria-live": "polite", "aria-label": t("Conversation") });
  const prompt = h("textarea", { rows: "3", placeholder: t("Type a message — Enter sends, Shift+Enter for a new line"), id: "chat-input" });
  const send = h("button", { type: "submit", class: "primary", id: "chat-send" }, t("Send"));
  const stop = h("button", { type: "button", id: "chat-stop", disabled: true }, t("Stop"));
  const clearBtn = h("button", { type: "button" }, t("Clear"));
  const stat = (id, label) => h("div", { class: "stat" }, h("span", { class: "lbl" }, label), h("span", { id, class: "mono" }, "–"));
  const stats = h("div", { class: "stats", "aria-live": "off" }, stat("chat-ttft", t("Time to first token")), stat("chat-tps", t("Tokens/s")), stat("chat-ntok", t("Tokens")), stat("chat-state", t("State")));
  const form = h("form", { "aria-label": t("Send a message") }, field(t("Message"), prompt), h("div", { class: "row", style: "margin-top:.4em" }, send, stop, clearBtn));
  app.append(h("div", { class: "chat" },
    h("details", { class: "filter-box chat-settings", open: !window.matchMedia("(max-width: 720px)").matches },
      h("summary", null, t("Model and sampling settings")),
      h("div", { class: "panel", role: "group", "aria-label": t("Settings") },
      field(t("Model"), ctl.model), field(t("System prompt"), ctl.system), field(t("Temperature"), ctl.temperature),
      field("top_p", ctl.top_p), field(t("Max tokens"), ctl.max_tokens), field(t("Seed"), ctl.seed),
      h("p", { class: "small muted" }, t("The embedded gemma-3-270m is a small base model: it continues text rather than following instructions.")))),
    h("section", { "aria-label": t("Chat") }, log, stats, form)));

  let history = [];
  let ctrl = null;
  onLeave(() => { if (ctrl) ctrl.abort(); });
  const setStat = (id, v) => { document.getElementById(id).textContent = v; };

  prompt.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  stop.addEventListener("click", () => { if (ctrl) ctrl.abort(); });
  clearBtn.addEventListener("click", () => { if (ctrl) ctrl.abort(); history = []; clear(log); });

  function bubble(role, text) {
    const body = h("span", { class: "body" }, text);
    const el = h("div", { class: `msg ${role}` }, h("span", { class: "who" }, t(ROLES[role])), body);
    log.append(el);
    log.scrollTop = log.scrollHeight;
    return body;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = prompt.value.trim();
    if (!text || ctrl) return;
    prompt.value = "";
    history.push({ role: "user", content: text });
    bubble("user", text);
    const out = bubble("assistant", "");
    out.parentElement.classList.add("streaming");
    const msgs = ctl.system.value.trim() ? [{ role: "system", content: ctl.system.value.trim() }, ...history] : history.slice();
    const body = {
      model: ctl.model.value, messages: msgs, stream: true, stream_options: { include_usage: true },
      temperature: Number(ctl.temperature.value), top_p: Number(ctl.top_p.value), max_tokens: Math.round(Number(ctl.max_tokens.value)) || 128,
    };
    if (ctl.seed.value !== "") body.seed = Math.round(Number(ctl.seed.value));
    ctrl = new AbortController();
    send.disabled = true; stop.disabled = false;
    setStat("chat-state", t("waiting…")); setStat("chat-ttft", "–"); setStat("chat-tps", "–"); setStat("chat-ntok", "0");
    const t0 = performance.now();
    let tFirst = null, n = 0, reply = "", usage = null, finish = null;
    const tick = () => {
      if (tFirst === null) return;
      const dt = (performance.now() - tFirst) / 1000;
      setStat("chat-ntok", String(usage ? usage.completion_tokens : n));
      if (dt > 0 && n > 1) setStat("chat-tps", fmtNum((n - 1) / dt, 1));
    };
    try {
      const res = await authFetch("/v1/chat/completions", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal: ctrl.signal,
      });
      if (!res.ok) {
        let m = `HTTP ${res.status}`;
        try { const j = await res.json(); m = (j.error && j.error.message) || m; } catch (_) { /* keep */ }
        throw new ApiError(m);
      }
      setStat("chat-state", t("streaming"));
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          let chunk;
          try { chunk = JSON.parse(data); } catch (_) { continue; }
          if (chunk.error) throw new ApiError(chunk.error.message || t("stream error"));
          if (chunk.usage) usage = chunk.usage;
          for (const c of chunk.choices || []) {
            const d = c.delta && c.delta.content;
            if (d) {
              if (tFirst === null) { tFirst = performance.now(); setStat("chat-ttft", t("{s} s", { s: fmtNum((tFirst - t0) / 1000, 2) })); }
              n += 1;
              reply += d;
              out.textContent = reply;
              log.scrollTop = log.scrollHeight;
            }
            if (c.finish_reason) finish = c.finish_reason;
          }
          tick();
        }
      }
      if (usage && tFirst !== null) {
        const dt = (performance.now() - tFirst) / 1000;
        if (dt > 0 && usage.completion_tokens > 1) setStat("chat-tps", fmtNum((usage.completion_tokens - 1) / dt, 1));
      }
      setStat("chat-state", finish ? t("done ({reason})", { reason: FINISH[finish] ? t(FINISH[finish]) : finish }) : t("done"));
    } catch (err) {
      if (err.name === "AbortError") setStat("chat-state", t("stopped"));
      else { setStat("chat-state", t("error")); out.parentElement.after(errorBox(err)); }
    } finally {
      tick();
      if (reply) history.push({ role: "assistant", content: reply });
      out.parentElement.classList.remove("streaming");
      ctrl = null;
      if (alive()) { send.disabled = false; stop.disabled = true; }
    }
  });
}

