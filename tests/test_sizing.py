"""Sizing: exact figures computed by hand, and predictions checked against real files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from llmatlas.catalog import Catalog
from llmatlas.errors import BadInputError
from llmatlas.sizing import (
    GiB,
    estimate_finetune,
    estimate_memory,
    get_format,
    gguf_file_bytes,
    kv_cache,
    param_count,
    plan_for,
    smallest_plan,
    weight_bytes,
)
from llmatlas.sizing.params import Tensor, tensors
from llmatlas.sizing.quant import gguf_tensor_type


def arch(catalog: Catalog, mid: str):  # type: ignore[no-untyped-def]
    a = catalog.get(mid).architecture
    assert a is not None
    return a


def test_llama2_7b_kv_cache_fp16_4096(catalog: Catalog) -> None:
    # 32 layers x 2 (K,V) x 32 KV heads x 128 dims x 4096 tokens x 2 bytes
    expected = 32 * 2 * 32 * 128 * 4096 * 2
    assert expected == 2 * GiB
    assert kv_cache(arch(catalog, "llama-2-7b"), 4096, engine="vllm").bytes == expected


def test_llama3_8b_gqa_kv_cache_8192(catalog: Catalog) -> None:
    # GQA: 8 KV heads instead of 32 -> a quarter of the MHA figure
    expected = 32 * 2 * 8 * 128 * 8192 * 2
    assert kv_cache(arch(catalog, "llama-3-8b"), 8192, engine="vllm").bytes == expected == GiB


def test_vision_cross_attention_layers_hold_image_tokens(catalog: Catalog) -> None:
    # Llama 3.2 11B Vision: 40 text layers, 8 of them cross-attention over one image's
    # 4 x (40 x 40 + 1) = 6404 vision tokens, whatever the context
    a = arch(catalog, "llama-3.2-11b-vision-instruct")
    per_layer_token = 2 * 8 * 128 * 2
    for ctx, seqs in ((8192, 1), (131072, 2)):
        expected = (32 * ctx + 8 * 6404) * per_layer_token * seqs
        assert kv_cache(a, ctx, seqs, engine="vllm").bytes == expected
    # counting all 40 layers over the context would be 23% too high at 128K
    naive = 40 * 131072 * per_layer_token
    assert naive / kv_cache(a, 131072, engine="vllm").bytes > 1.23


def test_kv_batch_and_quantized_types(catalog: Catalog) -> None:
    a = arch(catalog, "llama-3-8b")
    f16 = kv_cache(a, 4096, 4, "f16", "vllm").bytes
    assert f16 == 32 * 2 * 8 * 128 * 4096 * 4 * 2
    # q8_0 is 34 bytes per 32 elements, not 1 byte
    assert kv_cache(a, 4096, 4, "q8_0", "vllm").bytes == f16 // 2 * 34 // 32
    assert kv_cache(a, 4096, 4, "q4_0", "vllm").bytes == f16 // 2 * 18 // 32
    with pytest.raises(BadInputError):
        kv_cache(a, 4096, 1, "q3")
    with pytest.raises(BadInputError):
        kv_cache(a, -5)


def test_sliding_window_by_engine(catalog: Catalog) -> None:
    a = arch(catalog, "gemma-3-270m")  # 18 layers, 15 with a 512-token window, 1 KV head x 256
    per_layer_token = 2 * 1 * 256 * 2
    # llama-cpp-python allocates full-size SWA caches: every layer at full context
    assert kv_cache(a, 32768, engine="llama.cpp").bytes == 18 * per_layer_token * 32768
    # trimmed: windowed layers hold pad256(512 + 512) = 1024 cells
    trimmed = kv_cache(a, 32768, engine="llama.cpp", swa_full=False).bytes
    assert trimmed == 3 * per_layer_token * 32768 + 15 * per_layer_token * 1024
    # Mistral-7B-v0.1 runs as plain llama in llama.cpp: no window saving
    m = arch(catalog, "mistral-7b-v0.1")
    assert (
        kv_cache(m, 32768, engine="llama.cpp", swa_full=False).bytes == 32 * 2 * 8 * 128 * 32768 * 2
    )


def test_mla_cache_is_latent_not_heads(catalog: Catalog) -> None:
    a = arch(catalog, "deepseek-v3")
    # vLLM: (kv_lora_rank 512 + rope 64) x 61 layers x 2 bytes per token
    assert kv_cache(a, 1, engine="vllm").bytes == 576 * 61 * 2
    naive = 61 * 2 * 128 * 128 * 2  # what a heads-based calculator would say
    assert naive / kv_cache(a, 1, engine="vllm").bytes > 50


def test_recurrent_gemma_state_is_constant(catalog: Catalog) -> None:
    a = arch(catalog, "recurrentgemma-2b")
    short, long_ = kv_cache(a, 2048, engine="vllm"), kv_cache(a, 8192, engine="vllm")
    assert short.state_bytes == long_.state_bytes > 0


def test_moe_memory_uses_total_params(catalog: Catalog) -> None:
    a = arch(catalog, "mixtral-8x7b-v0.1")
    w = weight_bytes(a, get_format("BF16"))
    assert w.total == pytest.approx(param_count(a) * 2, rel=1e-6)
    assert w.active < w.total / 3
    e = estimate_memory(a, get_format("Q4_K_M"), 4096)
    assert e.weights_bytes == weight_bytes(a, get_format("Q4_K_M")).total


# llama.cpp's own table (tools/quantize, GiB) for Llama-3-8B, and Llama-3.1-8B IQ4_XS.
PUBLISHED_LLAMA3_8B_GIB = {
    "F16": 14.96,
    "Q8_0": 7.96,
    "Q6_K": 6.14,
    "Q5_K_M": 5.33,
    "Q5_0": 5.21,
    "Q4_K_M": 4.58,
    "Q4_K_S": 4.37,
    "Q4_0": 4.34,
    "Q3_K_M": 3.74,
    "Q2_K": 2.96,
    "IQ4_XS": 4.17,
}


@pytest.mark.parametrize("quant,gib", PUBLISHED_LLAMA3_8B_GIB.items())
def test_gguf_sizes_match_published(catalog: Catalog, quant: str, gib: float) -> None:
    got = weight_bytes(arch(catalog, "llama-3-8b"), get_format(quant)).total / GiB
    assert got == pytest.approx(gib, rel=0.01)


def test_other_published_gguf_sizes(catalog: Catalog) -> None:
    # Llama-3.1-70B Q4_0: 37.22 GiB (llama.cpp load log); Mistral-7B Q5_K_M: 4.78 GiB
    assert weight_bytes(
        arch(catalog, "llama-3.1-70b"), get_format("Q4_0")
    ).total / GiB == pytest.approx(37.22, rel=0.01)
    assert weight_bytes(
        arch(catalog, "mistral-7b-v0.1"), get_format("Q5_K_M")
    ).total / GiB == pytest.approx(4.78, rel=0.01)


def test_embedded_gguf_types_match_the_real_file(catalog: Catalog, embedded_gguf: Path) -> None:
    """Per-tensor types and bytes of our Q4_K_M model equal the real file's, type by type."""
    from gguf import GGUFReader

    reader = GGUFReader(str(embedded_gguf))
    real = Counter()
    for t in reader.tensors:
        real[t.tensor_type.name] += int(t.n_bytes)
    a = arch(catalog, "gemma-3-270m")
    predicted = weight_bytes(a, get_format("Q4_K_M")).by_type
    assert predicted == dict(real)
    assert gguf_file_bytes(a, get_format("Q4_K_M")) == pytest.approx(
        embedded_gguf.stat().st_size, rel=0.001
    )


