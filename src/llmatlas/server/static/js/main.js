/* llmatlas web UI: native ES modules, hash routing, plain DOM, no dependencies, no build step. */
import { addRoute, start } from "./router.js";
import { renderBench } from "./pages/bench.js";
import { renderCatalog } from "./pages/catalog.js";
import { renderChat } from "./pages/chat.js";
import { renderCompare } from "./pages/compare.js";
import { renderFit } from "./pages/fit.js";
import { renderModel } from "./pages/model.js";
import { renderTree } from "./pages/tree.js";

addRoute("", renderCatalog);
addRoute("model", renderModel);
addRoute("fit", renderFit);
addRoute("compare", renderCompare);
addRoute("tree", renderTree);
addRoute("chat", renderChat);
addRoute("bench", renderBench);
start();
