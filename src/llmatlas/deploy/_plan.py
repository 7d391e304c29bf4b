"""Plan a deployment from sizing: which engine, how many GPUs, how they split, what fits.

A plan is computed once and every target renders from it, so the numbers a recipe
prints (per-GPU weights, KV, headroom, concurrent sequences) are the numbers its
flags were derived from.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from llmatlas.advisor import Target, gpu_layers_that_fit
from llmatlas.advisor._estimate import resolve_context
from llmatlas.catalog import Architecture, ModelEntry
from llmatlas.deploy._checkpoints import checkpoints_for
from llmatlas.errors import BadInputError
from llmatlas.hardware import DeviceSpec
from llmatlas.sizing import (
    GiB,
    estimate_memory,
    get_format,
    gguf_file_bytes,
    plan_for,
    vllm_kv_pool,
    weight_bytes,
)
from llmatlas.sizing.memory import VLLM_MAX_NUM_SEQS
from llmatlas.sizing.parallel import HEADROOM, TP_SIZES
from llmatlas.sizing.quant import QuantFormat

TARGETS: tuple[str, ...] = (
    "ollama",
    "llama.cpp",
    "lmstudio",
    "vllm",
    "tgi",
    "kubernetes",
    "kserve",
    "llmatlas",
)
GGUF_TARGETS = ("ollama", "llama.cpp", "lmstudio")
"""Targets that run a GGUF file through llama.cpp on one machine."""
SINGLE_NODE_TARGETS = ("tgi", "kserve")
"""GPU targets rendered for one node only (TGI shards within a node; our KServe form too)."""

DEFAULT_CONTEXT = 8192
GPU_MEMORY_UTILIZATION = HEADROOM
MAX_NODES = 16
GPUS_PER_NODE = 8
VLLM_QUANTIZATION = {"AWQ-4BIT": "awq", "GPTQ-4BIT": "gptq", "FP8": "fp8"}
"""--quantization value vLLM needs for a format (None: the checkpoint's own dtype)."""
PREQUANTIZED = ("AWQ-4BIT", "GPTQ-4BIT")
"""Formats that need a checkpoint already quantized (vLLM/TGI cannot convert BF16 to them)."""
VLLM_FORMATS = ("BF16", "FP16", "FP8", "AWQ-4BIT", "GPTQ-4BIT")
GGUF_KV_TYPES = ("f16", "q8_0", "q4_0")
VLLM_KV_TYPES = ("bf16", "fp8")


def _tokens(n: int) -> str:
    return f"{n:,}"


def resolve_target(name: str) -> str:
    key = name.strip().lower()
    aliases = {
        "llamacpp": "llama.cpp",
        "llama-cpp": "llama.cpp",
        "llama-server": "llama.cpp",
        "lm-studio": "lmstudio",
        "k8s": "kubernetes",
        "text-generation-inference": "tgi",
    }
    key = aliases.get(key, key)
    if key not in TARGETS:
        raise BadInputError(f"unknown target {name!r}; use one of: {', '.join(TARGETS)}")
    return key


@dataclass
class DeployPlan:
    """Everything a recipe needs, with the memory figures it was derived from (bytes)."""

    model: str
    target: str
    engine: str  # "llama.cpp" or "vllm"
    quant: str
    kv_type: str
    context: int
    hf_repo: str
    device: str | None
    device_name: str | None
    gpu_bytes: int  # memory of one GPU (0: CPU plan)
    gpus_available: int | None  # per node, as given by --gpus
    tensor_parallel: int
    pipeline_parallel: int
    nodes: int
    per_gpu_weights: int
    per_gpu_kv: int
    per_gpu_overhead: int
    per_gpu_total: int
    per_gpu_budget: int
    kv_pool_per_gpu: int
    kv_pool_tokens: int
    max_concurrent_sequences: int  # at full context
    max_num_seqs: int  # what the engine is told
    parallel_slots: int  # llama.cpp -np
    gpu_layers: int  # llama.cpp -ngl / num_gpu
    total_layers: int
    weights_bytes: int
    checkpoint_bytes: int  # what lands on disk (GGUF file or the HF checkpoint)
    host_bytes: int  # llama.cpp: RAM for layers not offloaded
    gguf_repo: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def gpus(self) -> int:
        return self.tensor_parallel * self.pipeline_parallel if self.gpu_bytes else 0

    @property
    def gpus_per_node(self) -> int:
        return self.tensor_parallel if self.nodes > 1 else self.gpus

    @property
    def headroom_bytes(self) -> int:
        return self.per_gpu_budget - self.per_gpu_total

    def summary(self) -> list[str]:
        """The memory plan, one line each, as recipes print it."""
        if not self.gpu_bytes:
            return [
                f"CPU plan: {self.quant} weights {self.weights_bytes / GiB:.1f} GiB + KV "
                f"{self.per_gpu_kv / GiB:.2f} GiB ({self.parallel_slots} x {_tokens(self.context)} "
                f"tokens) in RAM, about {self.host_bytes / GiB:.1f} GiB in all",
            ]
        lines = [
            f"{self.gpus} x {self.device_name} ({self.gpu_bytes / 1e9:g} GB): "
            f"tensor parallel {self.tensor_parallel} x pipeline parallel "
            f"{self.pipeline_parallel}" + (f" over {self.nodes} nodes" if self.nodes > 1 else ""),
            f"per GPU: weights {self.per_gpu_weights / GiB:.2f} GiB + KV "
            f"{self.per_gpu_kv / GiB:.2f} GiB + overhead {self.per_gpu_overhead / GiB:.2f} GiB = "
            f"{self.per_gpu_total / GiB:.2f} GiB of {self.per_gpu_budget / GiB:.2f} GiB usable "
            f"({GPU_MEMORY_UTILIZATION:.0%}); headroom {self.headroom_bytes / GiB:.2f} GiB",
        ]
        if self.engine == "vllm":
            lines.append(
                f"KV pool: {self.kv_pool_per_gpu / GiB:.2f} GiB per GPU = "
                f"{_tokens(self.kv_pool_tokens)} tokens = {self.max_concurrent_sequences} "
                f"concurrent sequences at {_tokens(self.context)} tokens "
                f"(--max-num-seqs {self.max_num_seqs})"
            )
        else:
            lines.append(
                f"{self.gpu_layers} of {self.total_layers} layers on the GPU; "
                f"{self.parallel_slots} slot(s) x {_tokens(self.context)} tokens of context"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gpus"] = self.gpus
        d["headroom_bytes"] = self.headroom_bytes
        d["summary"] = self.summary()
        return d


def _arch(m: ModelEntry) -> Architecture:
    if m.architecture is None:
        raise BadInputError(f"cannot plan {m.id}: its architecture is not in the catalog")
    if not m.hf_repos:
        raise BadInputError(f"cannot plan {m.id}: no Hugging Face repository is known for it")
    return m.architecture


def kv_tokens(
    a: Architecture, fmt: QuantFormat, gpu_bytes: int, tp: int, pp: int, kv_type: str
) -> tuple[int, int]:
    """(KV pool bytes per GPU, tokens the pool holds) for a TP x PP vLLM deployment.

    See :func:`llmatlas.sizing.vllm_kv_pool`.
    """
    return vllm_kv_pool(a, fmt, gpu_bytes, tp, GPU_MEMORY_UTILIZATION, kv_type, pp)


def _needed(a: Architecture, fmt: QuantFormat, d: DeviceSpec, ctx: int, seqs: int, kv: str) -> str:
    """'needs 16 x H100 (TP 8 x PP 2, 2 nodes of 8)' or that no plan up to 16 nodes fits."""
    for pp in range(1, 65):
        for tp in TP_SIZES:
            p = plan_for(a, fmt, tp, pp, d.memory_bytes, ctx, seqs, kv)
            if p.fits and kv_tokens(a, fmt, d.memory_bytes, tp, pp, kv)[1] >= ctx * seqs:
                where = f", {pp} nodes of {tp}" if pp > 1 else ""
                return (
                    f"needs {tp * pp} x {d.id} (tensor parallel {tp} x pipeline parallel {pp}"
                    f"{where})"
                )
    return f"does not fit even 64 nodes of 8 x {d.id}"


def _vllm_search(
    a: Architecture,
    fmt: QuantFormat,
    d: DeviceSpec,
    ctx: int,
    seqs: int,
    kv: str,
    gpus_per_node: int,
    max_nodes: int,
) -> tuple[int, int, str]:
    """Smallest (tp, pp): TP within a node first, then PP across nodes (as ``smallest_plan``),
    also requiring vLLM's KV pool to hold ``seqs`` sequences of ``ctx`` tokens."""
    reason = ""
    for pp in range(1, max_nodes + 1):
        for tp in TP_SIZES:
            if tp > gpus_per_node:
                break
            p = plan_for(a, fmt, tp, pp, d.memory_bytes, ctx, seqs, kv)
            if not p.fits:
                reason = p.reason
                continue
            _, tokens = kv_tokens(a, fmt, d.memory_bytes, tp, pp, kv)
            if tokens >= ctx * seqs:
                return tp, pp, ""
            reason = (
                f"the KV pool left after weights holds {tokens:,} tokens, {ctx * seqs:,} needed"
            )
    return 0, 0, reason


def plan(
    m: ModelEntry,
    target: str,
    device: DeviceSpec | None = None,
    gpus: int | None = None,
    nodes: int | None = None,
    context: int | None = None,
    quant: str | None = None,
    concurrency: int | None = None,
    kv_type: str | None = None,
    hf_repo: str | None = None,
    gguf_repo: str | None = None,
) -> DeployPlan:
    """Plan ``m`` for ``target``; raises BadInputError with the reason when it cannot run."""
    target = resolve_target(target)
    a = _arch(m)
    if gpus is not None and gpus < 1:
        raise BadInputError("--gpus must be >= 1")
    if nodes is not None and nodes < 1:
        raise BadInputError("--nodes must be >= 1")
    if concurrency is not None and concurrency < 1:
        raise BadInputError("--concurrency must be >= 1")
    ctx = resolve_context(m, a, context, DEFAULT_CONTEXT)
    if device is not None and device.kind != "gpu" and target not in GGUF_TARGETS:
        raise BadInputError(f"--target {target} needs NVIDIA/AMD GPUs; {device.id} is not one")
    use_vllm = target not in GGUF_TARGETS and not (target == "llmatlas" and device is None)
    if use_vllm:
        return _plan_vllm(
            m, a, target, device, gpus, nodes, ctx, quant, concurrency, kv_type, hf_repo
        )
    if nodes is not None and nodes > 1:
        raise BadInputError(
            f"--target {target} runs on one machine; for {nodes} nodes use --target vllm "
            "or --target kubernetes"
        )
    return _plan_gguf(m, a, target, device, gpus, ctx, quant, concurrency, kv_type, gguf_repo)


def _plan_gguf(
    m: ModelEntry,
    a: Architecture,
    target: str,
    device: DeviceSpec | None,
    gpus: int | None,
    ctx: int,
    quant: str | None,
    concurrency: int | None,
    kv_type: str | None,
    gguf_repo: str | None,
) -> DeployPlan:
    fmt = get_format(quant or "Q4_K_M")
    if not fmt.is_gguf:
        raise BadInputError(
            f"--target {target} runs GGUF files; {fmt.name} is not one (try Q4_K_M or Q8_0)"
        )
    kv = (kv_type or "f16").lower()
    if kv not in GGUF_KV_TYPES:
        raise BadInputError(f"--kv-type for {target}: use one of {', '.join(GGUF_KV_TYPES)}")
    if target == "lmstudio" and kv != "f16":
        raise BadInputError("lms load has no KV cache type option; set it in LM Studio's UI")
    slots = concurrency or 1
    repo = m.hf_repos[0]
    gguf = gguf_repo or f"{repo}-GGUF"
    if gguf.count("/") != 1:
        raise BadInputError(f"--gguf-repo {gguf!r} must be owner/name")
    n_gpus = gpus or 1
    notes: list[str] = []
    if gguf_repo is None:
        notes.append(
            f"GGUF repository assumed to be {gguf}; if the publisher has none, pass "
            "--gguf-repo (e.g. a bartowski/ or lmstudio-community/ conversion)"
        )
    w = weight_bytes(a, fmt).total
    layers = a.num_hidden_layers
    if device is None:
        if gpus is not None:
            raise BadInputError("--gpus needs --device (which GPU?)")
        mem = estimate_memory(a, fmt, ctx, slots, "llama.cpp", kv, gpu_layers=0)
        notes.append("no --device given: planned for CPU only; give --device to offload layers")
        return DeployPlan(
            m.id,
            target,
            "llama.cpp",
            fmt.name,
            kv,
            ctx,
            repo,
            None,
            None,
            0,
            None,
            1,
            1,
            1,
            0,
            mem.kv_cache_bytes,
            0,
            0,
            0,
            0,
            0,
            slots,
            slots,
            slots,
            0,
            layers,
            w,
            gguf_file_bytes(a, fmt),
            mem.host_bytes,
            gguf,
            notes,
        )
    tgt = Target.from_device(device, n_gpus)
    full = estimate_memory(a, fmt, ctx, slots, "llama.cpp", kv, gpu_layers=layers)
    if full.gpu_bytes <= tgt.budget_bytes:
        ngl = layers
        mem = full
    else:
        ngl = gpu_layers_that_fit(m, fmt, ctx, slots, kv, tgt)
        mem = estimate_memory(a, fmt, ctx, slots, "llama.cpp", kv, gpu_layers=ngl)
        if ngl == 0:
            raise BadInputError(
                f"{m.id} {fmt.name} at {ctx:,} tokens x {slots} slot(s): not even one layer fits "
                f"{n_gpus} x {device.id} ({tgt.budget_bytes / GiB:.1f} GiB usable); "
                "lower --ctx/--concurrency or pick a smaller --quant"
            )
        notes.append(
            f"partial offload: {ngl} of {layers} layers fit on the GPU(s); the rest run from "
            f"system RAM ({mem.host_bytes / GiB:.1f} GiB), much slower"
        )
    per_gpu_total = math.ceil(mem.gpu_bytes / n_gpus)
    per_w = round(w * ngl / layers) // n_gpus
    per_kv = round(mem.kv_cache_bytes * ngl / layers) // n_gpus
    if n_gpus > 1:
        notes.append(f"llama.cpp splits layers over the {n_gpus} GPUs (--split-mode layer)")
    return DeployPlan(
        m.id,
        target,
        "llama.cpp",
        fmt.name,
        kv,
        ctx,
        repo,
        device.id,
        device.name,
        device.memory_bytes,
        gpus,
        n_gpus,
        1,
        1,
        per_w,
        per_kv,
        per_gpu_total - per_w - per_kv,
        per_gpu_total,
        int(device.memory_bytes * HEADROOM),
        0,
        0,
        slots,
        slots,
        slots,
        ngl,
        layers,
        w,
        gguf_file_bytes(a, fmt),
        mem.host_bytes,
        gguf,
        notes,
    )


def _plan_vllm(
    m: ModelEntry,
    a: Architecture,
    target: str,
    device: DeviceSpec | None,
    gpus: int | None,
    nodes: int | None,
    ctx: int,
    quant: str | None,
    concurrency: int | None,
    kv_type: str | None,
    hf_repo: str | None,
) -> DeployPlan:
    if device is None:
        raise BadInputError(f"--target {target} needs --device (which GPU?), e.g. h100-sxm")
    fmt = get_format(quant or "BF16")
    engine_name = "TGI" if target == "tgi" else "vLLM"
    if fmt.name not in VLLM_FORMATS:
        raise BadInputError(
            f"{fmt.name} is not served by {engine_name} here; use one of {', '.join(VLLM_FORMATS)}"
            + (" (GGUF types: --target llama.cpp/ollama/lmstudio)" if fmt.is_gguf else "")
        )
    notes: list[str] = []
    if fmt.name in PREQUANTIZED and hf_repo is None:
        known = checkpoints_for(m.id, fmt.name)
        if not known:
            others = ", ".join(sorted({c.format for c in checkpoints_for(m.id)}))
            raise BadInputError(
                f"{fmt.name} needs a checkpoint already quantized to it and none is known for "
                f"{m.id}" + (f" (known: {others})" if others else "") + "; pass --hf-repo "
                f"OWNER/NAME (the {engine_name} engine cannot quantize {m.hf_repos[0]} to "
                f"{fmt.name} on load)"
            )
        hf_repo = known[0].repo
        notes.append(f"checkpoint: {known[0].describe()}")
        notes.extend(f"also known: {c.describe()}" for c in known[1:])
    kv = (kv_type or "bf16").lower()
    if kv in ("auto", "f16", "fp16"):
        kv = "bf16"
    if kv not in VLLM_KV_TYPES:
        raise BadInputError(f"--kv-type for {target}: use one of {', '.join(VLLM_KV_TYPES)}")
    seqs = concurrency or 1
    single = target in SINGLE_NODE_TARGETS
    if single and nodes is not None and nodes > 1:
        raise BadInputError(
            f"--target {target} is rendered for one node; for {nodes} nodes use --target vllm "
            "or --target kubernetes"
        )
    per_node = gpus or GPUS_PER_NODE
    max_nodes = 1 if single else (nodes or (1 if gpus is not None else MAX_NODES))
    tp, pp, reason = _vllm_search(a, fmt, device, ctx, seqs, kv, per_node, max_nodes)
    if not tp:
        given = f"{per_node} x {device.id}" + (f" x {max_nodes} nodes" if max_nodes > 1 else "")
        what = f"{m.id} in {fmt.name} at {ctx:,} tokens" + (f" x {seqs}" if seqs > 1 else "")
        raise BadInputError(
            f"{what} does not fit {given}: {reason}; {_needed(a, fmt, device, ctx, seqs, kv)}"
        )
    p = plan_for(a, fmt, tp, pp, device.memory_bytes, ctx, seqs, kv)
    pool, tokens = kv_tokens(a, fmt, device.memory_bytes, tp, pp, kv)
    full_ctx_seqs = tokens // ctx
    max_num_seqs = seqs if concurrency else max(1, min(full_ctx_seqs, VLLM_MAX_NUM_SEQS))
    if fmt.name == "FP8" and hf_repo is None:
        notes.append("FP8: weights quantized on load from the BF16 checkpoint (--quantization fp8)")
        notes.extend(
            f"or serve a published FP8 checkpoint with --hf-repo: {c.describe()}"
            for c in checkpoints_for(m.id, "FP8")
        )
    if not concurrency and full_ctx_seqs > VLLM_MAX_NUM_SEQS:
        notes.append(
            f"the pool holds {full_ctx_seqs} full-length sequences; --max-num-seqs capped at "
            f"{VLLM_MAX_NUM_SEQS}"
        )
    w = weight_bytes(a, fmt).total
    ckpt_fmt = fmt if fmt.name in PREQUANTIZED else get_format("BF16")
    return DeployPlan(
        m.id,
        target,
        "vllm",
        fmt.name,
        kv,
        ctx,
        hf_repo or m.hf_repos[0],
        device.id,
        device.name,
        device.memory_bytes,
        gpus,
        tp,
        pp,
        pp,
        p.per_gpu_weights,
        p.per_gpu_kv,
        p.per_gpu_overhead,
        p.per_gpu_total,
        int(device.memory_bytes * HEADROOM),
        pool,
        tokens,
        full_ctx_seqs,
        max_num_seqs,
        1,
        a.num_hidden_layers,
        a.num_hidden_layers,
        w,
        weight_bytes(a, ckpt_fmt).total,
        0,
        None,
        notes,
    )
