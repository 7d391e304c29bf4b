"""`llmatlas estimate`: memory, fit and speed of one model on one target.

A *target* is where the model's memory lives: one or more GPUs of a device
type, or this machine (its GPU if it has one, else its RAM).  The estimate
always says which pool it graded against and how much headroom it kept.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from llmatlas._record import Value, value
from llmatlas.artifacts import Artifact
from llmatlas.catalog import Architecture, ModelEntry
from llmatlas.errors import BadInputError
from llmatlas.hardware._table import DeviceSpec
from llmatlas.hardware._usable import apple_gpu_share, usable_gpu_bytes
from llmatlas.i18n import _, get_language
from llmatlas.sizing import (
    GiB,
    estimate_memory,
    estimate_speed,
    get_format,
    gguf_file_bytes,
    smallest_plan,
    speed_verdict,
)
from llmatlas.sizing.memory import (
    CUDA_CONTEXT,
    DeviceMemory,
    MemoryEstimate,
    kv_cache,
    llama_cpp_devices,
)
from llmatlas.sizing.quant import QuantFormat, WeightBytes, native_format
from llmatlas.sizing.speed import (
    DEFAULT_DECODE_EFFICIENCY,
    MOE_SOURCE,
    TP_SOURCE,
    SpeedEstimate,
    decode_bound_tps,
    step_weight_bytes,
)

if TYPE_CHECKING:
    from llmatlas.hardware._detect import Machine

Subject = ModelEntry | Artifact
"""What can be sized: a catalog entry, or any artifact (a GGUF file, a Hub repo)."""

DEFAULT_CONTEXT = 4096
"""Context used when none is given (Ollama's default num_ctx on small machines)."""
DEFAULT_RAM_BANDWIDTH_GBS = 40.0
"""Dual-channel DDR4/5 as a sustained copy bandwidth, when a target gives no RAM figure."""


def ram_headroom_bytes(ram_bytes: int) -> int:
    """RAM kept for the OS and other programs: 10% of RAM, at least 2 GiB."""
    return max(2 * GiB, ram_bytes // 10)


@value
class Target(Value):
    """Where a model would run: ``kind`` gpu/apple/cpu with its memory budget and speed figures.

    For GPUs the budget follows the engine's own rule (see ``hardware._usable``) applied to
    ``basis_bytes`` (the device's total memory, or what a detected GPU reports free);
    ``for_engine`` re-applies it for another engine and ``headroom_note`` names the rule.
    """

    name: str
    kind: str
    count: int
    memory_bytes: int  # per device, total
    budget_bytes: int  # what we allow the model to use, all devices together
    bandwidth_gbs: float  # one device's (speeds never sum devices; see estimate_speed)
    tflops: float  # one device's
    headroom_note: str
    ram_bytes: int = 0  # host RAM for partial offload (0: unknown / not used)
    cpu_bandwidth_gbs: float = 0.0
    local: bool = False  # this machine: `bench` calibration applies
    engine: str = "llama.cpp"
    basis_bytes: int = 0  # per device: what the engine's rule applies to (0: not a GPU)

    @property
    def per_device_budget(self) -> int:
        return self.budget_bytes // max(self.count, 1)

    def for_engine(self, engine: str) -> Target:
        """This target with the usable memory ``engine`` would allow."""
        if self.kind != "gpu" or not self.basis_bytes or engine == self.engine:
            return self
        per, rule = usable_gpu_bytes(self.basis_bytes, engine)
        return replace(
            self,
            engine=engine,
            budget_bytes=max(0, per) * self.count,
            headroom_note=_gpu_note(rule, self.basis_bytes, self.count, self.local),
        )

    @classmethod
    def from_device(cls, d: DeviceSpec, count: int = 1, engine: str = "llama.cpp") -> Target:
        if count < 1:
            raise BadInputError.translatable("--gpus must be >= 1")
        if d.kind == "apple":
            budget, rule = apple_gpu_share(d.memory_bytes)
            return cls(
                d.name, "apple", 1, d.memory_bytes, budget, d.bandwidth_gbs, d.fp16_tflops, rule
            )
        per, rule = usable_gpu_bytes(d.memory_bytes, engine)
        return cls(
            d.name,
            "gpu",
            count,
            d.memory_bytes,
            per * count,
            d.bandwidth_gbs,
            d.fp16_tflops,
            _gpu_note(rule, d.memory_bytes, count, False, d.memory_label),
            engine=engine,
            basis_bytes=d.memory_bytes,
        )

    @classmethod
    def from_machine(cls, m: Machine, engine: str = "llama.cpp") -> Target:
        if m.gpus and m.gpus[0].bandwidth_gbs:
            g = m.gpus[0]
            n = len(m.gpus)
            per, rule = usable_gpu_bytes(g.free_bytes, engine)
            return cls(
                g.name,
                "gpu",
                n,
                g.memory_bytes,
                max(0, per) * n,
                g.bandwidth_gbs or 0,
                g.fp16_tflops or 0,
                _gpu_note(rule, g.free_bytes, n, True),
                m.ram_available_bytes,
                m.cpu_bandwidth_gbs,
                local=True,
                engine=engine,
                basis_bytes=g.free_bytes,
            )
        keep = ram_headroom_bytes(m.ram_bytes)
        budget = max(0, min(m.ram_available_bytes, m.ram_bytes - keep))
        kind = "apple" if m.apple_unified else "cpu"
        return cls(
            _("this machine ({cpu}, CPU)").format(cpu=m.cpu_model),
            kind,
            1,
            m.ram_bytes,
            budget,
            m.cpu_bandwidth_gbs or 20.0,
            (m.cpu_gflops or 50.0) / 1000,
            _("RAM minus {keep} GiB kept for the OS and other programs").format(
                keep=f"{keep / GiB:.1f}"
            )
            + (
                _(
                    "; speed from {bw} GB/s measured {date}"
                    " (cached; `llmatlas hw --refresh` measures again)"
                ).format(bw=f"{m.cpu_bandwidth_gbs:g}", date=m.measured_at[:10])
                if m.measured_at
                else ""
            ),
            local=True,
        )

    @classmethod
    def from_budget(
        cls, vram_bytes: int = 0, ram_bytes: int = 0, engine: str = "llama.cpp", count: int = 1
    ) -> Target:
        """An imaginary machine given as ``--vram 12G [--gpus 2] --ram 32G`` (consumer GPU /
        desktop CPU speeds); ``vram_bytes`` is per GPU, bandwidth and TFLOPS are one GPU's."""
        if vram_bytes < 0 or ram_bytes < 0:
            raise BadInputError.translatable("memory sizes must be positive")
        if count < 1:
            raise BadInputError.translatable("--gpus must be >= 1")
        if vram_bytes:
            per, rule = usable_gpu_bytes(vram_bytes, engine)
            return cls(
                _("{count} GPUs with {size} GiB each").format(
                    count=count, size=f"{vram_bytes / GiB:.0f}"
                )
                if count > 1
                else _("GPU with {size} GiB").format(size=f"{vram_bytes / GiB:.0f}"),
                "gpu",
                count,
                vram_bytes,
                max(0, per) * count,
                450.0,
                60.0,
                _gpu_note(rule, vram_bytes, count, False)
                + _("; speed assumes a mid-range GPU (450 GB/s)"),
                ram_bytes,
                40.0,
                engine=engine,
                basis_bytes=vram_bytes,
            )
        if not ram_bytes:
            raise BadInputError.translatable("give --vram and/or --ram (e.g. --ram 16G)")
        keep = ram_headroom_bytes(ram_bytes)
        return cls(
            _("CPU with {size} GiB RAM").format(size=f"{ram_bytes / GiB:.0f}"),
            "cpu",
            1,
            ram_bytes,
            ram_bytes - keep,
            40.0,
            0.3,
            _(
                "RAM minus {keep} GiB for the OS; speed assumes dual-channel DDR4/5 (40 GB/s)"
            ).format(keep=f"{keep / GiB:.1f}"),
        )


def _gpu_note(rule: str, basis: int, count: int, free: bool, label: str | None = None) -> str:
    what = _("free") if free else (label or f"{basis / GiB:.1f} GiB")
    if count > 1:
        return _("{rule} ({what} on each of {count} GPUs)").format(
            rule=rule, what=what, count=count
        )
    return _("{rule} ({what} on the GPU)").format(rule=rule, what=what)


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
    reserved_buffers_bytes: int
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
    devices: list[dict[str, Any]] = field(default_factory=list)
    """llama.cpp on several GPUs: one row per card in ``--tensor-split`` order, then the host
    (what each holds under llama.cpp's default layer split; see :func:`card_rows`)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _arch(m: Subject) -> Architecture:
    if m.architecture is None:
        if m.availability == "api-only":
            raise BadInputError.translatable(
                "cannot size {model}: its weights are not released", model=m.id
            )
        raise BadInputError.translatable(
            "cannot size {model}: its architecture is not in the catalog", model=m.id
        )
    return m.architecture


def default_format(
    engine: str, quant: str | None, a: Architecture | None = None, m: Subject | None = None
) -> QuantFormat:
    """``quant`` as ``engine`` reads it; else the artifact's own type, else the model's native
    checkpoint format where the engine runs it (gpt-oss: MXFP4), else Q4_K_M / BF16."""
    own = m.quant if isinstance(m, Artifact) else None
    if quant:
        fmt = get_format(quant, engine)
        if own and isinstance(m, Artifact) and m.weights is not None and fmt.name != own:
            raise BadInputError.translatable(
                "{model} is a {own} file; --quant {quant} does not apply (size another file)",
                model=m.id,
                own=own,
                quant=quant,
            )
        return fmt
    if own:
        return get_format(own, engine)
    native = native_format(a, engine) if a is not None else None
    if native is not None:
        return native
    return get_format("Q4_K_M" if engine == "llama.cpp" else "BF16")


def exact_weights(m: Subject, fmt: QuantFormat) -> WeightBytes | None:
    """A real file's tensor bytes when ``m`` is a file of format ``fmt``."""
    if isinstance(m, Artifact) and m.weights is not None and m.quant == fmt.name:
        return m.weights
    return None


def _file_tensors(m: Subject, fmt: QuantFormat) -> tuple[tuple[str, int], ...] | None:
    """A real file's (name, bytes) per tensor when ``m`` is that file, else None."""
    if isinstance(m, Artifact) and m.header is not None and exact_weights(m, fmt) is not None:
        return tuple((t.name, t.n_bytes) for t in m.header.tensors)
    return None


def _memory(
    m: Subject,
    fmt: QuantFormat,
    ctx: int,
    batch: int,
    engine: str,
    kv_type: str,
    target: Target,
    gpu_layers: int | None = None,
) -> MemoryEstimate:
    return _memory_of(
        _arch(m), fmt, ctx, batch, engine, kv_type, target.kind, gpu_layers, exact_weights(m, fmt)
    )


def _memory_of(
    a: Architecture,
    fmt: QuantFormat,
    ctx: int,
    batch: int,
    engine: str,
    kv_type: str,
    kind: str,
    gpu_layers: int | None = None,
    w: WeightBytes | None = None,
) -> MemoryEstimate:
    on_gpu = kind in ("gpu", "apple")
    if engine == "llama.cpp":
        layers = gpu_layers if gpu_layers is not None else (a.num_hidden_layers if on_gpu else 0)
        return estimate_memory(a, fmt, ctx, batch, engine, kv_type, gpu_layers=layers, weights=w)
    return estimate_memory(a, fmt, ctx, batch, engine, kv_type, weights=w)


def resolve_context(
    m: Subject, a: Architecture, context: int | None, default: int = DEFAULT_CONTEXT
) -> int:
    """The context to size at: the user's (checked against the model's maximum), else
    ``default`` capped at that maximum, never the advertised maximum itself."""
    ctx = context if context is not None else min(default, a.max_position_embeddings)
    if ctx <= 0:
        raise BadInputError.translatable("--ctx must be a positive number of tokens")
    if ctx > a.max_position_embeddings:
        raise BadInputError.translatable(
            "--ctx {ctx} is above {model}'s maximum context of {max} tokens",
            ctx=ctx,
            model=m.id,
            max=a.max_position_embeddings,
        )
    return ctx


_ESTIMATES: dict[tuple[Any, ...], Estimate] = {}
_ESTIMATES_MAX = 8192


def estimate(
    m: Subject,
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
    if not isinstance(m, ModelEntry):  # a file or repo: sized once, from its own bytes
        return _compute_estimate(m, target, quant, context, batch, engine, kv_type, calibration)
    cal = tuple(sorted((calibration or {}).items()))
    key = (
        m.id,
        m.architecture,
        target,
        quant,
        context,
        batch,
        engine,
        kv_type,
        cal,
        get_language(),
    )
    e = _ESTIMATES.get(key)
    if e is None:
        e = _compute_estimate(m, target, quant, context, batch, engine, kv_type, calibration)
        if len(_ESTIMATES) >= _ESTIMATES_MAX:
            _ESTIMATES.clear()
        _ESTIMATES[key] = e
    return replace(e, notes=list(e.notes))


def _compute_estimate(
    m: Subject,
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
        raise BadInputError.translatable("--batch must be >= 1")
    target = target.for_engine(engine)
    if isinstance(m, Artifact) and m.kind == "gguf" and engine != "llama.cpp":
        raise BadInputError.translatable(
            "{model} is a GGUF file; it runs on llama.cpp (--engine llama.cpp)", model=m.id
        )
    fmt = default_format(engine, quant, a, m)
    ctx = resolve_context(m, a, context)
    mem = _memory(m, fmt, ctx, batch, engine, kv_type, target)
    at_max = _memory(m, fmt, a.max_position_embeddings, batch, engine, kv_type, target)
    notes = list(m.notes) if isinstance(m, Artifact) else []
    if isinstance(m, ModelEntry) and m.architecture_from:
        notes.append(
            _("architecture inherited from its base model {base}").format(base=m.architecture_from)
        )
    notes += mem.notes
    tensors = _file_tensors(m, fmt)
    pool = _pool_of(mem, a, engine, target, tensors)
    fits = pool <= target.budget_bytes
    gpus_needed: int | None = None
    gpu_layers: int | None = None
    rows: list[dict[str, Any]] = []
    if target.kind == "gpu" and engine == "llama.cpp":
        cards = llama_cpp_cards(mem, a, target.count, tensors, target.per_device_budget)
        rows = card_rows(cards, target.per_device_budget)
    if rows and target.count > 1:
        tight = max(rows[:-1], key=lambda r: r["total_bytes"])
        even = llama_cpp_cards(mem, a, target.count, tensors)
        if [d.layers for d in cards] != [d.layers for d in even]:
            notes.append(
                _(
                    "the even split leaves a card short of llama.cpp's margin; its --fit (on by "
                    "default) moves layers: {split} layers per card"
                ).format(split=" / ".join(str(d.layers) for d in cards[:-1]))
            )
        notes.append(
            _(
                "tightest card: GPU {n} holds {layers} layers and needs {need} GiB of its "
                "{budget} GiB ({spare} GiB to spare)"
            ).format(
                n=tight["device"],
                layers=tight["layers"],
                need=f"{tight['total_bytes'] / GiB:.2f}",
                budget=f"{target.per_device_budget / GiB:.2f}",
                spare=f"{(target.per_device_budget - tight['total_bytes']) / GiB:.2f}",
            )
        )
    if target.kind == "gpu" and engine == "llama.cpp":
        gpus_needed = llama_cpp_gpus_needed(mem, a, target.per_device_budget, tensors=tensors)
        if gpus_needed and gpus_needed > target.count:
            notes.append(
                _("needs {n} GPUs of this type (llama.cpp splits by layers)").format(n=gpus_needed)
            )
        elif fits and target.count == 1:
            notes.append(
                _("fits with {size} GiB to spare").format(
                    size=f"{(target.budget_bytes - pool) / GiB:.1f}"
                )
            )
    elif target.kind == "gpu":
        plan = smallest_plan(a, fmt, target.memory_bytes, ctx, batch)
        gpus_needed = plan.gpus if plan.fits else None
        if gpus_needed and gpus_needed > target.count:
            notes.append(
                _("needs {n} GPUs of this type (tensor parallel {tp} x pipeline {pp})").format(
                    n=gpus_needed, tp=plan.tensor_parallel, pp=plan.pipeline_parallel
                )
            )
    if target.kind == "gpu" and not fits and engine == "llama.cpp":
        gpu_layers = gpu_layers_that_fit(m, fmt, ctx, batch, kv_type, target)
        notes.append(
            _(
                "partial offload: {n} of {layers} layers fit on the GPU"
                "; the rest run from system RAM (much slower)"
            ).format(n=gpu_layers, layers=a.num_hidden_layers)
        )
    cal = (calibration or {}) if target.local else {}
    speed = decode_speed(m, target, fmt, ctx, batch, engine, kv_type, calibration)
    decode = speed.decode_tps
    if target.count > 1:
        if speed.split == "tensor":
            bound = decode_bound_tps(a, fmt, target.bandwidth_gbs, target.count)
            sources = _("all-reduce per layer: {source}").format(source=TP_SOURCE) + (
                "; " + _("batch-1 expert kernels: {source}").format(source=MOE_SOURCE)
                if a.is_moe
                else ""
            )
            notes.append(
                _(
                    "tensor parallel over {n} GPUs: one stream ~{tps} tok/s, well under the "
                    "{bound} tok/s that {n}x the bandwidth would allow ({sources})"
                ).format(
                    n=target.count,
                    tps=f"{speed.decode_tps:.0f}",
                    bound=f"{bound:.0f}",
                    sources=sources,
                )
            )
        else:
            notes.append(
                _(
                    "llama.cpp splits layers over {n} GPUs and runs them in sequence: "
                    "one stream decodes at one GPU's bandwidth"
                ).format(n=target.count)
            )
    if gpu_layers is not None:
        decode = offload_decode_tps(m, fmt, ctx, kv_type, target, gpu_layers)
    if cal:
        notes.append(_("speed calibrated from `llmatlas bench` on this machine"))
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
        reserved_buffers_bytes=mem.reserved_buffers_bytes or mem.buffers_bytes,
        overhead_bytes=mem.overhead_bytes,
        total_bytes=mem.total_bytes,
        file_bytes=_file_bytes(m, a, fmt),
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
        devices=rows,
    )


def _file_bytes(m: Subject, a: Architecture, fmt: QuantFormat) -> int | None:
    if exact_weights(m, fmt) is not None and isinstance(m, Artifact):
        return m.file_bytes
    return gguf_file_bytes(a, fmt) if fmt.is_gguf else None


def decode_speed(
    m: Subject,
    target: Target,
    fmt: QuantFormat,
    ctx: int,
    batch: int = 1,
    engine: str = "llama.cpp",
    kv_type: str = "f16",
    calibration: dict[str, float] | None = None,
) -> SpeedEstimate:
    """Speed of ``m`` held whole by ``target`` (calibration applies to this machine only)."""
    cal = (calibration or {}) if target.local else {}
    return estimate_speed(
        _arch(m),
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
        gpus=target.count,
    )


def offload_decode_tps(
    m: Subject, fmt: QuantFormat, ctx: int, kv_type: str, target: Target, gpu_layers: int
) -> float:
    """Decode with ``gpu_layers`` layers in VRAM and the rest in system RAM: each step reads
    the GPU share of the bytes at the GPU's bandwidth and the rest at RAM bandwidth, in
    sequence.  RAM bandwidth: the machine's measured one, else dual-channel DDR4/5 (40 GB/s)."""
    a = _arch(m)
    frac = gpu_layers / a.num_hidden_layers
    kv = kv_cache(a, max(1, ctx // 2), 1, kv_type).bytes
    gpu_step = step_weight_bytes(a, fmt, kind="gpu") + kv
    cpu_step = step_weight_bytes(a, fmt, kind="cpu") + kv
    gpu_eff = DEFAULT_DECODE_EFFICIENCY["gpu"]
    cpu_eff = DEFAULT_DECODE_EFFICIENCY["cpu"]
    ram_bw = target.cpu_bandwidth_gbs or DEFAULT_RAM_BANDWIDTH_GBS
    t = frac * gpu_step / (target.bandwidth_gbs * 1e9 * gpu_eff) + (1 - frac) * cpu_step / (
        ram_bw * 1e9 * cpu_eff
    )
    return 1 / t


def llama_cpp_cards(
    mem: MemoryEstimate,
    a: Architecture,
    count: int,
    tensors: tuple[tuple[str, int], ...] | None = None,
    budget: int | None = None,
    split: list[int] | None = None,
) -> list[DeviceMemory]:
    """What each of ``count`` GPUs (then the host) holds when llama.cpp offloads every layer
    in ``--split-mode layer`` over identical cards: by default an even split of the layers
    (equal free memory), the output head on the last card; ``split``: layers per card (the
    last one's count includes the head), as ``--tensor-split`` takes them.  With ``budget``
    (one card's usable bytes) and a card over it, the split llama.cpp's ``--fit`` (on by
    default in its CLI and server) picks instead, when one exists
    (:func:`llama_cpp_fit_split`).  See :func:`llmatlas.sizing.memory.llama_cpp_devices`."""
    cards = llama_cpp_devices(
        a,
        get_format(mem.quant, "llama.cpp"),
        mem.context,
        count,
        [float(x) for x in split] if split else None,
        batch=mem.batch,
        kv_type=mem.kv_type,
        weight_tensors=list(tensors) if tensors is not None else None,
    )
    if budget is None or split is not None or _cards_fit(cards, budget):
        return cards
    fitted = llama_cpp_fit_split(mem, a, count, budget, tensors, cards)
    return llama_cpp_cards(mem, a, count, tensors, split=fitted) if fitted else cards


def _cards_fit(cards: list[DeviceMemory], budget: int) -> bool:
    return all(d.total_bytes + CUDA_CONTEXT <= budget for d in cards[:-1])


def llama_cpp_fit_split(
    mem: MemoryEstimate,
    a: Architecture,
    count: int,
    budget: int,
    tensors: tuple[tuple[str, int], ...] | None = None,
    even: list[DeviceMemory] | None = None,
) -> list[int] | None:
    """Layers per card (the last count includes the output head) that llama.cpp's ``--fit``
    settles on when the default split leaves a card under its margin
    (:func:`llama_cpp_fit_layers`), if they hold every layer; else None.  Skipped when the
    cards' total already exceeds ``count * budget``: moving layers does not shrink it."""
    even = even or llama_cpp_cards(mem, a, count, tensors)
    if sum(d.total_bytes + CUDA_CONTEXT for d in even[:-1]) > count * budget:
        return None
    counts = llama_cpp_fit_layers(mem, a, count, budget, tensors)
    if sum(counts) < a.num_hidden_layers + 1:
        return None
    if not _cards_fit(llama_cpp_cards(mem, a, count, tensors, split=counts), budget):
        return None
    return counts


def llama_cpp_fit_layers(
    mem: MemoryEstimate,
    a: Architecture,
    count: int,
    budget: int,
    tensors: tuple[tuple[str, int], ...] | None = None,
) -> list[int]:
    """llama.cpp's ``--fit`` for a dense model over ``count`` identical cards
    (``common/fit.cpp`` step 3): cards filled back to front, each with as many of the layers
    still unassigned as keep it within ``budget`` (the last card's count includes the output
    head); what no card takes stays on the CPU.  Each card's need is its full-offload figure
    (:func:`llmatlas.sizing.memory.llama_cpp_devices`), with the layers not yet placed on a
    stand-in device in front."""
    total = a.num_hidden_layers + 1
    counts = [0] * count

    def need(d: int, c: int, rest: int) -> int:
        trial = [rest - c, *counts]  # device 0 of the trial stands in for what is left
        trial[d + 1] = c
        if trial[0] == 0:
            trial = trial[1:]
            return (
                llama_cpp_cards(mem, a, count, tensors, split=trial)[d].total_bytes + CUDA_CONTEXT
            )
        cards = llama_cpp_cards(mem, a, count + 1, tensors, split=trial)
        return cards[d + 1].total_bytes + CUDA_CONTEXT

    remaining = total
    for d in range(count - 1, -1, -1):
        lo, hi = (1 if d == count - 1 else 0), remaining  # the most layers that fit
        if lo > hi or need(d, lo, remaining) > budget:
            break
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if need(d, mid, remaining) <= budget:
                lo = mid
            else:
                hi = mid - 1
        counts[d] = lo
        remaining -= lo
    return counts


def card_rows(cards: list[DeviceMemory], budget: int) -> list[dict[str, Any]]:
    """Per-card rows for the answer: each GPU's buffers plus its CUDA context against
    ``budget`` (one card's usable memory); the host row last (RAM: no budget)."""
    rows = []
    for d in cards:
        host = d is cards[-1]
        overhead = 0 if host else CUDA_CONTEXT
        total = d.total_bytes + overhead
        rows.append(
            {
                "device": "host" if host else d.device,
                "layers": d.layers,
                "output": d.output,
                "weights_bytes": d.weights_bytes,
                "kv_cache_bytes": d.kv_cache_bytes,
                "compute_bytes": d.compute_bytes,
                "overhead_bytes": overhead,
                "total_bytes": total,
                "budget_bytes": None if host else budget,
                "fits": None if host else total <= budget,
            }
        )
    return rows


def llama_cpp_gpus_needed(
    mem: MemoryEstimate,
    a: Architecture,
    per_device_budget: int,
    max_gpus: int = 16,
    tensors: tuple[tuple[str, int], ...] | None = None,
) -> int | None:
    """Fewest GPUs a llama.cpp layer split (``--split-mode layer``) needs, every card within
    ``per_device_budget``; None if more than ``max_gpus``."""
    for n in range(1, max_gpus + 1):
        # no card can hold less than an even share of the layers: skip replays that cannot fit
        if (mem.weights_bytes + mem.kv_cache_bytes) / n > per_device_budget:
            continue
        if _cards_fit(llama_cpp_cards(mem, a, n, tensors, per_device_budget), per_device_budget):
            return n
    return None


def _pool_of(
    mem: MemoryEstimate,
    a: Architecture,
    engine: str,
    target: Target,
    tensors: tuple[tuple[str, int], ...] | None = None,
) -> int:
    """Bytes the target's budget must hold: GPU memory for llama.cpp offload, else the whole
    process.  On discrete GPUs every card must fit on its own, so the pool is the tightest
    card's need (its layers, KV cache, compute buffer and CUDA context; the token embeddings
    stay in host RAM) times the cards.  Apple's unified memory holds the host's part too."""
    if target.kind == "gpu" and engine == "llama.cpp":
        cards = llama_cpp_cards(mem, a, target.count, tensors, target.per_device_budget)
        return target.count * max(d.total_bytes + CUDA_CONTEXT for d in cards[:-1])
    if target.kind == "apple" and engine == "llama.cpp":
        return mem.gpu_bytes
    return mem.total_bytes


def pool_bytes(
    m: Subject, fmt: QuantFormat, ctx: int, batch: int, engine: str, kv: str, target: Target
) -> int:
    """Bytes that must fit ``target.budget_bytes`` (see :func:`_pool_of`)."""
    if exact_weights(m, fmt) is not None:  # a file's own tensor bytes: not shared, not cached
        mem = _memory(m, fmt, ctx, batch, engine, kv, target)
        return _pool_of(mem, _arch(m), engine, target, _file_tensors(m, fmt))
    return _pool_bytes_of(_arch(m), fmt, ctx, batch, engine, kv, target)


@functools.lru_cache(maxsize=16384)
def _pool_bytes_of(
    a: Architecture, fmt: QuantFormat, ctx: int, batch: int, engine: str, kv: str, target: Target
) -> int:
    """Once per (architecture, format, context, ..., target): ``fit`` walks the quantization
    ladder of every model for each need."""
    return _pool_of(_memory_of(a, fmt, ctx, batch, engine, kv, target.kind), a, engine, target)


def max_context_for(
    m: Subject,
    target: Target,
    quant: str | None = None,
    batch: int = 1,
    engine: str = "llama.cpp",
    kv_type: str = "f16",
) -> int:
    """Largest context (multiple of 256, or the model maximum) whose memory fits the target's budget."""
    a = _arch(m)
    target = target.for_engine(engine)
    fmt = default_format(engine, quant, a, m)
    lo, hi = 0, a.max_position_embeddings
    if pool_bytes(m, fmt, min(256, hi), batch, engine, kv_type, target) > target.budget_bytes:
        return 0
    if pool_bytes(m, fmt, hi, batch, engine, kv_type, target) <= target.budget_bytes:
        return hi
    lo = 256
    while hi - lo > 256:
        mid = (lo + hi) // 2 // 256 * 256
        if mid <= lo:
            break
        if pool_bytes(m, fmt, mid, batch, engine, kv_type, target) <= target.budget_bytes:
            lo = mid
        else:
            hi = mid
    return lo


def gpu_layers_that_fit(
    m: Subject, fmt: QuantFormat, context: int, batch: int, kv_type: str, target: Target
) -> int:
    """How many layers llama.cpp can offload (``-ngl``) within the GPU budget; over several
    cards, as its ``--fit`` fills them (:func:`llama_cpp_fit_layers`, the output head aside)."""
    a = _arch(m)
    target = target.for_engine("llama.cpp")
    if target.count > 1 and target.kind == "gpu":
        mem = _memory(m, fmt, context, batch, "llama.cpp", kv_type, target)
        budget = target.per_device_budget
        counts = llama_cpp_fit_layers(mem, a, target.count, budget, _file_tensors(m, fmt))
        return max(0, min(a.num_hidden_layers, sum(counts) - 1))
    best = 0
    for n in range(a.num_hidden_layers + 1):
        mem = estimate_memory(
            a,
            fmt,
            context,
            batch,
            "llama.cpp",
            kv_type,
            gpu_layers=n,
            weights=exact_weights(m, fmt),
        )
        if mem.gpu_bytes <= target.budget_bytes:
            best = n
        else:
            break
    return best
