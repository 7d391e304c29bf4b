"""`llmatlas fit` and `llmatlas recommend`: what runs well here, for this need, and why.

A model is a candidate only if it meets every stated need strictly (see :func:`need_reasons`);
its quantization follows :func:`llmatlas.advisor.choose_quant` (best quality that fits and
is fast enough, never below 4-bit unless asked).  Ranking, most important first:

1. speed: rows that reach the speed the need asks for (``REQUIRED_TPS`` for a chat, or
   ``--min-tps``) come before rows that do not, and of those, rows still usable (5 tok/s)
   before rows too slow to use, so a model that "fits" but crawls never tops the list;
2. for a task need (code, reasoning, math...), a model built for it (the card lists the
   task first) before one that merely lists it among others;
   then release year: a newer model generation before an older one of any size (a 2023 7B
   with a published score does not outrank a 2025 14B that has none in the catalog);
3. within a year, the need's own published benchmark when the catalog has it, higher
   first: TMMLU+ for Traditional Chinese, C-Eval/CMMLU for Chinese, HumanEval for code,
   MATH-500 for reasoning (``LANGUAGE_BENCHMARKS``, ``TASK_BENCHMARKS``; the row cites it,
   or says it ranked without one); then size class (1.5-3B, 3-6B, 6-12B, 12-24B, ...):
   among models that already fit with headroom *and* reach the speed, the larger class is
   the more capable one;
4. within a class, for a Traditional or Simplified Chinese need, a card that names that
   script before one that says only "Chinese" (``zh``); then, for a chat or language need,
   a chat model (or one whose card lists the language first) before others;
5. then the newer release date, published MMLU, speed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from llmatlas.advisor._estimate import DEFAULT_CONTEXT, Target, estimate
from llmatlas.advisor._keys import SCORE_NAMES, SORT_KEYS
from llmatlas.advisor._quant import REQUIRED_TPS, choose_quant
from llmatlas.catalog import Catalog, ModelEntry
from llmatlas.catalog._query import _lang_match, normalize_language
from llmatlas.catalog._schema import TASKS
from llmatlas.errors import BadInputError
from llmatlas.hardware import find_device
from llmatlas.i18n import N_, _
from llmatlas.sizing import GiB

GRADE_ORDER = {"good": 0, "usable": 1, "too slow": 2}
CHAT_TASKS = ("chat", "instruct")
"""A chat need is met by a model whose card says it chats or follows instructions."""
LANGUAGE_BENCHMARKS: dict[str, tuple[str, ...]] = {
    "zh-Hant": ("TMMLU+",),
    "zh-Hans": ("C-Eval", "CMMLU"),
    "zh": ("C-Eval", "CMMLU"),
}
"""Published benchmarks that rank models for a language need, preferred first."""
TASK_BENCHMARKS: dict[str, tuple[str, ...]] = {
    "code": ("HumanEval",),
    "reasoning": ("MATH-500",),
    "math": ("MATH-500", "MATH"),
}
"""Published benchmarks that rank models for a task need, preferred first."""


@dataclass
class FitRow:
    model: str
    name: str
    quant: str
    engine: str
    context: int
    total_bytes: int
    budget_bytes: int
    decode_tps: float
    grade: str
    mmlu: float | None
    license: str
    commercial_use: str
    why: list[str] = field(default_factory=list)
    meets_speed: bool = True
    required_tps: float = REQUIRED_TPS
    params_b: float = 0.0
    released: str = ""
    openness: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)  # each need met, and how
    quality: str | None = None  # what the quantization costs in quality (measured)
    next_up: str | None = None  # what the next quantization up would need
    pool_bytes: int = 0  # what must fit budget_bytes (GPU share for llama.cpp on a GPU)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Need:
    task: str | None = None
    language: str | None = None
    commercial: bool = False
    fully_open: bool = False
    min_tps: float = 0.0
    include_base: bool = False
    max_params: float | None = None
    allow_conditional: bool = False
    allow_below_4bit: bool = False

    def validate(self) -> None:
        if self.task and self.task not in TASKS:
            raise BadInputError.translatable(
                "unknown task {task!r}; use one of {tasks}",
                task=self.task,
                tasks=", ".join(sorted(TASKS)),
            )
        if self.min_tps < 0:
            raise BadInputError.translatable("--min-tps must be >= 0")

    @property
    def required_tps(self) -> float:
        return max(self.min_tps, REQUIRED_TPS)


def _score(m: ModelEntry, name: str) -> float | None:
    vals = [b.value for b in m.benchmarks if b.name.lower() == name.lower()]
    return max(vals) if vals else None


def _mmlu(m: ModelEntry) -> float | None:
    return _score(m, "MMLU")


def _bench_line(m: ModelEntry, name: str) -> str | None:
    rows = [b for b in m.benchmarks if b.name.lower() == name.lower()]
    if not rows:
        return None
    b = max(rows, key=lambda b: b.value)
    shots = ", " + _("{n}-shot").format(n=b.shots) if b.shots is not None else ""
    return f"{b.name} {b.value:g} ({b.evaluator}{shots}; {b.source})"


def need_reasons(m: ModelEntry, need: Need, cat: Catalog) -> list[str] | None:
    """How ``m`` meets each stated need, one line each; None when it misses any of them."""
    if m.architecture is None or m.availability != "open-weights" or m.params_b is None:
        return None
    if not need.include_base and not m.instruct and need.task != "safety-classifier":
        return None
    if "safety-classifier" in m.tasks and need.task != "safety-classifier":
        return None
    why: list[str] = []
    if need.task in (None, "chat", "general", "instruct"):
        if not any(t in m.tasks for t in CHAT_TASKS) and not need.include_base:
            return None
        if need.task:
            why.append(
                _("chat: the card lists {tasks}").format(
                    tasks=", ".join(t for t in m.tasks if t in CHAT_TASKS)
                )
            )
    elif need.task not in m.tasks:
        return None
    else:
        first = m.tasks[0] == need.task
        why.append(
            _("{task}: the card's main task").format(task=need.task)
            if first
            else _("{task}: among the card's tasks ({tasks})").format(
                task=need.task, tasks=", ".join(m.tasks)
            )
        )
    if need.language:
        if not _lang_match(need.language, m.languages):
            return None
        why.append(
            _("language {language}: the card lists {languages}").format(
                language=need.language, languages=", ".join(m.languages)
            )
        )
    lic = cat.license_of(m)
    if need.commercial:
        ok = ("yes", "conditional") if need.allow_conditional else ("yes",)
        if lic.commercial_use not in ok:
            return None
        why.append(
            _("commercial use: {answer} under {license}").format(
                answer=_(COMMERCIAL_ANSWERS.get(lic.commercial_use, lic.commercial_use)),
                license=lic.id,
            )
            + (f" ({lic.conditions})" if lic.commercial_use == "conditional" else "")
        )
    if need.fully_open:
        if m.openness.grade not in ("A", "B"):
            return None
        why.append(
            _("fully open: openness grade {grade} (weights, data and code)").format(
                grade=m.openness.grade
            )
        )
    if need.max_params is not None:
        if m.params_b > need.max_params:
            return None
        why.append(
            _("size: {params}B parameters (at most {max}B)").format(
                params=f"{m.params_b:g}", max=f"{need.max_params:g}"
            )
        )
    return why


def _task_level(m: ModelEntry, need: Need) -> int:
    if need.task and need.task not in ("chat", "general", "instruct"):
        return 0 if m.tasks[0] == need.task else 1
    if need.language:
        return 0 if m.languages and _lang_match(need.language, m.languages[:1]) else 1
    return 0 if m.tasks[0] in CHAT_TASKS else 1


def _script_level(m: ModelEntry, need: Need) -> int:
    """For a Chinese script need (zh-Hant, zh-Hans): 0 when the card names that script, 1
    when it says only "zh" (Chinese, the script unstated: a candidate, but a weaker claim)."""
    if not need.language:
        return 0
    code = normalize_language(need.language)
    if code not in ("zh-Hant", "zh-Hans"):
        return 0
    return 0 if code in m.languages else 1


def _is_task_need(need: Need) -> bool:
    return bool(need.task) and need.task not in ("chat", "general", "instruct")


def _size_class(params_b: float) -> int:
    """0: < 1.5B, 1: 1.5-3B, 2: 3-6B, 3: 6-12B, 4: 12-24B, 5: 24-48B, ... (7-9B share one)."""
    return max(0, math.floor(math.log2(params_b / 1.5)) + 1) if params_b > 0 else 0


def _need_benchmarks(need: Need) -> tuple[str, ...]:
    if need.language:
        lang = need.language.strip()
        canon = {"zh-tw": "zh-Hant", "zh-hant": "zh-Hant", "zh-cn": "zh-Hans", "zh-hans": "zh-Hans"}
        lang = canon.get(lang.lower(), lang)
        if lang.lower() in ("zh", "chinese"):
            lang = "zh"
        return LANGUAGE_BENCHMARKS.get(lang, ())
    return TASK_BENCHMARKS.get(need.task or "", ())


def _need_score(m: ModelEntry, need: Need) -> tuple[int, float, str | None]:
    """(benchmark preference index, score, the benchmark line) for the need's benchmarks;
    (99, 0, None) when the catalog has none of them for ``m``."""
    for i, name in enumerate(_need_benchmarks(need)):
        v = _score(m, name)
        if v is not None:
            return (i, v, _bench_line(m, name))
    return (99, 0.0, None)


def fit(
    target: Target,
    need: Need | None = None,
    context: int | None = None,
    catalog: Catalog | None = None,
    engine: str = "llama.cpp",
    calibration: dict[str, float] | None = None,
    limit: int | None = None,
    sort: str = "rank",
) -> list[FitRow]:
    """Every catalog model that meets ``need`` and fits ``target``, ranked (module docstring)."""
    need = need or Need()
    need.validate()
    if sort not in SORT_KEYS:
        raise BadInputError.translatable(
            "unknown --sort {sort!r}; use one of {keys}", sort=sort, keys=", ".join(SORT_KEYS)
        )
    cat = catalog or Catalog()
    rows: list[FitRow] = []
    keys: dict[str, tuple[Any, ...]] = {}
    candidates = 0
    for m in cat.models:
        needs = need_reasons(m, need, cat)
        if needs is None:
            continue
        candidates += 1
        a = m.architecture
        assert a is not None and m.params_b is not None
        ctx = min(context or DEFAULT_CONTEXT, a.max_position_embeddings)
        choice = choose_quant(
            m,
            target,
            ctx,
            engine,
            need.required_tps,
            need.allow_below_4bit,
            calibration,
        )
        if choice.quant is None:
            continue
        if need.min_tps and choice.decode_tps < need.min_tps:
            continue
        est = estimate(m, target, choice.quant, ctx, 1, engine, calibration=calibration)
        engine_target = target.for_engine(engine)
        choice_budget, choice_note = engine_target.budget_bytes, engine_target.headroom_note
        lang_i, lang_v, lang_line = _need_score(m, need)
        mm = _mmlu(m)
        required = f"{need.required_tps:g}"
        cards = engine_target.count if engine == "llama.cpp" and target.kind == "gpu" else 1
        why = [
            (
                _("{quant} needs {need} GiB of {budget} GiB ({note})")
                if cards == 1
                else _(
                    "{quant} needs {need} GiB on the fullest of {n} cards, {budget} GiB usable "
                    "on each ({note})"
                )
            ).format(
                quant=choice.quant,
                need=f"{choice.pool_bytes / cards / GiB:.1f}",
                budget=f"{choice_budget / cards / GiB:.1f}",
                note=choice_note,
                n=cards,
            ),
            (
                _("~{tps} tok/s for one stream ({grade}); reaches the {required} tok/s asked")
                if choice.meets_speed
                else _("~{tps} tok/s for one stream ({grade}); under the {required} tok/s asked")
            ).format(tps=f"{est.decode_tps:.0f}", grade=_(est.speed), required=required),
            *needs,
        ]
        if choice.quality:
            why.append(_("quality cost: {cost}").format(cost=choice.quality))
        if choice.below_4bit:
            why.append(_("below 4-bit (asked with --allow-low-bit): expect clearly worse answers"))
        if choice.next_up:
            why.append(choice.next_up)
        if lang_line:
            why.append(_("ranked by {benchmark}").format(benchmark=lang_line))
        elif _need_benchmarks(need):
            names = "/".join(_need_benchmarks(need))
            why.append(
                _("no published {names} in the catalog; ranked by size and date").format(
                    names=names
                )
                + (_(", MMLU {score} (English)").format(score=f"{mm:g}") if mm is not None else "")
            )
        elif mm is not None:
            why.append(_("MMLU {score} (published)").format(score=f"{mm:g}"))
        lic = cat.license_of(m)
        scores = {n: v for n in SCORE_NAMES.values() if (v := _score(m, n)) is not None}
        row = FitRow(
            m.id,
            m.name,
            choice.quant,
            engine,
            ctx,
            est.total_bytes,
            choice_budget,
            est.decode_tps,
            est.speed,
            mm,
            lic.id,
            lic.commercial_use,
            why,
            choice.meets_speed,
            need.required_tps,
            m.params_b,
            m.released.isoformat(),
            m.openness.grade,
            scores,
            needs,
            choice.quality,
            choice.next_up,
            choice.pool_bytes,
        )
        rows.append(row)
        keys[m.id] = (
            # below the needed speed: a usable row (>= 5 tok/s) before one too slow to use,
            # so a 32B model at 0.5 tok/s never tops a 3B one at 8 on a slow machine
            0 if choice.meets_speed else 1 + (est.speed == "too slow"),
            _task_level(m, need) if _is_task_need(need) else 0,
            -m.released.year,
            lang_i,
            -lang_v,
            -_size_class(m.params_b),
            _script_level(m, need),
            _task_level(m, need),
            -m.released.toordinal(),
            -(mm if mm is not None else 0.0),
            -est.decode_tps,
        )
    if not rows and need.task and candidates == 0:
        raise BadInputError.translatable(
            "no model in the catalog is made for {need}", need=need_summary(need)
        )
    rows.sort(key=lambda r: keys[r.model])
    if sort != "rank":
        rows.sort(key=lambda r: _sort_value(r, sort))
    return rows[:limit] if limit else rows


def _sort_value(r: FitRow, sort: str) -> float:
    """Descending for scores, speed, params and date; ascending for memory (rows with no
    score go last)."""
    if sort == "speed":
        return -r.decode_tps
    if sort == "memory":
        return r.total_bytes
    if sort == "params":
        return -r.params_b
    if sort == "date":
        return -float(r.released.replace("-", ""))
    name = SCORE_NAMES[sort]
    v = r.scores.get(name)
    return -v if v is not None else math.inf


def need_summary(need: Need) -> str:
    parts = [need.task or "chat"]
    if need.language:
        parts.append(_("in {language}").format(language=need.language))
    if need.commercial:
        parts.append(_("for commercial use"))
    if need.fully_open:
        parts.append(_("fully open"))
    return " ".join(parts)


COMMERCIAL_ANSWERS = {"yes": N_("yes"), "no": N_("no"), "conditional": N_("conditional")}
"""Licence answers to "commercial use?" (English in JSON; worded per language in text)."""

# Tier and need names are English in JSON (the API's values); shown with _() in text.
TIERS: tuple[tuple[str, str | None, int], ...] = (
    (N_("CPU only (16 GB RAM)"), None, 1),
    (N_("8 GB GPU"), "rtx-4060-ti-8gb", 1),
    (N_("12 GB GPU"), "rtx-3060", 1),
    (N_("24 GB GPU"), "rtx-4090", 1),
    (N_("48 GB GPU"), "rtx-a6000", 1),
    (N_("80 GB GPU"), "h100-sxm", 1),
    (N_("multi-GPU (8 x 80 GB)"), "h100-sxm", 8),
)
NEEDS: tuple[tuple[str, Need], ...] = (
    (N_("general chat"), Need(task="chat")),
    (N_("code"), Need(task="code")),
    (N_("Chinese"), Need(language="zh")),
    (N_("Traditional Chinese"), Need(language="zh-Hant")),
    (N_("reasoning"), Need(task="reasoning")),
    (N_("edge / mobile"), Need(max_params=4.0)),
    (N_("commercial-safe"), Need(commercial=True)),
    (N_("fully open"), Need(fully_open=True)),
)


@dataclass
class Recommendation:
    tier: str
    need: str
    model: str | None
    quant: str | None
    engine: str
    decode_tps: float | None
    why: list[str]


def _engine_for(tier: str, count: int) -> str:
    if count > 1 or tier.startswith(("48", "80")):
        return "vllm"
    return "llama.cpp (Ollama, LM Studio)"


def _tier_target(device_id: str | None, count: int) -> Target:
    if device_id is None:
        return Target.from_budget(ram_bytes=16 * GiB)
    return Target.from_device(find_device(device_id), count)


def recommend(
    catalog: Catalog | None = None, tiers: list[str] | None = None
) -> list[Recommendation]:
    """Typical hardware tiers x needs, each answered by running :func:`fit`; the answer
    is its first row that reaches the needed speed."""
    cat = catalog or Catalog()
    out: list[Recommendation] = []
    for tier, device_id, count in TIERS:
        if tiers and tier not in tiers:
            continue
        target = _tier_target(device_id, count)
        engine = _engine_for(tier, count)
        sizing_engine = "vllm" if engine == "vllm" else "llama.cpp"
        for need_name, need in NEEDS:
            rows = [
                r for r in fit(target, need, catalog=cat, engine=sizing_engine) if r.meets_speed
            ]
            if not rows:
                out.append(
                    Recommendation(
                        tier,
                        need_name,
                        None,
                        None,
                        engine,
                        None,
                        [
                            _("nothing in the catalog reaches {tps} tok/s here").format(
                                tps=f"{need.required_tps:g}"
                            )
                        ],
                    )
                )
                continue
            r = rows[0]
            out.append(
                Recommendation(
                    tier,
                    need_name,
                    r.model,
                    r.quant,
                    engine,
                    r.decode_tps,
                    r.why[:2]
                    + r.needs
                    + ([_("quality cost: {cost}").format(cost=r.quality)] if r.quality else []),
                )
            )
    return out
