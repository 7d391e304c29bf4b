"""A Hugging Face ``config.json`` (a dict) -> the catalog's :class:`Architecture`.

Pure: no I/O.  Used by ``llmatlas catalog import`` (drafting entries) and by the sizing
of Hub repositories that are not in the catalog.  Key names differ between model types
(``n_routed_experts`` vs ``num_local_experts`` vs ``moe_num_experts``...); the aliases
below follow the configuration classes of ``transformers`` and the remote-code models.

What cannot be mapped faithfully raises :class:`ConfigMappingError` with one line that
names the field, instead of returning a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from llmatlas.catalog._schema import Architecture
from llmatlas.errors import BadInputError


class ConfigMappingError(BadInputError):
    """A config.json this mapper cannot turn into an architecture."""


# ``tie_word_embeddings`` when config.json leaves it out: the configuration class's default.
_TIED_BY_DEFAULT = ("gemma", "recurrent_gemma", "gpt2", "gpt_neo", "opt", "bloom", "falcon", "mpt")
# transformers model types whose q/k/v projections carry a bias without saying so.
_QKV_BIAS = ("qwen2",)  # qwen2, qwen2_moe, qwen2_vl, qwen2_5_vl; Qwen-1 ("qwen") below
# Types whose MLP is up -> activation -> down (no gate).
_PLAIN_MLP = frozenset(
    {
        "gpt2",
        "opt",
        "gpt_neox",
        "gpt_neo",
        "gptj",
        "falcon",
        "bloom",
        "mpt",
        "phi",
        "starcoder2",
        "gpt_bigcode",
        "nemotron",
        "nemotron_h",
    }
)
# Types with per-head q/k RMSNorm built in (no flag in config.json).
_QK_NORM = ("qwen3", "gemma3", "gemma4", "olmo2", "olmo3")
# Types whose attention always has Qwen3-Next's per-channel output gate (q_proj emits it).
_OUTPUT_GATE = frozenset({"qwen3_next"})
# Types this mapper refuses: encoder-decoders and other shapes the catalog cannot size.
_UNSUPPORTED = {
    "t5": "an encoder-decoder",
    "bart": "an encoder-decoder",
    "whisper": "a speech encoder-decoder",
    "bert": "an encoder-only model",
    "roberta": "an encoder-only model",
    "xlm-roberta": "an encoder-only model",
    "clip": "a vision-text encoder",
    "siglip": "a vision encoder",
}
_NESTED_TEXT = ("text_config", "llm_config", "language_config", "thinker_config")
_TOWERS = ("vision_config", "audio_config", "vision_tower_config", "speech_config")


def _first(cfg: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return None


def _uniform(value: Any, name: str) -> Any:
    """Some configs give per-layer lists (Hunyuan ``moe_topk: [8, 8, ...]``); accept equal ones."""
    if isinstance(value, list):
        if not value:
            return None
        if any(v != value[0] for v in value):
            raise ConfigMappingError(
                f"config.json: {name} varies by layer ({sorted(set(map(str, value)))}); "
                "the catalog needs one value"
            )
        return value[0]
    return value


def _int(cfg: Mapping[str, Any], name: str, *keys: str, required: bool = True) -> int | None:
    raw = _uniform(_first(cfg, *keys), keys[0])
    if raw is None:
        if required:
            raise ConfigMappingError(f"config.json has no {name} (looked for {', '.join(keys)})")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
        raise ConfigMappingError(f"config.json: {keys[0]} is {raw!r}, not a whole number")
    return int(raw)


def text_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The text decoder's config, and whether the repo also holds other towers.

    Multimodal configs (Gemma 3, Llama 4, Mistral 3, Qwen2.5-VL...) nest the decoder under
    ``text_config``; top-level keys the nested dict lacks (``tie_word_embeddings``) carry over.
    """
    if not isinstance(config, Mapping):
        raise ConfigMappingError("config.json is not a JSON object")
    multimodal = any(isinstance(config.get(k), Mapping) for k in _TOWERS)
    for key in _NESTED_TEXT:
        inner = config.get(key)
        if isinstance(inner, Mapping):
            if key == "thinker_config":  # Qwen2.5-Omni: thinker -> text_config
                inner = inner.get("text_config", inner)
            merged = dict(inner)
            for k in ("tie_word_embeddings", "vocab_size"):
                if k not in merged and k in config:
                    merged[k] = config[k]
            merged.setdefault("model_type", config.get("model_type", ""))
            return merged, True
    return dict(config), multimodal