def test_quant_mix_rules(catalog: Catalog) -> None:
    a = arch(catalog, "llama-3-8b")
    fmt = get_format("Q4_K_M")
    types = {(t.name, t.layer): gguf_tensor_type(fmt, t, a).name for t in tensors(a)}
    assert types[("output", None)] == "Q6_K"
    assert types[("attn_v", 0)] == "Q6_K" and types[("attn_v", 5)] == "Q4_K"
    assert types[("attn_q", 0)] == "Q4_K"


def test_quant_mix_rules_match_llama_quantize(catalog: Catalog) -> None:
    # Types and tensor totals that llama-quantize --dry-run (llama.cpp of llama-cpp-python
    # 0.3.36) picks for F16 files of these shapes: bench/quant_conformance.py
    def types(mid: str, quant: str) -> dict[tuple[str, int | None], str]:
        a = arch(catalog, mid)
        fmt = get_format(quant, "llama.cpp")
        return {(t.name, t.layer): gguf_tensor_type(fmt, t, a).name for t in tensors(a)}

    # 8 experts (Mixtral): attn_k and attn_v Q8_0, attn_output Q5_K
    mix = types("mixtral-8x7b-v0.1", "Q4_K_M")
    assert (mix[("attn_k", 9)], mix[("attn_v", 9)], mix[("attn_output", 9)]) == (
        "Q8_0",
        "Q8_0",
        "Q5_K",
    )
    assert weight_bytes(arch(catalog, "mixtral-8x7b-v0.1"), get_format("Q4_K_M")).total == (
        28_447_727_616
    )
    # a 70B llama: attn_v at least Q5_K where Q4_K_M would give Q4_K
    big = types("llama-3.1-70b", "Q4_K_M")
    assert (big[("attn_v", 9)], big[("attn_v", 29)]) == ("Q6_K", "Q5_K")
    assert weight_bytes(arch(catalog, "llama-3.1-70b"), get_format("Q4_K_M")).total == (
        42_512_531_456
    )
    # IQ4_XS without an imatrix: ffn_down of the first eighth of the layers Q5_K
    iq4 = types("llama-3-8b", "IQ4_XS")
    assert (iq4[("ffn_down", 3)], iq4[("ffn_down", 4)]) == ("Q5_K", "IQ4_XS")
    # a hybrid counts attention layers, not layers (attention at 9, 19, 29, 39), and reads
    # GQA from layer 0, a Mamba layer (0): Q2_K's attn_v stays Q3_K
    hyb = types("granite-4.0-h-micro", "Q3_K_M")
    assert (hyb[("attn_v", 9)], hyb[("attn_v", 19)], hyb[("attn_v", 29)]) == (
        "Q5_K",
        "Q5_K",
        "Q4_K",
    )
    assert types("granite-4.0-h-micro", "Q2_K")[("attn_v", 39)] == "Q3_K"
    assert weight_bytes(arch(catalog, "granite-4.0-h-micro"), get_format("Q3_K_M")).total == (
        1_551_895_552
    )
    # a delta-net hybrid's linear layers hold an attn_qkv, counted with the attn_v tensors
    nxt = types("qwen3-next-80b-a3b-instruct", "Q4_K_M")
    assert (nxt[("attn_qkv", 6)], nxt[("attn_v", 11)], nxt[("attn_v", 15)]) == (
        "Q4_K",
        "Q6_K",
        "Q4_K",
    )
    assert types("qwen3-next-80b-a3b-instruct", "Q2_K")[("attn_qkv", 0)] == "Q4_K"
    # MiniMax's lightning layers: their output projection is an attn_output
    assert types("minimax-m1-40k", "Q3_K_M")[("lin_attn_output", 0)] == "Q4_K"
    # tensors llama-quantize leaves 16-bit; Gemma 3n (no output head) quantizes its per-layer
    # embeddings as the head; GPT-2 keeps q/k/v fused, InternLM2's converter splits them
    g3n = types("gemma-3n-e4b", "Q4_K_M")
    assert (g3n[("per_layer_token_embd", None)], g3n[("laurel", 0)]) == ("Q6_K", "F16")
    assert types("gpt2-medium", "Q4_K_M")[("position_embd", None)] == "F16"
    assert ("attn_qkv", 0) in types("gpt2-medium", "Q8_0")
    assert ("attn_v", 0) in types("internlm2-7b", "Q8_0")


