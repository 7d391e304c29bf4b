"""Pure sizing functions: parameters, weight bytes, KV cache, buffers, speed, parallelism.

No I/O here: everything is computed from a model's :class:`Architecture`.
"""

from typing import TYPE_CHECKING

from llmatlas._lazy import attach

if TYPE_CHECKING:
    from llmatlas.sizing.finetune import FinetuneEstimate, estimate_finetune
    from llmatlas.sizing.memory import (
        ENGINES,
        KV_TYPES,
        GiB,
        MemoryEstimate,
        MiB,
        estimate_memory,
        kv_cache,
        vllm_kv_pool,
    )
    from llmatlas.sizing.parallel import ParallelPlan, plan_for, smallest_plan
    from llmatlas.sizing.params import (
        ParamBreakdown,
        active_param_count,
        param_breakdown,
        param_count,
    )
    from llmatlas.sizing.quant import (
        FORMATS,
        GGUF_LADDER,
        HF_LADDER,
        QuantFormat,
        get_format,
        gguf_file_bytes,
        weight_bytes,
    )
    from llmatlas.sizing.speed import SpeedEstimate, estimate_speed, speed_verdict

__all__ = [
    "ENGINES",
    "FORMATS",
    "GGUF_LADDER",
    "HF_LADDER",
    "KV_TYPES",
    "FinetuneEstimate",
    "GiB",
    "MemoryEstimate",
    "MiB",
    "ParallelPlan",
    "ParamBreakdown",
    "QuantFormat",
    "SpeedEstimate",
    "active_param_count",
    "estimate_finetune",
    "estimate_memory",
    "estimate_speed",
    "get_format",
    "gguf_file_bytes",
    "kv_cache",
    "param_breakdown",
    "param_count",
    "plan_for",
    "smallest_plan",
    "speed_verdict",
    "vllm_kv_pool",
    "weight_bytes",
]

__getattr__, __dir__ = attach(
    __name__,
    {
        "finetune": (
            "FinetuneEstimate",
            "estimate_finetune",
        ),
        "memory": (
            "ENGINES",
            "KV_TYPES",
            "GiB",
            "MemoryEstimate",
            "MiB",
            "estimate_memory",
            "kv_cache",
            "vllm_kv_pool",
        ),
        "parallel": (
            "ParallelPlan",
            "plan_for",
            "smallest_plan",
        ),
        "params": (
            "ParamBreakdown",
            "active_param_count",
            "param_breakdown",
            "param_count",
        ),
        "quant": (
            "FORMATS",
            "GGUF_LADDER",
            "HF_LADDER",
            "QuantFormat",
            "get_format",
            "gguf_file_bytes",
            "weight_bytes",
        ),
        "speed": (
            "SpeedEstimate",
            "estimate_speed",
            "speed_verdict",
        ),
    },
)