def _layer_kinds(cfg: Mapping[str, Any], n: int) -> list[str] | None:
    kinds = cfg.get("layer_types")
    if isinstance(kinds, list) and kinds:
        if len(kinds) != n:
            raise ConfigMappingError(
                f"config.json: layer_types lists {len(kinds)} layers but num_hidden_layers is {n}"
            )
        return [str(k) for k in kinds]
    attn_types = cfg.get("attn_type_list")  # MiniMax-Text-01 / M1: 0 linear, 1 softmax
    if isinstance(attn_types, list) and len(attn_types) == n:
        return ["full_attention" if int(t) == 1 else "linear_attention" for t in attn_types]
    return None


def _sliding(cfg: Mapping[str, Any], mtype: str, n: int, kinds: list[str] | None) -> dict[str, Any]:
    chunk = cfg.get("attention_chunk_size")
    if chunk and mtype.startswith("llama4"):
        # chunked attention on the RoPE layers; every ``no_rope_layer_interval``-th is global
        flags = cfg.get("no_rope_layers")
        if isinstance(flags, list) and len(flags) == n:
            chunked = sum(1 for f in flags if f)
        else:
            interval = int(cfg.get("no_rope_layer_interval") or 4)
            chunked = n - n // interval
        return {"sliding_window": int(chunk), "sliding_window_layers": chunked}
    window = cfg.get("sliding_window")
    if not window or cfg.get("use_sliding_window") is False:
        return {}
    if kinds is not None:
        count = sum(1 for k in kinds if k in ("sliding_attention", "local_attention"))
        if count == 0:
            return {}
    elif cfg.get("sliding_window_pattern"):
        count = n - n // int(cfg["sliding_window_pattern"])
    elif mtype == "gemma2":
        count = n // 2
    elif isinstance(cfg.get("max_window_layers"), int) and mtype.startswith("qwen"):
        count = max(0, n - int(cfg["max_window_layers"]))
    else:
        count = n
    return {"sliding_window": int(window), "sliding_window_layers": count}


def _moe(cfg: Mapping[str, Any], mtype: str, n: int) -> dict[str, Any]:
    experts = _int(
        cfg,
        "experts",
        "num_local_experts",
        "n_routed_experts",
        "num_experts",
        "moe_num_experts",
        required=False,
    )
    if not experts or experts <= 1:
        return {}
    per_tok = _int(
        cfg,
        "experts per token",
        "num_experts_per_tok",
        "experts_per_token",
        "moe_k",
        "moe_topk",
        "num_experts_per_token",
        "top_k",
        "top_k_experts",
    )
    out: dict[str, Any] = {"num_experts": experts, "num_experts_per_tok": per_tok}
    width = _int(
        cfg, "expert width", "moe_intermediate_size", "expert_ffn_hidden_size", required=False
    )
    if mtype.startswith("granitemoe"):
        # Granite MoE: every layer also runs a shared MLP of shared_intermediate_size
        shared_mlp = _int(cfg, "shared MLP width", "shared_intermediate_size", required=False)
        if shared_mlp:
            out["num_shared_experts"] = 1
            out["shared_expert_intermediate_size"] = shared_mlp
    if mtype.startswith("llama4"):
        # Llama 4: intermediate_size is the expert width, intermediate_size_mlp the dense one
        width = _int(cfg, "expert width", "intermediate_size")
        out["intermediate_size"] = _int(
            cfg, "dense width", "intermediate_size_mlp", "intermediate_size"
        )
        out["num_shared_experts"] = 1
        out["shared_expert_intermediate_size"] = width
        step = cfg.get("interleave_moe_layer_step")
        if isinstance(step, int) and step > 1:
            out["moe_layer_step"] = step
    if mtype.startswith("gemma4") and cfg.get("enable_moe_block"):
        # Gemma 4 MoE: every layer's dense MLP (intermediate_size) runs beside the experts
        out["num_shared_experts"] = 1
        out["shared_expert_intermediate_size"] = _int(cfg, "dense width", "intermediate_size")
    if width:
        out["moe_intermediate_size"] = width
    shared = _int(
        cfg,
        "shared experts",
        "n_shared_experts",
        "num_shared_experts",
        "moe_num_shared_experts",
        "num_shared_expert",
        required=False,
    )
    shared_width = _int(
        cfg,
        "shared width",
        "shared_expert_intermediate_size",
        "moe_shared_expert_intermediate_size",
        required=False,
    )
    if shared_width and not shared:
        shared = 1  # Qwen2-MoE / Qwen3-Next: one shared expert of its own width
    if shared:
        out["num_shared_experts"] = shared
        if shared_width:
            out["shared_expert_intermediate_size"] = shared_width
    first_dense = _int(
        cfg, "dense prefix", "first_k_dense_replace", "moe_layer_start_index", required=False
    )
    only_dense = cfg.get("mlp_only_layers")
    if isinstance(only_dense, list) and only_dense:
        if sorted(only_dense) != list(range(len(only_dense))):
            raise ConfigMappingError(
                "config.json: mlp_only_layers are not a prefix of the layers; cannot map"
            )
        first_dense = len(only_dense)
    if first_dense:
        out["first_k_dense_layers"] = first_dense
    step = cfg.get("decoder_sparse_step")
    if isinstance(step, int) and step > 1:
        out["moe_layer_step"] = step
    return out