def test_quant_fallback_when_row_is_not_a_block_multiple(catalog: Catalog) -> None:
    # llama-quant.cpp's tensor_type_fallback: Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0; F16 when
    # the row is not a multiple of 32 either
    a = arch(catalog, "llama-2-7b")
    row = 4000  # 32 x 125, not a multiple of 256
    t = Tensor("attn_q", 5, row * 64, row, "attention")
    got = {q: gguf_tensor_type(get_format(q), t, a).name for q in ("Q2_K", "Q3_K_M", "Q4_K_M")}
    assert got == {"Q2_K": "Q4_0", "Q3_K_M": "Q4_0", "Q4_K_M": "Q5_0"}
    odd = Tensor("attn_q", 5, 4001 * 64, 4001, "attention")
    assert gguf_tensor_type(get_format("Q4_K_M"), odd, a).name == "F16"


def test_bad_quant_name() -> None:
    with pytest.raises(BadInputError, match="unknown quantization"):
        get_format("Q7_Z")
    assert get_format("q4_k_m").name == "Q4_K_M"
    assert get_format("nf4").name == "BNB-NF4"


def test_context_above_max_is_refused(catalog: Catalog) -> None:
    with pytest.raises(BadInputError, match="maximum"):
        estimate_memory(arch(catalog, "llama-2-7b"), get_format("Q4_K_M"), 32768)


