"""Memory an engine needs to run a model: weights, KV cache, compute buffers, overhead.

All figures are bytes.  Pure functions of the architecture and the run settings.

How each engine allocates (what we model, and where it comes from):

* **llama.cpp** (via llama-cpp-python, our default engine).  Weights are mmap'd
  from the GGUF file.  The KV cache is allocated at load for the whole context
  (``n_ctx`` cells, shared by all sequences); llama-cpp-python runs sliding-window
  models with *full-size* SWA caches (its log says "using full-size SWA cache"),
  so Gemma 2/3 and gpt-oss pay full context on every layer unless the engine is
  told otherwise (``swa_full=False`` trims those layers to
  ``pad256(window * n_seq + n_ubatch)`` cells).  The compute buffer is reserved
  for the worst-case graph: one ubatch (512 tokens), every output's logits, the
  attention over the full cache; its size is the peak of ggml's allocator over
  that graph (:mod:`llmatlas.sizing.llama_graph` replays both).  On a GPU the
  reservation is real VRAM; on a CPU only the pages the run's own graphs touch
  become resident (cells in use, one row of logits).
* **vLLM** pre-allocates ``gpu_memory_utilization`` (default 0.9) of the GPU:
  weights + profiled activations + non-torch memory, and the rest becomes the
  paged KV pool; the number of concurrent full-length sequences follows.
* **transformers** allocates the KV cache as tokens arrive (dynamic cache).
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field
from typing import Literal

from llmatlas._record import Value, value
from llmatlas.catalog._schema import Architecture
from llmatlas.errors import BadInputError
from llmatlas.i18n import _
from llmatlas.sizing.params import global_layer_ids, recurrent_layer_count
from llmatlas.sizing.quant import QuantFormat, WeightBytes, weight_bytes

MiB = 1024**2
GiB = 1024**3

EngineName = Literal["llama.cpp", "vllm", "transformers"]
ENGINES: tuple[str, ...] = ("llama.cpp", "vllm", "transformers")

KV_TYPES: dict[str, float] = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "fp8": 1.0,
    "q8_0": 34 / 32,  # ggml block: 32 int8 + one f16 scale
    "q4_0": 18 / 32,
}

# llama.cpp honours sliding windows only for architectures it implements with an
# interleaved-SWA cache; Mistral-7B-v0.1 runs as plain llama (full cache).
LLAMA_CPP_SWA_ARCHS = (
    "gemma2",
    "gemma3",
    "gemma3_text",
    "gemma3n",
    "gemma3n_text",
    "gemma4",
    "gemma4_text",
    "gpt_oss",
    "olmo3",
    "cohere2",
    "llama4",  # chunked attention: an iSWA cache of chunk-sized windows
    "llama4_text",
)

LLAMA_CPP_UNLOADABLE = (
    "opt",
    "gpt_neo",
    "gptj",
    "internlm",
    "recurrent_gemma",
    "mllama",
    "phi3small",
)
"""Catalog model types the llama.cpp in llama-cpp-python 0.3.36 cannot run: its converter
(``conversion/__init__.py``) has no class for them and ``src/models/`` no graph (GPT-J has an
architecture name but no graph)."""


def llama_cpp_loadable(a: Architecture) -> bool:
    """Whether llama.cpp 0.3.36 runs ``a`` at all (ChatGLM-6B, the first ChatGLM, shares its
    model type with ChatGLM2/3 but not their layout: LayerNorm, GELU, 2-D positions)."""
    return a.model_type not in LLAMA_CPP_UNLOADABLE and not (
        a.model_type == "chatglm" and a.norm != "rmsnorm"
    )


N_UBATCH = 512
"""llama.cpp's default physical batch (tokens per compute step)."""

# Measured on this project's CI machine with llama-cpp-python 0.3.36 and the
# embedded Gemma 3 270M (bench/sizing_accuracy.py re-measures them):
LLAMA_CPP_PYTHON_RUNTIME = 43 * MiB
"""Resident memory of a Python process with llama_cpp imported, before any model."""
LLAMA_CPP_LOAD_FIXED = 16 * MiB
LLAMA_CPP_VOCAB_BYTES_PER_TOKEN = 128
"""Resident bytes per vocabulary entry held by llama.cpp's tokenizer tables."""

REPACKED_TYPES = ("Q4_0", "Q4_K", "IQ4_NL")
"""ggml types llama.cpp's CPU backend repacks at load (a second copy in RAM)."""

CUDA_CONTEXT = 450 * MiB
"""CUDA context + cuBLAS workspace per GPU (Ollama reserves 457 MiB minimum per GPU)."""
VLLM_NON_TORCH = 512 * MiB
VLLM_MAX_BATCHED_TOKENS = 8192
VLLM_MAX_NUM_SEQS = 256