def _mla(cfg: Mapping[str, Any]) -> dict[str, Any]:
    if not cfg.get("kv_lora_rank"):
        return {}
    out = {
        k: int(cfg[k])
        for k in (
            "kv_lora_rank",
            "q_lora_rank",
            "qk_nope_head_dim",
            "qk_rope_head_dim",
            "v_head_dim",
        )
        if cfg.get(k)
    }
    if cfg.get("index_n_heads") and cfg.get("index_head_dim"):
        out["index_n_heads"] = int(cfg["index_n_heads"])
        out["index_head_dim"] = int(cfg["index_head_dim"])
    return out


def _hybrid(cfg: Mapping[str, Any], mtype: str, n: int, kinds: list[str] | None) -> dict[str, Any]:
    """Layers without softmax attention: Gated DeltaNet, Mamba-2, lightning attention."""
    out: dict[str, Any] = {}
    attn: int | None = None
    pattern = cfg.get("hybrid_override_pattern")
    if isinstance(pattern, list):
        pattern = "".join(str(p) for p in pattern)
    if isinstance(pattern, str) and pattern:
        # Nemotron-H: one kind per layer - M Mamba-2, * attention, - MLP, E MoE
        if len(pattern) != n or set(pattern) - set("M*-E"):
            raise ConfigMappingError(
                f"config.json ({mtype}): hybrid_override_pattern {pattern!r} does not describe "
                f"{n} layers of M, *, - or E"
            )
        if "E" in pattern and "-" in pattern:
            raise ConfigMappingError(
                f"config.json ({mtype}): hybrid_override_pattern mixes MLP (-) and mixture-of-"
                "experts (E) layers, which this catalog does not model"
            )
        attn = pattern.count("*")
        out["ffn_only_layers"] = pattern.count("-") + pattern.count("E")
    elif kinds is not None:
        linear = [k for k in kinds if k in ("linear_attention", "mamba", "recurrent")]
        if linear:
            attn = n - len(linear)
    elif cfg.get("full_attention_interval"):
        attn = n // int(cfg["full_attention_interval"])
    if attn is None:
        if mtype in ("qwen3_next", "granitemoehybrid", "minimax", "minimax_m1"):
            raise ConfigMappingError(
                f"config.json ({mtype}): cannot tell which layers are linear (no layer_types)"
            )
        return out
    out["num_attention_layers"] = attn
    if cfg.get("linear_num_value_heads"):
        out["recurrent_kind"] = "gated-deltanet"
        out["linear_num_key_heads"] = _int(cfg, "linear key heads", "linear_num_key_heads")
        out["linear_num_value_heads"] = _int(cfg, "linear value heads", "linear_num_value_heads")
        out["linear_key_head_dim"] = _int(cfg, "linear key dim", "linear_key_head_dim")
        out["linear_value_head_dim"] = _int(cfg, "linear value dim", "linear_value_head_dim")
        out["conv1d_width"] = _int(cfg, "conv kernel", "linear_conv_kernel_dim", required=False)
    elif cfg.get("mamba_n_heads") or cfg.get("mamba_num_heads") or cfg.get("mamba_d_state"):
        heads = _int(cfg, "mamba heads", "mamba_n_heads", "mamba_num_heads")
        assert heads is not None
        head_dim = _int(cfg, "mamba head dim", "mamba_d_head", "mamba_head_dim", required=False)
        if head_dim is None:
            expand = int(cfg.get("mamba_expand") or 2)
            head_dim = expand * int(cfg["hidden_size"]) // heads
        out["recurrent_kind"] = "mamba2"
        out["linear_num_key_heads"] = _int(cfg, "mamba groups", "mamba_n_groups", "n_groups")
        out["linear_num_value_heads"] = heads
        out["linear_key_head_dim"] = _int(
            cfg, "mamba state size", "mamba_d_state", "ssm_state_size"
        )
        out["linear_value_head_dim"] = head_dim
        out["conv1d_width"] = _int(
            cfg, "conv kernel", "mamba_d_conv", "conv_kernel", required=False
        )
    elif mtype in ("minimax", "minimax_m1", "minimax_text_01"):
        out["recurrent_kind"] = "lightning"
    else:
        raise ConfigMappingError(
            f"config.json ({mtype}): linear-attention layers of a kind this catalog does not model"
        )
    return out