def test_tensor_parallel_405b(catalog: Catalog) -> None:
    a = arch(catalog, "llama-3.1-405b")
    h100 = 80 * 10**9
    assert not plan_for(a, get_format("BF16"), 4, 1, h100, 8192).fits  # 405B FP16 on 4xH100: no
    plan = smallest_plan(a, get_format("BF16"), h100, 8192)
    assert plan.fits and plan.tensor_parallel == 8 and plan.pipeline_parallel == 2
    assert smallest_plan(arch(catalog, "llama-3-8b"), get_format("BF16"), h100, 8192).gpus == 1


def test_finetune_memory(catalog: Catalog) -> None:
    a = arch(catalog, "llama-2-7b")
    p = param_count(a)
    full = estimate_finetune(a, "full", 512)
    assert full.weights_bytes + full.optimizer_bytes + full.gradients_bytes == 16 * p
    lora = estimate_finetune(a, "lora", 512, rank=16)
    qlora = estimate_finetune(a, "qlora", 512, rank=16)
    assert lora.trainable_params == qlora.trainable_params < p // 100
    assert qlora.total_bytes < lora.total_bytes < full.total_bytes
    with pytest.raises(BadInputError):
        estimate_finetune(a, "dpo")


def test_int4_expert_checkpoint_is_priced_as_published(catalog: Catalog) -> None:
    """Kimi K2 Thinking ships compressed-tensors INT4 on its routed experts only (groups of 32,
    one BF16 scale each: 4.5 bits); attention, shared experts, the dense layer and the head stay
    BF16.  The sizing prices exactly that, and vLLM sizes the model in it by default."""
    from llmatlas.advisor import Target, estimate
    from llmatlas.hardware import find_device
    from llmatlas.sizing.quant import native_format, resolve_quant

    a = arch(catalog, "kimi-k2-thinking")
    fmt = get_format("INT4-G32-EXPERTS")
    assert native_format(a, "vllm") == fmt and native_format(a, "llama.cpp") is None
    moe_layers = a.num_hidden_layers - (a.first_k_dense_layers or 0)
    experts = moe_layers * (a.num_experts or 0) * 3 * a.hidden_size * (a.moe_intermediate_size or 0)
    assert experts == 60 * 384 * 3 * 7168 * 2048
    w = weight_bytes(a, fmt)
    assert w.by_type["INT4-G32-EXPERTS"] == experts * 9 // 16  # 4 bits + 16 / 32
    assert w.by_type["BF16"] == 2 * (param_count(a) - experts)
    assert w.total == pytest.approx(594.2e9, rel=1e-3)  # vs 1,030 GB in FP8, 2,053 GB in BF16
    eight_h200 = Target.from_device(find_device("h200"), 8)
    e = estimate(catalog.get("kimi-k2-thinking"), eight_h200, engine="vllm")
    assert e.quant == "INT4-G32-EXPERTS" and e.fits
    with pytest.raises(BadInputError, match="Q4_K_M"):
        resolve_quant("INT4-G32-EXPERTS", "llama.cpp")
    with pytest.raises(BadInputError, match="vllm"):
        resolve_quant("INT4-G32-EXPERTS", "transformers")


@pytest.mark.parametrize("mid,effective_b", [("gemma-3n-e4b", 3.98), ("gemma-3n-e2b", 1.91)])
def test_gemma3n_decoder_matches_googles_effective_size(
    catalog: Catalog, mid: str, effective_b: float
) -> None:
    """Google's slicing table (google/gemma3n-slicing-configs) gives each Gemma 3n's effective
    parameters: the text decoder without its token and per-layer embedding tables.  The
    catalog's config.json fields must reproduce them; the towers sit in ``extra_params``."""
    a = arch(catalog, mid)
    decoder = param_count(a) - a.extra_params
    token_table = a.vocab_size * a.hidden_size
    per_layer_table = a.vocab_size * a.num_hidden_layers * (a.per_layer_input_size or 0)
    assert (decoder - token_table - per_layer_table) / 1e9 == pytest.approx(effective_b, abs=0.005)