def kv_bytes_per_element(kv_type: str) -> float:
    try:
        return KV_TYPES[kv_type.lower()]
    except KeyError:
        raise BadInputError.translatable(
            "unknown KV cache type {kv_type!r}; use one of {types}",
            kv_type=kv_type,
            types=", ".join(KV_TYPES),
        ) from None


def _pad(n: int, to: int) -> int:
    return -(-n // to) * to


def kv_elements_per_token_per_layer(a: Architecture, engine: str) -> int:
    """K plus V elements one token stores in one attention layer.

    MLA (DeepSeek-V2/V3) caches the compressed latent plus the rope key:
    ``kv_lora_rank + qk_rope_head_dim`` (576) per token per layer.  vLLM does; so does the
    bundled llama.cpp, whose MLA cache has no V tensor at all (``has_v = !is_mla`` in
    src/llama-kv-cache.cpp; V is read as a view of the latent), although its GGUF still
    declares a value length of 512.
    """
    if a.is_mla:
        latent = (a.kv_lora_rank or 0) + (a.qk_rope_head_dim or 0)
        # DeepSeek sparse attention also caches one indexer key per token
        latent += a.index_head_dim or 0
        return latent
    return 2 * a.num_key_value_heads * a.resolved_head_dim


def kv_elements_per_token_global_layer(a: Architecture, engine: str) -> int:
    """K plus V elements of one token in a full-attention layer with its own shape (Gemma 4:
    ``num_global_key_value_heads`` heads of ``global_head_dim``).  With ``attention_k_eq_v`` the
    values are the keys before their norm, but engines still cache both, so both are counted."""
    if not (a.global_head_dim or a.num_global_key_value_heads):
        return kv_elements_per_token_per_layer(a, engine)
    heads = a.num_global_key_value_heads or a.num_key_value_heads
    return 2 * heads * (a.global_head_dim or a.resolved_head_dim)


def recurrent_state_bytes_per_layer(a: Architecture) -> int:
    """Fixed fp32 state one sequence keeps in one non-attention layer of a hybrid model.

    Gated DeltaNet / Mamba-2: a key_dim x value_dim matrix per value head plus the last
    ``conv - 1`` inputs of the depthwise conv; lightning attention: a head_dim^2 matrix per
    head; RG-LRU: one vector plus the conv inputs.
    """
    conv = a.conv1d_width or 4
    if a.recurrent_kind in ("gated-deltanet", "mamba2"):
        key = (a.linear_num_key_heads or 0) * (a.linear_key_head_dim or 0)
        value = (a.linear_num_value_heads or 0) * (a.linear_value_head_dim or 0)
        matrix = (a.linear_num_value_heads or 0) * (a.linear_key_head_dim or 0)
        matrix *= a.linear_value_head_dim or 0
        return 4 * (matrix + (2 * key + value) * (conv - 1))
    if a.recurrent_kind == "lightning":
        return 4 * a.num_attention_heads * a.resolved_head_dim**2
    width = a.recurrent_state_width or a.hidden_size
    return 4 * (width + width * (conv - 1))


def swa_honoured(a: Architecture, engine: str, swa_full: bool) -> bool:
    if a.sliding_window is None:
        return False
    if engine == "llama.cpp":
        return a.model_type in LLAMA_CPP_SWA_ARCHS and not swa_full
    return True


@value
class KVCache(Value):
    bytes: int
    full_layers: int
    window_layers: int
    window_cells: int
    state_bytes: int  # recurrent layers' fixed state


def kv_cache(
    a: Architecture,
    context: int,
    sequences: int = 1,
    kv_type: str = "f16",
    engine: str = "llama.cpp",
    swa_full: bool = True,
    flash_attn: bool = False,
) -> KVCache:
    """KV cache bytes for ``sequences`` sequences of ``context`` tokens each.

    ``layers x 2 x kv_heads x head_dim x tokens x sequences x bytes``, with window
    layers capped at their window where the engine does so, MLA's latent cache,
    and hybrid models' recurrent layers holding a fixed state instead.
    """
    if context <= 0:
        raise BadInputError("context must be a positive number of tokens")
    if sequences <= 0:
        raise BadInputError("batch (concurrent sequences) must be >= 1")
    per_elt = kv_bytes_per_element(kv_type)
    attn_layers = a.num_hidden_layers if a.num_attention_layers is None else a.num_attention_layers
    cross_layers = a.cross_attention_layers or 0
    attn_layers -= cross_layers
    elts = kv_elements_per_token_per_layer(a, engine)
    window_layers = 0
    window_cells = 0
    total_cells = context * sequences
    if engine == "llama.cpp":
        total_cells = _pad(total_cells, 256) if total_cells > 256 else total_cells
    if swa_honoured(a, engine, swa_full):
        assert a.sliding_window is not None
        window_layers = min(a.sliding_window_layers or attn_layers, attn_layers)
        if engine == "llama.cpp":
            window_cells = min(total_cells, _pad(a.sliding_window * sequences + N_UBATCH, 256))
        else:
            window_cells = min(
                total_cells, (a.sliding_window + VLLM_MAX_BATCHED_TOKENS) * sequences
            )
    elif (
        a.num_attention_layers is not None
        and a.sliding_window is not None
        and (a.recurrent_kind == "rglru")
    ):
        # hybrid models (RecurrentGemma): local attention only
        window_layers = attn_layers
        window_cells = total_cells
    full_layers = attn_layers - window_layers
    if a.kv_shared_layers:
        # Gemma 3n: the last layers reuse earlier layers' K/V; the pattern repeats, so the
        # layers that own a cache keep the same window/full mix
        own = attn_layers - a.kv_shared_layers
        window_layers = round(window_layers * own / attn_layers)
        full_layers = own - window_layers
    kv = full_layers * elts * total_cells + window_layers * elts * window_cells
    global_layers = (
        len(global_layer_ids(a)) if (a.global_head_dim or a.num_global_key_value_heads) else 0
    )
    if global_layers:
        # Gemma 4: the global layers (always full-context) hold a differently shaped K/V
        if a.kv_shared_layers:
            global_layers = round(global_layers * (attn_layers - a.kv_shared_layers) / attn_layers)
        kv += global_layers * (kv_elements_per_token_global_layer(a, engine) - elts) * total_cells
        if engine == "llama.cpp" and not flash_attn:
            # V transposed (no flash attention): llama-kv-cache.cpp gives every layer's V the
            # widest layer's width (n_embd_v_gqa_max)
            v_local = a.num_key_value_heads * a.resolved_head_dim
            v_global = kv_elements_per_token_global_layer(a, engine) // 2
            v_max = max(v_local, v_global)
            kv += global_layers * (v_max - v_global) * total_cells
            kv += (full_layers - global_layers) * (v_max - v_local) * total_cells
            kv += window_layers * (v_max - v_local) * window_cells
    # cross-attention layers hold the encoder's tokens (one image per sequence), not the context
    kv += cross_layers * elts * (a.cross_attention_tokens or 0) * sequences
    state = 0
    recurrent_layers = recurrent_layer_count(a)
    if recurrent_layers:
        state = recurrent_layers * sequences * recurrent_state_bytes_per_layer(a)
    return KVCache(
        bytes=round(kv * per_elt) + state,
        full_layers=full_layers,
        window_layers=window_layers,
        window_cells=window_cells,
        state_bytes=state,
    )


@value
class MemoryEstimate(Value):
    """What running a model takes, in bytes, split the way engines report it."""

    engine: str
    quant: str
    context: int
    batch: int
    kv_type: str
    weights_bytes: int
    kv_cache_bytes: int
    buffers_bytes: int
    overhead_bytes: int
    gpu_layers: int
    gpu_bytes: int
    host_bytes: int
    notes: list[str] = field(default_factory=list)
    reserved_buffers_bytes: int = 0
    """llama.cpp: the compute buffer the engine *allocates* (what fails a load on a GPU); on a
    CPU ``buffers_bytes`` is the part of it that becomes resident (touched pages)."""
    page_cache_bytes: int = 0
    """Clean, file-backed pages that show in RSS but the kernel may drop under pressure
    (the mapped originals of tensors llama.cpp's CPU backend repacked into its own copy)."""

    @property
    def total_bytes(self) -> int:
        """What the run needs: weights once, KV cache, buffers, runtime overhead."""
        return self.weights_bytes + self.kv_cache_bytes + self.buffers_bytes + self.overhead_bytes

    @property
    def peak_rss_bytes(self) -> int:
        """What `ps`/`top` show at the peak, including reclaimable mapped pages."""
        return self.total_bytes + self.page_cache_bytes


def llama_cpp_compute_buffer(
    a: Architecture,
    context: int,
    sequences: int = 1,
    flash_attn: bool = False,
    n_ubatch: int = N_UBATCH,
    swa_full: bool = True,
    kv_type: str = "f16",
) -> int:
    """Compute buffer llama.cpp reserves for its worst-case graph (one ubatch, every output).

    For the model types :mod:`llmatlas.sizing.llama_graph` builds (``graph_memo.GRAPHED``:
    55 architectures in ``bench/sizing_conformance.py``, one or several sequences over a
    unified cache), the graph llama.cpp would build is replayed through a model of ggml's
    allocator (:mod:`llmatlas.sizing.ggml_alloc`): the buffer is the allocator's highest
    address, holes and in-place reuse included.

    Otherwise (DeepSeek-V3.2 / GLM-5's sparse attention; :func:`estimate_memory` notes
    it), a closed form: ggml's allocator reuses a tensor's memory once its last reader
    ran, so the buffer is about the largest set of tensors alive at one node, the largest of:

    * the output: the logits of all ``n_ubatch`` outputs (f32) plus two hidden states;
    * attention without flash attention: the f32 scores ``n_kv x n_ubatch x heads``, the
      mask(s) ``n_kv x n_ubatch`` (f32; one more for the sliding-window cache), and
      Q/K/V/output-sized activations;
    * the feed-forward block, with the mask(s) still alive (f16 under flash attention):
      gate, up and activation at FFN width plus four hidden states (MoE: at the routed
      experts' width times experts per token).
    """
    from llmatlas.sizing import graph_memo

    settings = graph_memo.Settings(
        context, n_ubatch, flash_attn, kv_type.lower(), swa_full, sequences
    )
    if graph_memo.supported(a, settings):
        return graph_memo.compute_buffer(a, settings)
    ub = min(n_ubatch, context * sequences)
    n_kv = _pad(context * sequences, 256) if context * sequences > 256 else context * sequences
    h = a.hidden_size
    hd = a.resolved_head_dim
    f32 = 4
    mask_cells = n_kv
    if a.sliding_window and a.model_type in LLAMA_CPP_SWA_ARCHS:
        # the interleaved-SWA cache has a second mask, over the window's cells when trimmed
        swa_cells = n_kv
        if not swa_full:
            swa_cells = min(n_kv, _pad(a.sliding_window * sequences + n_ubatch, 256))
        mask_cells += swa_cells
    mask = mask_cells * ub * (2 if flash_attn else f32)
    out = ub * f32 * (a.vocab_size + 2 * h)
    if a.is_mla:
        q_width = a.num_attention_heads * ((a.qk_nope_head_dim or 0) + (a.qk_rope_head_dim or 0))
        kv_width = (a.kv_lora_rank or 0) + (a.qk_rope_head_dim or 0)
    else:
        q_width = a.num_attention_heads * hd
        kv_width = 2 * a.num_key_value_heads * hd
    attn = mask + ub * f32 * (4 * h + q_width + kv_width)
    if not flash_attn:
        attn += n_kv * ub * a.num_attention_heads * f32
    if a.is_moe:
        width = (a.moe_intermediate_size or a.intermediate_size) * (a.num_experts_per_tok or 1)
        ffn = mask + ub * f32 * (3 * width + (a.num_experts_per_tok or 1) * h + 2 * h)
    else:
        ffn = mask + ub * f32 * (3 * a.intermediate_size + 4 * h)
    return max(out, attn, ffn)


def _llama_cpp_compute_reserved(
    a: Architecture, context: int, sequences: int, kv_type: str = "f16"
) -> int:
    """VRAM the CUDA/Metal backend reserves for one ubatch's graph (flash attention off)."""
    return llama_cpp_compute_buffer(a, context, sequences, kv_type=kv_type)


def _llama_cpp_compute_touched(
    a: Architecture, filled: int, context: int, kv_type: str = "f16", swa_full: bool = True
) -> int:
    """Compute-buffer pages a CPU run actually touches with ``filled`` tokens in context.

    Replayed graphs (:func:`llmatlas.sizing.llama_graph.touched`): the highest address the
    run's own graphs reach (cells in use, one row of logits), plus the CPU backend's work
    buffer those graphs write (the scores converted to f16 for the V product); otherwise a
    closed form."""
    from llmatlas.sizing import llama_graph

    s = llama_graph.Settings(context, N_UBATCH, False, kv_type.lower(), swa_full)
    if llama_graph.supported(a, s):
        filled = max(1, filled)
        return llama_graph.touched(a, s, filled) + llama_graph.work_touched(a, s, filled)
    n_tok = min(N_UBATCH, filled)
    n_kv = _pad(filled, 256)
    scores = 2 * n_kv * n_tok * a.num_attention_heads * 4
    mlp = n_tok * (3 * a.intermediate_size + 6 * a.hidden_size) * 4
    return scores + mlp


def estimate_memory(
    a: Architecture,
    fmt: QuantFormat,
    context: int,
    batch: int = 1,
    engine: str = "llama.cpp",
    kv_type: str = "f16",
    gpu_layers: int | None = None,
    vram_bytes: int | None = None,
    filled: int | None = None,
    swa_full: bool = True,
    gpu_memory_utilization: float = 0.9,
    weights: WeightBytes | None = None,
    cpu_repack: bool = True,
    tokenizer: bool = True,
) -> MemoryEstimate:
    """Memory for ``batch`` sequences of ``context`` tokens on ``engine``.

    ``gpu_layers``: layers offloaded to a GPU (llama.cpp ``n_gpu_layers``; ``None``
    = all when ``vram_bytes`` is given, else a CPU-only run).  ``filled``: tokens
    actually in the context (default: full, the worst case a long chat reaches).  ``weights``:
    the exact bytes of a real file's tensors (read from its header) instead of the prediction.
    ``cpu_repack``: whether llama.cpp's CPU backend repacks Q4_0/Q4_K/IQ4_NL weights at load
    (its default on x86 with AVX2 and on ARM; ``False`` where the extra buffer types are off,
    as llmatlas's runtime does on AMX CPUs: ``runtime._llama_log.has_amx``).
    ``tokenizer``: ``False`` for a GGUF without a vocabulary (``tokenizer.ggml.model`` is
    ``none``, as in synthesised test files): llama.cpp then builds no token tables.
    """
    if engine not in ENGINES:
        raise BadInputError.translatable(
            "unknown engine {engine!r}; use one of {engines}",
            engine=engine,
            engines=", ".join(ENGINES),
        )
    if context > a.max_position_embeddings:
        raise BadInputError.translatable(
            "context {ctx} is above the model's maximum of {max} tokens",
            ctx=context,
            max=a.max_position_embeddings,
        )
    if engine == "llama.cpp" and not fmt.is_gguf:
        raise BadInputError(
            f"llama.cpp runs GGUF files; {fmt.name} is for {', '.join(fmt.engines)}"
        )
    if engine != "llama.cpp" and fmt.is_gguf and fmt.name != "F16":
        raise BadInputError.translatable(
            "{format} is a GGUF format; use --engine llama.cpp", format=fmt.name
        )
    if not 0 < gpu_memory_utilization <= 1:
        raise BadInputError("gpu_memory_utilization must be in (0, 1]")
    filled = context * batch if filled is None else min(filled, context * batch)
    w = weights if weights is not None else weight_bytes(a, fmt)
    notes: list[str] = []
    layers = a.num_hidden_layers

    if engine == "llama.cpp":
        from llmatlas.sizing import graph_memo

        kv = kv_cache(a, context, batch, kv_type, engine, swa_full)
        if not llama_cpp_loadable(a):
            notes.append(
                _(
                    "llama.cpp (llama-cpp-python 0.3.36) cannot load {model_type} models: "
                    "these figures are for a file it would not run"
                ).format(model_type=a.model_type)
            )
        elif not graph_memo.supported(
            a, graph_memo.Settings(context, N_UBATCH, False, kv_type.lower(), swa_full, batch)
        ):
            notes.append(
                _(
                    "compute buffer: a closed-form estimate, not llama.cpp's own graph "
                    "replayed ({model_type}); such estimates have been off by tens of percent"
                ).format(model_type=a.model_type)
            )
        if a.sliding_window and not swa_honoured(a, engine, swa_full):
            notes.append(
                _(
                    "sliding-window layers get a full-size KV cache in llama.cpp "
                    "(llama-cpp-python default); the window does not save memory here"
                )
            )
        on_gpu = layers if (gpu_layers is None and vram_bytes) else (gpu_layers or 0)
        on_gpu = max(0, min(on_gpu, layers))
        frac = on_gpu / layers
        vocab_tables = LLAMA_CPP_LOAD_FIXED
        if tokenizer:
            vocab_tables += a.vocab_size * LLAMA_CPP_VOCAB_BYTES_PER_TOKEN
        page_cache = 0
        if on_gpu:
            buffers = _llama_cpp_compute_reserved(a, context, batch, kv_type)
            overhead = CUDA_CONTEXT + LLAMA_CPP_PYTHON_RUNTIME + vocab_tables
            gpu_bytes = round(w.total * frac) + round(kv.bytes * frac) + buffers + CUDA_CONTEXT
            host_bytes = w.total - round(w.total * frac) + kv.bytes - round(kv.bytes * frac)
            host_bytes += LLAMA_CPP_PYTHON_RUNTIME + vocab_tables
        else:
            # x86 AVX2 / ARM builds repack Q4_0/Q4_K/IQ4_NL tensors into an interleaved,
            # anonymous copy ("CPU_REPACK model buffer"); the mapped originals were read to
            # build it and stay in RSS as clean page cache until the kernel needs the memory.
            if cpu_repack:
                page_cache = sum(w.by_type.get(k, 0) for k in REPACKED_TYPES)
            buffers = _llama_cpp_compute_touched(a, filled, context * batch, kv_type, swa_full)
            overhead = LLAMA_CPP_PYTHON_RUNTIME + vocab_tables
            gpu_bytes = 0
            host_bytes = w.total + kv.bytes + buffers + overhead
        return MemoryEstimate(
            engine,
            fmt.name,
            context,
            batch,
            kv_type,
            w.total,
            kv.bytes,
            buffers,
            overhead,
            on_gpu,
            gpu_bytes,
            host_bytes,
            notes,
            reserved_buffers_bytes=llama_cpp_compute_buffer(
                a, context, batch, flash_attn=False, swa_full=swa_full, kv_type=kv_type
            ),
            page_cache_bytes=page_cache,
        )

    kv = kv_cache(a, context, batch, kv_type, engine, swa_full)
    tokens = (
        min(VLLM_MAX_BATCHED_TOKENS, context * batch) if engine == "vllm" else min(context, 8192)
    )
    activations = activation_bytes(a, tokens)
    if engine == "vllm":
        activations += min(VLLM_MAX_NUM_SEQS, batch * 4) * a.vocab_size * 4
        overhead = CUDA_CONTEXT + VLLM_NON_TORCH
        notes.append(
            _(
                "vLLM pre-allocates {share} of each GPU; whatever the weights "
                "and activations leave becomes the paged KV pool"
            ).format(share=f"{gpu_memory_utilization:.0%}")
        )
    else:
        overhead = CUDA_CONTEXT
        notes.append(
            _("transformers grows the KV cache as tokens arrive; figure is at full context")
        )
    total = w.total + kv.bytes + activations + overhead
    return MemoryEstimate(
        engine,
        fmt.name,
        context,
        batch,
        kv_type,
        w.total,
        kv.bytes,
        activations,
        overhead,
        layers,
        total,
        0,
        notes,
    )


def activation_bytes(a: Architecture, tokens: int, tensor_parallel: int = 1) -> int:
    """Peak bf16 activations of one forward pass over ``tokens`` tokens, split over TP ranks."""
    width = 2 * (a.moe_intermediate_size or a.intermediate_size) + 4 * a.hidden_size
    return tokens * width * 2 // tensor_parallel


def vllm_kv_pool(
    a: Architecture,
    fmt: QuantFormat,
    vram_bytes: int,
    tensor_parallel: int = 1,
    gpu_memory_utilization: float = 0.9,
    kv_type: str = "bf16",
    pipeline_parallel: int = 1,
) -> tuple[int, int]:
    """(KV pool bytes per GPU, tokens the pool holds) for vLLM with TP x PP GPUs.

    With pipeline stages each GPU holds ``1/pp`` of the layers' weights and of each token's KV.
    """
    w = weight_bytes(a, fmt).total / (tensor_parallel * pipeline_parallel)
    activations = activation_bytes(a, VLLM_MAX_BATCHED_TOKENS, tensor_parallel)
    activations += VLLM_MAX_NUM_SEQS * a.vocab_size * 4
    pool = vram_bytes * gpu_memory_utilization - w - activations - VLLM_NON_TORCH - CUDA_CONTEXT
    # what each more token of context costs (fixed per-sequence parts, e.g. cross-attention, aside)
    per_token = kv_cache(a, 2, 1, kv_type, "vllm").bytes - kv_cache(a, 1, 1, kv_type, "vllm").bytes
    if not a.is_mla:
        kv_heads_per_gpu = max(a.num_key_value_heads // tensor_parallel, 1)
        per_token = per_token * kv_heads_per_gpu // a.num_key_value_heads
    per_token = max(1, -(-per_token // pipeline_parallel))
    pool = max(0, int(pool))
    return pool, pool // per_token


# -- several devices: llama.cpp's layer split ---------------------------------------------

LLAMA_CPP_INPUT_TENSORS: tuple[str, ...] = (
    "token_embd",
    "position_embd",
    "pos_embd",
    "token_types",
    "per_layer_token_embd",
)
"""Tensors of llama.cpp's input layer (``LLM_TENSOR_LAYER_INPUT``): always on the CPU."""


def _f32(x: float) -> float:
    """``x`` rounded to the nearest float32, as C++ stores a ``float``.  A sum or quotient of
    two float32 values computed in double and then rounded equals the float32 operation
    (53 >= 2 x 24 + 2 bits), so this gives llama.cpp's split points without numpy."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def llama_cpp_layer_split(
    n_layer: int,
    n_devices: int,
    tensor_split: list[float] | None = None,
    free_bytes: list[int] | None = None,
    n_gpu_layers: int | None = None,
) -> tuple[list[int], int]:
    """(device of each repeating layer, device of the output layer), as
    ``llama_model_base::load_tensors`` assigns them in ``--split-mode layer``.

    The split points are the running sums of ``--tensor-split`` (default: each device's free
    memory) normalised to 1, in float32 as llama.cpp computes them.  Layer ``il`` (the output
    layer is number ``n_layer``) goes to the first device whose point is above
    ``(il - i_gpu_start) / act_gpu_layers`` (``std::upper_bound``), where
    ``i_gpu_start = max(n_layer + 1 - ngl, 0)`` and ``act_gpu_layers = min(ngl, n_layer + 1)``;
    layers before ``i_gpu_start`` stay on the CPU, numbered ``n_devices`` here.  Equal splits
    give the first devices one layer more (the output counts as a layer of the last)."""
    if n_devices < 1:
        raise BadInputError("a layer split needs at least one device")
    ngl = n_layer + 1 if n_gpu_layers is None else max(0, n_gpu_layers)
    given = tensor_split if tensor_split and any(x != 0 for x in tensor_split) else None
    if given is not None:
        if len(given) > n_devices or any(x < 0 for x in given):
            raise BadInputError(
                f"--tensor-split takes up to {n_devices} non-negative proportions, one a device"
            )
        raw = list(given) + [0.0] * (n_devices - len(given))
    elif free_bytes is not None:
        raw = [float(x) for x in free_bytes]
    else:
        raw = [1.0] * n_devices
    points = []
    acc = 0.0
    for x in raw:
        acc = _f32(acc + _f32(x))
        points.append(acc)
    points = [_f32(p / acc) for p in points]
    i_gpu_start = max(n_layer + 1 - ngl, 0)
    act = min(ngl, n_layer + 1)

    def device(il: int) -> int:
        if il < i_gpu_start or il - i_gpu_start >= act:
            return n_devices
        x = _f32(_f32(il - i_gpu_start) / _f32(act))
        return next((d for d, p in enumerate(points) if p > x), n_devices - 1)

    return [device(il) for il in range(n_layer)], device(n_layer)


@functools.lru_cache(maxsize=1024)
def _split(
    n_layer: int,
    n_devices: int,
    tensor_split: tuple[float, ...] | None,
    free_bytes: tuple[int, ...] | None,
) -> tuple[list[int], int]:
    return llama_cpp_layer_split(
        n_layer,
        n_devices,
        list(tensor_split) if tensor_split else None,
        list(free_bytes) if free_bytes else None,
    )


@dataclass(frozen=True)
class DeviceMemory:
    """One device's share of a llama.cpp run split by layers (the host is the last row)."""

    device: int  # 0.. in --tensor-split order; the host (CPU) is numbered after the GPUs
    layers: int  # repeating layers it holds
    output: bool  # holds the output head
    weights_bytes: int  # its model buffer
    kv_cache_bytes: int
    compute_bytes: int  # its compute buffer (graph splits it runs, input copies)

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes


def _layer_of(name: str) -> int | None:
    if name.startswith("blk."):
        return int(name.split(".")[1])
    return None


def _predicted_tensors(
    a: Architecture, fmt: QuantFormat
) -> tuple[tuple[str, int | None, int], ...]:
    """(name, layer, bytes) of the tensors llama.cpp loads, a layer's tensors as one entry
    (:func:`llmatlas.sizing.quant.weights_by_layer`)."""
    from llmatlas.sizing.quant import weights_by_layer

    return weights_by_layer(a, fmt)


def _layer_kv_bytes(
    a: Architecture, context: int, batch: int, kv_type: str, swa_full: bool
) -> list[int]:
    """KV cache (or recurrent state) bytes of each layer, as llama.cpp allocates them; an
    even share of :func:`kv_cache` for shapes this does not lay out layer by layer."""
    from llmatlas.sizing.graph_memo import attention_layers, swa_layers

    n = a.num_hidden_layers
    kv = kv_cache(a, context, batch, kv_type, "llama.cpp", swa_full)
    simple = not (
        a.kv_shared_layers
        or a.global_head_dim
        or a.num_global_key_value_heads
        or a.cross_attention_layers
        or (a.num_attention_layers is not None and a.recurrent_kind != "mamba2")
    )
    if not simple:
        return [kv.bytes * (i + 1) // n - kv.bytes * i // n for i in range(n)]
    per_elt = kv_bytes_per_element(kv_type)
    elts = kv_elements_per_token_per_layer(a, "llama.cpp")
    total = context * batch
    total = _pad(total, 256) if total > 256 else total
    attn = attention_layers(a)
    window = swa_layers(a) if swa_honoured(a, "llama.cpp", swa_full) else set()
    state = recurrent_state_bytes_per_layer(a) * batch
    out = []
    for il in range(n):
        if il not in attn:
            out.append(state)
        else:
            cells = kv.window_cells if il in window else total
            out.append(round(elts * cells * per_elt))
    return out


def llama_cpp_devices(
    a: Architecture,
    fmt: QuantFormat,
    context: int,
    n_devices: int,
    tensor_split: list[float] | None = None,
    batch: int = 1,
    kv_type: str = "f16",
    swa_full: bool = True,
    flash_attn: bool = False,
    free_bytes: list[int] | None = None,
    weight_tensors: list[tuple[str, int]] | None = None,
) -> list[DeviceMemory]:
    """Each device's model buffer, KV cache and compute buffer when llama.cpp offloads every
    layer (``-ngl`` all) to ``n_devices`` devices in ``--split-mode layer``; the host last.

    * Layers go to devices by :func:`llama_cpp_layer_split`; a layer's weights and its KV
      cache live on its device.  The token embeddings stay on the CPU (the input layer);
      the output norm and head go with the output layer (the last device), and a model with
      tied embeddings gets a copy of the embedding matrix there.
    * Compute buffers: the graph llama.cpp reserves (:mod:`llmatlas.sizing.llama_graph`)
      scheduled over the devices as ``ggml_backend_sched`` does
      (:mod:`llmatlas.sizing.ggml_sched`): each device runs the nodes of its layers, holds
      copies of the inputs it reads from other devices, and with more than one device the
      scheduler's pipeline parallelism keeps 4 copies of every input.  Architectures
      without a replayed graph get the one-device buffer on every device (an upper bound)
      and a host share of the inputs only.

    ``weight_tensors``: a real file's (GGUF name, bytes) per tensor, else the prediction.
    """
    from llmatlas.sizing import graph_memo

    dev_layer, dev_out = _split(
        a.num_hidden_layers,
        n_devices,
        tuple(tensor_split) if tensor_split else None,
        tuple(free_bytes) if free_bytes else None,
    )
    host = n_devices
    weights = [0] * (n_devices + 1)
    if weight_tensors is not None:
        named = [
            (n.removesuffix(".weight").removesuffix(".bias"), _layer_of(n), b)
            for n, b in weight_tensors
        ]
        tied = not any(n == "output.weight" for n, _ in weight_tensors)
    else:
        named = list(_predicted_tensors(a, fmt))
        tied = bool(a.tie_word_embeddings)
    for name, layer, nbytes in named:
        if layer is not None and layer < len(dev_layer):
            weights[dev_layer[layer]] += nbytes
        elif name == "extra":
            # vision/audio towers: llama.cpp loads the projector file (mtmd's clip) on the
            # first GPU (ggml_backend_init_by_type(GPU))
            weights[0] += nbytes
        elif name in LLAMA_CPP_INPUT_TENSORS:
            weights[host] += nbytes
            if name == "token_embd" and tied:  # TENSOR_DUPLICATED as the output head
                weights[dev_out] += nbytes
        else:
            weights[dev_out] += nbytes
    kv = [0] * (n_devices + 1)
    for il, b in enumerate(_layer_kv_bytes(a, context, batch, kv_type, swa_full)):
        kv[dev_layer[il]] += b
    settings = graph_memo.Settings(context, N_UBATCH, flash_attn, kv_type.lower(), swa_full, batch)
    compute: list[int]
    if graph_memo.supported(a, settings):
        compute = list(graph_memo.device_compute(a, settings, tuple(dev_layer), dev_out, n_devices))
    else:
        one = llama_cpp_compute_buffer(a, context, batch, flash_attn, N_UBATCH, swa_full, kv_type)
        used = set(dev_layer) | {dev_out}
        compute = [one if d in used else 0 for d in range(n_devices)]
        n_tok = min(N_UBATCH, context * batch)
        compute.append(n_tok * a.hidden_size * 4)  # the embeddings' rows, on the host
    return [
        DeviceMemory(
            d,
            sum(1 for x in dev_layer if x == d),
            dev_out == d,
            weights[d],
            kv[d],
            compute[d],
        )
        for d in range(n_devices + 1)
    ]
