"""Write a GGUF file for an architecture without its weights: the conformance test bed.

The header is what llama.cpp's loader reads (architecture keys, a ``none`` tokenizer
with ``vocab_size`` tokens, every tensor with the shape and ggml type the quantizer
would give it); the data section is left as a hole (``truncate``), so a 70B file
costs no disk.  llama.cpp then dry-runs it (``no_alloc``): nothing reads the data.

:func:`fill_random` then writes random weights into such a file, for runs that do read
the data (decode speed): every block gets bounded scales, so activations stay finite
and a MoE router sends each token to different experts, as trained weights do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFWriter

from llmatlas.catalog._schema import Architecture
from llmatlas.errors import BadInputError
from llmatlas.sizing.llama_graph import (
    attention_layers,
    ffn_only_layers,
    gemma4_heads,
    ssm_dims,
    swa_layers,
)
from llmatlas.sizing.params import Tensor
from llmatlas.sizing.quant import QuantFormat, gguf_tensor_type

T = GGMLQuantizationType

# Hugging Face model_type -> llama.cpp architecture name.
GGUF_ARCH = {
    "llama": "llama",
    "mistral": "llama",
    "mixtral": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "qwen3_moe": "qwen3moe",
    "qwen2_moe": "qwen2moe",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "gemma3": "gemma3",
    "gemma3_text": "gemma3",
    "phi3": "phi3",
    "gpt_oss": "gpt-oss",
    "deepseek_v2": "deepseek2",
    "deepseek_v3": "deepseek2",
    "falcon": "falcon",
    "bloom": "bloom",
    "gpt_neox": "gptneox",
    "olmo2": "olmo2",
    "granitemoehybrid": "granitehybrid",
    "internlm2": "internlm2",  # the converter splits InternLM2's wqkv into Q, K and V
    "mistral3": "mistral3",  # the text decoder of Mistral Small 3.x / Ministral 3
    "kimi_k2": "deepseek2",
    "qwen": "qwen",
    "mpt": "mpt",
    "gpt2": "gpt2",
    "phi": "phi2",  # Phi-1/1.5/2
    "stablelm": "stablelm",
    "olmo3": "olmo2",  # OLMo 3: OLMo 2 with sliding windows on 3 layers in 4
    "chatglm": "chatglm",  # ChatGLM2/3 and GLM-4 (9B)
    "glm4_moe": "glm4moe",  # GLM-4.5/4.6/4.7 (written without the MTP block llama.cpp skips)
    "qwen3_next": "qwen3next",  # gated delta-net hybrids (written without their MTP block)
    "qwen3_5": "qwen35",
    "qwen3_5_moe": "qwen35moe",
    "gemma4": "gemma4",
    "smollm3": "smollm3",  # Llama's layout; no rope on every 4th layer
    "seed_oss": "seed_oss",
    "olmo": "olmo",  # OLMo (1): LayerNorm without parameters
    "llama4_text": "llama4",
    "minimax_m2": "minimax-m2",
    "phimoe": "phimoe",  # Phi-3.5-MoE: Phi-3's graph, biased norms and projections
    "ernie4_5_moe": "ernie4_5-moe",
    "hunyuan": "hunyuan-moe",  # Hunyuan-A13B
    "nemotron_h": "nemotron_h",  # Mamba-2, attention and FFN-only layers (dense or MoE)
    "grok-1": "grok",
    "minimax_m1": "minimax-01",  # lightning attention with a softmax layer in every 8
    "gemma3n_text": "gemma3n",
}
_GDN = {"qwen3next", "qwen35", "qwen35moe"}
_LAYERNORM = {"falcon", "bloom", "gptneox", "mpt", "gpt2", "phi2", "stablelm", "olmo"}
_FUSED = {"falcon", "bloom", "gptneox", "qwen", "mpt", "gpt2", "chatglm"}
_BIASED = {"bloom", "gptneox", "gpt2", "phi2"}  # every linear layer and norm has a bias


def gguf_arch(a: Architecture) -> str:
    try:
        return GGUF_ARCH[a.model_type]
    except KeyError:
        raise BadInputError(f"no GGUF layout for model_type {a.model_type!r}") from None


@dataclass(frozen=True)
class Spec:
    name: str  # full GGUF tensor name
    ne: tuple[int, ...]  # ggml order: ne[0] is the row length
    role: Tensor  # what the quantizer rules see


def _t(name: str, layer: int | None, ne: tuple[int, ...], cat: str = "attention") -> Spec:
    base = name.split(".")[-2] if name.startswith("blk.") else name.rsplit(".", 1)[0]
    n = int(np.prod(ne))
    one_d = len(ne) == 1
    role = Tensor(base, layer, n, 1 if one_d else ne[0], "norm" if one_d else cat)  # type: ignore[arg-type]
    return Spec(name, ne, role)


def layout(a: Architecture) -> list[Spec]:
    """Every tensor llama.cpp expects for ``a``, with its ggml shape."""
    arch = gguf_arch(a)
    h, v, nh, nkv = a.hidden_size, a.vocab_size, a.num_attention_heads, a.num_key_value_heads
    hd = a.resolved_head_dim
    ln = arch in _LAYERNORM and a.norm != "layernorm-nobias"  # LayerNorm with a bias (not MPT's)
    biased = arch in _BIASED
    out: list[Spec] = [_t("token_embd.weight", None, (h, v), "embedding")]
    if arch == "gemma3n":  # AltUp projections and the per-layer inputs
        n_a, e, n_l = 4, 256, a.num_hidden_layers
        out.append(_t("altup_proj.weight", None, (h, h, n_a - 1), "embedding"))
        out.append(_t("altup_unembd_proj.weight", None, (h, h, n_a - 1), "embedding"))
        out.append(_t("per_layer_token_embd.weight", None, (e * n_l, v), "embedding"))
        out.append(_t("per_layer_model_proj.weight", None, (h, e * n_l), "embedding"))
        out.append(_t("per_layer_proj_norm.weight", None, (e,)))
    if arch == "gpt2":  # learned positions
        out.append(_t("position_embd.weight", None, (h, a.max_position_embeddings), "embedding"))
    if arch == "bloom":
        out += [_t("token_embd_norm.weight", None, (h,)), _t("token_embd_norm.bias", None, (h,))]
    if arch != "olmo":
        out.append(_t("output_norm.weight", None, (h,)))
    if ln or arch == "phimoe":
        out.append(_t("output_norm.bias", None, (h,)))
    if not a.tie_word_embeddings and arch != "bloom":
        out.append(_t("output.weight", None, (h, v), "output"))
    if arch in ("phi2", "phimoe"):
        out.append(_t("output.bias", None, (v,)))
    for i in range(a.num_hidden_layers):
        b = f"blk.{i}."

        def add(
            name: str, ne: tuple[int, ...], cat: str = "attention", i: int = i, b: str = b
        ) -> None:
            out.append(_t(b + name, i, ne, cat))

        if arch not in ("olmo2", "olmo"):
            add("attn_norm.weight", (h,))
        if arch in _GDN:
            add("post_attention_norm.weight", (h,))  # the FFN's norm
        if ln or arch == "phimoe":
            add("attn_norm.bias", (h,))
        if arch == "falcon" and nkv > 1:  # Falcon-40B/180B's new decoder: a norm per branch
            add("attn_norm_2.weight", (h,))
            add("attn_norm_2.bias", (h,))
        if arch == "nemotron_h" and i in ffn_only_layers(a):  # one block, no mixer
            ff, fe = a.intermediate_size, a.moe_intermediate_size or a.intermediate_size
            if a.is_moe:
                ne_ = a.num_experts or 1
                sf = (a.shared_expert_intermediate_size or fe) * (a.num_shared_experts or 1)
                add("ffn_gate_inp.weight", (h, ne_), "ffn")
                add("exp_probs_b.bias", (ne_,))
                add("ffn_up_exps.weight", (h, fe, ne_), "experts")
                add("ffn_down_exps.weight", (fe, h, ne_), "experts")
                add("ffn_up_shexp.weight", (h, sf), "ffn")
                add("ffn_down_shexp.weight", (sf, h), "ffn")
            else:
                add("ffn_up.weight", (h, ff), "ffn")
                add("ffn_down.weight", (ff, h), "ffn")
            continue
        if arch == "minimax-01" and i not in attention_layers(a):  # lightning attention
            add("attn_norm_2.weight", (nh * hd,))
            add("attn_qkv.weight", (h, 3 * nh * hd))
            add("attn_gate.weight", (h, nh * hd))
            add("attn_output.weight", (nh * hd, h))
            add("ffn_norm.weight", (h,))
            ne_ = a.num_experts or 1
            add("ffn_gate_inp.weight", (h, ne_), "ffn")
            add("ffn_gate_exps.weight", (h, a.intermediate_size, ne_), "experts")
            add("ffn_up_exps.weight", (h, a.intermediate_size, ne_), "experts")
            add("ffn_down_exps.weight", (a.intermediate_size, h, ne_), "experts")
            continue
        if arch == "nemotron_h" and i in attention_layers(a):
            add("attn_q.weight", (h, nh * hd))
            add("attn_k.weight", (h, nkv * hd))
            add("attn_v.weight", (h, nkv * hd))
            add("attn_output.weight", (nh * hd, h))
            continue
        if arch in ("granitehybrid", "nemotron_h") and i not in attention_layers(a):
            inner, state, groups, heads, conv = ssm_dims(a)
            add("ssm_in.weight", (h, 2 * inner + 2 * groups * state + heads))
            add("ssm_conv1d.weight", (conv, inner + 2 * groups * state))
            add("ssm_conv1d.bias", (inner + 2 * groups * state,))
            add("ssm_dt.bias", (heads,))
            out.append(_t(f"{b}ssm_a", i, (1, heads)))
            out.append(_t(f"{b}ssm_d", i, (1, heads)))
            add("ssm_norm.weight", (inner // groups, groups))
            add("ssm_out.weight", (inner, h))
            if arch == "nemotron_h":  # a Mamba-2 layer holds nothing else
                continue
        elif arch in _GDN and i not in attention_layers(a):
            hk, nk = a.linear_key_head_dim or 128, a.linear_num_key_heads or 1
            hv, nv = a.linear_value_head_dim or 128, a.linear_num_value_heads or 1
            cdim = 2 * hk * nk + hv * nv
            add("attn_qkv.weight", (h, cdim))
            add("attn_gate.weight", (h, hv * nv))
            add("ssm_conv1d.weight", (a.conv1d_width or 4, cdim))
            add("ssm_dt.bias", (nv,))
            out.append(_t(f"{b}ssm_a", i, (nv,)))
            if arch == "qwen3next":
                add("ssm_ba.weight", (h, 2 * nv))
            else:
                add("ssm_beta.weight", (h, nv))
                add("ssm_alpha.weight", (h, nv))
            add("ssm_norm.weight", (hv,))
            add("ssm_out.weight", (hv * nv, h))
        elif arch == "gemma4":  # per layer: window layers' heads, or the global layers'
            hd_i, nkv_i, has_v = gemma4_heads(a, i)
            add("attn_q.weight", (h, nh * hd_i))
            add("attn_k.weight", (h, nkv_i * hd_i))
            if has_v:
                add("attn_v.weight", (h, nkv_i * hd_i))
            add("attn_output.weight", (nh * hd_i, h))
            add("attn_q_norm.weight", (hd_i,))
            add("attn_k_norm.weight", (hd_i,))
            if i not in swa_layers(a) and not any(x.name == "rope_freqs.weight" for x in out):
                out.append(_t("rope_freqs.weight", None, (hd_i // 2,)))  # proportional rope
        elif a.is_mla:
            rope, nope = a.qk_rope_head_dim or 64, a.qk_nope_head_dim or 128
            vd, kvr = a.v_head_dim or 128, a.kv_lora_rank or 512
            if a.q_lora_rank:
                add("attn_q_a_norm.weight", (a.q_lora_rank,))
                add("attn_q_a.weight", (h, a.q_lora_rank))
                add("attn_q_b.weight", (a.q_lora_rank, nh * (nope + rope)))
            else:
                add("attn_q.weight", (h, nh * (nope + rope)))
            add("attn_kv_a_norm.weight", (kvr,))
            add("attn_kv_a_mqa.weight", (h, kvr + rope))
            add("attn_k_b.weight", (nope, kvr, nh))
            add("attn_v_b.weight", (kvr, vd, nh))
            add("attn_output.weight", (nh * vd, h))
        else:
            q, k = nh * hd, nkv * hd
            if arch in _FUSED:
                add("attn_qkv.weight", (h, q + 2 * k))
                if biased or (arch in ("qwen", "chatglm") and a.attention_bias):
                    add("attn_qkv.bias", (q + 2 * k,))
            elif arch == "phi3":
                add("attn_qkv.weight", (h, q + 2 * k))
            else:  # (Qwen3-Next / Qwen3.5: Q and the output gate in one projection)
                add("attn_q.weight", (h, 2 * q if arch in _GDN else q))
                add("attn_k.weight", (h, k))
                add("attn_v.weight", (h, k))
                if a.attention_bias or biased:
                    add("attn_q.bias", (q,))
                    add("attn_k.bias", (k,))
                    add("attn_v.bias", (k,))
            add("attn_output.weight", (q, h))
            if biased or arch in ("gpt-oss", "phimoe"):
                add("attn_output.bias", (h,))
            if arch == "grok":
                add("attn_output_norm.weight", (h,))
            if arch in ("qwen3", "qwen3moe", "gemma3", "gemma3n", "hunyuan-moe", *_GDN) or (
                arch == "glm4moe" and a.qk_norm
            ):
                add("attn_q_norm.weight", (hd,))
                add("attn_k_norm.weight", (hd,))
            if arch in ("olmo2", "minimax-m2"):  # norms over the whole Q and K widths
                add("attn_q_norm.weight", (q,))
                add("attn_k_norm.weight", (k,))
            if arch == "gpt-oss":
                add("attn_sinks.weight", (nh,))
        if arch in ("gemma2", "gemma3", "gemma3n", "gemma4", "olmo2", "gpt-oss"):
            add("post_attention_norm.weight", (h,))
        if arch in ("glm4moe", "seed_oss"):  # the FFN's norm
            add("post_attention_norm.weight", (h,))
        elif arch not in ("olmo2", "olmo", "gpt-oss", "falcon", "phi2", *_GDN):
            add("ffn_norm.weight", (h,))
            if ln or arch == "phimoe":
                add("ffn_norm.bias", (h,))
        dense = not a.is_moe or i < (a.first_k_dense_layers or 0)
        dense = dense or (i + 1) % (a.moe_layer_step or 1) != 0  # Llama 4 Maverick
        ff = a.intermediate_size  # (Qwen-1's config says twice this: llama.cpp halves it)
        if arch == "gemma4" and not dense:  # a dense GELU FFN beside the routed experts
            ne_, fe = a.num_experts or 1, a.moe_intermediate_size or ff
            for n_ in ("ffn_gate", "ffn_up"):
                add(f"{n_}.weight", (h, ff), "ffn")
            add("ffn_down.weight", (ff, h), "ffn")
            add("ffn_gate_inp.weight", (h, ne_), "ffn")
            add("ffn_gate_inp.scale", (h,))
            for n_ in ("pre_ffw_norm_2", "post_ffw_norm_1", "post_ffw_norm_2", "post_ffw_norm"):
                add(f"{n_}.weight", (h,))
            add("ffn_gate_exps.weight", (h, fe, ne_), "experts")
            add("ffn_up_exps.weight", (h, fe, ne_), "experts")
            add("ffn_down_exps.weight", (fe, h, ne_), "experts")
            continue
        if dense:
            if arch in ("phi3", "chatglm"):  # gate and up in one tensor
                add("ffn_up.weight", (h, 2 * ff), "ffn")
            else:
                if a.mlp == "gated":
                    add("ffn_gate.weight", (h, ff), "ffn")
                add("ffn_up.weight", (h, ff), "ffn")
                if biased:
                    add("ffn_up.bias", (ff,))
            add("ffn_down.weight", (ff, h), "ffn")
            if biased:
                add("ffn_down.bias", (h,))
        else:
            ne_ = a.num_experts or 1
            fe = a.moe_intermediate_size or ff
            add("ffn_gate_inp.weight", (h, ne_), "ffn")
            add("ffn_gate_exps.weight", (h, fe, ne_), "experts")
            add("ffn_up_exps.weight", (h, fe, ne_), "experts")
            add("ffn_down_exps.weight", (fe, h, ne_), "experts")
            if arch == "gpt-oss":
                add("ffn_gate_inp.bias", (ne_,))
                add("ffn_gate_exps.bias", (fe, ne_))
                add("ffn_up_exps.bias", (fe, ne_))
                add("ffn_down_exps.bias", (h, ne_))
            if arch in ("deepseek2", "glm4moe", "minimax-m2", "ernie4_5-moe"):
                add("exp_probs_b.bias", (ne_,))
            if a.num_shared_experts:
                sf = (a.shared_expert_intermediate_size or fe) * a.num_shared_experts
                if arch in ("qwen2moe", "qwen3next", "qwen35moe"):  # the shared expert's gate
                    add("ffn_gate_inp_shexp.weight", (h,))
                add("ffn_gate_shexp.weight", (h, sf), "ffn")
                add("ffn_up_shexp.weight", (h, sf), "ffn")
                add("ffn_down_shexp.weight", (sf, h), "ffn")
        if arch in ("gemma2", "gemma3", "gemma3n", "gemma4", "olmo2"):
            add("post_ffw_norm.weight", (h,))
        if arch == "gemma3n":
            n_a, e, r = 4, 256, a.laurel_rank or 64
            add("inp_gate.weight", (h, e))
            add("proj.weight", (e, h))
            add("post_norm.weight", (h,))
            out.append(_t(b + "altup_correct_coef.weight", i, (n_a, n_a)))
            add("altup_correct_scale.weight", (h,))
            out.append(_t(b + "altup_predict_coef.weight", i, (n_a, n_a * n_a)))
            add("altup_router.weight", (h, n_a))
            add("altup_router_norm.weight", (h,))
            add("laurel_l.weight", (h, r))
            add("laurel_r.weight", (r, h))
            add("laurel_post_norm.weight", (h,))
        if arch == "grok":
            add("layer_output_norm.weight", (h,))
    for s in out:
        if s.name.endswith(".bias") and len(s.ne) == 2:  # 2-D expert biases stay F32
            pass
    return out


def _metadata(w: GGUFWriter, a: Architecture, arch: str, ftype_name: str) -> None:
    from gguf import LlamaFileType

    p = arch + "."
    w.add_uint32(p + "context_length", a.max_position_embeddings)
    w.add_uint32(p + "embedding_length", a.hidden_size)
    w.add_uint32(p + "block_count", a.num_hidden_layers)
    # Qwen-1's config (and so its GGUF) gives twice the FFN width; llama.cpp's qwen.cpp halves it
    if arch == "nemotron_h":  # per layer: 0 except on FFN-only layers (0 KV heads + 0 = Mamba)
        ffn = ffn_only_layers(a)
        ff_len = [a.intermediate_size if i in ffn else 0 for i in range(a.num_hidden_layers)]
        w.add_array(p + "feed_forward_length", ff_len)
        w.add_float32(p + "attention.layer_norm_epsilon", 1e-5)
        if a.is_moe:
            w.add_bool(p + "expert_weights_norm", True)
            fe = a.moe_intermediate_size or a.intermediate_size
            sf = (a.shared_expert_intermediate_size or fe) * (a.num_shared_experts or 1)
            w.add_uint32(p + "expert_shared_feed_forward_length", sf)
    else:
        w.add_uint32(p + "feed_forward_length", a.intermediate_size * (2 if arch == "qwen" else 1))
    w.add_uint32(p + "attention.head_count", a.num_attention_heads)
    # MLA files declare one KV head: the shared latent (llama.cpp's DeepSeek-V2/V3 conversion)
    if arch == "gemma4":  # per layer: the window layers' KV heads or the global layers'
        w.add_head_count_kv([gemma4_heads(a, i)[1] for i in range(a.num_hidden_layers)])
    elif arch in ("granitehybrid", "nemotron_h"):  # per layer: 0 marks a layer without KV
        attn = attention_layers(a)
        w.add_head_count_kv(
            [a.num_key_value_heads if i in attn else 0 for i in range(a.num_hidden_layers)]
        )
        inner, state, groups, heads, conv = ssm_dims(a)
        w.add_ssm_conv_kernel(conv)
        w.add_ssm_inner_size(inner)
        w.add_ssm_state_size(state)
        w.add_ssm_time_step_rank(heads)
        w.add_ssm_group_count(groups)
    else:
        w.add_uint32(p + "attention.head_count_kv", 1 if a.is_mla else a.num_key_value_heads)
    w.add_uint32(p + "vocab_size", a.vocab_size)
    eps = (
        "attention.layer_norm_epsilon" if arch in _LAYERNORM else "attention.layer_norm_rms_epsilon"
    )
    w.add_float32(p + eps, 1e-5)
    if arch == "gemma4":
        full = a.global_head_dim or a.resolved_head_dim
        w.add_uint32(p + "attention.key_length", full)
        w.add_uint32(p + "attention.value_length", full)
        w.add_uint32(p + "attention.key_length_swa", a.resolved_head_dim)
        w.add_uint32(p + "attention.value_length_swa", a.resolved_head_dim)
        w.add_uint32(p + "rope.dimension_count_swa", a.resolved_head_dim)
        w.add_uint32(p + "embedding_length_per_layer_input", 0)
        w.add_float32(p + "final_logit_softcapping", 30.0)
    elif a.head_dim and not a.is_mla:
        w.add_uint32(p + "attention.key_length", a.head_dim)
        w.add_uint32(p + "attention.value_length", a.head_dim)
    rot = int(a.resolved_head_dim * (a.partial_rotary_factor or 1.0))
    if arch == "gemma4":  # the global layers' width (partial rotation is in rope_freqs)
        rot = a.global_head_dim or a.resolved_head_dim
    if a.is_mla:
        rope = a.qk_rope_head_dim or 64
        kvr = a.kv_lora_rank or 512
        w.add_uint32(p + "rope.dimension_count", rope)
        w.add_uint32(p + "attention.key_length", kvr + rope)
        w.add_uint32(p + "attention.value_length", kvr)
        w.add_uint32(p + "attention.key_length_mla", (a.qk_nope_head_dim or 128) + rope)
        w.add_uint32(p + "attention.value_length_mla", a.v_head_dim or 128)
        w.add_uint32(p + "attention.kv_lora_rank", kvr)
        if a.q_lora_rank:
            w.add_uint32(p + "attention.q_lora_rank", a.q_lora_rank)
        w.add_uint32(p + "leading_dense_block_count", a.first_k_dense_layers or 0)
        w.add_float32(p + "expert_weights_scale", 2.5)
        w.add_bool(p + "expert_weights_norm", True)
        w.add_uint32(p + "expert_gating_func", 2)
    else:
        w.add_uint32(p + "rope.dimension_count", rot)
    if a.rope_theta:
        w.add_float32(p + "rope.freq_base", float(a.rope_theta))
    if a.sliding_window:
        w.add_uint32(p + "attention.sliding_window", a.sliding_window)
    if a.is_moe:
        w.add_uint32(p + "expert_count", a.num_experts or 1)
        w.add_uint32(p + "expert_used_count", a.num_experts_per_tok or 1)
        if a.moe_intermediate_size:
            w.add_uint32(p + "expert_feed_forward_length", a.moe_intermediate_size)
        if a.num_shared_experts:
            w.add_uint32(p + "expert_shared_count", a.num_shared_experts)
        if arch in ("qwen2moe", "granitehybrid", "qwen3next", "qwen35moe") and (
            a.shared_expert_intermediate_size
        ):
            sf = a.shared_expert_intermediate_size * (a.num_shared_experts or 1)
            w.add_uint32(p + "expert_shared_feed_forward_length", sf)
    if arch in ("ernie4_5-moe", "hunyuan-moe") and a.num_shared_experts:
        fe = a.moe_intermediate_size or a.intermediate_size
        sf = (a.shared_expert_intermediate_size or fe) * a.num_shared_experts
        w.add_uint32(p + "expert_shared_feed_forward_length", sf)
    if arch == "ernie4_5-moe":
        w.add_uint32(p + "interleave_moe_layer_step", a.moe_layer_step or 1)
        w.add_uint32(p + "leading_dense_block_count", a.first_k_dense_layers or 0)
    if arch == "gptneox":
        w.add_bool(p + "use_parallel_residual", True)
    if arch == "minimax-m2":
        w.add_uint32(p + "expert_gating_func", 2)  # sigmoid
        if not a.moe_intermediate_size:
            w.add_uint32(p + "expert_feed_forward_length", a.intermediate_size)
    if arch == "glm4moe":
        w.add_uint32(p + "leading_dense_block_count", a.first_k_dense_layers or 0)
        w.add_bool(p + "expert_weights_norm", True)
        w.add_uint32(p + "expert_gating_func", 2)  # sigmoid
    if arch in _GDN:
        hk, nk = a.linear_key_head_dim or 128, a.linear_num_key_heads or 1
        hv, nv = a.linear_value_head_dim or 128, a.linear_num_value_heads or 1
        w.add_ssm_conv_kernel(a.conv1d_width or 4)
        w.add_ssm_inner_size(hv * nv)
        w.add_ssm_state_size(hk)
        w.add_ssm_time_step_rank(nv)
        w.add_ssm_group_count(nk)
        attn = attention_layers(a)
        w.add_uint32(p + "full_attention_interval", a.num_hidden_layers // len(attn))
        if arch != "qwen3next":  # M-RoPE sections (text only: which rotary pairs per axis)
            w.add_array(p + "rope.dimension_sections", [rot // 2, 0, 0, 0])
    if arch == "llama4":
        w.add_uint32(p + "interleave_moe_layer_step", a.moe_layer_step or 1)
    if arch == "minimax-01":
        w.add_float32(p + "residual_scale", 1.0)
        w.add_uint32(p + "full_attention_interval", a.num_hidden_layers // len(attention_layers(a)))
    if arch == "mpt":
        w.add_float32(p + "attention.max_alibi_bias", 8.0)
    if arch in ("olmo2", "gemma4") and a.sliding_window:  # which layers slide (llama_graph's)
        slide = swa_layers(a)
        w.add_array(
            p + "attention.sliding_window_pattern", [i in slide for i in range(a.num_hidden_layers)]
        )
    w.add_string("tokenizer.ggml.model", "none")
    w.add_string("general.name", f"synthetic {a.model_type}")
    code = {"MXFP4": "MOSTLY_MXFP4_MOE", "F32": "ALL_F32"}.get(ftype_name, "MOSTLY_" + ftype_name)
    if code in LlamaFileType.__members__:
        w.add_uint32("general.file_type", int(LlamaFileType[code]))


def tensor_type(fmt: QuantFormat, s: Spec, a: Architecture) -> GGMLQuantizationType:
    if len(s.ne) == 1 or s.name.endswith(".bias") or "norm" in s.name:
        return T.F32
    if "ssm_" in s.name and not s.name.endswith(
        ("ssm_in.weight", "ssm_out.weight", "ssm_ba.weight", "ssm_alpha.weight", "ssm_beta.weight")
    ):
        return T.F32  # llama-quant.cpp keeps Mamba's conv, A, D and norms in F32
    if s.name.endswith(("attn_sinks.weight", "ffn_gate_inp.weight")):
        return T.F32
    if s.name.endswith(("attn_k_b.weight", "attn_v_b.weight", "attn_kv_a_mqa.weight")):
        return T.F16  # llama-quant.cpp leaves MLA's latent projections unquantized
    t = gguf_tensor_type(fmt, s.role, a)
    block = GGML_QUANT_SIZES[t][0]
    return t if s.ne[0] % block == 0 else T.F16


def synth_gguf(a: Architecture, fmt: QuantFormat, path: Path, parts: int = 1) -> list[Path]:
    """Write ``a`` in ``fmt`` as a sparse GGUF at ``path`` (``parts`` > 1: a split file)."""
    if not fmt.is_gguf:
        raise BadInputError(f"{fmt.name} is not a GGUF format")
    arch = gguf_arch(a)
    specs = layout(a)
    per_part = -(-len(specs) // parts) if parts > 1 else 0
    w = GGUFWriter(path, arch, split_max_tensors=per_part)
    _metadata(w, a, arch, fmt.name)
    for s in specs:
        t = tensor_type(fmt, s, a)
        block, size = GGML_QUANT_SIZES[t]
        n = int(np.prod(s.ne))
        nbytes = n // block * size
        w.add_tensor_info(s.name, tuple(reversed(s.ne)), np.dtype(np.float32), nbytes, raw_dtype=t)
    w.write_header_to_file(path)
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    assert w.fout is not None
    files = w.format_shard_names(path)
    for fout, tensors in zip(w.fout, w.tensors, strict=True):
        start = GGUFWriter.ggml_pad(fout.tell(), w.data_alignment)
        size = sum(GGUFWriter.ggml_pad(ti.nbytes, w.data_alignment) for ti in tensors.values())
        fout.truncate(start + size)  # a hole: no disk used for the weights
    w.close()
    return files


# Byte offsets of the float16 scale fields (d, dmin) inside one block of each type, from
# the block structs of ggml-common.h; every other byte of a block may be anything.
_F16_SCALE_OFFSETS: dict[GGMLQuantizationType, tuple[int, ...]] = {
    T.Q4_0: (0,),
    T.Q4_1: (0, 2),
    T.Q5_0: (0,),
    T.Q5_1: (0, 2),
    T.Q8_0: (0,),
    T.Q2_K: (80, 82),
    T.Q3_K: (108,),
    T.Q4_K: (0, 2),
    T.Q5_K: (0, 2),
    T.Q6_K: (208,),
    T.IQ4_NL: (0,),
    T.IQ4_XS: (0,),
}
_CHUNK = 1 << 24  # bytes filled at a time


def fill_random(path: Path, seed: int = 0) -> int:
    """Overwrite every tensor of the GGUF at ``path`` with random values; returns bytes
    written.  Float tensors get N(0, 0.02); quantized blocks get random quants with the
    block scale fixed at 2**-10 (so no NaN or infinity anywhere)."""
    from gguf import GGUFReader

    rng = np.random.default_rng(seed)
    reader = GGUFReader(path, "r+")
    scale = np.frombuffer(np.float16(2**-10).tobytes(), np.uint8)
    written = 0
    for t in reader.tensors:
        raw = reader.data[t.data_offset : t.data_offset + t.n_bytes]
        if t.tensor_type in (T.F32, T.F16, T.BF16):
            dtype = {T.F32: np.float32, T.F16: np.float16, T.BF16: np.uint16}[t.tensor_type]
            out = raw.view(dtype)
            for i in range(0, out.size, _CHUNK // 4):
                v = rng.normal(0.0, 0.02, min(_CHUNK // 4, out.size - i)).astype(np.float32)
                if t.tensor_type == T.BF16:  # the upper half of a float32
                    out[i : i + v.size] = (v.view(np.uint32) >> 16).astype(np.uint16)
                else:
                    out[i : i + v.size] = v
        elif t.tensor_type in _F16_SCALE_OFFSETS:
            size = GGML_QUANT_SIZES[t.tensor_type][1]
            blocks = raw.reshape(-1, size)
            step = max(1, _CHUNK // size)
            for i in range(0, len(blocks), step):
                b = blocks[i : i + step]
                b[:] = rng.integers(0, 256, b.shape, dtype=np.uint8)
                for off in _F16_SCALE_OFFSETS[t.tensor_type]:
                    b[:, off : off + 2] = scale
        else:
            raise BadInputError(f"no random fill for ggml type {t.tensor_type.name}")
        written += t.n_bytes
    reader.data.flush()
    return written
