"""Which quantization to run: the best quality per byte that fits and is fast enough.

The rule, used by ``fit``, ``recommend`` and ``estimate --best-quant`` alike:

1. walk the engine's ladder from the highest quality down (GGUF: Q8_0, Q6_K, Q5_K_M,
   Q4_K_M, Q4_K_S, IQ4_XS, then the sub-4-bit Q3_K_M and Q2_K; vLLM: BF16, FP8, AWQ);
2. take the first type whose memory fits the target's budget (which already keeps the
   headroom: 10% of each GPU, the OS's share of RAM) *and* whose single-stream decode
   reaches the speed the need asks for (``REQUIRED_TPS`` unless the user says more);
   speed may push the choice down to Q4_K_M (vLLM: AWQ 4-bit) but no further;
3. when nothing down to Q4_K_M is fast enough, take Q4_K_M and say it is slow; when
   Q4_K_M does not fit, take the best type that does (Q4_K_S, IQ4_XS);
4. never go below 4 bits unless asked (``allow_below_4bit``): Llama-3-8B at Q3_K_M loses
   10.5% perplexity, at Q2_K 56% (llama.cpp's scoreboard), a different model in practice.

On consumer hardware this lands on Q4_K_M-class types for 7-14B models because the
higher rungs are too slow or too big, which is Ollama's default; on a roomy GPU it climbs
to Q8_0.  Every choice carries its measured quality cost and what the next rung up needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from llmatlas.advisor._estimate import DEFAULT_CONTEXT, Subject, Target, decode_speed, pool_bytes
from llmatlas.catalog import ModelEntry
from llmatlas.errors import BadInputError
from llmatlas.i18n import _, get_language
from llmatlas.sizing import GGUF_LADDER, GiB, get_format, param_count
from llmatlas.sizing.quant import native_format

REQUIRED_TPS = 10.0
"""Single-stream decode a chat needs by default: about reading speed with margin."""
VLLM_LADDER = ("BF16", "FP8", "AWQ-4BIT")
BELOW_4BIT = ("Q3_K_M", "Q2_K")
SPEED_FLOOR = {"llama.cpp": "Q4_K_M", "vllm": "AWQ-4BIT"}
"""The lowest type chosen to gain speed; lower ones (Q4_K_S, IQ4_XS) only to fit."""


@cache
def _quality_table() -> dict[str, Any]:
    import yaml  # only the questions that weigh quality read this table

    path = Path(__file__).with_name("data") / "quant_quality.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class QualityCost:
    """What a quantization costs in quality, as measured on ``measured_on``."""

    quant: str
    measured_on: str
    kld: float | None
    ppl_delta_pct: float | None
    source: str

    def describe(self) -> str:
        parts = []
        if self.ppl_delta_pct is not None:
            parts.append(_("+{pct}% perplexity").format(pct=f"{self.ppl_delta_pct:g}"))
        if self.kld is not None:
            parts.append(_("KL divergence {kld}").format(kld=f"{self.kld:g}"))
        return _("{quant}: {costs} vs 16-bit (llama.cpp, {measured_on})").format(
            quant=self.quant, costs=_(", ").join(parts), measured_on=self.measured_on
        )


def quality_cost(quant: str, params_b: float | None) -> QualityCost | None:
    """Measured loss of ``quant`` from the model nearest in size that the source measured
    it on (log-distance in parameters); None for types nobody in the table measured."""
    table = _quality_table()
    name = get_format(quant).name
    if name in ("BF16", "FP16", "F16", "FP32"):
        return QualityCost(name, "reference", 0.0, 0.0, "16-bit is the reference")
    measured = [
        (p["model"], p["params_b"])
        for p in table["proxies"]
        if name in table["measurements"][p["model"]]
    ]
    if not measured:
        return None
    size = params_b or 8.0
    model, _ = min(measured, key=lambda mp: abs(math.log(mp[1] / size)))
    row = table["measurements"][model][name]
    return QualityCost(
        name, model, row.get("kld"), row.get("ppl_delta_pct"), table["sources"][model]
    )


@dataclass
class QuantChoice:
    """The chosen type (None: nothing acceptable fits) and the reasons, one line each."""

    quant: str | None
    decode_tps: float
    pool_bytes: int
    meets_speed: bool
    below_4bit: bool
    reason: str
    quality: str | None = None
    next_up: str | None = None


def params_b(m: Subject) -> float | None:
    """Billions of parameters: the catalog's figure, else counted from the architecture."""
    if isinstance(m, ModelEntry):
        return m.params_b
    if m.entry is not None and m.entry.params_b:
        return m.entry.params_b
    return param_count(m.architecture) / 1e9 if m.architecture is not None else None


