"""How much of a device's memory each engine will let a model use.

Engines differ, and the difference decides questions like "does a 70B at 4-bit fit on
two 24 GB cards". Each rule returns the usable bytes per device and a sentence naming
the rule, so every answer can say which one it applied.

* llama.cpp sizes against the free memory the backend reports (the CUDA context is
  already gone from it; our estimates count that context explicitly) and its ``--fit``
  keeps a 1024 MiB margin per device (tools/fit-params).
* vLLM pre-allocates ``gpu_memory_utilization`` (default 0.9) of each GPU's *total*
  memory; everything the engine needs, context included, comes out of that share.
* Ollama keeps a minimum of 457 MiB free per CUDA GPU plus ``OLLAMA_GPU_OVERHEAD``
  (default 0), as its scheduler logs show.
* transformers/PyTorch has no rule of its own; we keep the same 1 GiB as llama.cpp.
* Apple silicon: Metal lets the GPU wire ``recommendedMaxWorkingSetSize`` of unified
  memory: 2/3 of it up to 36 GiB, 3/4 above (``sudo sysctl iogpu.wired_limit_mb``
  raises it), whatever the engine.
"""

from __future__ import annotations

from llmatlas.i18n import _

MiB = 1024**2
GiB = 1024**3

LLAMA_CPP_FIT_MARGIN = 1024 * MiB
LLAMA_CPP_FIT_SOURCE = "https://github.com/ggml-org/llama.cpp/tree/master/tools/fit-params"
VLLM_GPU_MEMORY_UTILIZATION = 0.9
VLLM_SOURCE = "https://docs.vllm.ai/en/latest/configuration/engine_args.html"
OLLAMA_MINIMUM_CUDA = 457 * MiB
OLLAMA_SOURCE = "https://github.com/ollama/ollama/issues/15388"
APPLE_SOURCES = (
    "https://github.com/abetlen/llama-cpp-python/issues/687",  # 16 GB: 10922.67 MB (2/3)
    "https://github.com/ggml-org/llama.cpp/issues/1870",  # 64 GB: ~48 GB (3/4)
)

ENGINES = ("llama.cpp", "ollama", "vllm", "transformers")


def apple_gpu_share(unified_bytes: int) -> tuple[int, str]:
    """Metal's default working-set limit on a Mac with ``unified_bytes`` of memory."""
    if unified_bytes <= 36 * GiB:
        return unified_bytes * 2 // 3, _(
            "macOS lets the GPU wire 2/3 of unified memory up to 36 GB"
        )
    return unified_bytes * 3 // 4, _("macOS lets the GPU wire 3/4 of unified memory above 36 GB")


def usable_gpu_bytes(total_bytes: int, engine: str = "llama.cpp") -> tuple[int, str]:
    """Usable bytes of one discrete GPU with ``total_bytes`` of memory under ``engine``'s rule."""
    if engine == "vllm":
        share = VLLM_GPU_MEMORY_UTILIZATION
        return int(total_bytes * share), _(
            "vLLM's gpu_memory_utilization {share} of the total"
        ).format(share=f"{share:g}")
    if engine == "ollama":
        return total_bytes - OLLAMA_MINIMUM_CUDA, _("Ollama keeps 457 MiB free per GPU")
    if engine == "transformers":
        return total_bytes - LLAMA_CPP_FIT_MARGIN, _("total minus 1 GiB kept free")
    return total_bytes - LLAMA_CPP_FIT_MARGIN, _("llama.cpp --fit keeps a 1 GiB margin per GPU")
