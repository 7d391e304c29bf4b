"""config.json -> Architecture: checked against catalog entries whose architecture is sourced
from the same config.json, and against published parameter counts."""

from __future__ import annotations

from typing import Any

import pytest

from llmatlas.catalog import Catalog
from llmatlas.catalog._from_config import ConfigMappingError, architecture_from_config
from llmatlas.sizing import active_param_count, kv_cache, param_count

# Trimmed config.json files (the fields the mapper reads), as published on the Hub.
LLAMA_31_8B: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "max_position_embeddings": 131072,
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "vocab_size": 128256,
    "attention_bias": False,
    "mlp_bias": False,
    "hidden_act": "silu",
}
QWEN3_30B_A3B: dict[str, Any] = {
    "model_type": "qwen3_moe",
    "hidden_size": 2048,
    "intermediate_size": 6144,
    "moe_intermediate_size": 768,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "head_dim": 128,
    "num_hidden_layers": 48,
    "num_experts": 128,
    "num_experts_per_tok": 8,
    "decoder_sparse_step": 1,
    "mlp_only_layers": [],
    "max_position_embeddings": 40960,
    "rope_theta": 1000000.0,
    "tie_word_embeddings": False,
    "vocab_size": 151936,
    "attention_bias": False,
    "sliding_window": None,
    "use_sliding_window": False,
}
DEEPSEEK_V3: dict[str, Any] = {
    "model_type": "deepseek_v3",
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "moe_intermediate_size": 2048,
    "num_attention_heads": 128,
    "num_key_value_heads": 128,
    "num_hidden_layers": 61,
    "n_routed_experts": 256,
    "n_shared_experts": 1,
    "num_experts_per_tok": 8,
    "first_k_dense_replace": 3,
    "kv_lora_rank": 512,
    "q_lora_rank": 1536,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "num_nextn_predict_layers": 1,
    "max_position_embeddings": 163840,
    "rope_theta": 10000,
    "tie_word_embeddings": False,
    "vocab_size": 129280,
}
GEMMA3_4B_IT: dict[str, Any] = {
    "model_type": "gemma3",
    "architectures": ["Gemma3ForConditionalGeneration"],
    "text_config": {
        "model_type": "gemma3_text",
        "hidden_size": 2560,
        "intermediate_size": 10240,
        "num_attention_heads": 8,
        "num_hidden_layers": 34,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "rope_theta": 1000000.0,
        "sliding_window": 1024,
        "sliding_window_pattern": 6,
        "vocab_size": 262208,
        "max_position_embeddings": 131072,
    },
    "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 1152},
}
QWEN3_NEXT_80B: dict[str, Any] = {
    "model_type": "qwen3_next",
    "decoder_sparse_step": 1,
    "full_attention_interval": 4,
    "head_dim": 256,
    "hidden_size": 2048,
    "intermediate_size": 5120,
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 32,
    "linear_value_head_dim": 128,
    "max_position_embeddings": 262144,
    "mlp_only_layers": [],
    "moe_intermediate_size": 512,
    "norm_topk_prob": True,
    "num_attention_heads": 16,
    "num_experts": 512,
    "num_experts_per_tok": 10,
    "num_hidden_layers": 48,
    "num_key_value_heads": 2,
    "partial_rotary_factor": 0.25,
    "rope_theta": 10000000,
    "shared_expert_intermediate_size": 512,
    "tie_word_embeddings": False,
    "vocab_size": 151936,
}


@pytest.mark.parametrize(
    ("config", "catalog_id"),
    [
        (LLAMA_31_8B, "llama-3.1-8b-instruct"),
        (QWEN3_30B_A3B, "qwen3-30b-a3b"),
        (DEEPSEEK_V3, "deepseek-v3"),
    ],
)
def test_matches_the_catalog_entry(
    catalog: Catalog, config: dict[str, Any], catalog_id: str
) -> None:
    arch = architecture_from_config(config)
    entry = catalog.get(catalog_id).architecture
    assert entry is not None
    assert param_count(arch) == param_count(entry)
    assert active_param_count(arch) == active_param_count(entry)
    assert kv_cache(arch, 4096).bytes == kv_cache(entry, 4096).bytes
    for field in ("num_experts", "first_k_dense_layers", "kv_lora_rank", "qk_norm"):
        assert getattr(arch, field) == getattr(entry, field), field