def _global_layers(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Gemma 4: the full-attention layers' own head width / KV heads, keys doubling as values."""
    if not cfg.get("sliding_window"):
        return {}
    out: dict[str, Any] = {
        "global_head_dim": _int(cfg, "global head dim", "global_head_dim", required=False),
        "num_global_key_value_heads": _int(
            cfg, "global kv heads", "num_global_key_value_heads", required=False
        ),
    }
    if cfg.get("attention_k_eq_v"):
        out["attention_k_eq_v"] = True
    return out


def _gemma3n(cfg: Mapping[str, Any]) -> dict[str, Any]:
    if not cfg.get("hidden_size_per_layer_input"):
        return {}
    return {
        "per_layer_input_size": int(cfg["hidden_size_per_layer_input"]),
        "altup_num_inputs": int(cfg.get("altup_num_inputs") or 1),
        "laurel_rank": int(cfg["laurel_rank"]) if cfg.get("laurel_rank") else None,
        "kv_shared_layers": int(cfg.get("num_kv_shared_layers") or 0) or None,
        "use_double_wide_mlp": True if cfg.get("use_double_wide_mlp") else None,
    }


def architecture_from_config(
    config: Mapping[str, Any],
    safetensors_params: int | None = None,
) -> Architecture:
    """Map ``config.json`` onto :class:`Architecture`.

    ``safetensors_params``: the repo's total parameter count from its safetensors metadata
    (unquantized weights).  With a multimodal config it sizes the towers the config does not
    describe (``extra_params``: total minus the text decoder), and when config.json is silent
    about tied embeddings it picks the reading closer to that total.
    """
    from llmatlas.sizing.params import param_count  # sizing imports the schema, not this

    cfg, multimodal = text_config(config)
    mtype = str(cfg.get("model_type") or config.get("model_type") or "")
    if not mtype:
        raise ConfigMappingError("config.json has no model_type")
    if mtype in _UNSUPPORTED:
        raise ConfigMappingError(f"{mtype} is {_UNSUPPORTED[mtype]}; the catalog sizes decoders")
    if cfg.get("is_encoder_decoder"):
        raise ConfigMappingError(f"{mtype} is an encoder-decoder; the catalog sizes decoders")
    n = _int(cfg, "layer count", "num_hidden_layers", "n_layer", "n_layers", "num_layers")
    h = _int(cfg, "hidden size", "hidden_size", "n_embd", "d_model")
    heads = _int(cfg, "attention heads", "num_attention_heads", "n_head", "n_heads")
    assert n is not None and h is not None and heads is not None
    kv = _int(
        cfg,
        "kv heads",
        "num_key_value_heads",
        "multi_query_group_num",
        "n_head_kv",
        "num_kv_heads",
        required=False,
    )
    if kv is None:
        kv = 1 if cfg.get("multi_query") else heads
    vocab = _int(cfg, "vocabulary size", "vocab_size", "padded_vocab_size")
    max_pos = _int(
        cfg,
        "context length",
        "max_position_embeddings",
        "n_positions",
        "seq_length",
        "max_sequence_length",
        "model_max_length",
    )
    inter = _int(
        cfg, "MLP width", "intermediate_size", "ffn_hidden_size", "n_inner", required=False
    )
    if mtype.startswith("granitemoe") and not cfg.get("num_local_experts"):
        # dense Granite 4.0 (micro): the shared MLP is the only MLP
        inter = _int(cfg, "MLP width", "shared_intermediate_size", "intermediate_size")
    if inter is None:
        inter = 4 * h
    kinds = _layer_kinds(cfg, n)
    fields: dict[str, Any] = {
        "model_type": mtype,
        "num_hidden_layers": n,
        "hidden_size": h,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "intermediate_size": inter,
        "vocab_size": vocab,
        "max_position_embeddings": max_pos,
    }
    head_dim = _int(
        cfg, "head dim", "head_dim", "attention_head_dim", "kv_channels", required=False
    )
    if head_dim:
        fields["head_dim"] = head_dim
    tie = cfg.get("tie_word_embeddings")
    fields["tie_word_embeddings"] = (
        bool(tie) if tie is not None else mtype.startswith(_TIED_BY_DEFAULT)
    )
    theta = _first(cfg, "rope_theta", "rotary_emb_base", "rope_embedding_base")
    rope_params = cfg.get("rope_parameters")
    if theta is None and isinstance(rope_params, Mapping):
        full = rope_params.get("full_attention")  # Gemma 4: one set per layer kind
        theta = (full if isinstance(full, Mapping) else rope_params).get("rope_theta")
    pos = str(_first(cfg, "position_embedding_type") or "")
    if pos in ("nope", "none") or mtype == "nemotron_h":  # Nemotron-H attends without positions
        fields["position_embedding"] = "none"
    elif cfg.get("alibi") or mtype in ("bloom", "mpt"):
        fields["position_embedding"] = "alibi"
    elif mtype in ("gpt2", "opt", "gpt_neo", "gpt_bigcode"):
        fields["position_embedding"] = "learned"
    elif theta is not None:
        fields["rope_theta"] = float(theta)
    prf = _first(cfg, "partial_rotary_factor", "rotary_pct")
    rotary_dim = cfg.get("rotary_dim")
    if prf is None and isinstance(rotary_dim, int):
        prf = rotary_dim / (head_dim or h // heads)
    if prf is not None and float(prf) != 1.0:
        fields["partial_rotary_factor"] = float(prf)
    if mtype in _PLAIN_MLP:
        fields["mlp"] = "plain"
    bias = cfg.get("attention_bias")
    if bias is None:
        bias = cfg.get("qkv_bias")
    fields["attention_bias"] = (
        bool(bias) if bias is not None else (mtype == "qwen" or mtype.startswith(_QKV_BIAS))
    )
    if cfg.get("o_bias") or cfg.get("attention_out_bias"):
        fields["attention_out_bias"] = True
    if cfg.get("mlp_bias"):
        fields["mlp_bias"] = True
    qk = _first(cfg, "use_qk_norm", "qk_layernorm", "use_qk_layernorm", "qk_norm")
    fields["qk_norm"] = bool(qk) if qk is not None else mtype.startswith(_QK_NORM)
    gate = cfg.get("attn_output_gate")
    if gate or (gate is None and mtype in _OUTPUT_GATE):
        fields["attention_output_gate"] = True
    fields.update(_sliding(cfg, mtype, n, kinds))
    fields.update(_moe(cfg, mtype, n))
    fields.update(_mla(cfg))
    fields.update(_hybrid(cfg, mtype, n, kinds))
    fields.update({k: v for k, v in _global_layers(cfg).items() if v is not None})
    fields.update({k: v for k, v in _gemma3n(cfg).items() if v is not None})
    if isinstance(cfg.get("vocab_size_per_layer_input"), int) and cfg.get(
        "vocab_size_per_layer_input"
    ) != cfg.get("vocab_size"):
        # Gemma 3n: the main table also holds audio/vision soft tokens; size by the text one
        fields["vocab_size"] = int(cfg["vocab_size_per_layer_input"])
    try:
        arch = Architecture(**fields)
    except ValidationError as exc:
        from llmatlas.catalog._load import _describe

        raise ConfigMappingError(_describe(exc, f"config.json ({mtype}) is inconsistent")) from exc
    if safetensors_params:
        text = param_count(arch)
        if tie is None and not multimodal:  # towers would skew the comparison
            other = arch.model_copy(update={"tie_word_embeddings": not arch.tie_word_embeddings})
            if abs(param_count(other) - safetensors_params) < abs(text - safetensors_params):
                arch, text = other, param_count(other)
        if multimodal and safetensors_params > text:
            arch = arch.model_copy(
                update={
                    "extra_params": safetensors_params - text,
                    "extra_params_note": "towers outside the text decoder (vision/audio encoder "
                    "and projector): safetensors total minus the decoder computed from config.json",
                }
            )
    return arch