def test_nemotron_h_layers_hold_one_mixer_or_one_mlp(catalog: Catalog) -> None:
    """Nemotron Nano 9B v2 (config.json's hybrid_override_pattern: 27 Mamba-2, 25 MLP, 4
    attention layers; one norm each): counted by hand from its config, and only the 4
    attention layers grow a KV cache while the 27 Mamba-2 layers keep a fixed state."""
    from llmatlas.catalog._schema import Architecture

    a = arch(catalog, "nemotron-nano-9b-v2")
    h, inner, groups, state, heads, conv = 4480, 128 * 80, 8, 128, 128, 4
    mamba = h * (2 * inner + 2 * groups * state + heads)  # in_proj: z, x, B, C, dt
    mamba += (
        (inner + 2 * groups * state) * (conv + 1) + 3 * heads + inner
    )  # conv+bias, dt/A/D, norm
    mamba += inner * h  # out_proj
    mlp = 2 * h * 15680  # up and down, squared ReLU (not gated)
    attention = h * 40 * 128 + 2 * h * 8 * 128 + 40 * 128 * h
    by_hand = 2 * 131072 * h + 27 * mamba + 25 * mlp + 4 * attention + 56 * h + h
    assert param_count(a) == by_hand
    assert round(by_hand / 1e9, 2) == catalog.get("nemotron-nano-9b-v2").params_b
    cache = kv_cache(a, 131072)
    per_seq_state = 4 * (heads * state * 80 + (2 * groups * state + inner) * (conv - 1))
    assert cache.state_bytes == 27 * per_seq_state
    assert cache.bytes - cache.state_bytes == 4 * 2 * 8 * 128 * 131072 * 2  # f16, 4 layers
    with pytest.raises(ValueError, match="num_attention_layers"):
        Architecture(**{**a.__dict__, "num_attention_layers": None, "recurrent_kind": "rglru"})
    # NVIDIA sized the model to serve 128K tokens in bfloat16 on one 22 GiB A10G (arXiv 2508.14444)
    from llmatlas.advisor import Target, estimate
    from llmatlas.hardware import find_device

    e = estimate(
        catalog.get("nemotron-nano-9b-v2"),
        Target.from_device(find_device("a10g")),
        "BF16",
        context=131072,
        engine="vllm",
    )
    assert e.fits


def test_mistral_large_3_decoder_matches_the_card(catalog: Catalog) -> None:
    """params.json's DeepSeek-V3-style decoder computes to the card's 673B language model; the
    checkpoint's block FP8 is the format vLLM estimates start from."""
    from llmatlas.sizing.quant import native_format

    a = arch(catalog, "mistral-large-3-675b-instruct-2512")
    assert (param_count(a) - a.extra_params) / 1e9 == pytest.approx(673, rel=0.001)
    native = native_format(a, "vllm")
    assert native is not None and native.name == "FP8"


def test_llama_cpp_moe_decode_costs_more_than_its_bytes(catalog: Catalog) -> None:
    from llmatlas.sizing.speed import (
        bytes_read_per_token,
        estimate_speed,
        experts_touched,
        step_weight_bytes,
    )

    dense = catalog.get("qwen3-32b").architecture
    moe = catalog.get("qwen3-30b-a3b").architecture
    assert dense is not None and moe is not None
    fmt = get_format("Q4_K_M")
    # dense: the bytes of one token, whatever the device or engine
    for kind in ("gpu", "apple", "cpu"):
        assert step_weight_bytes(dense, fmt, 1, kind) == bytes_read_per_token(dense, fmt)
    # MoE on llama.cpp: each routed expert matrix costs beyond its bytes, more on a GPU
    base = bytes_read_per_token(moe, fmt)
    cpu, gpu = step_weight_bytes(moe, fmt, 1, "cpu"), step_weight_bytes(moe, fmt, 1, "gpu")
    assert base < cpu < gpu
    assert step_weight_bytes(moe, fmt, 1, "gpu", "vllm") == base  # vLLM: its own step cost
    slow = estimate_speed(moe, fmt, 1000, 100, "gpu").decode_tps
    ceiling = 1000e9 * 0.7 / base
    assert slow < 0.7 * ceiling
    # a step of several sequences reads every expert any of them is routed to
    assert experts_touched(moe, 1) == moe.num_experts_per_tok
    assert experts_touched(moe, 1) < experts_touched(moe, 8) < experts_touched(moe, 64)
    assert experts_touched(moe, 10_000) <= moe.num_experts
    one = estimate_speed(moe, fmt, 1000, 1e6, "gpu", batch=1)
    eight = estimate_speed(moe, fmt, 1000, 1e6, "gpu", batch=8)
    assert eight.decode_tps < one.decode_tps < eight.aggregate_decode_tps
    d1 = estimate_speed(dense, fmt, 1000, 1e6, "gpu", context=64, batch=1)
    d8 = estimate_speed(dense, fmt, 1000, 1e6, "gpu", context=64, batch=8)
    assert d8.decode_tps / d1.decode_tps > eight.decode_tps / one.decode_tps
