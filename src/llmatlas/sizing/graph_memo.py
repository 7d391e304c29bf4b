"""What a llama.cpp compute-buffer replay is keyed by, and the replays remembered.

Split from :mod:`llmatlas.sizing.llama_graph` so that a command whose buffers are already
known (read back from the previous run's copy) never imports the graph builder and the
allocator model: the settings of a replay, the model types it covers, ggml's tensor types
and the memo itself live here; the replay is imported on a miss.
"""

from __future__ import annotations

from llmatlas._record import Value, value
from llmatlas.catalog._schema import Architecture

# ggml types: (block size in elements, bytes per block)
TYPES: dict[str, tuple[int, int]] = {
    "f32": (1, 4),
    "f16": (1, 2),
    "bf16": (1, 2),
    "i32": (1, 4),
    "i64": (1, 8),
    "q8_0": (32, 34),
    "q4_0": (32, 18),
    "q4_1": (32, 20),
    "q5_0": (32, 22),
    "q5_1": (32, 24),
}


@value
class Settings(Value):
    n_ctx: int
    n_ubatch: int = 512
    flash_attn: bool = False
    kv_type: str = "f16"
    swa_full: bool = True
    n_seq: int = 1
    """Parallel sequences sharing one unified KV cache of ``n_ctx * n_seq`` cells (llmatlas's
    server and llama-server's default slots); recurrent layers keep one state per sequence."""
    n_tokens: int | None = None
    """Tokens in this ubatch (default: a full ubatch, what llama.cpp reserves for)."""
    n_outputs: int | None = None
    """Rows of logits computed (default: every token, the reserve's worst case)."""
    used: int | None = None
    """Cells holding tokens (default: the whole cache, as at reserve time); at run time the
    attention spans ``max(256, pad256(used))`` cells of the cache."""


GRAPHED = (
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen3",
    "qwen3_moe",
    "gemma",
    "gemma2",
    "gemma3",
    "gemma3_text",
    "phi3",
    "olmo2",
    "gpt_oss",
    "deepseek_v2",
    "deepseek_v3",
    "gpt_neox",
    "falcon",
    "bloom",
    "granitemoehybrid",
    "qwen2_moe",
    "internlm2",
    "mistral3",
    "kimi_k2",
    "qwen",
    "mpt",
    "gpt2",
    "phi",
    "stablelm",
    "olmo3",
    "chatglm",
    "glm4_moe",
    "qwen3_next",
    "qwen3_5",
    "qwen3_5_moe",
    "gemma4",
    "smollm3",
    "seed_oss",
    "olmo",
    "llama4_text",
    "minimax_m2",
    "phimoe",
    "ernie4_5_moe",
    "hunyuan",
    "nemotron_h",
    "grok-1",
    "minimax_m1",
    "gemma3n_text",
)
"""Model types whose graph :mod:`llmatlas.sizing.llama_graph` builds as llama.cpp does (checked, run by run, against
llama.cpp's own dry run in ``bench/sizing_conformance.py``)."""


# Where the layers of each kind sit: the catalog keeps counts, the graph and the per-card
# split need positions (placed here so the sizing path reads them without the graph builder).


def attention_layers(a: Architecture) -> set[int]:
    """Which layers attend (the rest are recurrent).  The catalog keeps the count, not the
    positions; they are spread evenly, the last layer of each group attending (Granite 4.0-H
    stacks nine Mamba-2 blocks then one attention block).  Positions change neither the KV
    cache nor the recurrent state, only the order of the graph."""
    n = a.num_hidden_layers
    if a.num_attention_layers is None:
        return set(range(n))
    k = max(1, a.num_attention_layers)
    step = n // k
    return {step * (j + 1) - 1 for j in range(k)}


