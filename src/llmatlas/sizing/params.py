"""Parameter counts computed from a model's architecture (its config.json fields).

The model is described as a list of weight tensors named as in GGUF files
(``token_embd``, ``blk.N.attn_v``, ``blk.N.ffn_down_exps`` ...).  That one list
gives the parameter count (the catalog test checks it within 2% of the
published figure), the active count of an MoE, and, priced per tensor type,
the size of each quantized file.  Counts are exact integers in parameters.
"""

from __future__ import annotations

import functools
from typing import Literal

from llmatlas._record import Value, value
from llmatlas.catalog._schema import Architecture

Category = Literal["embedding", "output", "attention", "ffn", "experts", "norm", "other"]

# Architectures whose GGUF conversion keeps q/k/v fused in one ``attn_qkv`` tensor (InternLM2's
# wqkv is split into Q, K and V by the converter; Phi-3.5-MoE's are separate).
FUSED_QKV = frozenset({"falcon", "phi3", "bloom", "gpt_neox", "mpt", "chatglm", "qwen", "gpt2"})

# Architectures whose shared expert has its own sigmoid gate (one hidden-wide vector per layer).
SHARED_EXPERT_GATE = ("qwen2_moe", "qwen3_next")


@value
class Tensor(Value):
    """One weight tensor: ``row`` is its row length (GGUF ne[0], the input dimension)."""

    name: str
    layer: int | None
    n: int
    row: int
    category: Category
    active_fraction: float = 1.0  # MoE expert tensors: experts_per_tok / num_experts

    @property
    def quantizable(self) -> bool:
        return self.category not in ("norm",) and self.name != "ffn_gate_inp"


@value
class ParamBreakdown(Value):
    """Parameters by role.  ``ffn`` holds every expert of an MoE; ``ffn_active`` the routed share."""

    embedding: int
    output: int
    attention: int
    ffn: int
    ffn_active: int
    other: int

    @property
    def total(self) -> int:
        return self.embedding + self.output + self.attention + self.ffn + self.other

    @property
    def active(self) -> int:
        return self.embedding + self.output + self.attention + self.ffn_active + self.other


def _mlp_tensors(
    a: Architecture,
    layer: int,
    inner: int,
    suffix: str,
    category: Category,
    fraction: float,
    count: int = 1,
) -> list[Tensor]:
    h = a.hidden_size
    out = []
    if a.mlp == "gated":
        out.append(Tensor(f"ffn_gate{suffix}", layer, count * h * inner, h, category, fraction))
    out.append(Tensor(f"ffn_up{suffix}", layer, count * h * inner, h, category, fraction))
    out.append(Tensor(f"ffn_down{suffix}", layer, count * inner * h, inner, category, fraction))
    if a.mlp_bias:
        biases = count * ((2 * inner if a.mlp == "gated" else inner) + h)
        out.append(Tensor(f"ffn_bias{suffix}", layer, biases, 1, "norm", fraction))
    return out


def _attention_tensors(a: Architecture, layer: int) -> list[Tensor]:
    h = a.hidden_size
    heads = a.num_attention_heads
    if a.is_mla:
        nope = a.qk_nope_head_dim or 0
        rope = a.qk_rope_head_dim or 0
        v_dim = a.v_head_dim or a.resolved_head_dim
        kv_rank = a.kv_lora_rank or 0
        t = []
        if a.q_lora_rank:
            t.append(Tensor("attn_q_a", layer, h * a.q_lora_rank, h, "attention"))
            t.append(Tensor("attn_q_a_norm", layer, a.q_lora_rank, 1, "norm"))
            t.append(
                Tensor(
                    "attn_q_b",
                    layer,
                    a.q_lora_rank * heads * (nope + rope),
                    a.q_lora_rank,
                    "attention",
                )
            )
        else:
            t.append(Tensor("attn_q", layer, h * heads * (nope + rope), h, "attention"))
        t.append(Tensor("attn_kv_a_mqa", layer, h * (kv_rank + rope), h, "attention"))
        t.append(Tensor("attn_kv_a_norm", layer, kv_rank, 1, "norm"))
        t.append(Tensor("attn_kv_b", layer, kv_rank * heads * (nope + v_dim), kv_rank, "attention"))
        t.append(Tensor("attn_output", layer, heads * v_dim * h, heads * v_dim, "attention"))
        if a.index_n_heads and a.index_head_dim:
            # DeepSeek sparse attention's lightning indexer: its own queries, one key head,
            # per-head weights and a LayerNorm on the keys
            q_in = a.q_lora_rank or h
            ih, idim = a.index_n_heads, a.index_head_dim
            t.append(Tensor("indexer_attn_q_b", layer, q_in * ih * idim, q_in, "attention"))
            t.append(Tensor("indexer_attn_k", layer, h * idim, h, "attention"))
            t.append(Tensor("indexer_proj", layer, h * ih, h, "attention"))
            t.append(Tensor("indexer_k_norm", layer, 2 * idim, 1, "norm"))
        return t
    is_global = is_global_layer(a, layer)
    hd = a.global_head_dim if is_global and a.global_head_dim else a.resolved_head_dim
    kv = a.num_key_value_heads
    if is_global and a.num_global_key_value_heads:
        kv = a.num_global_key_value_heads
    q, k = h * heads * hd * (2 if a.attention_output_gate else 1), h * kv * hd
    if a.model_type in FUSED_QKV:
        t = [Tensor("attn_qkv", layer, q + 2 * k, h, "attention")]
    else:
        t = [
            Tensor("attn_q", layer, q, h, "attention"),
            Tensor("attn_k", layer, k, h, "attention"),
        ]
        if not (is_global and a.attention_k_eq_v):
            t.append(Tensor("attn_v", layer, k, h, "attention"))
    t.append(Tensor("attn_output", layer, heads * hd * h, heads * hd, "attention"))
    bias = (heads * hd + 2 * kv * hd if a.attention_bias else 0) + (
        h if a.attention_out_bias else 0
    )
    bias += 2 * hd if a.qk_norm else 0
    if bias:
        t.append(Tensor("attn_bias", layer, bias, 1, "norm"))
    return t