def test_multimodal_text_config_and_towers_from_safetensors(catalog: Catalog) -> None:
    entry = catalog.get("gemma-3-4b-it").architecture
    assert entry is not None
    text_only = entry.model_copy(update={"extra_params": 0, "extra_params_note": None})
    published_total = param_count(entry)  # decoder + SigLIP tower, as the safetensors count it
    arch = architecture_from_config(GEMMA3_4B_IT, safetensors_params=published_total)
    assert arch.tie_word_embeddings  # Gemma's default when config.json is silent
    assert arch.sliding_window == 1024 and arch.sliding_window_layers == 29
    assert param_count(arch.model_copy(update={"extra_params": 0, "extra_params_note": None})) == (
        param_count(text_only)
    )
    assert arch.extra_params == entry.extra_params
    assert "vision" in (arch.extra_params_note or "")


def test_hybrid_linear_attention_is_modelled() -> None:
    arch = architecture_from_config(QWEN3_NEXT_80B)
    assert arch.recurrent_kind == "gated-deltanet"
    assert arch.num_attention_layers == 12 and arch.attention_output_gate
    # Qwen's card: 80B total, 3B activated (the MTP module is outside this count)
    assert param_count(arch) / 1e9 == pytest.approx(80, rel=0.02)
    embeddings = 2 * arch.vocab_size * arch.hidden_size  # "activated" excludes them
    assert (active_param_count(arch) - embeddings) / 1e9 == pytest.approx(3, rel=0.1)
    # 36 DeltaNet layers keep a fixed state: doubling the context grows only 12 layers' KV
    short, long = kv_cache(arch, 4096), kv_cache(arch, 8192)
    assert short.state_bytes == long.state_bytes > 0
    per_token = 2 * 2 * 256 * 2  # K+V, 2 kv heads, head_dim 256, f16
    assert long.bytes - short.bytes == 12 * per_token * 4096


