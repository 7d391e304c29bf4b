/* Compare page: two to four models side by side, differing rows highlighted. */
import { clear, errorBox, field, h, modelLink, nextId } from "../dom.js";
import { api, getModels, qstr } from "../api.js";
import { fmtBytes, fmtDate, fmtNum } from "../format.js";
import { t } from "../i18n.js";
import { componentLabel, languageLabel, statusLabel, taskLabel } from "../labels.js";
import { setQuery } from "../router.js";
import { OPEN_COMPONENTS } from "./model.js";

export async function renderCompare(app, _parts, query, alive) {
  app.append(h("h1", null, t("Compare models")));
  const cat = await getModels();
  if (!alive()) return;
  const names = new Map(cat.models.map((m) => [m.id, m.name]));
  let ids = (query.get("ids") || "").split(",").map((x) => x.trim()).filter((x) => names.has(x)).slice(0, 4);

  const listId = nextId("models");
  const dlist = h("datalist", { id: listId }, cat.models.map((m) => h("option", { value: m.id }, m.name)));
  const input = h("input", { type: "text", list: listId, placeholder: t("model id or name"), autocomplete: "off" });
  const addBtn = h("button", { type: "submit", class: "primary" }, t("Add"));
  const msg = h("span", { class: "muted small", "aria-live": "polite" });
  const chips = h("div", { class: "chips", "aria-label": t("Selected models") });
  const out = h("div", { id: "compare-out" });
  const form = h("form", { class: "filters", "aria-label": t("Pick models") }, field(t("Add a model (2–4)"), input), addBtn, msg, dlist);
  app.append(form, chips, out);

  function resolve(v) {
    const t = v.trim().toLowerCase();
    if (!t) return null;
    for (const m of cat.models) if (m.id === t || m.name.toLowerCase() === t) return m.id;
    const hits = cat.models.filter((m) => m.id.includes(t) || m.name.toLowerCase().includes(t));
    return hits.length === 1 ? hits[0].id : null;
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = resolve(input.value);
    if (!id) { msg.textContent = t("No single model matches “{text}”.", { text: input.value }); return; }
    if (ids.includes(id)) { msg.textContent = t("Already in the comparison."); return; }
    if (ids.length >= 4) { msg.textContent = t("At most 4 models."); return; }
    ids.push(id);
    input.value = "";
    msg.textContent = "";
    refresh();
  });

  function refresh() {
    return refreshInner().catch((e) => { if (alive()) clear(out).append(errorBox(e)); });
  }
  async function refreshInner() {
    setQuery({ ids: ids.join(",") });
    addBtn.disabled = ids.length >= 4;
    clear(chips).append(...ids.map((id) => h("span", { class: "chip" }, names.get(id),
      h("button", { type: "button", "aria-label": t("Remove {name}", { name: names.get(id) }), onclick: () => { ids = ids.filter((x) => x !== id); refresh(); } }, "×"))));
    if (ids.length < 2) {
      clear(out).append(h("p", { class: "muted" }, t("Pick at least two models to compare.")));
      return;
    }
    const want = ids.slice();
    const ds = await Promise.all(want.map((id) => api(`/api/atlas/models/${encodeURIComponent(id)}`)));
    const sizes = await Promise.all(ds.map((d) => d.architecture
      ? api(`/api/atlas/sizing-table?${qstr({ model: d.id, contexts: "4096" })}`).catch(() => null) : null));
    if (!alive() || want.join() !== ids.join()) return;
    const q4 = (i) => { const t = sizes[i]; const r = t && t.rows.find((x) => x.quant === "Q4_K_M"); return r ? fmtBytes(r.cells[0].total_bytes) : "–"; };
    const benchNames = [...new Set(ds.flatMap((d) => (d.benchmarks || []).map((b) => b.name)))];
    const rows = [
      [t("Developer"), (d) => d.developer],
      [t("Family"), (d) => d.family_name],
      [t("Released"), (d) => fmtDate(d.released)],
      [t("Params (B)"), (d) => (d.params_b != null ? fmtNum(d.params_b, 2) : "–")],
      [t("Active params (B)"), (d) => (d.active_params_b != null ? fmtNum(d.active_params_b, 1) : "–")],
      [t("Context length"), (d) => (d.context_length ? fmtNum(d.context_length, 0) : "–")],
      [t("Kind"), (d) => (d.instruct ? t("instruct") : t("base"))],
      [t("Architecture"), (d) => (d.architecture ? d.architecture.model_type : "–")],
      [t("Layers"), (d) => (d.architecture ? d.architecture.num_hidden_layers : "–")],
      [t("KV heads"), (d) => (d.architecture ? d.architecture.num_key_value_heads : "–")],
      [t("Memory at Q4_K_M, 4k context"), (d, i) => q4(i)],
      [t("License"), (d) => d.license_name],
      [t("Commercial use"), (d) => ({ yes: t("yes"), no: t("no"), conditional: t("conditional") }[d.commercial_use] || d.commercial_use)],
      [t("Openness grade"), (d) => d.openness.grade],
      ...OPEN_COMPONENTS.map((c) => [`↳ ${componentLabel(c)}`, (d) => (d.openness[c] ? statusLabel(d.openness[c]) : "–")]),
      [t("Languages"), (d) => d.languages.map(languageLabel).join(t(", "))],
      [t("Tasks"), (d) => d.tasks.map(taskLabel).join(t(", "))],
      [t("Base model"), (d) => (d.base_model ? names.get(d.base_model) || d.base_model : "–")],
      ...benchNames.map((n) => [n, (d) => {
        const b = (d.benchmarks || []).find((x) => x.name === n);
        return b ? `${fmtNum(b.value, 2)}${b.shots != null ? ` ${t("({n}-shot)", { n: b.shots })}` : ""}` : "–";
      }]),
    ];
    clear(out).append(h("p", { class: "small muted" }, t("Rows where the models differ are highlighted (≠).")),
      h("div", { class: "table-wrap" }, h("table", { id: "compare-table" },
        h("thead", null, h("tr", null, h("th", { scope: "col" }, t("Field")), ds.map((d) => h("th", { scope: "col" }, modelLink(d.id, d.name))))),
        h("tbody", null, rows.map(([label, get]) => {
          const vals = ds.map((d, i) => String(get(d, i)));
          const differ = new Set(vals).size > 1;
          return h("tr", { class: differ ? "diff" : null }, h("th", { scope: "row" }, label), vals.map((v) => h("td", null, v)));
        })))));
  }
  await refresh();
}

