"""Parameter counts computed from a model's architecture (its config.json fields).

The catalog declares each model's published parameter count; tests check that
this computation lands within 2% of it, and the sizing engine uses the same
per-tensor breakdown to price weights per quantization format.  Counts are
exact integers in parameters (not billions).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmatlas.catalog._schema import Architecture


@dataclass(frozen=True)
class ParamBreakdown:
    """Where a model's parameters are, in parameters.

    ``embedding`` is the input token table, ``output`` the untied LM head (0 when
    tied), ``attention`` and ``ffn`` are summed over all layers (``ffn`` holds all
    experts of an MoE), ``other`` norms, positional tables and extra towers.
    """

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
        """Parameters touched per token (all but the unused experts)."""
        return self.embedding + self.output + self.attention + self.ffn_active + self.other


def _mlp(hidden: int, inner: int, kind: str, bias: bool) -> int:
    if kind == "gated":
        return 3 * hidden * inner + ((2 * inner + hidden) if bias else 0)
    return 2 * hidden * inner + ((inner + hidden) if bias else 0)


def _attention(a: Architecture) -> int:
    """Parameters of one attention block (projections, biases, q/k norms)."""
    h = a.hidden_size
    heads = a.num_attention_heads
    if a.is_mla:
        nope = a.qk_nope_head_dim or 0
        rope = a.qk_rope_head_dim or 0
        v_dim = a.v_head_dim or a.resolved_head_dim
        kv_rank = a.kv_lora_rank or 0
        if a.q_lora_rank:
            q = h * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * heads * (nope + rope)
        else:
            q = h * heads * (nope + rope)
        kv = h * (kv_rank + rope) + kv_rank + kv_rank * heads * (nope + v_dim)
        return q + kv + heads * v_dim * h
    hd = a.resolved_head_dim
    kv = a.num_key_value_heads
    n = h * heads * hd + 2 * h * kv * hd + heads * hd * h
    if a.attention_bias:
        n += heads * hd + 2 * kv * hd
    if a.attention_out_bias:
        n += h
    if a.qk_norm:
        n += 2 * hd
    return n


def _recurrent_block(a: Architecture) -> int:
    """A Griffin-style recurrent block (RecurrentGemma): x/y/out projections, conv, RG-LRU gates."""
    h = a.hidden_size
    w = a.recurrent_state_width or h
    conv = a.conv1d_width or 4
    heads = a.num_attention_heads
    block_diag_gates = 2 * (w * w // heads + w)
    return 3 * h * w + 2 * w + h + w * conv + w + block_diag_gates + w


def _norm(a: Architecture) -> int:
    return a.hidden_size * (2 if a.norm == "layernorm" else 1)


def param_breakdown(a: Architecture) -> ParamBreakdown:
    """Exact parameter count of a decoder-only transformer from its config fields."""
    h = a.hidden_size
    layers = a.num_hidden_layers
    embedding = a.vocab_size * h
    output = 0 if a.tie_word_embeddings else a.vocab_size * h
    other = a.extra_params + _norm(a)  # final norm
    if a.position_embedding == "learned":
        other += a.max_position_embeddings * h

    attn_layers = layers if a.num_attention_layers is None else a.num_attention_layers
    recurrent_layers = layers - attn_layers
    attention = attn_layers * _attention(a)
    if recurrent_layers:
        attention += recurrent_layers * _recurrent_block(a)
    other += layers * 2 * _norm(a)

    dense = _mlp(h, a.intermediate_size, a.mlp, a.mlp_bias)
    if a.is_moe:
        assert a.num_experts is not None and a.num_experts_per_tok is not None
        expert = _mlp(h, a.moe_intermediate_size or a.intermediate_size, a.mlp, a.mlp_bias)
        shared = 0
        if a.num_shared_experts:
            width = a.shared_expert_intermediate_size or a.moe_intermediate_size or a.intermediate_size
            shared = a.num_shared_experts * _mlp(h, width, a.mlp, a.mlp_bias)
        router = h * a.num_experts
        dense_layers = a.first_k_dense_layers or 0
        moe_layers = layers - dense_layers
        ffn = dense_layers * dense + moe_layers * (a.num_experts * expert + shared + router)
        ffn_active = dense_layers * dense + moe_layers * (
            a.num_experts_per_tok * expert + shared + router
        )
    else:
        ffn = ffn_active = layers * dense
    return ParamBreakdown(
        embedding=embedding,
        output=output,
        attention=attention,
        ffn=ffn,
        ffn_active=ffn_active,
        other=other,
    )


def param_count(a: Architecture) -> int:
    """Total parameters (every expert counted: they are all loaded in memory)."""
    return param_breakdown(a).total


def active_param_count(a: Architecture) -> int:
    """Parameters used per token (MoE: only the routed experts plus shared parts)."""
    return param_breakdown(a).active