def test_llama4_interleaved_moe_and_chunked_attention() -> None:
    text = {
        "model_type": "llama4_text",
        "hidden_size": 5120,
        "intermediate_size": 8192,
        "intermediate_size_mlp": 16384,
        "num_attention_heads": 40,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "num_hidden_layers": 48,
        "num_local_experts": 128,
        "num_experts_per_tok": 1,
        "interleave_moe_layer_step": 2,
        "attention_chunk_size": 8192,
        "no_rope_layers": [1, 1, 1, 0] * 12,
        "vocab_size": 202048,
        "max_position_embeddings": 1048576,
        "rope_theta": 500000.0,
    }
    arch = architecture_from_config({"model_type": "llama4", "text_config": text})
    assert arch.moe_layer_step == 2 and arch.intermediate_size == 16384
    assert arch.moe_intermediate_size == 8192 and arch.num_shared_experts == 1
    assert arch.sliding_window == 8192 and arch.sliding_window_layers == 36
    assert not arch.tie_word_embeddings


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model_type": "t5", "d_model": 512}, "encoder-decoder"),
        ({"model_type": "llama", "hidden_size": 4096}, "no layer count"),
        ({**LLAMA_31_8B, "num_key_value_heads": 7}, "num_attention_heads"),
        ({**LLAMA_31_8B, "num_hidden_layers": "32"}, "not a whole number"),
        ({**QWEN3_30B_A3B, "moe_intermediate_size": [768, 512]}, "varies by layer"),
        ({**QWEN3_30B_A3B, "mlp_only_layers": [5, 9]}, "not a prefix"),
        ({**QWEN3_NEXT_80B, "full_attention_interval": None}, "cannot tell which layers"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_unmappable_configs_fail_with_one_clear_line(config: Any, message: str) -> None:
    with pytest.raises(ConfigMappingError, match=message) as err:
        architecture_from_config(config)
    assert "\n" not in str(err.value)


def test_mamba2_hybrid_moe_matches_the_catalog(catalog: Catalog) -> None:
    """Granite 4.0-H-Small: layer_types marks 4 attention layers among 36 Mamba-2 ones."""
    config = {
        "model_type": "granitemoehybrid",
        "hidden_size": 4096,
        "num_hidden_layers": 40,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "num_local_experts": 72,
        "num_experts_per_tok": 10,
        "shared_intermediate_size": 1536,
        "intermediate_size": 768,
        "mamba_d_state": 128,
        "mamba_d_conv": 4,
        "mamba_expand": 2,
        "mamba_d_head": 64,
        "mamba_n_heads": 128,
        "mamba_n_groups": 1,
        "tie_word_embeddings": True,
        "vocab_size": 100352,
        "max_position_embeddings": 131072,
        "position_embedding_type": "nope",
        "layer_types": ["attention" if (i - 5) % 10 == 0 else "mamba" for i in range(40)],
    }
    arch = architecture_from_config(config)
    entry = catalog.get("granite-4.0-h-small").architecture
    assert entry is not None
    assert arch.recurrent_kind == "mamba2" and arch.num_attention_layers == 4
    assert arch.position_embedding == "none"
    assert param_count(arch) == param_count(entry)
    # 36 Mamba layers: 128 heads x 128 state x 64 dims fp32, plus 3 conv inputs of 8448 channels
    per_layer = 4 * (128 * 128 * 64 + (2 * 128 + 128 * 64) * 3)
    assert kv_cache(arch, 1024).state_bytes == 36 * per_layer
    assert kv_cache(arch, 2048).bytes - kv_cache(arch, 1024).bytes == 4 * 2 * 8 * 128 * 2 * 1024


def test_per_layer_embeddings_and_shared_kv_are_modelled() -> None:
    """Gemma 3n-style decoder: the per-layer table is counted, and KV-sharing layers add no cache."""
    text = {
        "model_type": "gemma3n_text",
        "hidden_size": 256,
        "num_hidden_layers": 10,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 64,
        "intermediate_size": 1024,
        "vocab_size": 1000,
        "vocab_size_per_layer_input": 1000,
        "hidden_size_per_layer_input": 32,
        "altup_num_inputs": 4,
        "laurel_rank": 16,
        "num_kv_shared_layers": 4,
        "sliding_window": 64,
        "layer_types": (["sliding_attention"] * 4 + ["full_attention"]) * 2,
        "max_position_embeddings": 65536,
    }
    arch = architecture_from_config({"model_type": "gemma3n", "text_config": text})
    plain = arch.model_copy(
        update={"per_layer_input_size": None, "altup_num_inputs": None, "laurel_rank": None}
    )
    assert param_count(arch) - param_count(plain) >= 1000 * 10 * 32  # the per-layer table
    assert arch.tie_word_embeddings  # Gemma's default
    unshared = arch.model_copy(update={"kv_shared_layers": None})
    per_token_per_layer = 2 * 2 * 64 * 2  # K+V, 2 KV heads, head_dim 64, f16
    # past vLLM's window span (64 + 8192 batched tokens) only global layers grow with context
    short, long = 16384, 32768
    grow = kv_cache(arch, long, engine="vllm").bytes - kv_cache(arch, short, engine="vllm").bytes
    grow_unshared = kv_cache(unshared, long, engine="vllm").bytes
    grow_unshared -= kv_cache(unshared, short, engine="vllm").bytes
    # of the 6 layers that own a cache, 1 is global; without sharing, 2 of 10
    assert grow == 1 * per_token_per_layer * (long - short)
    assert grow_unshared == 2 * per_token_per_layer * (long - short)


def test_per_layer_lists_and_remote_code_keys(catalog: Catalog) -> None:
    """Hunyuan-A13B's config.json (Tencent's repository) gives MoE sizes as per-layer lists."""
    config = {
        "model_type": "hunyuan",
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "attention_head_dim": 128,
        "intermediate_size": 3072,
        "moe_intermediate_size": [3072] * 32,
        "moe_topk": [8] * 32,
        "num_shared_expert": [1] * 32,
        "num_experts": 64,
        "use_qk_norm": True,
        "use_mixed_mlp_moe": True,
        "tie_word_embeddings": True,
        "vocab_size": 128167,
        "max_position_embeddings": 32768,
    }
    arch = architecture_from_config(config)
    entry = catalog.get("hunyuan-a13b-instruct").architecture
    assert entry is not None
    assert arch.num_experts_per_tok == 8 and arch.num_shared_experts == 1 and arch.head_dim == 128
    assert param_count(arch) == param_count(entry)
    assert active_param_count(arch) == active_param_count(entry)


def _gemma4_text(n: int, moe: bool) -> dict[str, Any]:
    """Gemma 4 text_config fields as the Hub releases carry them (26B-A4B when ``moe``)."""
    return {
        "model_type": "gemma4_text",
        "hidden_size": 2816 if moe else 5376,
        "intermediate_size": 2112 if moe else 21504,
        "num_hidden_layers": n,
        "num_attention_heads": 16 if moe else 32,
        "num_key_value_heads": 8 if moe else 16,
        "num_global_key_value_heads": 2 if moe else 4,
        "head_dim": 256,
        "global_head_dim": 512,
        "attention_k_eq_v": True,
        "enable_moe_block": moe,
        "num_experts": 128 if moe else None,
        "top_k_experts": 8 if moe else None,
        "moe_intermediate_size": 704 if moe else None,
        "hidden_size_per_layer_input": 0,
        "layer_types": [
            "full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(n)
        ],
        "sliding_window": 1024,
        "max_position_embeddings": 262144,
        "rope_parameters": {
            "full_attention": {"partial_rotary_factor": 0.25, "rope_theta": 1000000.0},
            "sliding_attention": {"rope_theta": 10000.0},
        },
        "tie_word_embeddings": True,
        "vocab_size": 262144,
        "vocab_size_per_layer_input": 262144,
    }


@pytest.mark.parametrize(
    ("layers", "moe", "catalog_id", "total_b", "active_b"),
    [(60, False, "gemma-4-31b-it", 30.7, 30.7), (30, True, "gemma-4-26b-a4b-it", 25.2, 3.8)],
)
def test_gemma4_global_layers_match_the_catalog_and_card(
    catalog: Catalog, layers: int, moe: bool, catalog_id: str, total_b: float, active_b: float
) -> None:
    """Gemma 4: global layers with their own KV shape (keys as values), MoE beside a dense MLP."""
    config = {"model_type": "gemma4", "text_config": _gemma4_text(layers, moe)}
    arch = architecture_from_config(config)
    entry = catalog.get(catalog_id).architecture
    assert entry is not None
    assert arch.sliding_window_layers == layers * 5 // 6 and arch.attention_k_eq_v
    assert arch.rope_theta == 1000000.0
    assert param_count(arch) == param_count(entry)
    assert active_param_count(arch) == active_param_count(entry)
    # Google's card: 30.7B dense / 25.2B total with 3.8B active (text decoder)
    assert param_count(arch) / 1e9 == pytest.approx(total_b, rel=0.005)
    assert active_param_count(arch) / 1e9 == pytest.approx(active_b, rel=0.01)
    # growing the context only grows the global layers' cache once the windows are full
    # (vLLM caps window layers): global K+V per token = 2 x global KV heads x 512, f16
    short, long = kv_cache(arch, 16384, engine="vllm"), kv_cache(arch, 32768, engine="vllm")
    per_token = 2 * (arch.num_global_key_value_heads or 0) * 512 * 2
    assert long.bytes - short.bytes == (layers // 6) * per_token * 16384
    assert kv_cache(arch, 4096).bytes == kv_cache(entry, 4096).bytes


def test_nemotron_h_pattern_matches_the_catalog(catalog: Catalog) -> None:
    """NVIDIA-Nemotron-Nano-9B-v2's config.json: hybrid_override_pattern gives each layer one
    kind (27 Mamba-2, 25 MLP, 4 attention); MLP and MoE layers mixed are refused in one line."""
    pattern = "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-"
    config = {
        "architectures": ["NemotronHForCausalLM"],
        "model_type": "nemotron_h",
        "vocab_size": 131072,
        "hidden_size": 4480,
        "intermediate_size": 15680,
        "num_hidden_layers": 56,
        "num_attention_heads": 40,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 131072,
        "hybrid_override_pattern": pattern,
        "mamba_num_heads": 128,
        "mamba_head_dim": 80,
        "n_groups": 8,
        "ssm_state_size": 128,
        "conv_kernel": 4,
        "tie_word_embeddings": False,
    }
    arch = architecture_from_config(config)
    entry = catalog.get("nemotron-nano-9b-v2").architecture
    assert entry is not None
    assert (arch.num_attention_layers, arch.ffn_only_layers) == (4, 25)
    assert arch.mlp == "plain" and arch.position_embedding == "none"
    assert param_count(arch) == param_count(entry)
    assert kv_cache(arch, 4096) == kv_cache(entry, 4096)
    moe = {**config, "hybrid_override_pattern": pattern[:-1] + "E"}
    with pytest.raises(ConfigMappingError, match="mixes MLP"):
        architecture_from_config(moe)
    with pytest.raises(ConfigMappingError, match="does not describe 56 layers"):
        architecture_from_config({**config, "hybrid_override_pattern": pattern[:-1]})


def test_gemma4_e2b_double_wide_mlp_matches_the_catalog(catalog: Catalog) -> None:
    """Gemma 4 E2B's text_config: per-layer embeddings, 20 KV-shared layers whose MLP is twice
    as wide (use_double_wide_mlp) - 20 x 3 x 1536 x 6144 parameters more than without it."""
    text = {
        "model_type": "gemma4_text",
        "hidden_size": 1536,
        "num_hidden_layers": 35,
        "intermediate_size": 6144,
        "num_attention_heads": 8,
        "num_key_value_heads": 1,
        "head_dim": 256,
        "global_head_dim": 512,
        "vocab_size": 262144,
        "vocab_size_per_layer_input": 262144,
        "hidden_size_per_layer_input": 256,
        "num_kv_shared_layers": 20,
        "use_double_wide_mlp": True,
        "attention_k_eq_v": False,
        "sliding_window": 512,
        "max_position_embeddings": 131072,
        "tie_word_embeddings": True,
        "layer_types": (["sliding_attention"] * 4 + ["full_attention"]) * 7,
        "rope_parameters": {"full_attention": {"rope_theta": 1000000.0}},
    }
    arch = architecture_from_config({"model_type": "gemma4", "text_config": text})
    entry = catalog.get("gemma-4-e2b").architecture
    assert entry is not None
    assert arch.use_double_wide_mlp and arch.kv_shared_layers == 20
    assert param_count(arch) == param_count(entry) - entry.extra_params
    narrow = arch.model_copy(update={"use_double_wide_mlp": False})
    assert param_count(arch) - param_count(narrow) == 20 * 3 * 1536 * 6144
    assert kv_cache(arch, 8192).bytes == kv_cache(entry, 8192).bytes


def test_nemotron_h_moe_layers_match_the_report(catalog: Catalog) -> None:
    """Nemotron 3 Nano's config.json: its E layers are mixture-of-experts only (128 routed of
    width 1856, 6 per token, one shared of 3712); the arXiv 2512.20848 report gives 31.6B total
    and 3.2B active (3.6B with embeddings)."""
    config = {
        "model_type": "nemotron_h",
        "hidden_size": 2688,
        "num_hidden_layers": 52,
        "num_attention_heads": 32,
        "num_key_value_heads": 2,
        "head_dim": 128,
        "intermediate_size": 1856,
        "n_routed_experts": 128,
        "num_experts_per_tok": 6,
        "moe_intermediate_size": 1856,
        "n_shared_experts": 1,
        "moe_shared_expert_intermediate_size": 3712,
        "vocab_size": 131072,
        "hybrid_override_pattern": "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME",
        "mamba_num_heads": 64,
        "mamba_head_dim": 64,
        "n_groups": 8,
        "ssm_state_size": 128,
        "conv_kernel": 4,
        "max_position_embeddings": 262144,
        "tie_word_embeddings": False,
    }
    arch = architecture_from_config(config)
    entry = catalog.get("nemotron-3-nano-30b-a3b").architecture
    assert entry is not None
    assert (arch.num_attention_layers, arch.ffn_only_layers, arch.num_experts) == (6, 23, 128)
    assert param_count(arch) == param_count(entry)
    assert param_count(arch) / 1e9 == pytest.approx(31.6, rel=0.002)
    assert active_param_count(arch) / 1e9 == pytest.approx(3.6, rel=0.01)
    assert (active_param_count(arch) - 131072 * 2688) / 1e9 == pytest.approx(3.2, rel=0.01)
    # 23 Mamba-2 layers of fixed state, 6 attention layers of KV
    assert kv_cache(arch, 1024).state_bytes == kv_cache(arch, 2048).state_bytes > 0
    assert kv_cache(arch, 2048).bytes - kv_cache(arch, 1024).bytes == 6 * 2 * 2 * 128 * 2 * 1024
