"""`llmatlas fit` and `llmatlas recommend`: what runs well here, for this need, and why.

Ranking rules (so that a bigger model never ranks higher merely for being bigger):
1. the grade comes only from speed and memory headroom: ``good`` (>= 15 tok/s),
   ``usable`` (>= 5 tok/s), ``too slow``; a model that does not fit is left out;
2. within a grade, models that match the need better come first (the task is
   among its declared strengths, the language among its trained languages);
3. then published quality (MMLU where the primary source reports it), then
   speed.  Parameter count is never a ranking key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from llmatlas.advisor._estimate import DEFAULT_CONTEXT, Target, _pool_bytes, estimate
from llmatlas.catalog import Catalog, ModelEntry
from llmatlas.catalog._query import _lang_match
from llmatlas.catalog._schema import TASKS
from llmatlas.errors import BadInputError
from llmatlas.hardware import find_device
from llmatlas.sizing import GGUF_LADDER, GiB, get_format

GRADE_ORDER = {"good": 0, "usable": 1, "too slow": 2}


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

    def validate(self) -> None:
        if self.task and self.task not in TASKS:
            raise BadInputError(
                f"unknown task {self.task!r}; use one of {', '.join(sorted(TASKS))}"
            )
        if self.min_tps < 0:
            raise BadInputError("--min-tps must be >= 0")


def _mmlu(m: ModelEntry) -> float | None:
    vals = [b.value for b in m.benchmarks if b.name.lower() == "mmlu"]
    return max(vals) if vals else None


def _candidate(m: ModelEntry, need: Need, cat: Catalog) -> list[str] | None:
    """Reasons the model is a candidate, or None when the need rules it out."""
    if m.architecture is None or m.availability != "open-weights" or m.params_b is None:
        return None
    if not need.include_base and not m.instruct and need.task != "safety-classifier":
        return None
    if need.task and need.task not in m.tasks and need.task not in ("chat", "general"):
        return None
    if "safety-classifier" in m.tasks and need.task != "safety-classifier":
        return None
    if need.language and not _lang_match(need.language, m.languages):
        return None
    lic = cat.license_of(m)
    if need.commercial and lic.commercial_use == "no":
        return None
    if need.fully_open and m.openness.grade not in ("A", "B"):
        return None
    if need.max_params is not None and m.params_b > need.max_params:
        return None
    why = []
    if need.task and need.task in m.tasks:
        why.append(f"trained for {need.task}")
    if need.language:
        why.append(f"languages: {', '.join(m.languages)}")
    if need.commercial:
        why.append(f"commercial use: {lic.commercial_use} ({lic.id})")
    if need.fully_open:
        why.append(f"openness grade {m.openness.grade}")
    return why


def fit(
    target: Target,
    need: Need | None = None,
    context: int | None = None,
    catalog: Catalog | None = None,
    engine: str = "llama.cpp",
    calibration: dict[str, float] | None = None,
    limit: int | None = None,
) -> list[FitRow]:
    """Every catalog model that fits ``target`` for ``need``, with its best quantization and speed."""
    need = need or Need()
    need.validate()
    cat = catalog or Catalog()
    rows: list[FitRow] = []
    for m in cat.models:
        reasons = _candidate(m, need, cat)
        if reasons is None:
            continue
        a = m.architecture
        assert a is not None
        ctx = min(context or DEFAULT_CONTEXT, a.max_position_embeddings)
        ladder = GGUF_LADDER if engine == "llama.cpp" else ("BF16", "FP8", "AWQ-4BIT")
        chosen = None
        for q in ladder:
            if _pool_bytes(m, get_format(q), ctx, 1, engine, "f16", target) <= target.budget_bytes:
                chosen = q
                break
        if chosen is None:
            continue
        est = estimate(m, target, chosen, ctx, 1, engine, calibration=calibration)
        if est.decode_tps < need.min_tps:
            continue
        why = [
            f"{chosen} needs {est.total_bytes / GiB:.1f} GiB of {target.budget_bytes / GiB:.1f} GiB "
            f"({target.headroom_note})",
            f"~{est.decode_tps:.0f} tok/s decode ({est.speed})",
            *reasons,
        ]
        if chosen != ladder[0]:
            why.append(f"higher-precision {ladder[0]} does not fit")
        mm = _mmlu(m)
        if mm is not None:
            why.append(f"MMLU {mm:g} (published)")
        lic = cat.license_of(m)
        rows.append(
            FitRow(
                m.id,
                m.name,
                chosen,
                engine,
                ctx,
                est.total_bytes,
                target.budget_bytes,
                est.decode_tps,
                est.speed,
                mm,
                lic.id,
                lic.commercial_use,
                why,
            )
        )

    def key(r: FitRow) -> tuple[int, int, float, float]:
        m = cat.get(r.model)
        match = 0 if (need.task and need.task in m.tasks) else 1
        return (
            GRADE_ORDER[r.grade],
            match,
            -(r.mmlu if r.mmlu is not None else -1.0),
            -r.decode_tps,
        )

    rows.sort(key=key)
    return rows[:limit] if limit else rows


TIERS: tuple[tuple[str, str | None, int], ...] = (
    ("CPU only (16 GB RAM)", None, 1),
    ("8 GB GPU", "rtx-4060-ti-8gb", 1),
    ("12 GB GPU", "rtx-3060", 1),
    ("24 GB GPU", "rtx-4090", 1),
    ("48 GB GPU", "rtx-a6000", 1),
    ("80 GB GPU", "h100-sxm", 1),
    ("multi-GPU (8 x 80 GB)", "h100-sxm", 8),
)
NEEDS: tuple[tuple[str, Need], ...] = (
    ("general chat", Need(task="chat")),
    ("code", Need(task="code")),
    ("Chinese", Need(language="zh")),
    ("Traditional Chinese", Need(language="zh-Hant")),
    ("reasoning", Need(task="reasoning")),
    ("edge / mobile", Need(max_params=4.0)),
    ("commercial-safe", Need(commercial=True)),
    ("fully open", Need(fully_open=True)),
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
    """The seeds' hardware tiers x needs, each answered by running :func:`fit`."""
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
                r
                for r in fit(target, need, catalog=cat, engine=sizing_engine)
                if r.grade != "too slow"
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
                        ["nothing in the catalog runs at a usable speed here"],
                    )
                )
                continue
            r = rows[0]
            out.append(
                Recommendation(tier, need_name, r.model, r.quant, engine, r.decode_tps, r.why[:4])
            )
    return out
