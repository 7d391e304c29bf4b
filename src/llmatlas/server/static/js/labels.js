/* Words for the catalog's enumerated values (the API sends them as English identifiers). */
import { langTag, N_, t } from "./i18n.js";

const TASKS = {
  chat: N_("chat"), code: N_("code"), edge: N_("on-device"), "function-calling": N_("function calling"),
  general: N_("general"), instruct: N_("instruction following"), "long-context": N_("long context"),
  math: N_("math"), medical: N_("medical"), multilingual: N_("multilingual"), reasoning: N_("reasoning"),
  research: N_("research"), "safety-classifier": N_("safety classifier"), "tool-use": N_("tool use"), vision: N_("vision"),
};
const STATUS = { open: N_("open"), partial: N_("partial"), closed: N_("closed"), unknown: N_("unknown") };
const AVAILABILITY = { "open-weights": N_("downloadable weights"), "api-only": N_("API only"),
  "gated-application": N_("weights on application") };
const RELATIONS = { finetune: N_("fine-tune"), "continued-pretraining": N_("continued pretraining"),
  distillation: N_("distillation"), merge: N_("merge"), quantized: N_("quantized"),
  "vocabulary-extension": N_("vocabulary extension"), pruning: N_("pruning"), "delta-weights": N_("fine-tune released as delta weights"),
  upcycling: N_("upcycling") };
const SPEED = { good: N_("good"), usable: N_("usable"), "too slow": N_("too slow") };
const COMPONENTS = { weights: N_("weights"), training_data: N_("training data"), training_code: N_("training code"),
  evaluation_code: N_("evaluation code"), finetuning_code: N_("fine-tuning code"), training_logs: N_("training logs") };

const word = (table) => (v) => (v in table ? t(table[v]) : v);
export const taskLabel = word(TASKS);
export const statusLabel = word(STATUS);
export const availabilityLabel = word(AVAILABILITY);
export const relationLabel = word(RELATIONS);
export const speedLabel = word(SPEED);
export const componentLabel = word(COMPONENTS);

/** "zh-Hant" -> "中文（繁體）" in a zh-TW page, "Chinese (Traditional)" in English. */
export function languageLabel(code) {
  if (code === "multi") return t("many languages");
  if (code === "code") return t("programming languages");
  try {
    return new Intl.DisplayNames(langTag(), { type: "language" }).of(code) || code;
  } catch (_) {
    return code;
  }
}
