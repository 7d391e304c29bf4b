"""A fast subset of bench/sizing_conformance.py: llmatlas against llama.cpp's own dry run,
plus the allocator model's rules on small graphs."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmatlas.artifacts import from_gguf
from llmatlas.artifacts.dryrun import RunSettings, dry_run
from llmatlas.artifacts.synth import synth_gguf
from llmatlas.catalog import Catalog
from llmatlas.sizing.ggml_alloc import ALIGNMENT, Graph, reserve, work_size
from llmatlas.sizing.memory import estimate_memory, kv_cache, llama_cpp_compute_buffer
from llmatlas.sizing.quant import get_format

# each case includes a setting the closed form missed by 3-16% before the graph was replayed
CASES = [
    # Llama 3: q8_0 KV adds Hadamard rotations of Q, K, V and the attention output
    ("llama-3-8b", "Q4_1", [RunSettings(8192), RunSettings(8192, "q8_0", flash_attn=True)]),
    # Phi-3: fused QKV and gate/up tensors, residual added first; flash attention
    ("phi-3-mini-4k-instruct", "Q4_K_M", [RunSettings(2048, flash_attn=True)]),
    # Gemma 3: two masks (full and window), windows trimmed or not
    (
        "gemma-3-4b-it",
        "Q8_0",
        [
            RunSettings(32768, flash_attn=True),
            RunSettings(8192, flash_attn=True, swa_full=False),
            RunSettings(4 * 4096, n_seq=4, kv_unified=True),
        ],
    ),
    # DeepSeek-V3: MLA (absorbed queries, one latent KV head), sigmoid-routed MoE
    ("deepseek-v3", "Q4_K_M", [RunSettings(2048), RunSettings(4096, flash_attn=True)]),
    # Falcon-40B: parallel attention/FFN, a LayerNorm per branch (the closed form said +62%)
    ("falcon-40b", "Q4_K_M", [RunSettings(2048, flash_attn=True)]),
    # Granite 4.0-H: Mamba-2 layers keep a fixed recurrent state, 4 attention layers a KV cache
    (
        "granite-4.0-h-micro",
        "Q4_K_M",
        [RunSettings(4096), RunSettings(32768, "q8_0", flash_attn=True)],
    ),
    # Qwen (1st generation): one biased QKV projection, Q/K/V views of it; halved FFN width
    # and the server's slots: 3 sequences over one unified cache (the ubatch rounds to 513)
    (
        "qwen-1.8b",
        "Q4_K_M",
        [RunSettings(4096), RunSettings(3 * 2048, n_seq=3, kv_unified=True, flash_attn=True)],
    ),
    # MPT: ALiBi (no rope), LayerNorm without bias, plain GELU FFN
    ("mpt-7b", "Q4_K_M", [RunSettings(2048, flash_attn=True)]),
    # GPT-2: learned positions added to the input, every layer biased
    ("gpt2", "Q8_0", [RunSettings(1024)]),
    # Phi-2: attention and FFN in parallel from one LayerNorm, Q scaled, biased logits
    ("phi-2", "Q4_K_M", [RunSettings(2048)]),
    # OLMo 3: OLMo 2's post-norms with sliding windows on 3 layers in 4
    ("olmo-3-1025-7b", "Q4_K_M", [RunSettings(16384, flash_attn=True, swa_full=False)]),
    # ChatGLM3 / GLM-4 9B: biased fused QKV, gate and up in one tensor (SWIGLU)
    ("chatglm3-6b", "Q4_K_M", [RunSettings(8192)]),
    # GLM-4.5-Air: sigmoid-routed MoE with exp_probs_b and a shared expert, a leading dense layer
    ("glm-4.5-air", "Q4_K_M", [RunSettings(2048, flash_attn=True)]),
    # Granite 4.0-H Small: Mamba-2 hybrid with MoE and a shared expert; 4 slots, a state each
    ("granite-4.0-h-small", "Q4_K_M", [RunSettings(4 * 2048, n_seq=4, kv_unified=True)]),
    # Qwen3-Next: gated delta-net layers (key heads repeated to the value heads), gated
    # attention, MoE with a sigmoid-gated shared expert; outputs gathered after the last layer
    (
        "qwen3-next-80b-a3b-instruct",
        "Q4_K_M",
        [RunSettings(4096), RunSettings(2 * 2048, n_seq=2, kv_unified=True, flash_attn=True)],
    ),
    # Qwen3.5 (dense): separate beta/alpha projections, M-RoPE sections
    ("qwen3.5-9b", "Q4_K_M", [RunSettings(8192, "q8_0", flash_attn=True)]),
    # Gemma 4: global layers with their own head width and KV heads (K doubling as V); without
    # flash attention every layer's V cache takes the widest layer's width; the Hadamard
    # matrices of a quantized cache are inputs in the compute buffer, one set per cache
    (
        "gemma-4-26b-a4b",
        "Q4_K_M",
        [RunSettings(4096), RunSettings(16384, "q8_0", flash_attn=True, swa_full=False)],
    ),
    # Llama 4 Maverick: chunked-window and NoPE layers (attention temperature), sigmoid MoE
    # weighting the input before the experts, on every 2nd layer, with a shared expert
    ("llama-4-maverick-17b-128e-instruct", "Q4_K_M", [RunSettings(32768, flash_attn=True)]),
    # Nemotron 3 Nano: Mamba-2, attention-only and MoE-only layers (gate-less squared-ReLU
    # experts, sigmoid routing, shared expert); 2 slots
    (
        "nemotron-3-nano-30b-a3b",
        "Q4_K_M",
        [RunSettings(8192), RunSettings(2 * 4096, n_seq=2, kv_unified=True, flash_attn=True)],
    ),
    # Gemma 3n: AltUp streams, per-layer inputs, LAuReL, sparse FFNs, layers from the 20th on
    # reading earlier layers' caches (every layer replayed)
    ("gemma-3n-e2b", "Q4_K_M", [RunSettings(32768, flash_attn=True)]),
]


@pytest.mark.parametrize("mid,quant,runs", CASES, ids=[c[0] for c in CASES])
def test_components_match_llama_cpp_dry_run(
    catalog: Catalog, tmp_path: Path, mid: str, quant: str, runs: list[RunSettings]
) -> None:
    a0 = catalog.get(mid).architecture
    assert a0 is not None
    path = synth_gguf(a0, get_format(quant, "llama.cpp"), tmp_path / "m.gguf")[0]
    assert path.stat().st_blocks * 512 < 50 * 2**20  # sparse: the weights take no disk
    art = from_gguf(path, catalog)
    a = art.architecture
    assert a is not None and art.weights is not None and art.quant == quant
    for r in dry_run(path, runs, timeout=300):
        s = r.settings
        assert r.error is None, r.log_tail
        assert art.weights.total == r.model_bytes
        per = s.n_ctx // s.n_seq
        kv = kv_cache(a, per, s.n_seq, s.kv_type, "llama.cpp", s.swa_full, bool(s.flash_attn))
        assert kv.bytes - kv.state_bytes == pytest.approx(r.kv_bytes, rel=0.001), s
        # llama.cpp logs the recurrent state in MiB with two decimals (a tie like 75.375
        # printed as 75.38)
        assert f"{kv.state_bytes / 2**20:.2f}" == f"{r.recurrent_bytes / 2**20:.2f}", s
        if a.num_attention_layers is not None:
            assert r.recurrent_bytes > 0
        comp = llama_cpp_compute_buffer(
            a, per, s.n_seq, bool(s.flash_attn), 512, s.swa_full, s.kv_type
        )
        assert comp == pytest.approx(r.compute_total, rel=0.001), s


def _pad(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


def test_allocator_peak_is_the_highest_address_not_the_live_set() -> None:
    """A freed hole too small for the next tensor is skipped: the buffer grows past it."""
    g = Graph()
    x = g.input("f32", 1024)
    a = g.op("cont", "f32", (1024,), x)  # 4 KiB
    b = g.op("cont", "f32", (2048,), a)  # 8 KiB; a is freed after this
    c = g.op("cont", "f32", (4096,), b)  # 16 KiB: does not fit a's 4 KiB hole
    g.expand(c)
    live_max = max(4096 + 4096 + 8192, 4096 + 8192 + 16384)
    assert reserve(g) == _pad(4096) + _pad(4096) + _pad(8192) + _pad(16384) > live_max


def test_allocator_reuses_an_input_in_place_and_keeps_outputs() -> None:
    g = Graph()
    x = g.input("f32", 256, 4)
    a = g.op("cont", "f32", x.ne, x)
    b = g.same("rms_norm", a)  # in place: a has no other reader
    c = g.same("mul", b, g.weight(256, type_="f32"))  # in place again
    g.expand(c)
    assert reserve(g) == 2 * 4096
    # an output is never written over: the next op needs its own memory
    for output, peak in ((False, 2 * 4096), (True, 3 * 4096)):
        g2 = Graph()
        x2 = g2.input("f32", 256, 4)
        a2 = g2.op("cont", "f32", x2.ne, x2)
        a2.output = output
        b2 = g2.same("rms_norm", a2)
        g2.expand(g2.same("add", b2, x2))  # x2 stays alive until here
        assert reserve(g2) == peak


def test_work_buffer_is_the_largest_conversion_to_the_weights_vec_dot_type() -> None:
    """ggml_graph_plan: f32 scores times an f16 V become an f16 copy (2 bytes a value); a
    Q8_0 weight converts its input to Q8_0 (34 bytes per 32); f32 x f32 converts nothing."""
    g = Graph()
    scores = g.input("f32", 1024, 100, 4)
    v = g.weight(64, 1024, 4, type_="f16")  # a transposed V view: n_kv along ne[0]
    x = g.input("f32", 512, 100)
    q8 = g.mul_mat(g.weight(512, 2048, type_="q8_0"), x)
    g.expand(g.mul_mat(v, scores))
    g.expand(g.mul_mat(g.weight(2048, 8, type_="f32"), q8))
    assert work_size(g) == 2 * 1024 * 100 * 4
    g2 = Graph()
    g2.expand(g2.mul_mat(g2.weight(512, 2048, type_="q8_0"), g2.input("f32", 512, 100)))
    assert work_size(g2) == -(-512 // 32 * 34 * 100 // 64) * 64


def test_cpu_run_counts_the_work_buffer_and_repacked_pages_only_where_repacked(
    catalog: Catalog,
) -> None:
    from llmatlas.sizing import llama_graph as lg

    a = catalog.get("gemma-3-270m").architecture
    assert a is not None
    fmt = get_format("Q4_K_M")
    on = estimate_memory(a, fmt, 32768, filled=8008)
    off = estimate_memory(a, fmt, 32768, filled=8008, cpu_repack=False)
    assert on.page_cache_bytes > 0 and off.page_cache_bytes == 0
    assert on.total_bytes == off.total_bytes
    # a file without a vocabulary (synthesised test files): no token tables
    bare = estimate_memory(a, fmt, 32768, filled=8008, cpu_repack=False, tokenizer=False)
    assert off.overhead_bytes - bare.overhead_bytes == a.vocab_size * 128
    s = lg.Settings(32768)
    work = lg.work_touched(a, s, 8008)
    # the full ubatch before the last: 512 tokens over 7,680 cells, 4 heads, f16 copy
    assert work == 7680 * 512 * a.num_attention_heads * 2
    assert off.buffers_bytes == lg.touched(a, s, 8008) + work


@pytest.mark.parametrize(
    "mid",
    [
        "llama-3-8b",
        "gemma-2-9b",
        "gemma-3-27b-it",
        "gpt-oss-20b",
        "deepseek-v3",
        "falcon-40b",
        "granite-4.0-h-micro",
        "qwen2-57b-a14b",
        "olmo-3-1025-7b",
        "glm-4.5-air",
        "phi-2",
        "qwen3-next-80b-a3b-instruct",
        "gemma-4-31b",
        "llama-4-maverick-17b-128e-instruct",
    ],
)
def test_replaying_a_few_layers_gives_the_full_replays_peak(catalog: Catalog, mid: str) -> None:
    from llmatlas.sizing import llama_graph as lg

    a = catalog.get(mid).architecture
    assert a is not None
    for s in (
        lg.Settings(4096),
        lg.Settings(32768, flash_attn=True, kv_type="q8_0"),
        lg.Settings(8192, flash_attn=True, swa_full=False),
        lg.Settings(8192, n_tokens=100, n_outputs=1, used=3000),
    ):
        few = lg._Builder(a, s, lg.replayed_layers(a))
        assert len(few.layers or []) < a.num_hidden_layers
        assert reserve(few.build()) == reserve(lg._Builder(a, s).build()), s


def test_estimate_says_when_llama_cpp_cannot_load_or_the_graph_is_not_replayed(
    catalog: Catalog,
) -> None:
    """No silent closed form: llama.cpp 0.3.36 has no OPT and no first ChatGLM; a replayed
    architecture carries neither note."""
    fmt = get_format("Q4_K_M", "llama.cpp")

    def notes(mid: str, batch: int = 1) -> str:
        a = catalog.get(mid).architecture
        assert a is not None
        return " ".join(estimate_memory(a, fmt, 2048, batch).notes)

    assert "cannot load opt models" in notes("opt-1.3b")
    assert "cannot load chatglm models" in notes("chatglm-6b")
    assert "cannot load" not in notes("chatglm3-6b")
    for mid in ("chatglm3-6b", "glm-4.5-air", "qwen-7b", "llama-3-8b"):
        assert "closed-form" not in notes(mid, batch=4), mid
    assert "closed-form estimate" in notes("deepseek-v3.2")
    assert "closed-form" not in notes("gemma-3n-e4b", batch=4)


def test_minimax_m1_slots_allocate_the_one_sequence_reserve(
    catalog: Catalog, tmp_path: Path
) -> None:
    """MiniMax-01: llama.cpp reserves the worst-case graph with every sequence, then again with
    one (its diagonal decay grows with the tokens per sequence squared); a real context keeps
    the larger buffer (a dry run logs the first).  Allocated for real on a small MiniMax-M1
    shape (8 layers, one softmax layer, 4 experts)."""
    a0 = catalog.get("minimax-m1-40k").architecture
    assert a0 is not None
    small = a0.model_copy(
        update=dict(
            num_hidden_layers=8,
            hidden_size=512,
            num_attention_heads=8,
            num_key_value_heads=8,
            head_dim=64,
            intermediate_size=256,
            vocab_size=1024,
            num_experts=4,
            num_experts_per_tok=2,
            num_attention_layers=1,
            max_position_embeddings=8192,
        )
    )
    path = synth_gguf(small, get_format("Q8_0", "llama.cpp"), tmp_path / "m1.gguf")[0]
    a = from_gguf(path, catalog).architecture
    assert a is not None
    runs = [
        RunSettings(4 * 2048, n_seq=4, kv_unified=True, flash_attn=fa, allocate=True)
        for fa in (False, True)
    ]
    for r in dry_run(path, runs, timeout=120):
        s = r.settings
        assert r.error is None, r.log_tail
        comp = llama_cpp_compute_buffer(a, 2048, 4, bool(s.flash_attn), 512, True, "f16")
        assert abs(comp - r.compute_total) <= 2**20 // 200, s