def ladder_for(engine: str) -> tuple[str, ...]:
    return GGUF_LADDER if engine == "llama.cpp" else VLLM_LADDER


def _ladder(m: Subject, engine: str) -> tuple[str, ...]:
    """The engine's ladder, starting at the model's own checkpoint format when it was
    published quantized (gpt-oss in MXFP4, DeepSeek-V3 in FP8): a wider type would only
    upcast the same weights, and a different 4-bit type would requantize them."""
    ladder = ladder_for(engine)
    native = native_format(m.architecture, engine) if m.architecture is not None else None
    if native is None or native.name in ("BF16", "F16", "FP16", "F32"):
        return ladder
    if native.name in ladder:
        return ladder[ladder.index(native.name) :]
    return (native.name,)


_CHOICES: dict[tuple[Any, ...], QuantChoice] = {}


def choose_quant(
    m: Subject,
    target: Target,
    context: int,
    engine: str = "llama.cpp",
    required_tps: float = REQUIRED_TPS,
    allow_below_4bit: bool = False,
    calibration: dict[str, float] | None = None,
    kv_type: str = "f16",
    batch: int = 1,
) -> QuantChoice:
    """Apply the module's rule to ``m`` on ``target`` at ``context`` tokens.

    Once per catalog entry and question per process (``fit`` asks again for every need,
    the server for every request); each caller gets its own copy."""
    args = (target, context, engine, required_tps, allow_below_4bit)
    if not isinstance(m, ModelEntry):
        return _choose_quant(m, *args, calibration, kv_type, batch)
    cal = tuple(sorted((calibration or {}).items()))
    key = (m.id, m.architecture, *args, cal, kv_type, batch, get_language())
    choice = _CHOICES.get(key)
    if choice is None:
        if len(_CHOICES) >= 16384:
            _CHOICES.clear()
        choice = _CHOICES[key] = _choose_quant(m, *args, calibration, kv_type, batch)
    return replace(choice)


