"""Memory to fine-tune a model: full (AdamW), LoRA, QLoRA.

Conventions, per trainable parameter, mixed precision with AdamW:
bf16 weights 2 B + fp32 master copy 4 B + two fp32 moments 8 B + bf16 gradients
2 B = 16 B (the ZeRO paper's accounting).  LoRA freezes the base (2 B/param in
bf16) and trains rank-r adapters on the attention and MLP projections; QLoRA
stores the frozen base in NF4 with double quantization (4.127 bits/param).
Activations assume gradient checkpointing: one saved hidden state per layer per
token (2 B each) plus one layer's full working set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llmatlas.catalog._schema import Architecture
from llmatlas.errors import BadInputError
from llmatlas.sizing.params import param_count, tensors

Method = Literal["full", "lora", "qlora"]
METHODS = ("full", "lora", "qlora")
ADAM_BYTES_PER_PARAM = 16
NF4_DOUBLE_QUANT_BITS = 4.127
LORA_TARGETS = (
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "attn_qkv",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
)


@dataclass(frozen=True)
class FinetuneEstimate:
    method: str
    trainable_params: int
    weights_bytes: int
    optimizer_bytes: int
    gradients_bytes: int
    activations_bytes: int

    @property
    def total_bytes(self) -> int:
        return (
            self.weights_bytes
            + self.optimizer_bytes
            + self.gradients_bytes
            + self.activations_bytes
        )


def lora_params(a: Architecture, rank: int) -> int:
    """Adapter parameters: r x (in + out) for each targeted projection (all experts for MoE)."""
    n = 0
    for t in tensors(a):
        if t.name.replace("_exps", "").replace("_shexp", "") in LORA_TARGETS:
            out_dim = t.n // t.row
            n += rank * (t.row + out_dim)
    return n


def estimate_finetune(
    a: Architecture, method: str, seq_len: int = 2048, micro_batch: int = 1, rank: int = 16
) -> FinetuneEstimate:
    if method not in METHODS:
        raise BadInputError(
            f"unknown fine-tuning method {method!r}; use one of {', '.join(METHODS)}"
        )
    if seq_len <= 0 or micro_batch <= 0 or rank <= 0:
        raise BadInputError("sequence length, micro-batch and rank must be positive")
    p = param_count(a)
    tokens = seq_len * micro_batch
    ffn = a.moe_intermediate_size or a.intermediate_size
    layer_working_set = tokens * (8 * a.hidden_size + 3 * ffn) * 2
    scores = micro_batch * a.num_attention_heads * seq_len * seq_len * 2
    activations = tokens * a.hidden_size * 2 * a.num_hidden_layers + layer_working_set + scores
    activations += tokens * a.vocab_size * 4  # fp32 logits for the loss
    if method == "full":
        return FinetuneEstimate(method, p, 2 * p, 12 * p, 2 * p, activations)
    trainable = lora_params(a, rank)
    base = 2 * p if method == "lora" else round(p * NF4_DOUBLE_QUANT_BITS / 8)
    return FinetuneEstimate(
        method, trainable, base + 2 * trainable, 12 * trainable, 2 * trainable, activations
    )