def linear_dims(a: Architecture) -> tuple[int, int, int]:
    """(key width, value width, conv channels) of a Gated DeltaNet or Mamba-2 layer."""
    key = (a.linear_num_key_heads or 0) * (a.linear_key_head_dim or 0)
    value = (a.linear_num_value_heads or 0) * (a.linear_value_head_dim or 0)
    return key, value, 2 * key + value


def _recurrent_tensors(a: Architecture, layer: int) -> list[Tensor]:
    """The fixed-state mixer of a hybrid model's non-attention layer."""
    h = a.hidden_size
    conv = a.conv1d_width or 4
    if a.recurrent_kind in ("gated-deltanet", "mamba2"):
        key, value, channels = linear_dims(a)
        heads = a.linear_num_value_heads or 0
        if a.recurrent_kind == "gated-deltanet":
            # Qwen3-Next: in_proj_qkvz (q, k, v, gate z), in_proj_ba (beta, alpha per head),
            # depthwise conv over q/k/v, dt_bias + A_log per head, gated RMSNorm, out_proj;
            # the projections as llama.cpp's file holds them (its quantizer gives attn_qkv
            # attn_v's types)
            small = channels * conv + 2 * heads + (a.linear_value_head_dim or 0)
            return [
                Tensor("attn_qkv", layer, h * channels, h, "attention"),
                Tensor("attn_gate", layer, h * value, h, "attention"),
                Tensor("ssm_ba", layer, h * 2 * heads, h, "attention"),
                Tensor("ssm_out", layer, value * h, value, "attention"),
                Tensor("ssm_small", layer, small, 1, "norm"),
            ]
        # Mamba-2: in_proj (z, x, B, C, dt), conv over x/B/C with bias, dt_bias/A_log/D, norm
        proj = h * (2 * value + 2 * key + heads)
        small = channels * (conv + 1) + 3 * heads + value
        return [
            Tensor("ssm_in", layer, proj, h, "attention"),
            Tensor("ssm_out", layer, value * h, value, "attention"),
            Tensor("ssm_small", layer, small, 1, "norm"),
        ]
    if a.recurrent_kind == "lightning":
        # MiniMax lightning attention: fused qkv, output gate, out projection, group norm
        inner = a.num_attention_heads * a.resolved_head_dim
        return [
            Tensor("lin_attn_qkv", layer, 3 * h * inner, h, "attention"),
            Tensor("lin_attn_gate", layer, h * inner, h, "attention"),
            Tensor("lin_attn_output", layer, inner * h, inner, "attention"),
            Tensor("lin_attn_norm", layer, inner, 1, "norm"),
        ]
    # Griffin recurrent block (RecurrentGemma): x/y/out projections, conv, RG-LRU gates
    w = a.recurrent_state_width or h
    heads = a.num_attention_heads
    return [
        Tensor("rec_linear_x", layer, h * w, h, "attention"),
        Tensor("rec_linear_y", layer, h * w, h, "attention"),
        Tensor("rec_linear_out", layer, w * h, w, "attention"),
        Tensor("rec_gates", layer, 2 * (w * w // heads), w // heads, "attention"),
        Tensor("rec_small", layer, w * conv + 5 * w + h, 1, "norm"),
    ]


def global_layer_ids(a: Architecture) -> frozenset[int]:
    """The full-attention layers of a model that interleaves them with sliding-window ones
    (Gemma 2/3/4: one global layer closes each run of local ones); empty when all are alike."""
    return _global_layer_ids(a.num_hidden_layers, a.sliding_window_layers)


@functools.lru_cache(maxsize=256)
def _global_layer_ids(n: int, sliding: int | None) -> frozenset[int]:
    if sliding is None or sliding == 0 or sliding >= n:
        return frozenset()
    g = n - sliding
    return frozenset(min(n - 1, round((i + 1) * n / g) - 1) for i in range(g))


def is_global_layer(a: Architecture, layer: int) -> bool:
    """Whether ``layer`` is one of the full-attention layers with their own shape (Gemma 4)."""
    if not (a.global_head_dim or a.num_global_key_value_heads or a.attention_k_eq_v):
        return False
    return layer in global_layer_ids(a)


def _norm_size(a: Architecture) -> int:
    return a.hidden_size * (2 if a.norm == "layernorm" else 1)


def _norms_per_layer(a: Architecture) -> int:
    """Gemma 2/3/4 normalise before and after both attention and MLP (4 norms); most use 2;
    Nemotron-H's single-purpose layers (a mixer or an MLP) one."""
    if a.ffn_only_layers is not None:
        return 1
    return 4 if a.model_type.startswith(("gemma2", "gemma3", "gemma4")) else 2


def _attention_layer_ids(a: Architecture) -> frozenset[int]:
    """Which layers have attention; hybrids put one attention layer after each run of recurrent ones."""
    return _attention_ids(a.num_hidden_layers, a.num_attention_layers)


@functools.lru_cache(maxsize=256)
def _attention_ids(n: int, attention: int | None) -> frozenset[int]:
    attn = n if attention is None else attention
    if attn >= n:
        return frozenset(range(n))
    if attn == 0:
        return frozenset()
    period = n / attn
    return frozenset(min(n - 1, round((i + 1) * period) - 1) for i in range(attn))


def ffn_only_layer_ids(a: Architecture) -> frozenset[int]:
    """Nemotron-H's MLP-only layers, spread evenly over the layers without attention (the
    catalog keeps their count; positions change neither parameters nor memory)."""
    if not a.ffn_only_layers:
        return frozenset()
    return _ffn_only_ids(a.num_hidden_layers, a.num_attention_layers, a.ffn_only_layers)


@functools.lru_cache(maxsize=256)
def _ffn_only_ids(n: int, attention: int | None, ffn_only: int) -> frozenset[int]:
    attn = _attention_ids(n, attention)
    rest = [i for i in range(n) if i not in attn]
    period = len(rest) / ffn_only
    return frozenset(rest[min(len(rest) - 1, round((j + 1) * period) - 1)] for j in range(ffn_only))


def recurrent_layer_count(a: Architecture) -> int:
    """Layers that keep a fixed-size state instead of a KV cache (hybrids; 0 otherwise)."""
    if a.num_attention_layers is None:
        return 0
    return a.num_hidden_layers - a.num_attention_layers - (a.ffn_only_layers or 0)


def _dense_width(a: Architecture, layer: int) -> int:
    """The dense MLP's width in ``layer``: doubled in Gemma 4 E2B's KV-shared (last) layers."""
    shared = a.kv_shared_layers or 0
    if a.use_double_wide_mlp and layer >= a.num_hidden_layers - shared:
        return 2 * a.intermediate_size
    return a.intermediate_size


def is_moe_layer(a: Architecture, layer: int) -> bool:
    """Whether ``layer`` routes to experts (after the dense prefix, every ``moe_layer_step``-th)."""
    if not a.is_moe or layer < (a.first_k_dense_layers or 0):
        return False
    return (layer + 1) % (a.moe_layer_step or 1) == 0


def _per_layer_tensors(a: Architecture, layer: int) -> list[Tensor]:
    """Gemma 3n's per-layer extras: per-layer input gate/projection, AltUp router, LAuReL."""
    h, p = a.hidden_size, a.per_layer_input_size or 0
    n = a.altup_num_inputs or 1
    rank = a.laurel_rank or 0
    out = [
        Tensor("per_layer_inp_gate", layer, h * p, h, "other"),
        Tensor("per_layer_proj", layer, p * h, p, "other"),
        # post-per-layer norm, AltUp router norm and output scale, LAuReL norm
        Tensor("per_layer_norms", layer, 4 * h, 1, "norm"),
    ]
    if n > 1:
        out.append(Tensor("altup_router", layer, h * n, h, "other"))
        out.append(Tensor("altup_coefs", layer, n * n + n * n * n, 1, "norm"))
    if rank:
        out.append(Tensor("laurel", layer, 2 * h * rank, h, "other"))
    return out


def tensors(a: Architecture) -> list[Tensor]:
    """Every weight tensor of the text model (towers in ``extra_params`` are one 'other' entry)."""
    return list(_tensors(a))


@functools.lru_cache(maxsize=1024)
def _tensors(a: Architecture) -> tuple[Tensor, ...]:
    """:func:`tensors`, built once per architecture (``fit`` asks for each model many times)."""
    h = a.hidden_size
    out: list[Tensor] = [Tensor("token_embd", None, a.vocab_size * h, h, "embedding")]
    if a.position_embedding == "learned":
        out.append(Tensor("position_embd", None, a.max_position_embeddings * h, h, "other"))
    attn_layers = _attention_layer_ids(a)
    ffn_only = ffn_only_layer_ids(a)
    for i in range(a.num_hidden_layers):
        out.append(Tensor("layer_norms", i, _norms_per_layer(a) * _norm_size(a), 1, "norm"))
        if i not in ffn_only:
            if i in attn_layers:
                out += _attention_tensors(a, i)
            else:
                out += _recurrent_tensors(a, i)
            if a.ffn_only_layers is not None:
                continue  # Nemotron-H: a mixer layer holds no feed-forward block
        if a.per_layer_input_size:
            out += _per_layer_tensors(a, i)
        dense_layer = not is_moe_layer(a, i)
        if dense_layer:
            out += _mlp_tensors(a, i, _dense_width(a, i), "", "ffn", 1.0)
            continue
        assert a.num_experts is not None and a.num_experts_per_tok is not None
        frac = a.num_experts_per_tok / a.num_experts
        width = a.moe_intermediate_size or a.intermediate_size
        out.append(Tensor("ffn_gate_inp", i, h * a.num_experts, h, "ffn"))
        out += _mlp_tensors(a, i, width, "_exps", "experts", frac, count=a.num_experts)
        if a.num_shared_experts:
            sw = a.shared_expert_intermediate_size or width
            out += _mlp_tensors(a, i, sw * a.num_shared_experts, "_shexp", "ffn", 1.0)
            if a.model_type.startswith(SHARED_EXPERT_GATE):
                out.append(Tensor("ffn_gate_inp_shexp", i, h, h, "ffn"))
    if a.per_layer_input_size:
        # Gemma 3n: the per-layer embedding table and the projection feeding it, plus the
        # AltUp stream projections in and out of the decoder
        ple = a.num_hidden_layers * a.per_layer_input_size
        streams = (a.altup_num_inputs or 1) - 1
        out.append(Tensor("per_layer_token_embd", None, a.vocab_size * ple, ple, "embedding"))
        out.append(Tensor("per_layer_model_proj", None, h * ple, h, "other"))
        out.append(Tensor("per_layer_proj_norm", None, a.per_layer_input_size, 1, "norm"))
        if streams:
            out.append(Tensor("altup_proj", None, 2 * streams * h * h, h, "other"))
    out.append(Tensor("output_norm", None, _norm_size(a), 1, "norm"))
    if not a.tie_word_embeddings:
        out.append(Tensor("output", None, a.vocab_size * h, h, "output"))
    if a.extra_params:
        out.append(Tensor("extra", None, a.extra_params, 1, "other"))
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def param_breakdown(a: Architecture) -> ParamBreakdown:
    """Parameters by role, once per architecture (the speed model asks for every estimate)."""
    sums = {"embedding": 0, "output": 0, "attention": 0, "ffn": 0, "other": 0}
    ffn_active = 0
    for t in tensors(a):
        if t.category in ("ffn", "experts"):
            sums["ffn"] += t.n
            ffn_active += round(t.n * t.active_fraction)
        elif t.category == "norm":
            # biases/norms: count with the block they belong to (negligible either way)
            if t.active_fraction < 1.0:
                sums["ffn"] += t.n
                ffn_active += round(t.n * t.active_fraction)
            else:
                sums["other"] += t.n
        else:
            sums[t.category] += t.n
    return ParamBreakdown(ffn_active=ffn_active, **sums)


def param_count(a: Architecture) -> int:
    """Total parameters (every expert counted: they are all loaded in memory)."""
    return param_breakdown(a).total


def active_param_count(a: Architecture) -> int:
    """Parameters used per token (MoE: only the routed experts plus shared parts)."""
    return param_breakdown(a).active
