/* llmatlas web UI: native ES modules, hash routing, plain DOM, no dependencies, no build step. */
import { forget } from "./api.js";
import { h } from "./dom.js";
import { chooseLanguage, lang, languages, loadLanguage, N_, t } from "./i18n.js";
import { checkSession, showSignOut } from "./login.js";
import { renderBench } from "./pages/bench.js";
import { renderCatalog } from "./pages/catalog.js";
import { renderChat } from "./pages/chat.js";
import { renderCompare } from "./pages/compare.js";
import { renderDeploy } from "./pages/deploy.js";
import { renderFamily } from "./pages/family.js";
import { renderFit } from "./pages/fit.js";
import { renderModel } from "./pages/model.js";
import { renderTree } from "./pages/tree.js";
import { addRoute, route, start } from "./router.js";

const NAV = { catalog: N_("Catalog"), fit: N_("Fit"), compare: N_("Compare"), tree: N_("Family tree"),
  chat: N_("Chat"), bench: N_("Benchmarks") };

/** The page's frame (skip link, navigation, language switcher) in the current language. */
function paintFrame() {
  document.getElementById("skip").textContent = t("Skip to content");
  const nav = document.querySelector("header.top nav");
  nav.setAttribute("aria-label", t("Main"));
  for (const a of nav.querySelectorAll("a[data-nav]")) a.textContent = t(NAV[a.dataset.nav]);
  let pick = document.getElementById("lang-select");
  if (!pick && languages().length > 1) {
    pick = h("select", { id: "lang-select" });
    for (const l of languages()) pick.append(h("option", { value: l.lang, lang: l.tag }, l.name));
    pick.addEventListener("change", async () => {
      await chooseLanguage(pick.value);
      forget();
      paintFrame();
      route();
    });
    document.querySelector("header.top").append(h("div", { class: "lang" }, pick));
  }
  if (pick) {
    pick.value = lang();
    pick.setAttribute("aria-label", t("Language"));
  }
  const out = document.getElementById("logout");
  if (out) showSignOut(!out.hidden);
}

addRoute("", renderCatalog);
addRoute("model", renderModel);
addRoute("family", renderFamily);
addRoute("fit", renderFit);
addRoute("compare", renderCompare);
addRoute("deploy", renderDeploy);
addRoute("tree", renderTree);
addRoute("chat", renderChat);
addRoute("bench", renderBench);
await loadLanguage();
paintFrame();
checkSession();
start();
