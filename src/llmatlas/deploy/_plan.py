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
from llmatlas.i18n import N_, _, ngettext
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
        raise BadInputError.translatable(
            "unknown target {name!r}; use one of: {targets}", name=name, targets=", ".join(TARGETS)
        )
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
                _(
                    "CPU plan: {quant} weights {weights} GiB + KV {kv} GiB ({slots} x {ctx} "
                    "tokens) in RAM, about {host} GiB in all"
                ).format(
                    quant=self.quant,
                    weights=f"{self.weights_bytes / GiB:.1f}",
                    kv=f"{self.per_gpu_kv / GiB:.2f}",
                    slots=self.parallel_slots,
                    ctx=_tokens(self.context),
                    host=f"{self.host_bytes / GiB:.1f}",
                ),
            ]
        split = _(
            "{n} x {device} ({gib} GiB): tensor parallel {tp} x pipeline parallel {pp}"
        ).format(
            n=self.gpus,
            device=self.device_name,
            gib=f"{self.gpu_bytes / GiB:.1f}",
            tp=self.tensor_parallel,
            pp=self.pipeline_parallel,
        )
        if self.nodes > 1:
            split += " " + _("over {n} nodes").format(n=self.nodes)
        lines = [
            split,
            _(
                "per GPU: weights {weights} GiB + KV {kv} GiB + overhead {overhead} GiB = "
                "{total} GiB of {budget} GiB usable ({share}); headroom {headroom} GiB"
            ).format(
                weights=f"{self.per_gpu_weights / GiB:.2f}",
                kv=f"{self.per_gpu_kv / GiB:.2f}",
                overhead=f"{self.per_gpu_overhead / GiB:.2f}",
                total=f"{self.per_gpu_total / GiB:.2f}",
                budget=f"{self.per_gpu_budget / GiB:.2f}",
                share=f"{GPU_MEMORY_UTILIZATION:.0%}",
                headroom=f"{self.headroom_bytes / GiB:.2f}",
            ),
        ]
        if self.engine == "vllm":
            lines.append(
                ngettext(
                    "KV pool: {pool} GiB per GPU = {tokens} tokens = {seqs} concurrent sequence "
                    "at {ctx} tokens (--max-num-seqs {max_num_seqs})",
                    "KV pool: {pool} GiB per GPU = {tokens} tokens = {seqs} concurrent sequences "
                    "at {ctx} tokens (--max-num-seqs {max_num_seqs})",
                    self.max_concurrent_sequences,
                ).format(
                    pool=f"{self.kv_pool_per_gpu / GiB:.2f}",
                    tokens=_tokens(self.kv_pool_tokens),
                    seqs=self.max_concurrent_sequences,
                    ctx=_tokens(self.context),
                    max_num_seqs=self.max_num_seqs,
                )
            )
        else:
            lines.append(
                _(
                    "{n} of {layers} layers on the GPU; {slots} slot(s) x {ctx} tokens of context"
                ).format(
                    n=self.gpu_layers,
                    layers=self.total_layers,
                    slots=self.parallel_slots,
                    ctx=_tokens(self.context),
                )
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
        raise BadInputError.translatable(
            "cannot plan {model}: its architecture is not in the catalog", model=m.id
        )
    if not m.hf_repos:
        raise BadInputError.translatable(
            "cannot plan {model}: no Hugging Face repository is known for it", model=m.id
        )
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
                if pp > 1:
                    return _(
                        "needs {n} x {device} (tensor parallel {tp} x pipeline parallel {pp}, "
                        "{pp} nodes of {tp})"
                    ).format(n=tp * pp, device=d.id, tp=tp, pp=pp)
                return _(
                    "needs {n} x {device} (tensor parallel {tp} x pipeline parallel {pp})"
                ).format(n=tp * pp, device=d.id, tp=tp, pp=pp)
    return _("does not fit even 64 nodes of 8 x {device}").format(device=d.id)


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
            reason = _(
                "the KV pool left after weights holds {tokens} tokens, {needed} needed"
            ).format(tokens=_tokens(tokens), needed=_tokens(ctx * seqs))
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
        raise BadInputError.translatable("--gpus must be >= 1")
    if nodes is not None and nodes < 1:
        raise BadInputError.translatable("--nodes must be >= 1")
    if concurrency is not None and concurrency < 1:
        raise BadInputError.translatable("--concurrency must be >= 1")
    ctx = resolve_context(m, a, context, DEFAULT_CONTEXT)
    if device is not None and device.kind != "gpu" and target not in GGUF_TARGETS:
        raise BadInputError.translatable(
            "--target {target} needs NVIDIA/AMD GPUs; {device} is not one",
            target=target,
            device=device.id,
        )
    use_vllm = target not in GGUF_TARGETS and not (target == "llmatlas" and device is None)
    if use_vllm:
        return _plan_vllm(
            m, a, target, device, gpus, nodes, ctx, quant, concurrency, kv_type, hf_repo
        )
    if nodes is not None and nodes > 1:
        raise BadInputError.translatable(
            "--target {target} runs on one machine; for {nodes} nodes use --target vllm "
            "or --target kubernetes",
            target=target,
            nodes=nodes,
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
        raise BadInputError.translatable(
            "--target {target} runs GGUF files; {format} is not one (try Q4_K_M or Q8_0)",
            target=target,
            format=fmt.name,
        )
    kv = (kv_type or "f16").lower()
    if kv not in GGUF_KV_TYPES:
        raise BadInputError.translatable(
            "--kv-type for {target}: use one of {types}",
            target=target,
            types=", ".join(GGUF_KV_TYPES),
        )
    if target == "lmstudio" and kv != "f16":
        raise BadInputError.translatable(
            "lms load has no KV cache type option; set it in LM Studio's UI"
        )
    slots = concurrency or 1
    repo = m.hf_repos[0]
    gguf = gguf_repo or f"{repo}-GGUF"
    if gguf.count("/") != 1:
        raise BadInputError.translatable("--gguf-repo {repo!r} must be owner/name", repo=gguf)
    n_gpus = gpus or 1
    notes: list[str] = []
    if gguf_repo is None:
        notes.append(
            _(
                "GGUF repository assumed to be {repo}; if the publisher has none, pass "
                "--gguf-repo (e.g. a bartowski/ or lmstudio-community/ conversion)"
            ).format(repo=gguf)
        )
    w = weight_bytes(a, fmt).total
    layers = a.num_hidden_layers
    if device is None:
        if gpus is not None:
            raise BadInputError.translatable("--gpus needs --device (which GPU?)")
        mem = estimate_memory(a, fmt, ctx, slots, "llama.cpp", kv, gpu_layers=0)
        notes.append(_("no --device given: planned for CPU only; give --device to offload layers"))
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
            raise BadInputError.translatable(
                "{model} {format} at {ctx} tokens x {slots} slot(s): not even one layer fits "
                "{n} x {device} ({budget} GiB usable); "
                "lower --ctx/--concurrency or pick a smaller --quant",
                model=m.id,
                format=fmt.name,
                ctx=_tokens(ctx),
                slots=slots,
                n=n_gpus,
                device=device.id,
                budget=f"{tgt.budget_bytes / GiB:.1f}",
            )
        notes.append(
            _(
                "partial offload: {n} of {layers} layers fit on the GPU(s); the rest run from "
                "system RAM ({host} GiB), much slower"
            ).format(n=ngl, layers=layers, host=f"{mem.host_bytes / GiB:.1f}")
        )
    per_gpu_total = math.ceil(mem.gpu_bytes / n_gpus)
    per_w = round(w * ngl / layers) // n_gpus
    per_kv = round(mem.kv_cache_bytes * ngl / layers) // n_gpus
    if n_gpus > 1:
        notes.append(
            _("llama.cpp splits layers over the {n} GPUs (--split-mode layer)").format(n=n_gpus)
        )
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
        raise BadInputError.translatable(
            "--target {target} needs --device (which GPU?), e.g. h100-sxm", target=target
        )
    fmt = get_format(quant or "BF16")
    engine_name = "TGI" if target == "tgi" else "vLLM"
    if fmt.name not in VLLM_FORMATS:
        raise BadInputError.translatable(
            N_(
                "{format} is not served by {engine} here; use one of {formats} "
                "(GGUF types: --target llama.cpp/ollama/lmstudio)"
            )
            if fmt.is_gguf
            else N_("{format} is not served by {engine} here; use one of {formats}"),
            format=fmt.name,
            engine=engine_name,
            formats=", ".join(VLLM_FORMATS),
        )
    notes: list[str] = []
    if fmt.name in PREQUANTIZED and hf_repo is None:
        known = checkpoints_for(m.id, fmt.name)
        if not known:
            others = ", ".join(sorted({c.format for c in checkpoints_for(m.id)}))
            raise BadInputError.translatable(
                N_(
                    "{format} needs a checkpoint already quantized to it and none is known for "
                    "{model} (known: {others}); pass --hf-repo OWNER/NAME (the {engine} engine "
                    "cannot quantize {repo} to {format} on load)"
                )
                if others
                else N_(
                    "{format} needs a checkpoint already quantized to it and none is known for "
                    "{model}; pass --hf-repo OWNER/NAME (the {engine} engine cannot quantize "
                    "{repo} to {format} on load)"
                ),
                format=fmt.name,
                model=m.id,
                others=others,
                engine=engine_name,
                repo=m.hf_repos[0],
            )
        hf_repo = known[0].repo
        notes.append(_("checkpoint: {checkpoint}").format(checkpoint=known[0].describe()))
        notes.extend(
            _("also known: {checkpoint}").format(checkpoint=c.describe()) for c in known[1:]
        )
    kv = (kv_type or "bf16").lower()
    if kv in ("auto", "f16", "fp16"):
        kv = "bf16"
    if kv not in VLLM_KV_TYPES:
        raise BadInputError.translatable(
            "--kv-type for {target}: use one of {types}",
            target=target,
            types=", ".join(VLLM_KV_TYPES),
        )
    seqs = concurrency or 1
    single = target in SINGLE_NODE_TARGETS
    if single and nodes is not None and nodes > 1:
        raise BadInputError.translatable(
            "--target {target} is rendered for one node; for {nodes} nodes use --target vllm "
            "or --target kubernetes",
            target=target,
            nodes=nodes,
        )
    per_node = gpus or GPUS_PER_NODE
    max_nodes = 1 if single else (nodes or (1 if gpus is not None else MAX_NODES))
    tp, pp, reason = _vllm_search(a, fmt, device, ctx, seqs, kv, per_node, max_nodes)
    if not tp:
        given = f"{per_node} x {device.id}" + (
            " x " + _("{n} nodes").format(n=max_nodes) if max_nodes > 1 else ""
        )
        what = _("{model} in {format} at {ctx} tokens").format(
            model=m.id, format=fmt.name, ctx=_tokens(ctx)
        ) + (f" x {seqs}" if seqs > 1 else "")
        raise BadInputError.translatable(
            "{what} does not fit {given}: {reason}; {needed}",
            what=what,
            given=given,
            reason=reason,
            needed=_needed(a, fmt, device, ctx, seqs, kv),
        )
    p = plan_for(a, fmt, tp, pp, device.memory_bytes, ctx, seqs, kv)
    pool, tokens = kv_tokens(a, fmt, device.memory_bytes, tp, pp, kv)
    full_ctx_seqs = tokens // ctx
    max_num_seqs = seqs if concurrency else max(1, min(full_ctx_seqs, VLLM_MAX_NUM_SEQS))
    if fmt.name == "FP8" and hf_repo is None:
        notes.append(
            _("FP8: weights quantized on load from the BF16 checkpoint (--quantization fp8)")
        )
        notes.extend(
            _("or serve a published FP8 checkpoint with --hf-repo: {checkpoint}").format(
                checkpoint=c.describe()
            )
            for c in checkpoints_for(m.id, "FP8")
        )
    if not concurrency and full_ctx_seqs > VLLM_MAX_NUM_SEQS:
        notes.append(
            _("the pool holds {n} full-length sequences; --max-num-seqs capped at {cap}").format(
                n=full_ctx_seqs, cap=VLLM_MAX_NUM_SEQS
            )
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