def ffn_only_layers(a: Architecture) -> set[int]:
    """Nemotron-H's FFN-only layers (an MLP or an MoE block, no mixer): among the layers that
    do not attend, spread evenly, as the catalog keeps only their count (the real pattern
    alternates Mamba-2 and FFN layers).  Empty for other hybrids."""
    if not a.ffn_only_layers:
        return set()
    rest = sorted(set(range(a.num_hidden_layers)) - attention_layers(a))
    k = min(a.ffn_only_layers, len(rest))
    return {rest[(2 * j + 1) * len(rest) // (2 * k)] for j in range(k)}


def swa_layers(a: Architecture) -> set[int]:
    """Which layers use the sliding window: all but every ``period``-th, as llama.cpp's
    ``set_swa_pattern`` lays them out (Gemma 2: 2, Gemma 3: 6, OLMo 3: 4).  The period is
    the layers per full-attention layer rounded down: Gemma 3 4B's 34 layers with 29 sliding
    give 6 (layers 5, 11, 17, 23, 29 attend fully), where rounding to nearest gave 7 and
    only 4 full layers."""
    n = a.num_hidden_layers
    n_swa = min(a.sliding_window_layers or n, n)
    if n_swa >= n:
        return set(range(n))
    period = n // max(1, n - n_swa)
    return {i for i in range(n) if (i + 1) % period != 0}


def supported(a: Architecture, s: Settings) -> bool:
    return (
        a.model_type in GRAPHED
        and not (a.model_type == "chatglm" and a.norm != "rmsnorm")  # ChatGLM-6B (v1): no
        and s.kv_type in TYPES
        and (a.num_attention_layers is None or a.recurrent_kind != "rglru")
    )


def compute_buffer(a: Architecture, s: Settings) -> int:
    """Bytes of the compute buffer llama.cpp's CPU backend reserves under ``s``.

    Remembered in :data:`KNOWN`; only :func:`llama_graph.replayed_layers` are replayed; the result equals a full replay for every
    architecture in the catalog (``tests/test_sizing_conformance.py`` checks a sample).
    """
    found = KNOWN.get((a, s))
    if found is None:
        if len(KNOWN) >= 4096:  # a long-running server asked about many contexts
            KNOWN.clear()
        from llmatlas.sizing.llama_graph import replay  # the replay itself: only on a miss

        found = KNOWN[a, s] = replay(a, s)
    return found


KNOWN: dict[tuple[Architecture, Settings], int] = {}
"""Buffers replayed so far, by (architecture, settings): one replay takes about 10 ms and
``fit`` asks for one per architecture in the catalog.  The command line keeps a copy between
runs (:func:`llmatlas._snapshot.remembered`); this module itself does no I/O."""
SOURCES = (
    "sizing/graph_memo.py",
    "sizing/llama_graph.py",
    "sizing/ggml_alloc.py",
    "sizing/ggml_sched.py",
    "catalog/_schema.py",
)
"""The code a replay's result depends on (a saved copy is keyed by its bytes)."""


def work_buffer(a: Architecture, s: Settings) -> int:
    """Bytes of the CPU backend's work buffer the graph of ``s`` writes
    (:func:`llmatlas.sizing.ggml_alloc.work_size`), remembered in :data:`WORK` as buffers are."""
    found = WORK.get((a, s))
    if found is None:
        if len(WORK) >= 4096:
            WORK.clear()
        from llmatlas.sizing.llama_graph import replay_work  # only on a miss

        found = WORK[a, s] = replay_work(a, s)
    return found


WORK: dict[tuple[Architecture, Settings], int] = {}
"""Work buffers computed so far (``fit`` on a CPU asks for hundreds); saved between runs like
:data:`KNOWN`."""


def device_compute(
    a: Architecture, s: Settings, dev_layer: tuple[int, ...], dev_out: int, n_devices: int
) -> tuple[int, ...]:
    """Compute buffer of each device (the host last) of a layer split
    (:func:`llmatlas.sizing.llama_graph.device_buffers`), remembered in :data:`DEVICES`."""
    key = (a, s, dev_layer, dev_out, n_devices)
    found = DEVICES.get(key)
    if found is None:
        if len(DEVICES) >= 4096:
            DEVICES.clear()
        from llmatlas.sizing.llama_graph import device_buffers  # only on a miss

        found = DEVICES[key] = tuple(device_buffers(a, s, list(dev_layer), dev_out, n_devices))
    return found


DEVICES: dict[tuple[Architecture, Settings, tuple[int, ...], int, int], tuple[int, ...]] = {}
"""Per-device buffers replayed so far (a whole-model replay, ~30 ms): saved between runs like
:data:`KNOWN`."""