def _choose_quant(
    m: Subject,
    target: Target,
    context: int,
    engine: str,
    required_tps: float,
    allow_below_4bit: bool,
    calibration: dict[str, float] | None,
    kv_type: str,
    batch: int,
) -> QuantChoice:
    target = target.for_engine(engine)
    ladder = _ladder(m, engine)
    floor_type = SPEED_FLOOR.get(engine, ladder[-1])
    floor = ladder.index(floor_type) if floor_type in ladder else len(ladder) - 1
    rungs: list[tuple[str, int, float]] = []  # (type, pool bytes, decode tok/s) that fit
    too_big: dict[str, int] = {}
    for i, q in enumerate(ladder):
        fmt = get_format(q, engine)
        need = pool_bytes(m, fmt, context, batch, engine, kv_type, target)
        if need > target.budget_bytes:
            too_big[q] = need
            continue
        tps = decode_speed(m, target, fmt, context, batch, engine, kv_type, calibration).decode_tps
        rungs.append((q, need, tps))
        allowed_here = allow_below_4bit or q not in BELOW_4BIT
        if allowed_here and (i >= floor or tps >= required_tps):
            break  # the rule has its answer; lower rungs cannot change it
    allowed = [r for r in rungs if allow_below_4bit or r[0] not in BELOW_4BIT]
    # speed may push the choice down the ladder as far as the Q4_K_M-class floor, no further
    fast = [r for r in allowed if r[2] >= required_tps and ladder.index(r[0]) <= floor]
    if fast:
        q, need, tps = fast[0]
        why = _("highest-quality type that fits and reaches {tps} tok/s").format(
            tps=f"{required_tps:g}"
        )
        meets = True
    elif allowed:
        q, need, tps = min(allowed, key=lambda r: abs(ladder.index(r[0]) - floor))
        meets = tps >= required_tps
        why = (
            _("the highest-quality type that fits")
            if ladder.index(q) > floor
            else _("{quant}, the usual 4-bit choice; nothing above it reaches {tps} tok/s").format(
                quant=q, tps=f"{required_tps:g}"
            )
        )
    else:
        below = [r[0] for r in rungs if r[0] in BELOW_4BIT]
        if below:
            why = _(
                "only {quant} (below 4-bit, large quality loss) fits; allow it with --allow-low-bit"
            ).format(quant=below[0])
        else:
            smallest = min(too_big.items(), key=lambda kv: kv[1])
            why = _("even {quant} needs {need} GiB of {budget} GiB usable").format(
                quant=smallest[0],
                need=f"{smallest[1] / GiB:.1f}",
                budget=f"{target.budget_bytes / GiB:.1f}",
            )
        return QuantChoice(None, 0.0, 0, False, False, why)
    cost = quality_cost(q, params_b(m))
    choice = QuantChoice(
        q,
        tps,
        need,
        meets,
        q in BELOW_4BIT,
        why,
        cost.describe() if cost else None,
        _next_up(ladder, q, too_big, rungs, required_tps, target),
    )
    return choice


def _next_up(
    ladder: tuple[str, ...],
    q: str,
    too_big: dict[str, int],
    rungs: list[tuple[str, int, float]],
    required_tps: float,
    target: Target,
) -> str | None:
    i = ladder.index(q)
    if i == 0:
        return None
    up = ladder[i - 1]
    if up in too_big:
        need, budget = too_big[up] / GiB, target.budget_bytes / GiB
        digits = 1  # more where one place would print "needs 7.0 GiB (7.0 GiB usable)"
        while digits < 3 and f"{need:.{digits}f}" == f"{budget:.{digits}f}":
            digits += 1
        return _("next step up, {quant}, needs {need} GiB ({budget} GiB usable)").format(
            quant=up, need=f"{need:.{digits}f}", budget=f"{budget:.{digits}f}"
        )
    tps = next(r[2] for r in rungs if r[0] == up)
    return _("next step up, {quant}, fits but runs ~{tps} tok/s (under {required})").format(
        quant=up, tps=f"{tps:.1f}", required=f"{required_tps:g}"
    )


def best_quant_for(
    m: Subject, target: Target, context: int | None = None, batch: int = 1, kv_type: str = "f16"
) -> str | None:
    """The GGUF type :func:`best_quant_choice` picks (``pull`` without a :QUANT)."""
    return best_quant_choice(m, target, context, batch, kv_type).quant


def best_quant_choice(
    m: Subject,
    target: Target,
    context: int | None = None,
    batch: int = 1,
    kv_type: str = "f16",
    required_tps: float = REQUIRED_TPS,
    allow_below_4bit: bool = False,
) -> QuantChoice:
    """``estimate --best-quant``: the same rule as ``fit`` for one model (GGUF ladder)."""
    a = m.architecture
    if a is None:
        raise BadInputError.translatable(
            "cannot size {model}: its architecture is not in the catalog", model=m.id
        )
    ctx = context or min(DEFAULT_CONTEXT, a.max_position_embeddings)
    return choose_quant(
        m, target, ctx, "llama.cpp", required_tps, allow_below_4bit, None, kv_type, batch
    )
