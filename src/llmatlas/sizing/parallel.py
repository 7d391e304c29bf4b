"""Splitting a model over several GPUs: tensor and pipeline parallel plans.

Tensor parallel (TP) splits every layer's weights and KV heads over the GPUs of a
node; vLLM requires ``num_attention_heads % tp == 0`` and replicates KV heads when
``tp > kv_heads``.  Pipeline parallel (PP) splits layers across nodes.  CUDA
context and activation buffers are paid on every GPU.
"""

from __future__ import annotations

from llmatlas._record import Value, value
from llmatlas.catalog._schema import Architecture
from llmatlas.sizing.memory import CUDA_CONTEXT, GiB, activation_bytes, kv_cache
from llmatlas.sizing.quant import QuantFormat, weight_bytes

TP_SIZES = (1, 2, 4, 8)
HEADROOM = 0.9
"""Plan to use at most 90% of each GPU's memory (vLLM's default utilisation)."""


@value
class ParallelPlan(Value):
    tensor_parallel: int
    pipeline_parallel: int
    per_gpu_weights: int
    per_gpu_kv: int
    per_gpu_overhead: int
    per_gpu_total: int
    gpu_bytes: int
    fits: bool
    reason: str

    @property
    def gpus(self) -> int:
        return self.tensor_parallel * self.pipeline_parallel


def plan_for(
    a: Architecture,
    fmt: QuantFormat,
    tp: int,
    pp: int,
    gpu_bytes: int,
    context: int,
    sequences: int = 1,
    kv_type: str = "bf16",
) -> ParallelPlan:
    w = weight_bytes(a, fmt).total
    kv_full = kv_cache(a, context, sequences, kv_type, "vllm").bytes
    if a.is_mla:
        kv_gpu = kv_full // pp  # the latent is not split by heads
    else:
        kv_heads_per_gpu = max(a.num_key_value_heads // tp, 1)
        kv_gpu = kv_full * kv_heads_per_gpu // a.num_key_value_heads // pp
    w_gpu = w // (tp * pp)
    overhead = CUDA_CONTEXT + activation_bytes(a, 8192, tp) + GiB // 2
    total = w_gpu + kv_gpu + overhead
    budget = int(gpu_bytes * HEADROOM)
    reason = "fits"
    if a.num_attention_heads % tp:
        reason = f"{a.num_attention_heads} attention heads do not split over {tp} GPUs"
    elif total > budget:
        reason = f"needs {total / GiB:.1f} GiB per GPU, {budget / GiB:.1f} GiB usable"
    fits = reason == "fits"
    return ParallelPlan(tp, pp, w_gpu, kv_gpu, overhead, total, gpu_bytes, fits, reason)


def smallest_plan(
    a: Architecture,
    fmt: QuantFormat,
    gpu_bytes: int,
    context: int,
    sequences: int = 1,
    gpus_per_node: int = 8,
    max_nodes: int = 16,
    kv_type: str = "bf16",
) -> ParallelPlan:
    """The fewest GPUs that hold the model: TP within a node first, then PP across nodes."""
    last: ParallelPlan | None = None
    for pp in range(1, max_nodes + 1):
        for tp in TP_SIZES:
            if tp > gpus_per_node:
                break
            plan = plan_for(a, fmt, tp, pp, gpu_bytes, context, sequences, kv_type)
            if plan.fits:
                return plan
            last = plan
    assert last is not None
    return last
