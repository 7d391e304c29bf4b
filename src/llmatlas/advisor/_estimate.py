"""`llmatlas estimate`: memory, fit and speed of one model on one target.

A *target* is where the model's memory lives: one or more GPUs of a device
type, or this machine (its GPU if it has one, else its RAM).  The estimate
always says which pool it graded against and how much headroom it kept.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from llmatlas.catalog import Architecture, ModelEntry
from llmatlas.errors import BadInputError
from llmatlas.hardware import DeviceSpec, Machine
from llmatlas.sizing import (
    GGUF_LADDER,
    GiB,
    estimate_memory,
    estimate_speed,
    get_format,
    gguf_file_bytes,
    smallest_plan,
    speed_verdict,
)
from llmatlas.sizing.memory import MemoryEstimate
from llmatlas.sizing.quant import QuantFormat

DEFAULT_CONTEXT = 4096
"""Context used when none is given (Ollama's default num_ctx on small machines)."""
GPU_HEADROOM = 0.9
"""Use at most 90% of a GPU: drivers, display and fragmentation take the rest."""


def ram_headroom_bytes(ram_bytes: int) -> int:
    """RAM kept for the OS and other programs: 10% of RAM, at least 2 GiB."""
    return max(2 * GiB, ram_bytes // 10)


@dataclass(frozen=True)
class Target:
    """Where a model would run: ``kind`` gpu/apple/cpu with its memory budget and speed figures."""

    name: str
    kind: str
    count: int
    memory_bytes: int  # per device
    budget_bytes: int  # what we allow the model to use, all devices together
    bandwidth_gbs: float
    tflops: float
    headroom_note: str
    ram_bytes: int = 0  # host RAM for partial offload (0: unknown / not used)
    cpu_bandwidth_gbs: float = 0.0
    local: bool = False  # this machine: `bench` calibration applies

    @classmethod
    def from_device(cls, d: DeviceSpec, count: int = 1) -> Target:
        if count < 1:
            raise BadInputError("--gpus must be >= 1")
        if d.kind == "apple":
            budget = int(d.memory_bytes * 0.75)
            note = "macOS lets the GPU use about 75% of unified memory by default"
            return cls(
                d.name, "apple", 1, d.memory_bytes, budget, d.bandwidth_gbs, d.fp16_tflops, note
            )
        budget = int(d.memory_bytes * GPU_HEADROOM) * count
        note = f"{GPU_HEADROOM:.0%} of each GPU's {d.memory_gb:g} GB"
        return cls(
            d.name,
            "gpu",
            count,
            d.memory_bytes,
            budget,
            d.bandwidth_gbs * count,
            d.fp16_tflops * count,
            note,
        )

    @classmethod
    def from_machine(cls, m: Machine) -> Target:
        if m.gpus and m.gpus[0].bandwidth_gbs:
            g = m.gpus[0]
            n = len(m.gpus)
            return cls(
                g.name,
                "gpu",
                n,
                g.memory_bytes,
                int(g.free_bytes * GPU_HEADROOM) * n,
                (g.bandwidth_gbs or 0) * n,
                (g.fp16_tflops or 0) * n,
                f"{GPU_HEADROOM:.0%} of free VRAM",
                m.ram_available_bytes,
                m.cpu_bandwidth_gbs,
                local=True,
            )
        keep = ram_headroom_bytes(m.ram_bytes)
        budget = max(0, min(m.ram_available_bytes, m.ram_bytes - keep))
        kind = "apple" if m.apple_unified else "cpu"
        return cls(
            f"this machine ({m.cpu_model}, CPU)",
            kind,
            1,
            m.ram_bytes,
            budget,
            m.cpu_bandwidth_gbs or 20.0,
            (m.cpu_gflops or 50.0) / 1000,
            f"RAM minus {keep / GiB:.1f} GiB kept for the OS and other programs",
            local=True,
        )

    @classmethod
    def from_budget(cls, vram_bytes: int = 0, ram_bytes: int = 0) -> Target:
        """An imaginary machine given as ``--vram 12G --ram 32G`` (consumer GPU / desktop CPU speeds)."""
        if vram_bytes < 0 or ram_bytes < 0:
            raise BadInputError("memory sizes must be positive")
        if vram_bytes:
            return cls(
                f"GPU with {vram_bytes / GiB:.0f} GiB",
                "gpu",
                1,
                vram_bytes,
                int(vram_bytes * GPU_HEADROOM),
                450.0,
                60.0,
                f"{GPU_HEADROOM:.0%} of VRAM; speed assumes a mid-range GPU (450 GB/s)",
                ram_bytes,
                40.0,
            )
        if not ram_bytes:
            raise BadInputError("give --vram and/or --ram (e.g. --ram 16G)")
        keep = ram_headroom_bytes(ram_bytes)
        return cls(
            f"CPU with {ram_bytes / GiB:.0f} GiB RAM",
            "cpu",
            1,
            ram_bytes,
            ram_bytes - keep,
            40.0,
            0.3,
            f"RAM minus {keep / GiB:.1f} GiB for the OS; speed assumes dual-channel DDR4/5 (40 GB/s)",
        )


@dataclass
class Estimate:
    model: str
    quant: str
    context: int
    batch: int
    engine: str
    kv_type: str
    weights_bytes: int
    kv_cache_bytes: int
    buffers_bytes: int
    overhead_bytes: int
    total_bytes: int
    file_bytes: int | None
    device: str
    pool: str
    budget_bytes: int
    fits: bool
    gpus_needed: int | None
    gpu_layers: int | None
    decode_tps: float
    prefill_tps: float
    speed: str
    max_context: int
    total_bytes_at_max_context: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _arch(m: ModelEntry):  # type: ignore[no-untyped-def]
    if m.architecture is None:
        why = (
            "its weights are not released"
            if m.availability == "api-only"
            else "its architecture is not in the catalog"
        )
        raise BadInputError(f"cannot size {m.id}: {why}")
    return m.architecture


def default_format(engine: str, quant: str | None) -> QuantFormat:
    if quant:
        return get_format(quant)
    return get_format("Q4_K_M" if engine == "llama.cpp" else "BF16")


def _memory(
    m: ModelEntry,
    fmt: QuantFormat,
    ctx: int,
    batch: int,
    engine: str,
    kv_type: str,
    target: Target,
    gpu_layers: int | None = None,
) -> MemoryEstimate:
    return _memory_of(_arch(m), fmt, ctx, batch, engine, kv_type, target.kind, gpu_layers)


def _memory_of(
    a: Architecture,
    fmt: QuantFormat,
    ctx: int,
    batch: int,
    engine: str,
    kv_type: str,
    kind: str,
    gpu_layers: int | None = None,
) -> MemoryEstimate:
    on_gpu = kind in ("gpu", "apple")
    if engine == "llama.cpp":
        layers = gpu_layers if gpu_layers is not None else (a.num_hidden_layers if on_gpu else 0)
        return estimate_memory(a, fmt, ctx, batch, engine, kv_type, gpu_layers=layers)
    return estimate_memory(a, fmt, ctx, batch, engine, kv_type)


def resolve_context(
    m: ModelEntry, a: Architecture, context: int | None, default: int = DEFAULT_CONTEXT
) -> int:
    """The context to size at: the user's (checked against the model's maximum), else
    ``default`` capped at that maximum, never the advertised maximum itself."""
    ctx = context if context is not None else min(default, a.max_position_embeddings)
    if ctx <= 0:
        raise BadInputError("--ctx must be a positive number of tokens")
    if ctx > a.max_position_embeddings:
        raise BadInputError(
            f"--ctx {ctx} is above {m.id}'s maximum context of {a.max_position_embeddings} tokens"
        )
    return ctx


_ESTIMATES: dict[tuple[Any, ...], Estimate] = {}
_ESTIMATES_MAX = 8192


def estimate(
    m: ModelEntry,
    target: Target,
    quant: str | None = None,
    context: int | None = None,
    batch: int = 1,
    engine: str = "llama.cpp",
    kv_type: str = "f16",
    calibration: dict[str, float] | None = None,
) -> Estimate:
    """Memory breakdown, fit and speed of ``m`` on ``target``.

    Computed once per (model, architecture, target, quantization, context, batch,
    engine, KV type, calibration) per process: ``recommend`` asks the same question for
    every need of a tier.  Each caller gets its own copy of the answer."""
    cal = tuple(sorted((calibration or {}).items()))
    key = (m.id, m.architecture, target, quant, context, batch, engine, kv_type, cal)
    e = _ESTIMATES.get(key)
    if e is None:
        e = _compute_estimate(m, target, quant, context, batch, engine, kv_type, calibration)
        if len(_ESTIMATES) >= _ESTIMATES_MAX:
            _ESTIMATES.clear()
        _ESTIMATES[key] = e
    return replace(e, notes=list(e.notes))


def _compute_estimate(
    m: ModelEntry,
    target: Target,
    quant: str | None,
    context: int | None,
    batch: int,
    engine: str,
    kv_type: str,
    calibration: dict[str, float] | None,
) -> Estimate:
    a = _arch(m)
    if batch < 1:
        raise BadInputError("--batch must be >= 1")
    fmt = default_format(engine, quant)
    ctx = resolve_context(m, a, context)
    mem = _memory(m, fmt, ctx, batch, engine, kv_type, target)
    at_max = _memory(m, fmt, a.max_position_embeddings, batch, engine, kv_type, target)
    notes = list(mem.notes)
    on_gpu = target.kind in ("gpu", "apple")
    pool_bytes = mem.gpu_bytes if (on_gpu and engine == "llama.cpp") else mem.total_bytes
    fits = pool_bytes <= target.budget_bytes
    gpus_needed: int | None = None
    gpu_layers: int | None = None
    if target.kind == "gpu":
        plan = smallest_plan(a, fmt, target.memory_bytes, ctx, batch)
        gpus_needed = plan.gpus if plan.fits else None
        if gpus_needed and gpus_needed > target.count:
            notes.append(
                f"needs {gpus_needed} GPUs of this type (tensor parallel {plan.tensor_parallel}"
                f" x pipeline {plan.pipeline_parallel})"
            )
        if not fits and engine == "llama.cpp":
            gpu_layers = gpu_layers_that_fit(m, fmt, ctx, batch, kv_type, target)
            notes.append(
                f"partial offload: {gpu_layers} of {a.num_hidden_layers} layers fit on the GPU"
                "; the rest run from system RAM (much slower)"
            )
    cal = (calibration or {}) if target.local else {}
    speed = estimate_speed(
        a,
        fmt,
        target.bandwidth_gbs,
        target.tflops,
        target.kind,
        ctx,
        batch,
        kv_type,
        decode_efficiency=cal.get("decode_efficiency"),
        prefill_efficiency=cal.get("prefill_efficiency"),
        engine=engine,
    )
    decode = speed.decode_tps
    if gpu_layers is not None and target.cpu_bandwidth_gbs:
        frac = gpu_layers / a.num_hidden_layers
        gpu_t = frac / speed.decode_tps
        cpu_t = (1 - frac) / speed.decode_tps * target.bandwidth_gbs / target.cpu_bandwidth_gbs
        decode = 1 / (gpu_t + cpu_t)
    if cal:
        notes.append("speed calibrated from `llmatlas bench` on this machine")
    return Estimate(
        model=m.id,
        quant=fmt.name,
        context=ctx,
        batch=batch,
        engine=engine,
        kv_type=kv_type,
        weights_bytes=mem.weights_bytes,
        kv_cache_bytes=mem.kv_cache_bytes,
        buffers_bytes=mem.buffers_bytes,
        overhead_bytes=mem.overhead_bytes,
        total_bytes=mem.total_bytes,
        file_bytes=gguf_file_bytes(a, fmt) if fmt.is_gguf else None,
        device=target.name,
        pool=target.headroom_note,
        budget_bytes=target.budget_bytes,
        fits=fits,
        gpus_needed=gpus_needed,
        gpu_layers=gpu_layers,
        decode_tps=round(decode, 2),
        prefill_tps=round(speed.prefill_tps, 1),
        speed=speed_verdict(decode),
        max_context=a.max_position_embeddings,
        total_bytes_at_max_context=at_max.total_bytes,
        notes=notes,
    )


def _pool_bytes(
    m: ModelEntry, fmt: QuantFormat, ctx: int, batch: int, engine: str, kv: str, target: Target
) -> int:
    """Bytes in the pool the target grades against (GPU memory for llama.cpp on a GPU)."""
    return _pool_bytes_of(_arch(m), fmt, ctx, batch, engine, kv, target.kind)


@functools.lru_cache(maxsize=16384)
def _pool_bytes_of(
    a: Architecture, fmt: QuantFormat, ctx: int, batch: int, engine: str, kv: str, kind: str
) -> int:
    """Once per (architecture, format, context, ...): ``fit`` walks the quantization ladder
    of every model for each need."""
    mem = _memory_of(a, fmt, ctx, batch, engine, kv, kind)
    return (
        mem.gpu_bytes if (kind in ("gpu", "apple") and engine == "llama.cpp") else mem.total_bytes
    )


def max_context_for(
    m: ModelEntry,
    target: Target,
    quant: str | None = None,
    batch: int = 1,
    engine: str = "llama.cpp",
    kv_type: str = "f16",
) -> int:
    """Largest context (multiple of 256, or the model maximum) whose memory fits the target's budget."""
    a = _arch(m)
    fmt = default_format(engine, quant)
    lo, hi = 0, a.max_position_embeddings
    if _pool_bytes(m, fmt, min(256, hi), batch, engine, kv_type, target) > target.budget_bytes:
        return 0
    if _pool_bytes(m, fmt, hi, batch, engine, kv_type, target) <= target.budget_bytes:
        return hi
    lo = 256
    while hi - lo > 256:
        mid = (lo + hi) // 2 // 256 * 256
        if mid <= lo:
            break
        if _pool_bytes(m, fmt, mid, batch, engine, kv_type, target) <= target.budget_bytes:
            lo = mid
        else:
            hi = mid
    return lo


def best_quant_for(
    m: ModelEntry, target: Target, context: int | None = None, batch: int = 1, kv_type: str = "f16"
) -> str | None:
    """Highest-quality GGUF type whose memory fits the target at ``context``."""
    a = _arch(m)
    ctx = context or min(DEFAULT_CONTEXT, a.max_position_embeddings)
    for q in GGUF_LADDER:
        if (
            _pool_bytes(m, get_format(q), ctx, batch, "llama.cpp", kv_type, target)
            <= target.budget_bytes
        ):
            return q
    return None


def gpu_layers_that_fit(
    m: ModelEntry, fmt: QuantFormat, context: int, batch: int, kv_type: str, target: Target
) -> int:
    """How many layers llama.cpp can offload (``-ngl``) within the GPU budget."""
    a = _arch(m)
    best = 0
    for n in range(a.num_hidden_layers + 1):
        mem = estimate_memory(a, fmt, context, batch, "llama.cpp", kv_type, gpu_layers=n)
        if mem.gpu_bytes <= target.budget_bytes:
            best = n
        else:
            break
    return best
