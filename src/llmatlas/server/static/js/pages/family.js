/* Family page: a family as an answer of its own (any of its names: Qwen, 通義千問, Llama 2):
   its members with sizes and licences, the default member, other names with their sources. */
import { commercialEl, dl, extLink, gradeEl, h, modelLink } from "../dom.js";
import { api } from "../api.js";
import { fmtCtx, fmtDate, fmtParams } from "../format.js";
import { t } from "../i18n.js";
import { languageLabel } from "../labels.js";
import { onLeave } from "../router.js";

export async function renderFamily(app, parts, _query, alive) {
  const name = parts[0];
  if (!name) { location.hash = "#/"; return; }
  const f = await api(`/api/atlas/families/${encodeURIComponent(name)}`);
  if (!alive()) return;
  document.title = `${f.name} – llmatlas`;
  onLeave(() => { document.title = "llmatlas"; });
  const named = (xs) => (xs || []).length
    ? (xs || []).map((x, i) => [i ? t(", ") : "", x.source ? extLink(x.source, x.name) : x.name])
    : "–";
  const members = f.members || [];
  const ids = new Set(members.map((m) => m.id));
  app.append(
    h("p", { class: "small" }, h("a", { href: "#/" }, "← ", t("Catalog"))),
    h("h1", null, f.name),
    h("p", { class: "row" }, h("span", { class: "muted" }, f.developer),
      f.released ? h("span", { class: "muted" }, t("released {first} to {last}", { first: fmtDate(f.released.first), last: fmtDate(f.released.last) })) : null,
      h("a", { class: "btn", href: `#/tree/${encodeURIComponent(f.id)}` }, t("Family tree"))),
    f.description ? h("p", null, f.description) : null,
    h("div", { class: "grid2" },
      h("section", null, h("h2", null, t("Facts")), dl([
        [t("Default model"), f.default && ids.has(f.default) ? modelLink(f.default, members.find((m) => m.id === f.default).name) : (f.default || "–")],
        [t("Other names"), named(f.names)],
        [t("Developer's names"), named(f.developer_names)],
        [t("Languages"), (f.languages || []).map(languageLabel).join(t(", ")) || "–"],
        [t("Longest context"), f.max_context_length ? t("{n} tokens", { n: fmtCtx(f.max_context_length) }) : "–"],
        [t("Home page"), f.homepage ? extLink(f.homepage) : "–"],
        [t("Series"), (f.series || []).length ? (f.series || []).map((s, i) => [i ? t(", ") : "", h("a", { href: `#/family/${encodeURIComponent(s)}` }, s)]) : "–"],
      ])),
      h("section", null, h("h2", null, t("Licenses")), h("ul", { class: "plain" }, (f.licenses || []).map((l) => h("li", null,
        commercialEl(l.commercial_use), " ", l.url ? extLink(l.url, l.name) : l.name,
        l.conditions ? h("p", { class: "small muted" }, l.conditions) : null))))),
    h("h2", null, t("Models in this family")),
    h("div", { class: "table-wrap" }, h("table", { id: "family-members" },
      h("thead", null, h("tr", null, [t("Model"), t("Params (B)"), t("Context"), t("License"), t("Open"), t("Released")].map((x, i) =>
        h("th", { scope: "col", class: i === 1 || i === 2 ? "num" : "" }, x)))),
      h("tbody", null, members.map((m) => h("tr", { "data-id": m.id },
        h("td", null, modelLink(m.id, m.name), m.instruct ? null : h("span", { class: "muted small" }, " ", t("base"))),
        h("td", { class: "num" }, fmtParams(m)), h("td", { class: "num" }, fmtCtx(m.context_length)),
        h("td", null, h("span", { class: "small" }, m.license, " "), commercialEl(m.commercial_use)),
        h("td", null, gradeEl(m.openness)), h("td", { class: "nowrap" }, fmtDate(m.released))))))),
  );
  if ((f.derivatives_elsewhere || []).length) {
    app.append(h("h2", null, t("Built on this family elsewhere")),
      h("ul", null, f.derivatives_elsewhere.map((id) => h("li", null, modelLink(id)))));
  }
}
