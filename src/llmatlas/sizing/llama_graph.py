"""The worst-case graph llama.cpp reserves its compute buffer for, tensor by tensor.

Mirrors the bundled llama.cpp (llama-cpp-python 0.3.36: ``src/llama-graph.cpp``
``build_inp_embd``/``build_norm``/``build_attn``/``build_attn_mha``/``build_ffn``/
``build_moe_ffn``, ``src/models/<arch>.cpp``, ``src/llama-kv-cache.cpp`` views and
``set_rows`` stores): the prompt-processing graph of one ubatch of ``n_ubatch`` tokens,
every one an output, over a full cache of ``n_kv`` cells.  Weights and the KV cache live in
their own buffers, so only activations, inputs and masks reach the allocator; its peak
(:func:`llmatlas.sizing.ggml_alloc.reserve`) is the compute buffer llama.cpp logs.
Shapes come from the architecture; nothing is measured or fitted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from llmatlas.catalog._schema import Architecture
from llmatlas.sizing.ggml_alloc import Graph, Tensor, reserve, row_size, work_size
from llmatlas.sizing.graph_memo import (
    GRAPHED,
    Settings,
    attention_layers,
    compute_buffer,
    ffn_only_layers,
    supported,
    swa_layers,
    work_buffer,
)

__all__ = [  # supported/compute_buffer/Settings/GRAPHED and the layer placements live in
    # graph_memo (imported by the sizing path without the graph builder), named here too
    "GRAPHED",
    "Settings",
    "attention_layers",
    "compute_buffer",
    "ffn_only_layers",
    "gemma4_heads",
    "kv_cells",
    "replay",
    "replay_work",
    "replayed_layers",
    "ssm_dims",
    "supported",
    "swa_layers",
    "touched",
    "work_touched",
]

SWA_ARCHS = (
    "gemma2",
    "gemma3",
    "gemma3_text",
    "gemma3n_text",
    "gemma4",
    "gpt_oss",
    "olmo3",
    "llama4_text",
)
GEMMA3N_ALTUP, GEMMA3N_EMBD, GEMMA3N_KV_LAYERS, GEMMA3N_SPARSE = 4, 256, 20, 10
"""Gemma 3n's constants in llama.cpp 0.3.36 (llama-hparams.h, gemma3n.cpp, models.h): AltUp
streams, per-layer input width, layers owning a KV cache, layers with activation sparsity."""
PARALLEL = ("gpt_neox", "falcon", "bloom")  # LayerNorm with bias, one fused QKV
FUSED_QKV = (
    "phi3",
    "qwen",
    "mpt",
    "gpt2",
    "chatglm",
)  # one wqkv whose output Q, K and V are views of
POST_NORM = ("olmo2", "olmo3")  # norms after attention and FFN, not before
GDN = ("qwen3_next", "qwen3_5", "qwen3_5_moe")  # gated delta-net layers + gated attention
LATE_OUT = ("gpt_oss", *GDN)
LLAMA4 = ("llama4", "llama4_text")  # the outputs are gathered after the last layer, not in it


def _pad(n: int, to: int) -> int:
    return -(-n // to) * to


def gemma4_heads(a: Architecture, il: int) -> tuple[int, int, bool]:
    """(head width, KV heads, has a V projection) of Gemma 4's layer ``il``: window layers use
    ``head_dim``; global layers ``global_head_dim`` and their own KV heads, their keys doubling
    as values with ``attention_k_eq_v``."""
    if il in swa_layers(a):
        return a.resolved_head_dim, a.num_key_value_heads, True
    return (
        a.global_head_dim or a.resolved_head_dim,
        a.num_global_key_value_heads or a.num_key_value_heads,
        not a.attention_k_eq_v,
    )


def ssm_dims(a: Architecture) -> tuple[int, int, int, int, int]:
    """(d_inner, d_state, n_group, n_ssm_head, d_conv) of a Mamba-2 layer."""
    heads = a.linear_num_value_heads or 1
    inner = heads * (a.linear_value_head_dim or 1)
    return (
        inner,
        a.linear_key_head_dim or 128,
        a.linear_num_key_heads or 1,
        heads,
        a.conv1d_width or 4,
    )


def kv_cells(a: Architecture, s: Settings) -> tuple[int, int]:
    """(cells of the full-attention cache, cells of the sliding-window cache)."""
    total = s.n_ctx * s.n_seq
    full = _pad(total, 256) if total > 256 else total
    swa = full
    if a.sliding_window and a.model_type in SWA_ARCHS and not s.swa_full:
        swa = min(full, _pad(a.sliding_window * s.n_seq + s.n_ubatch, 256))
    if s.used is not None:
        span = max(256, _pad(s.used, 256))
        return min(full, span), min(swa, span)
    return full, swa


class _Builder:
    def __init__(
        self,
        a: Architecture,
        s: Settings,
        layers: list[int] | None = None,
        devices: tuple[list[int], int, int] | None = None,
    ) -> None:
        self.a, self.s, self.g = a, s, Graph()
        self.layers = layers
        self.devices = devices
        """(device of each layer, device of the output head, the CPU's id) for a multi-device
        replay (:mod:`llmatlas.sizing.ggml_sched`); None: one device."""
        # graph_reserve: min(n_ctx, n_ubatch) outputs over as many tokens rounded up to a
        # multiple of the sequences (one unified KV stream: the graph is otherwise the same)
        reserve_tok = min(s.n_ubatch, s.n_ctx * s.n_seq)
        self.n_tok = s.n_tokens or _pad(reserve_tok, s.n_seq)
        self.n_out = reserve_tok if s.n_outputs is None else s.n_outputs
        self.h = a.hidden_size
        self.hd = a.resolved_head_dim
        self.n_head = a.num_attention_heads
        self.n_kv_head = 1 if a.is_mla else a.num_key_value_heads
        # llama_init_from_model forces flash attention off for Grok (its soft-capped scores)
        self.fa = s.flash_attn and a.model_type != "grok-1"
        self.v_trans = not self.fa
        self.kv_type = s.kv_type
        self.quant_kv = s.kv_type not in ("f16", "f32", "bf16")
        self.ns = s.n_seq  # sequences in the ubatch (MiniMax-M1's last reserve: one)
        self.rotations: dict[tuple[str, int, int], Tensor] = {}
        # the layer's flavour, from the fields llama.cpp's loader reads (biases, norms, rope)
        mt = a.model_type
        self.ln = mt in PARALLEL or a.norm != "rmsnorm"  # LayerNorm (phi2, gpt2, mpt, stablelm)
        if mt == "phimoe":  # phi3.cpp: RMS norm with a bias
            self.ln = False
        self.ln_bias = mt in PARALLEL or a.norm == "layernorm"
        # (Granite 4.0-H, "none", still ropes: granite-hybrid.cpp's switch is rope.scaling.finetuned)
        self.roped = a.position_embedding not in ("alibi", "learned")
        self.qkv_bias = a.attention_bias and mt not in ("phi3", "mpt")  # (ChatGLM: wqkv_b)
        self.wo_bias = a.attention_out_bias and mt in ("gpt2", "phi", "phimoe")
        self.ffn_bias = a.mlp_bias and mt in ("gpt2", "phi")

    # -- inputs -----------------------------------------------------------------------
    def inputs(self) -> None:
        g = self.g
        self.tokens = g.input("i32", self.n_tok, name="inp_tokens")
        self.embd_in = g.input("f32", self.h, self.n_tok, name="inp_embd")

    def embed(self) -> Tensor:
        g = self.g
        tok = g.weight(self.h, self.a.vocab_size, type_="q4_0")
        cur = g.get_rows(tok, self.tokens)
        g.expand(cur)
        g.expand(self.embd_in)  # the embeddings input of ggml_build_forward_select: a leaf
        if self.a.model_type.startswith("gemma"):
            cur = g.same("scale", cur)
            g.expand(cur)
        return cur

    # -- blocks -----------------------------------------------------------------------
    def norm(self, x: Tensor, rms: bool = True, bias: bool = False) -> Tensor:
        g = self.g
        cur = g.same("rms_norm" if rms else "norm", x)
        cur.backend = g.layer_backend  # named "norm" with its layer: forced onto its device
        if self.a.model_type == "olmo" and not rms:  # OLMo (1): LayerNorm without parameters
            return cur
        cur = g.same("mul", cur, g.weight(x.ne[0], type_="f32"))
        if bias:
            cur = g.same("add", cur, g.weight(x.ne[0], type_="f32"))
        return cur

    def rope(self, x: Tensor, pos: Tensor) -> Tensor:
        return self.g.same("rope", x, pos)

    def hadamard(self, x: Tensor, n: int, cache: Tensor, kind: str = "k") -> Tensor:
        """``x`` rotated by an ``n x n`` Hadamard matrix: a graph input of the KV cache
        ``cache`` stands for (``attn_inp_k_rot`` for Q and K, ``attn_inp_v_rot`` for V and the
        output: two inputs per cache even when both are 64 x 64, as measured over RPC
        devices), so it takes room in the compute buffer (on every device it is copied to)."""
        g = self.g
        key = (kind, id(cache), n)
        rot = self.rotations.get(key)
        if rot is None:
            rot = self.rotations[key] = g.input("f32", n, n, name="attn_inp_rot")
        contiguous = x.nb == g.new(x.type, *x.ne).nb
        total = x.ne[0] * x.ne[1] * x.ne[2] * x.ne[3]
        r = g.reshape(x, n, total // n) if contiguous else g.cont(x, n, total // n)
        r = g.mul_mat(rot, r)
        return g.reshape(r, *x.ne)

    def store_kv(
        self,
        k_cur: Tensor,
        v_cur: Tensor,
        cache_k: Tensor,
        cache_v: Tensor,
        n_kv: int,
        k_idx: Tensor,
        v_idx: Tensor,
    ) -> None:
        """``cpy_k`` / ``cpy_v``: this ubatch's K and V rows set into the caches (V
        transposed, one value per row, without flash attention)."""
        g, hd, nkv, nt = self.g, self.hd, self.n_kv_head, self.n_tok
        kc = g.view(k_cur, (nkv * hd, nt), (0, k_cur.nb[2]))
        g.expand(g.set_rows(cache_k, kc, k_idx))
        if not self.v_trans:
            vc = g.view(v_cur, (nkv * hd, nt), (0, v_cur.nb[2]))
            g.expand(g.set_rows(cache_v, vc, v_idx))
        else:
            contiguous = v_cur.nb[2] == row_size(v_cur.type, nkv * hd)
            vc = g.reshape(v_cur, nkv * hd, nt) if contiguous else g.cont(v_cur, nkv * hd, nt)
            vv = g.reshape(cache_v, 1, nkv * hd * n_kv)
            vc = g.reshape(vc, 1, nkv * hd * nt)
            g.expand(g.set_rows(vv, vc, v_idx))

    def attention(
        self,
        q: Tensor,
        k_cur: Tensor,
        v_cur: Tensor,
        mask: Tensor,
        n_kv: int,
        k_idx: Tensor,
        v_idx: Tensor,
        sinks: Tensor | None = None,
        softcap: bool = False,
        shared: bool = False,
    ) -> Tensor:
        """``build_attn`` with a KV cache: store K/V, then ``build_attn_mha``.  ``shared``:
        a layer reading an earlier layer's cache (Gemma 3n), no K/V of its own to store."""
        g = self.g
        hd, nkv = self.hd, self.n_kv_head
        if self.quant_kv and hd % 64 == 0:
            nrot = 64
            while hd % (nrot * 2) == 0:
                nrot *= 2
            q = self.hadamard(q, nrot, mask)
            if not shared:
                k_cur = self.hadamard(k_cur, nrot, mask)
                v_cur = self.hadamard(v_cur, 64 if hd % 64 == 0 else hd, mask, "v")
        g.expand(q)
        if not shared:
            g.expand(v_cur)
            g.expand(k_cur)
        kt = self.kv_type
        cache_k = g.cache(nkv * hd, n_kv, type_=kt)
        cache_v = g.cache(nkv * hd, n_kv, type_=kt)
        if not shared:
            self.store_kv(k_cur, v_cur, cache_k, cache_v, n_kv, k_idx, v_idx)
        rs = row_size(kt, hd)
        k = g.view(cache_k, (hd, nkv, n_kv, 1), (0, rs, row_size(kt, nkv * hd)))
        if self.v_trans:
            v = g.view(
                cache_v, (n_kv, nkv, hd, 1), (0, row_size(kt, n_kv * hd), row_size(kt, n_kv))
            )
        else:
            v = g.view(cache_v, (hd, nkv, n_kv, 1), (0, rs, row_size(kt, nkv * hd)))
        # build_attn_mha
        q = g.view(q, (q.ne[0], q.ne[1], q.ne[2], 1), (0, q.nb[1], q.nb[2]))
        q = g.permute(q, 0, 2, 1, 3)
        k = g.permute(k, 0, 2, 1, 3)
        v = g.permute(v, 0, 2, 1, 3)
        if self.fa:
            if self.v_trans:
                v = g.transpose(v)
            cur = g.op(
                "flash_attn_ext", "f32", (v.ne[0], q.ne[2], q.ne[1], q.ne[3]), q, k, v, mask, sinks
            )
            cur = g.reshape(cur, cur.ne[0] * cur.ne[1], cur.ne[2] * cur.ne[3])
        else:
            kq = g.mul_mat(k, q)
            if softcap:
                kq = g.same("scale", kq)
                kq = g.same("unary", kq)
                kq = g.same("scale", kq)
            kq = g.op("soft_max", "f32", kq.ne, kq, mask, sinks)
            kqv = g.mul_mat(v, kq)
            cur = g.permute(kqv, 0, 2, 1, 3)
            cur = g.cont(cur, cur.ne[0] * cur.ne[1], cur.ne[2] * cur.ne[3])
        g.expand(cur)
        if self.quant_kv and hd % 64 == 0:
            cur = self.hadamard(cur, 64, mask, "v")
        return cur

    def mla_attention(
        self, x: Tensor, pos: Tensor, mask: Tensor, n_kv: int, k_idx: Tensor
    ) -> Tensor:
        """DeepSeek-V2/V3 attention as llama.cpp runs MLA (``deepseek2.cpp``): queries absorbed
        into the latent, one shared 576-wide K head cached, V a view of it, ``wv_b`` after."""
        g, a = self.g, self.a
        nh, nt = self.n_head, self.n_tok
        rope, nope = a.qk_rope_head_dim or 64, a.qk_nope_head_dim or 128
        kvr, vd = a.kv_lora_rank or 512, a.v_head_dim or 128
        f = 4
        if a.q_lora_rank:
            q = g.mul_mat(g.weight(self.h, a.q_lora_rank), x)
            q = self.norm(q)
            q = g.mul_mat(g.weight(a.q_lora_rank, nh * (nope + rope)), q)
        else:
            q = g.mul_mat(g.weight(self.h, nh * (nope + rope)), x)
        q = g.reshape(q, nope + rope, nh, nt)
        kv_pe = g.mul_mat(g.weight(self.h, kvr + rope), x)
        kv = g.view(kv_pe, (kvr, nt), (0, kv_pe.nb[1]))
        k_pe = g.view(kv_pe, (rope, 1, nt), (0, kv_pe.nb[1], kv_pe.nb[1]), kvr * f)
        k_pe = self.rope(k_pe, pos)
        kv = self.norm(kv)
        q_nope = g.view(q, (nope, nh, nt), (0, q.nb[1], q.nb[2]))
        q_pe = g.view(q, (rope, nh, nt), (0, q.nb[1], q.nb[2]), nope * f)
        q_pe = self.rope(q_pe, pos)
        q_nope = g.permute(q_nope, 0, 2, 1, 3)
        q_abs = g.mul_mat(g.weight(nope, kvr, nh), q_nope)
        q_abs = g.permute(q_abs, 0, 2, 1, 3)
        q = g.op("concat", "f32", (kvr + rope, nh, nt), q_abs, q_pe)
        kv = g.reshape(kv, kvr, 1, nt)
        k_cur = g.op("concat", "f32", (kvr + rope, 1, nt), kv, k_pe)
        v_cur = kv
        g.expand(q)
        g.expand(v_cur)
        g.expand(k_cur)
        kt = self.kv_type
        cache = g.cache(kvr + rope, n_kv, type_=kt)
        kc = g.view(k_cur, (kvr + rope, nt), (0, k_cur.nb[2]))
        g.expand(g.set_rows(cache, kc, k_idx))
        rs = row_size(kt, kvr + rope)
        k = g.view(cache, (kvr + rope, 1, n_kv, 1), (0, rs, rs))
        v = g.view(k, (kvr, 1, n_kv, 1), (0, rs, rs))
        q = g.view(q, q.ne, (0, q.nb[1], q.nb[2]))
        q = g.permute(q, 0, 2, 1, 3)
        k = g.permute(k, 0, 2, 1, 3)
        v = g.permute(v, 0, 2, 1, 3)
        wv_b = g.weight(kvr, vd, nh)
        if self.fa:
            cur = g.op("flash_attn_ext", "f32", (v.ne[0], q.ne[2], q.ne[1], q.ne[3]), q, k, v, mask)
            cur = g.permute(cur, 0, 2, 1, 3)
            cur = g.mul_mat(wv_b, cur)
            cur = g.permute(cur, 0, 2, 1, 3)
            cur = g.cont(cur)
            cur = g.reshape(cur, cur.ne[0] * cur.ne[1], cur.ne[2] * cur.ne[3])
        else:
            v = g.cont(g.transpose(v))
            kq = g.mul_mat(k, q)
            kq = g.op("soft_max", "f32", kq.ne, kq, mask)
            kqv = g.mul_mat(v, kq)
            kqv = g.mul_mat(wv_b, kqv)
            cur = g.permute(kqv, 0, 2, 1, 3)
            cur = g.cont(cur, cur.ne[0] * cur.ne[1], cur.ne[2] * cur.ne[3])
        g.expand(cur)
        return g.mul_mat(g.weight(nh * vd, self.h), cur)

    def ffn(self, x: Tensor, layer: int, ff: int | None = None, bias: bool = False) -> Tensor:
        g, a = self.g, self.a
        ff = ff or a.intermediate_size
        fused = a.model_type in ("phi3", "chatglm")  # one up tensor of gate and up: SWIGLU
        if fused:
            up = g.mul_mat(g.weight(self.h, 2 * ff), x)
            return g.mul_mat(g.weight(ff, self.h), g.op("glu", "f32", (ff, up.ne[1]), up))
        tmp = g.mul_mat(g.weight(self.h, ff), x)
        if bias:
            tmp = g.same("add", tmp, g.weight(ff, type_="f32"))
        if a.mlp == "gated":
            gate = g.mul_mat(g.weight(self.h, ff), x)
            cur = g.op("glu", "f32", gate.ne, gate, tmp)
        else:
            cur = g.same("unary", tmp)
        out = g.mul_mat(g.weight(ff, self.h), cur)
        return g.same("add", out, g.weight(self.h, type_="f32")) if bias else out

    def fused_qkv(self, x: Tensor, bias: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """``build_qkv`` with one ``wqkv``: Q, K and V are strided views of its output."""
        g, hd, nh, nkv, nt = self.g, self.hd, self.n_head, self.n_kv_head, self.n_tok
        qkv = g.mul_mat(g.weight(self.h, hd * (nh + 2 * nkv)), x)
        if bias:
            qkv = g.same("add", qkv, g.weight(qkv.ne[0], type_="f32"))
        nb = (0, hd * 4, qkv.nb[1])
        q = g.view(qkv, (hd, nh, nt), nb)
        k = g.view(qkv, (hd, nkv, nt), nb, hd * nh * 4)
        v = g.view(qkv, (hd, nkv, nt), nb, hd * (nh + nkv) * 4)
        return q, k, v

    def mamba2(self, x: Tensor) -> Tensor:
        """A Mamba-2 layer (``mamba-base.cpp`` build_mamba2_layer, ``ns`` sequences of
        ``nt / ns`` tokens): in-projection split into z / xBC / dt, the conv state prepended
        and the causal conv, the selective scan (output and new states in one tensor), D skip,
        gate, grouped RMS norm, out-proj."""
        g, nt, ns = self.g, self.n_tok, self.s.n_seq
        st = nt // ns  # tokens per sequence (the reserve's ubatch is split evenly)
        inner, state, groups, heads, conv = ssm_dims(self.a)
        hd = inner // heads
        width = inner + 2 * groups * state
        s_copy = self.s_copy
        main = g.view(s_copy, (ns,))
        extra = g.view(s_copy, (0,), offset=4 * ns)
        # build_rs for the conv state: zero the empty slot, gather the sequences' rows, copy
        # the other cells' rows (none: every cell is a sequence here)
        conv_all = g.cache((conv - 1) * width, ns, type_="f32")
        g.expand(g.into("scale", g.view(conv_all, ((conv - 1) * width,))))
        conv_rows = g.get_rows(conv_all, main)
        g.expand(conv_rows)
        g.expand(
            g.into("cpy", g.view(conv_all, ((conv - 1) * width, 0)), g.get_rows(conv_all, extra))
        )
        conv_st = g.reshape(conv_rows, conv - 1, width, ns)
        mm = g.mul_mat(g.weight(self.h, 2 * inner + 2 * groups * state + heads), x)
        zx = g.reshape(mm, mm.ne[0], st, ns)
        f = 4
        z = g.view(zx, (hd, heads, st, ns), (0, hd * f, zx.nb[1], zx.nb[2]))
        xbc = g.view(zx, (width, st, ns), (0, zx.nb[1], zx.nb[2]), inner * f)
        dt = g.view(
            zx, (heads, st, ns), (0, zx.nb[1], zx.nb[2]), (2 * inner + 2 * groups * state) * f
        )
        conv_x = g.op("concat", "f32", (conv - 1 + st, width, ns), conv_st, g.transpose(xbc))
        last = g.view(conv_x, (conv - 1, width, ns), (0, conv_x.nb[1], conv_x.nb[2]), st * f)
        g.expand(g.into("cpy", g.view(conv_all, ((conv - 1) * width, ns)), last))
        xbc = g.op("ssm_conv", "f32", (width, st, ns), conv_x, g.weight(conv, width, type_="f32"))
        xbc = g.same("unary", g.same("add", xbc, g.weight(width, type_="f32")))
        xs = g.view(xbc, (hd, heads, st, ns), (0, hd * f, xbc.nb[1], xbc.nb[2]))
        b_ = g.view(xbc, (state, groups, st, ns), (0, state * f, xbc.nb[1], xbc.nb[2]), inner * f)
        c_ = g.view(
            xbc,
            (state, groups, st, ns),
            (0, state * f, xbc.nb[1], xbc.nb[2]),
            (inner + groups * state) * f,
        )
        dt = g.same("add", g.cont(dt), g.weight(heads, type_="f32"))
        ssm_all = g.cache(state * inner, ns, type_="f32")
        g.expand(g.into("scale", g.view(ssm_all, (state * inner,))))
        ssm = g.reshape(ssm_all, state, hd, heads, ns)
        y_ssm = g.op(
            "ssm_scan",
            "f32",
            (nt * inner + state * inner * ns,),
            ssm,
            xs,
            dt,
            g.weight(1, heads, type_="f32"),
            b_,
            c_,
            main,
        )
        g.expand(y_ssm)
        g.expand(g.into("cpy", g.view(ssm_all, (state * inner, 0)), g.get_rows(ssm_all, extra)))
        states = g.view(
            y_ssm,
            (state * inner, ns, 1),
            (0, (state * inner) * f, (state * inner) * f * ns),
            nt * inner * f,
        )
        g.expand(g.into("cpy", g.view(ssm_all, (state * inner, ns, 1)), states))
        y = g.view(y_ssm, (hd, heads, st, ns), (0, hd * f, inner * f, st * inner * f))
        y = g.same("add", y, g.same("mul", xs, g.weight(1, heads, type_="f32")))
        y = g.op("glu", "f32", (hd, heads, st, ns), g.cont(z), y)
        y = self.norm(g.reshape(y, inner // groups, groups, st, ns))
        y = g.reshape(y, inner, nt)
        return g.mul_mat(g.weight(inner, self.h), y)

    def gemma4_layer(self, il: int, inp: Tensor, pos: Tensor, masks: Any) -> Tensor:
        """A Gemma 4 layer (``gemma4.cpp``): per-layer head width and KV heads, Q/K norms and
        a weightless V norm (V is K's projection on global layers with ``attention_k_eq_v``),
        post-attention norm; the MoE layers run a dense GELU FFN beside the routed experts,
        whose router reads its own scaled RMS norm of the input."""
        g, a, nt = self.g, self.a, self.n_tok
        hd, nkv, has_v = gemma4_heads(a, il)
        nh = self.n_head
        x = self.norm(inp)
        q = self.rope(
            self.norm(g.reshape(g.mul_mat(g.weight(self.h, nh * hd), x), hd, nh, nt)), pos
        )
        k = g.mul_mat(g.weight(self.h, nkv * hd), x)
        v = g.mul_mat(g.weight(self.h, nkv * hd), x) if has_v else k
        k = self.norm(g.reshape(k, hd, nkv, nt))
        v = g.same("rms_norm", g.reshape(v, hd, nkv, nt))
        self.hd, self.n_kv_head = hd, nkv  # attention() works in this layer's shapes
        mask, n_kv, k_idx, v_idx = masks[il in self.swa_pattern]
        cur = self.attention(q, self.rope(k, pos), v, mask, n_kv, k_idx, v_idx)
        self.hd, self.n_kv_head = a.resolved_head_dim, a.num_key_value_heads
        cur = self.norm(g.mul_mat(g.weight(nh * hd, self.h), cur))
        attn_out = g.same("add", cur, inp)
        if a.is_moe:
            mlp = self.norm(self.ffn(self.norm(attn_out), il))
            moe_in = self.norm(attn_out)
            t = g.same(
                "mul", g.same("scale", g.same("rms_norm", attn_out)), g.weight(self.h, type_="f32")
            )
            logits = g.mul_mat(g.weight(self.h, a.num_experts or 1, type_="f32"), t)
            cur = g.same("add", mlp, self.norm(self.moe(moe_in, logits)))
        else:
            cur = self.ffn(self.norm(attn_out), il)
        return g.same("add", self.norm(cur), attn_out)

    def nemotron_ffn(self, x: Tensor) -> Tensor:
        """Nemotron-H's FFN-only layer (``nemotron-h.cpp`` build_ffn_layer): a squared-ReLU MLP,
        or sigmoid-routed experts without a gate (router logits computed first) beside a
        squared-ReLU shared expert."""
        g, a = self.g, self.a
        if not a.is_moe:
            up = g.mul_mat(g.weight(self.h, a.intermediate_size), x)
            act = g.same("sqr", g.same("unary", up))
            return g.mul_mat(g.weight(a.intermediate_size, self.h), act)
        logits = g.mul_mat(g.weight(self.h, a.num_experts or 1, type_="f32"), x)
        moe = self.moe(x, logits)
        sf = (a.shared_expert_intermediate_size or 0) * (a.num_shared_experts or 1)
        up = g.same("sqr", g.same("unary", g.mul_mat(g.weight(self.h, sf), x)))
        return g.same("add", moe, g.mul_mat(g.weight(sf, self.h), up))

    # -- Gemma 3n (gemma3n.cpp) ---------------------------------------------------------
    def magnitude(self, x: Tensor) -> Tensor:
        g = self.g
        return g.same("sqrt", g.op("sum_rows", "f32", (1, *x.ne[1:]), g.same("sqr", x)))

    def slice3(self, x: Tensor, i: int) -> Tensor:
        """``gemma3n_view_2d_slice``: the ``i``-th 2-D slice of a 3-D tensor."""
        return self.g.view(x, (x.ne[0], x.ne[1]), (0, x.nb[1]), i * x.ne[0] * x.ne[1] * 4)

    def altup_router(self, x: Tensor) -> Tensor:
        g = self.g
        r = g.same("scale", self.norm(x))
        return g.same("unary", g.mul_mat(g.weight(self.h, GEMMA3N_ALTUP, type_="f32"), r))

    def gemma3n_inputs(self, cur: Tensor) -> tuple[Tensor, Tensor]:
        """Per-layer inputs (their own token lookup, plus a projection of the embeddings) and
        the AltUp streams: the embeddings and 3 projections of them at the same magnitude."""
        g, nt, n_a, e = self.g, self.n_tok, GEMMA3N_ALTUP, GEMMA3N_EMBD
        n_l = self.a.num_hidden_layers
        tokens = g.input("i32", nt, name="inp_tokens_per_layer")
        per = g.get_rows(g.weight(e * n_l, self.a.vocab_size, type_="q4_0"), tokens)
        per = g.same("scale", g.reshape(per, e, n_l, nt))
        g.expand(per)
        proj = g.same("scale", g.mul_mat(g.weight(self.h, e * n_l), cur))
        proj = self.norm(g.reshape(proj, e, n_l, nt))
        per = g.same("scale", g.same("add", proj, per))
        per = g.cont(g.permute(per, 0, 2, 1, 3))
        target = self.magnitude(cur)
        rep = g.op("repeat", "f32", (self.h, nt, n_a - 1), cur)
        added = g.mul_mat(g.weight(self.h, self.h, n_a - 1), rep)
        added = g.same("div", g.same("mul", added, target), self.magnitude(added))
        streams = g.op("concat", "f32", (self.h, nt, n_a), cur, added)
        return per, streams

    def gemma3n_layer(
        self, il: int, streams: Tensor, per: Tensor, pos: Tensor, masks: Any
    ) -> Tensor:
        """A Gemma 3n layer: AltUp predict, attention (the last layers read an earlier
        layer's cache), LAuReL, a GELU FFN (Gaussian top-k sparsity on the first 10 layers),
        AltUp correct and the per-layer input mixed into the other streams."""
        g, a, nt, n_a, e = self.g, self.a, self.n_tok, GEMMA3N_ALTUP, GEMMA3N_EMBD
        hd, nh, nkv = self.hd, self.n_head, self.n_kv_head
        # altup_predict
        modal = self.altup_router(self.slice3(streams, 0))
        coefs = g.mul_mat(g.weight(n_a, n_a * n_a, type_="f32"), modal)
        coefs = g.reshape(coefs, n_a, n_a, nt)
        perm = g.cont(g.permute(streams, 1, 2, 0, 3))
        pred = g.cont(g.permute(g.mul_mat(perm, coefs), 0, 2, 1, 3))
        pred = g.same("add", pred, streams)
        active = self.slice3(pred, 0)
        x = self.norm(active)
        lr = g.mul_mat(
            g.weight(a.laurel_rank or 64, self.h),
            g.mul_mat(g.weight(self.h, a.laurel_rank or 64), x),
        )
        laurel = g.same("add", self.norm(lr), x)
        mask, n_kv, k_idx, v_idx = masks[il in self.swa_pattern]
        q = self.rope(
            self.norm(g.reshape(g.mul_mat(g.weight(self.h, nh * hd), x), hd, nh, nt)), pos
        )
        if il < GEMMA3N_KV_LAYERS:
            k = g.reshape(g.mul_mat(g.weight(self.h, nkv * hd), x), hd, nkv, nt)
            v = g.reshape(g.mul_mat(g.weight(self.h, nkv * hd), x), hd, nkv, nt)
            k = self.rope(self.norm(k), pos)
            v = g.same("rms_norm", v)
            cur = self.attention(q, k, v, mask, n_kv, k_idx, v_idx)
        else:
            cur = self.attention(q, q, q, mask, n_kv, k_idx, v_idx, shared=True)
        cur = self.norm(g.mul_mat(g.weight(nh * hd, self.h), cur))
        cur = g.same("add", cur, active)
        attn_laurel = g.same("scale", g.same("add", cur, laurel))
        x = self.norm(attn_laurel)
        ff = a.intermediate_size
        up = g.mul_mat(g.weight(self.h, ff), x)
        gate = g.mul_mat(g.weight(self.h, ff), x)
        if il < GEMMA3N_SPARSE:  # gaussian_topk
            mean = g.op("mean", "f32", (1, *gate.ne[1:]), gate)
            dev = g.same("sqr", g.same("sub", gate, mean))
            std = g.same("sqrt", g.same("scale", g.op("sum_rows", "f32", (1, *gate.ne[1:]), dev)))
            cutoff = g.same("add", mean, g.same("scale", std))
            gate = g.same("unary", g.same("sub", gate, cutoff))
        cur = g.mul_mat(g.weight(ff, self.h), g.same("mul", up, g.same("unary", gate)))
        afl = g.same("add", self.norm(cur), attn_laurel)
        # altup_correct
        modal = self.altup_router(afl)
        innovation = g.same("sub", afl, self.slice3(pred, 0))
        ccoef = g.same("scale", g.mul_mat(g.weight(n_a, n_a, type_="f32"), modal))
        ccoef = g.cont(g.transpose(ccoef), 1, nt, n_a)
        innovation = g.op("repeat", "f32", (self.h, nt, n_a), innovation)
        corrected = g.same("add", g.same("mul", innovation, ccoef), pred)
        first = g.same("mul", self.slice3(corrected, 0), g.weight(self.h, type_="f32"))
        first = g.same("unary", g.mul_mat(g.weight(self.h, e), first))
        first = g.same("mul", first, self.slice3(per, il))
        first = self.norm(g.mul_mat(g.weight(e, self.h), first))
        rest = g.view(
            corrected, (self.h, nt, n_a - 1), (0, corrected.nb[1], corrected.nb[2]), corrected.nb[2]
        )
        tmp = g.same("add", rest, first)
        return g.op("concat", "f32", (self.h, nt, n_a), self.slice3(corrected, 0), tmp)

    def gemma3n_output(self, streams: Tensor) -> Tensor:
        """The AltUp streams folded back: the other streams projected to the first one's
        magnitude, averaged with it."""
        g, nt, n_a = self.g, self.n_tok, GEMMA3N_ALTUP
        target = self.magnitude(self.slice3(streams, 0))
        alt = g.view(
            streams, (self.h, nt, n_a - 1), (0, streams.nb[1], streams.nb[2]), streams.nb[2]
        )
        un = g.mul_mat(g.weight(self.h, self.h, n_a - 1), alt)
        un = g.same("div", g.same("mul", un, target), self.magnitude(un))
        cur = self.slice3(streams, 0)
        for i in range(n_a - 1):
            cur = g.same("add", cur, self.slice3(un, i))
        return g.same("scale", cur)

    def gated_attention(
        self, x: Tensor, pos: Tensor, mask: Tensor, n_kv: int, k_idx: Tensor, v_idx: Tensor
    ) -> Tensor:
        """Qwen3-Next / Qwen3.5 attention layers (``qwen3next.cpp`` / ``qwen35*.cpp``
        build_layer_attn): Q and a per-channel output gate from one projection, Q/K norms,
        the gate's sigmoid applied to the attention output before ``wo``."""
        g, hd, nh, nkv, nt = self.g, self.hd, self.n_head, self.n_kv_head, self.n_tok
        f = 4
        qf = g.mul_mat(g.weight(self.h, 2 * hd * nh), x)
        k = g.mul_mat(g.weight(self.h, nkv * hd), x)
        v = g.mul_mat(g.weight(self.h, nkv * hd), x)
        if self.a.model_type == "qwen3_next":
            qf = g.reshape(qf, 2 * hd, nh, nt, 1)
            nb = (0, qf.nb[1], qf.nb[2], qf.nb[3])
            q = g.view(qf, (hd, nh, nt, 1), nb)
            gate = g.view(qf, (hd, nh, nt, 1), nb, hd * f)
            k = g.reshape(k, hd, nkv, nt)
            v = g.reshape(v, hd, nkv, nt)
            q = self.norm(q)
            k = self.norm(k)
        else:
            nb3 = (0, 2 * hd * f, 2 * hd * nh * f)
            q = self.norm(g.view(qf, (hd, nh, nt), nb3))
            k = self.norm(g.reshape(k, hd, nkv, nt))
            gate = g.cont(g.view(qf, (hd, nh, nt), nb3, hd * f), hd * nh, nt)
            v = g.reshape(v, hd, nkv, nt)
        cur = self.attention(self.rope(q, pos), self.rope(k, pos), v, mask, n_kv, k_idx, v_idx)
        if self.a.model_type == "qwen3_next":
            gate = g.cont(gate, hd * nh, nt)
        cur = g.same("mul", cur, g.same("unary", gate))
        return g.mul_mat(g.weight(nh * hd, self.h), cur)

    def recurrent_rows(self, width: int) -> tuple[Tensor, Tensor]:
        """``build_rs``: a layer's states (``width`` floats per sequence), the empty slot
        zeroed, the sequences' rows gathered, the other cells' rows copied (none here)."""
        g, ns, n_rs = self.g, self.ns, self.s.n_seq
        main = g.view(self.s_copy, (ns,))
        extra = g.view(self.s_copy, (n_rs - ns,), offset=4 * ns)
        states = g.weight(width, n_rs, type_="f32")
        g.expand(g.into("scale", g.view(states, (width,))))
        rows = g.get_rows(states, main)
        g.expand(rows)
        row = 4 * width
        dst = g.view(states, (width, n_rs - ns), (0, row), offset=row * ns)
        g.expand(g.into("cpy", dst, g.get_rows(states, extra)))
        return states, rows

    def lightning(self, x: Tensor, il: int) -> Tensor:
        """MiniMax-M1's lightning-attention layer (``minimax-01.cpp``, one sequence): SiLU'd
        fused QKV, intra-block scores scaled by the decay inputs, the state's inter-block
        part, the new state, an RMS norm over the heads and a sigmoid gate before ``wo``."""
        g, nt, nh, hd, ns = self.g, self.n_tok, self.n_head, self.hd, self.ns
        st = nt // ns
        f = 4
        _, conv_rows = self.recurrent_rows(0)  # no conv state: build_rs of zero-width rows
        g.expand(conv_rows)
        slope_rate = g.same("scale", self.la_inputs[0])
        cur = g.reshape(x, self.h, st, 1, ns)
        qkv = g.same("unary", g.mul_mat(g.weight(self.h, 3 * hd * nh), cur))
        qkv = g.reshape(qkv, 3 * hd, nh, st, ns)
        nb = (0, qkv.nb[1], qkv.nb[2], qkv.nb[3])
        q = g.view(qkv, (hd, nh, st, ns), nb)
        k = g.view(qkv, (hd, nh, st, ns), nb, hd * f)
        v = g.view(qkv, (hd, nh, st, ns), nb, 2 * hd * f)
        states, state = self.recurrent_rows(hd * hd * nh)
        kv_old = g.reshape(state, hd, hd, nh, ns)
        q_exp, k_exp, diag_exp = self.la_inputs[1:]
        q_decay = g.same("unary", g.same("scale", q_exp))
        k_decay = g.same("unary", g.same("scale", k_exp))
        diag_decay = g.same("unary", g.same("scale", diag_exp))
        q_s = g.permute(g.same("mul", q, q_decay), 0, 2, 1, 3)
        none_diag = g.mul_mat(kv_old, q_s)
        qk = g.mul_mat(g.permute(k, 0, 2, 1, 3), g.permute(q, 0, 2, 1, 3))
        qk = g.same("mul", qk, diag_decay)
        v_t = g.cont(g.permute(v, 1, 2, 0, 3))
        out = g.same("add", none_diag, g.mul_mat(v_t, qk))
        g.expand(out)
        block = g.reshape(g.same("unary", g.same("scale", slope_rate)), 1, 1, nh)
        kv_old_s = g.same("mul", kv_old, block)
        k_t = g.cont(g.permute(g.same("mul", k, k_decay), 1, 2, 0, 3))
        kv_new = g.same("add", kv_old_s, g.mul_mat(k_t, v_t))
        g.expand(g.into("cpy", g.view(states, (hd * hd * nh * ns,)), kv_new))
        out = g.cont(g.permute(out, 0, 2, 1, 3))
        out = self.norm(g.reshape(out, hd * nh, st, 1, ns))
        gate = g.same("unary", g.mul_mat(g.weight(self.h, hd * nh), cur))
        cur = g.mul_mat(g.weight(hd * nh, self.h), g.same("mul", gate, out))
        return g.reshape(cur, self.h, nt)

    def gated_deltanet(self, x: Tensor) -> Tensor:
        """A gated delta-net layer (``qwen3next.cpp`` / ``qwen35*.cpp`` build_layer_attn_linear,
        ``delta-net-base.cpp`` with the fused GATED_DELTA_NET op the CPU backend takes):
        Q/K/V and the output gate z, beta and the decay from the input, the conv state
        prepended and the causal conv, L2-normed Q and K, one op giving the output and the new
        state, a gated RMS norm, out-proj."""
        g, a, nt, ns = self.g, self.a, self.n_tok, self.s.n_seq
        st = nt // ns
        hk, nk = a.linear_key_head_dim or 128, a.linear_num_key_heads or 1
        hv, nv = a.linear_value_head_dim or 128, a.linear_num_value_heads or 1
        conv = a.conv1d_width or 4
        key, value = hk * nk, hv * nv
        cdim = 2 * key + value
        f = 4
        nxt = a.model_type == "qwen3_next"
        qkv = g.reshape(g.mul_mat(g.weight(self.h, cdim), x), cdim, st, ns)
        z = g.mul_mat(g.weight(self.h, value), x)
        dt_b, a_log = g.weight(nv, type_="f32"), g.weight(nv, type_="f32")
        if nxt:  # beta and alpha from one projection, per key head
            ba = g.mul_mat(g.weight(self.h, 2 * nv), x)
            ba = g.reshape(ba, 2 * nv // nk, nk, st, ns)
            nb = (0, ba.nb[1], ba.nb[2], ba.nb[3])
            beta = g.same("unary", g.cont(g.view(ba, (nv // nk, nk, st, ns), nb)))
            alpha = g.cont(g.view(ba, (nv // nk, nk, st, ns), nb, nv // nk * f), nv, st, ns)
            decay = g.same("mul", g.same("unary", g.same("add", alpha, dt_b)), a_log)
            beta = g.reshape(beta, 1, nv, st, ns)
            decay = g.reshape(decay, 1, nv, st, ns)
        else:
            beta = g.mul_mat(g.weight(self.h, nv), x)
            beta = g.same("unary", g.reshape(beta, 1, nv, st, ns))
            alpha = g.reshape(g.mul_mat(g.weight(self.h, nv), x), nv, st, ns)
            decay = g.same("mul", g.same("unary", g.same("add", alpha, dt_b)), a_log)
            decay = g.reshape(decay, 1, nv, st, ns)
        # build_conv_state
        conv_all, conv_rows = self.recurrent_rows((conv - 1) * cdim)
        conv_st = g.reshape(conv_rows, conv - 1, cdim, ns)
        conv_in = g.op("concat", "f32", (conv - 1 + st, cdim, ns), conv_st, g.transpose(qkv))
        last = g.view(conv_in, (conv - 1, cdim, ns), (0, conv_in.nb[1], conv_in.nb[2]), st * f)
        g.expand(g.into("cpy", g.view(conv_all, ((conv - 1) * cdim, ns)), last))
        ssm_all, state = self.recurrent_rows(hv * hv * nv)
        state = g.reshape(state, hv, hv, nv, ns)
        out = g.op("ssm_conv", "f32", (cdim, st, ns), conv_in, g.weight(conv, cdim, type_="f32"))
        out = g.same("unary", out)
        nb1 = cdim * f
        q = g.view(out, (hk, nk, st, ns), (0, hk * f, nb1, nb1 * st))
        k = g.view(out, (hk, nk, st, ns), (0, hk * f, nb1, nb1 * st), key * f)
        v = g.view(out, (hv, nv, st, ns), (0, hv * f, nb1, nb1 * st), 2 * key * f)
        q = g.same("scale", g.same("rms_norm", q))  # build_gdn_l2_norm
        k = g.same("scale", g.same("rms_norm", k))
        if nxt and nk != nv:  # Qwen3-Next repeats the key heads up to the value heads
            rep = nv // nk
            q = g.op("repeat", "f32", (hk, rep, nk, st * ns), g.reshape(q, hk, 1, nk, st * ns))
            k = g.op("repeat", "f32", (hk, rep, nk, st * ns), g.reshape(k, hk, 1, nk, st * ns))
            q = g.reshape(q, hk, nv, st, ns)
            k = g.reshape(k, hk, nv, st, ns)
        res = g.op(
            "gated_delta_net", "f32", (hv * nv, st * ns + hv * ns), q, k, v, decay, beta, state
        )
        y = g.view(res, (hv, nv, st, ns), (0, hv * f, hv * nv * f, hv * nv * st * f))
        new_state = g.view(
            res,
            (hv, hv, nv, ns),
            (0, hv * f, hv * hv * f, hv * hv * nv * f),
            hv * nv * st * ns * f,
        )
        g.expand(g.into("cpy", g.view(ssm_all, (hv * hv * nv, ns)), new_state))
        normed = g.same("mul", g.same("rms_norm", y), g.weight(hv, type_="f32"))
        y = g.same("mul", normed, g.same("unary", g.reshape(z, hv, nv, st, ns)))
        cur = g.mul_mat(g.weight(value, self.h), g.reshape(y, value, st, ns))
        return g.reshape(cur, self.h, nt)

    def qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``build_qkv``: one fused projection (views of it) or three, biased or not, as
        ``(head_dim, heads, tokens)`` tensors."""
        g, hd, nt = self.g, self.hd, self.n_tok
        if self.a.model_type in FUSED_QKV:
            return self.fused_qkv(x, bias=self.qkv_bias)
        out = []
        for heads in (self.n_head, self.n_kv_head, self.n_kv_head):
            t = g.mul_mat(g.weight(self.h, heads * hd), x)
            if self.qkv_bias:
                t = g.same("add", t, g.weight(heads * hd, type_="f32"))
            out.append(g.reshape(t, hd, heads, nt))
        return out[0], out[1], out[2]

    def out_proj(self, cur: Tensor) -> Tensor:
        """``build_attn``'s output projection ``wo`` (and its bias)."""
        g = self.g
        cur = g.mul_mat(g.weight(self.n_head * self.hd, self.h), cur)
        return g.same("add", cur, g.weight(self.h, type_="f32")) if self.wo_bias else cur

    def phi2_layer(
        self,
        il: int,
        inp: Tensor,
        pos: Tensor,
        mask: Tensor,
        n_kv: int,
        k_idx: Tensor,
        v_idx: Tensor,
    ) -> Tensor:
        """Phi-1/1.5/2 (``phi2.cpp``): one LayerNorm feeds attention and the FFN in parallel;
        Q is scaled before attention."""
        g = self.g
        x = self.norm(inp, rms=False, bias=True)
        q, k, v = self.qkv(x)
        q = g.same("scale", self.rope(q, pos))
        cur = self.out_proj(self.attention(q, self.rope(k, pos), v, mask, n_kv, k_idx, v_idx))
        if il == self.a.num_hidden_layers - 1:
            cur = g.get_rows(cur, self.out_ids)
            inp = g.get_rows(inp, self.out_ids)
            x = g.get_rows(x, self.out_ids)
        ffn = self.ffn(x, il, bias=True)
        return g.same("add", g.same("add", cur, ffn), inp)

    def bloom_layer(self, il: int, inp: Tensor, attend: Any) -> Tensor:
        """BLOOM (``bloom.cpp``): LayerNorm with bias, fused QKV with bias, ALiBi (no rope:
        the masks' slopes live in the softmax), every linear layer biased."""
        g = self.g
        q, k, v = self.fused_qkv(self.norm(inp, rms=False, bias=True), bias=True)
        cur = g.mul_mat(g.weight(self.n_head * self.hd, self.h), attend(q, k, v))
        cur = g.same("add", cur, g.weight(self.h, type_="f32"))
        if il == self.a.num_hidden_layers - 1:
            cur = g.get_rows(cur, self.out_ids)
            inp = g.get_rows(inp, self.out_ids)
        ffn_inp = g.same("add", cur, inp)
        ffn = self.ffn(self.norm(ffn_inp, rms=False, bias=True), il, bias=True)
        return g.same("add", ffn, ffn_inp)

    def parallel_layer(self, il: int, inp: Tensor, pos: Tensor, attend: Any) -> Tensor:
        """GPT-NeoX (``gptneox.cpp``, parallel residual) and Falcon (``falcon.cpp``): LayerNorm
        with bias, one fused QKV, attention and FFN both fed from the layer's input."""
        g, a = self.g, self.a
        neox = a.model_type == "gpt_neox"
        attn_norm = self.norm(inp, rms=False, bias=True)
        # Falcon-40B/180B (several KV heads) norm the QKV input separately (attn_norm_2)
        x = self.norm(inp, rms=False, bias=True) if not neox and self.n_kv_head > 1 else attn_norm
        q, k, v = self.fused_qkv(x, bias=neox)
        cur = attend(self.rope(q, pos), self.rope(k, pos), v)
        cur = g.mul_mat(g.weight(self.n_head * self.hd, self.h), cur)
        if neox:
            cur = g.same("add", cur, g.weight(self.h, type_="f32"))
        if il == a.num_hidden_layers - 1:
            cur = g.get_rows(cur, self.out_ids)
            inp = g.get_rows(inp, self.out_ids)
            if not neox:
                attn_norm = g.get_rows(attn_norm, self.out_ids)
        if neox:
            ffn = self.ffn(self.norm(inp, rms=False, bias=True), il, bias=True)
            return g.same("add", g.same("add", ffn, inp), cur)
        ffn = self.ffn(attn_norm, il)
        return g.same("add", g.same("add", ffn, cur), inp)

    def moe(self, x: Tensor, logits: Tensor | None = None) -> Tensor:
        """``build_moe_ffn``: router (or the given ``logits``), top-k, weights, three
        ``mul_mat_id``, weighted sum."""
        g, a = self.g, self.a
        ne = a.num_experts or 1
        k = a.num_experts_per_tok or 1
        fe = a.moe_intermediate_size or a.intermediate_size
        oai = a.model_type == "gpt_oss"
        nt = x.ne[1]
        if logits is None:
            logits = g.mul_mat(g.weight(self.h, ne, type_="f32"), x)
        mla = a.is_mla or a.model_type in ("glm4_moe", "minimax_m2", "nemotron_h")
        l4 = a.model_type in LLAMA4  # sigmoid weights, chosen on the raw logits, applied first
        if oai:  # router bias; SOFTMAX_WEIGHT gating: the softmax is over the chosen k
            logits = g.same("add", logits, g.weight(ne, type_="f32"))
            probs = logits
        elif mla or l4:  # DeepSeek-V3: sigmoid gating, selection biased by exp_probs_b
            probs = g.same("unary", logits)
        else:
            probs = g.same("soft_max", logits)
        biased = mla or a.model_type == "ernie4_5_moe"  # selection biased by exp_probs_b
        choose = g.same("add", probs, g.weight(ne, type_="f32")) if biased else probs
        if l4:
            choose = logits
        srt = g.op("argsort", "i32", choose.ne, choose)
        sel = g.view(srt, (k, nt), (0, srt.nb[1]))
        w = g.get_rows(g.reshape(probs, 1, ne, nt), sel)
        if oai:
            w = g.reshape(g.same("soft_max", g.reshape(w, k, nt)), 1, k, nt)
        elif a.model_type != "qwen2_moe" and not l4:  # norm_w: the chosen weights sum to 1
            w2 = g.reshape(w, k, nt)
            total = g.same("clamp", g.op("sum_rows", "f32", (1, nt), w2))
            w = g.reshape(g.same("div", w2, total), 1, k, nt)
        if a.is_mla:
            w = g.same("scale", w)  # expert_weights_scale
        g.expand(w)
        cur = g.reshape(x, self.h, 1, nt)
        if l4:  # weight_before_ffn: the input repeated per chosen expert, scaled by its weight
            cur = g.same("mul", g.op("repeat", "f32", (self.h, k, nt), cur), w)
        up = g.op("mul_mat_id", "f32", (fe, k, nt), g.weight(self.h, fe, ne), cur, sel)
        if oai:
            up = g.same("add_id", up, g.weight(fe, ne, type_="f32"), sel)
        if a.model_type == "nemotron_h":  # no gate: squared ReLU of the up projection
            act = g.same("sqr", g.same("unary", up))
        else:
            gate = g.op("mul_mat_id", "f32", (fe, k, nt), g.weight(self.h, fe, ne), cur, sel)
            if oai:
                gate = g.same("add_id", gate, g.weight(fe, ne, type_="f32"), sel)
            act = g.op("glu", "f32", gate.ne, gate, up)
        experts = g.op("mul_mat_id", "f32", (self.h, k, nt), g.weight(fe, self.h, ne), act, sel)
        if oai:
            experts = g.same("add_id", experts, g.weight(self.h, ne, type_="f32"), sel)
        if not l4:
            experts = g.same("mul", experts, w)
        g.expand(experts)
        views = []
        for i in range(k):
            views.append(g.view(experts, (self.h, nt), (0, experts.nb[2]), i * experts.nb[1]))
            g.expand(views[-1])
        moe = views[0]
        for v in views[1:]:
            moe = g.op("add", "f32", (self.h, nt), moe, v)
            g.expand(moe)
        if k == 1:
            moe = g.cont(moe)
        return moe

    # -- the model ----------------------------------------------------------------------
    def build(self) -> Graph:
        g, a, s = self.g, self.a, self.s
        dev_layer, dev_out, cpu = self.devices or ([], -1, -1)
        self.inputs()
        g.backend = cpu  # the input layer (token embeddings) stays on the CPU
        cur = self.embed()
        if a.model_type == "bloom":  # token_embd_norm
            cur = self.norm(cur, rms=False, bias=True)
        pos = g.input("i32", self.n_tok, name="inp_pos")
        if a.model_type in LLAMA4:
            self.attn_scale = g.input("f32", 1, 1, self.n_tok, name="inp_attn_scale")
        if a.position_embedding == "learned":  # gpt2.cpp: learned positions added to the input
            cur = g.same("add", cur, g.get_rows(g.weight(self.h, a.max_position_embeddings), pos))
        full, swa = kv_cells(a, s)
        mtype = "f16" if self.fa else "f32"
        k_idx = g.input("i64", self.n_tok, name="k_idxs")
        v_width = self.n_kv_head * self.hd  # n_embd_v_gqa_max: the widest layer's V
        if a.model_type == "gemma4":
            n = a.num_hidden_layers
            v_width = max(d * nkv for d, nkv, _ in (gemma4_heads(a, i) for i in range(n)))
        v_idx = g.input("i64", self.n_tok * (v_width if self.v_trans else 1), name="v_idxs")
        mask = g.input(mtype, full, self.n_tok, name="kq_mask")
        iswa = bool(a.sliding_window) and a.model_type in SWA_ARCHS
        if iswa:
            k_idx_swa = g.input("i64", self.n_tok, name="k_idxs_swa")
            v_idx_swa = g.input("i64", self.n_tok * (v_width if self.v_trans else 1))
            mask_swa = g.input(mtype, swa, self.n_tok, name="kq_mask_swa")
        out_ids = g.input("i32", self.n_out, name="out_ids")
        n_layer = a.num_hidden_layers
        swa_pattern = swa_layers(a) if iswa else set()
        self.swa_pattern = swa_pattern
        self.out_ids = out_ids
        attn_layers = attention_layers(a)
        ffn_layers = ffn_only_layers(a)
        self.s_copy = g.input("i32", s.n_seq, name="rs_s_copy")
        if a.model_type == "minimax_m1":  # slopes, q/k decay, diagonal decay (minimax-01.cpp)
            nh, ns = self.n_head, self.ns
            st = self.n_tok // ns
            self.la_inputs = [
                g.input("f32", nh, name="inp_slopes"),
                g.input("f32", 1, nh, st, ns, name="inp_q_decay"),
                g.input("f32", 1, nh, st, ns, name="inp_k_decay"),
                g.input("f32", st, st, nh, ns, name="inp_diag_decay"),
            ]
        for il in self.layers or range(n_layer):
            if dev_layer:
                g.backend = g.layer_backend = dev_layer[il]
            inp = cur
            if a.model_type in PARALLEL:

                def attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
                    return self.attention(q, k, v, mask, full, k_idx, v_idx)

                if a.model_type == "bloom":
                    cur = self.bloom_layer(il, cur, attend)
                else:
                    cur = self.parallel_layer(il, cur, pos, attend)
                continue
            if a.model_type == "phi":
                cur = self.phi2_layer(il, cur, pos, mask, full, k_idx, v_idx)
                continue
            if a.model_type == "gemma4":
                masks = ((mask, full, k_idx, v_idx), (mask_swa, swa, k_idx_swa, v_idx_swa))
                cur = self.gemma4_layer(il, cur, pos, masks)
                continue
            if a.model_type == "gemma3n_text":
                if il == (self.layers or [0])[0]:
                    per, cur = self.gemma3n_inputs(cur)
                masks = ((mask, full, k_idx, v_idx), (mask_swa, swa, k_idx_swa, v_idx_swa))
                cur = self.gemma3n_layer(il, cur, per, pos, masks)
                continue
            olmo2 = a.model_type in POST_NORM  # norms after attention and FFN, not before
            x = cur if olmo2 else self.norm(cur, rms=not self.ln, bias=self.ln_bias)
            if a.model_type in GDN:
                g.expand(x)
            if a.model_type == "nemotron_h":  # one block per layer, one norm, no FFN after
                if il in ffn_layers:
                    cur = self.nemotron_ffn(x)
                elif il in attn_layers:
                    q, k, v = self.qkv(x)
                    cur = self.out_proj(self.attention(q, k, v, mask, full, k_idx, v_idx))
                else:
                    cur = self.mamba2(x)
                cur = g.same("add", cur, inp)
                continue
            if a.model_type == "minimax_m1":  # the residual is the normed input, scaled
                if il in attn_layers:
                    q, k, v = self.qkv(x)
                    cur = self.attention(
                        self.rope(q, pos), self.rope(k, pos), v, mask, full, k_idx, v_idx
                    )
                    cur = self.out_proj(cur)
                else:
                    cur = self.lightning(x, il)
                if il == n_layer - 1:
                    cur = g.get_rows(cur, out_ids)
                    x = g.get_rows(x, out_ids)
                ffn_inp = g.same("add", cur, g.same("scale", x))
                x = self.norm(ffn_inp)
                cur = g.same("add", self.moe(x), g.same("scale", x))
                continue
            if il not in attn_layers:
                cur = self.mamba2(x) if a.recurrent_kind == "mamba2" else self.gated_deltanet(x)
            elif a.is_mla:
                cur = self.mla_attention(x, pos, mask, full, k_idx)
            elif a.model_type in GDN:
                cur = self.gated_attention(x, pos, mask, full, k_idx, v_idx)
            else:
                q, k, v = self.qkv(x)
                if a.qk_norm:
                    q = self.norm(q)
                    k = self.norm(k)
                # (SmolLM3 and Llama 4 leave every 4th layer without rope: use_rope)
                nope = a.model_type in ("smollm3", *LLAMA4) and (il + 1) % 4 == 0
                if self.roped and not nope:
                    q = self.rope(q, pos)
                    k = self.rope(k, pos)
                    if a.model_type in LLAMA4 and (a.num_experts or 0) != 128:  # use_kq_norm
                        q = g.same("rms_norm", q)
                        k = g.same("rms_norm", k)
                elif a.model_type in LLAMA4:  # NoPE layers: attention temperature tuning
                    q = g.same("mul", q, self.attn_scale)
                in_swa = il in swa_pattern
                cur = self.attention(
                    q,
                    k,
                    v,
                    mask_swa if in_swa else mask,
                    swa if in_swa else full,
                    k_idx_swa if in_swa else k_idx,
                    v_idx_swa if in_swa else v_idx,
                    sinks=g.weight(self.n_head, type_="f32") if a.model_type == "gpt_oss" else None,
                    softcap=a.model_type == "grok-1",  # tanh soft-capped scores
                )
                cur = self.out_proj(cur)
            if il == n_layer - 1 and a.model_type not in LATE_OUT:
                cur = g.get_rows(cur, out_ids)
                inp = g.get_rows(inp, out_ids)
            if olmo2 or a.model_type == "grok-1":  # (Grok: attn_output_norm)
                cur = self.norm(cur)
            ffn_inp = g.same("add", cur, inp)
            x = ffn_inp if olmo2 else self.norm(ffn_inp, rms=not self.ln, bias=self.ln_bias)
            moe_layer = (il + 1) % (a.moe_layer_step or 1) == 0  # Llama 4 Maverick: every 2nd
            if a.is_moe and il >= (a.first_k_dense_layers or 0) and moe_layer:
                cur = self.moe(x)
                if a.num_shared_experts and (
                    a.is_mla
                    or a.model_type
                    in ("glm4_moe", "granitemoehybrid", "ernie4_5_moe", "hunyuan", *LLAMA4)
                ):
                    sf = a.shared_expert_intermediate_size or a.moe_intermediate_size or 0
                    cur = g.same("add", cur, self.ffn(x, il, sf * a.num_shared_experts))
                elif a.model_type in GDN and a.num_shared_experts:
                    # qwen3next.cpp: the shared expert scaled by sigmoid(x . w)
                    sf = (a.shared_expert_intermediate_size or 0) * a.num_shared_experts
                    shexp = self.ffn(x, il, sf)
                    gate = g.same("unary", g.mul_mat(g.weight(self.h, type_="f32"), x))
                    cur = g.same("add", cur, g.same("mul", shexp, gate))
                elif a.model_type == "qwen2_moe" and a.num_shared_experts:
                    # qwen2moe.cpp: the shared expert scaled by sigmoid(x . w) as silu(z) / z
                    sf = (a.shared_expert_intermediate_size or 0) * a.num_shared_experts
                    z = g.mul_mat(g.weight(self.h, 1, type_="f32"), x)
                    gate = g.same("div", g.same("unary", z), z)
                    cur = g.same("add", cur, g.same("mul", self.ffn(x, il, sf), gate))
            else:
                cur = self.ffn(x, il, bias=self.ffn_bias)
            if olmo2 or a.model_type == "grok-1":  # (Grok: layer_output_norm)
                cur = self.norm(cur)
            if a.model_type in ("phi3", "phimoe"):  # phi3.cpp adds the residual first
                cur = g.same("add", ffn_inp, cur)
            else:
                cur = g.same("add", cur, ffn_inp)
        g.backend, g.layer_backend = dev_out, -1
        if a.model_type == "gpt_oss":
            # openai-moe.cpp gathers the outputs after the layers, and keeps the last hidden
            # state as a graph output (``t_h_nextn``): the allocator never frees it
            cur.output = True
            cur = g.get_rows(cur, out_ids)
        if a.model_type == "gemma3n_text":  # the streams folded, then the outputs gathered
            cur = g.get_rows(self.gemma3n_output(cur), out_ids)
        cur = self.norm(cur, rms=not self.ln, bias=self.ln_bias)
        if a.model_type in (*GDN, "gemma4", "nemotron_h"):  # t_h_nextn: every normed state
            cur.output = True
            cur = g.get_rows(cur, out_ids)
        cur.output = True  # t_embd
        logits = g.mul_mat(g.weight(self.h, a.vocab_size), cur)
        if a.model_type == "grok-1":  # logit scale
            logits = g.same("scale", logits)
        if a.model_type in ("gemma4", "gemma3n_text"):  # final soft-capping: scale, tanh, scale
            logits = g.same("scale", g.same("unary", g.same("scale", logits)))
        if a.model_type in ("phi", "phimoe"):  # the output layer has a bias
            logits = g.same("add", logits, g.weight(a.vocab_size, type_="f32"))
        logits.output = True
        g.expand(logits)
        return g


def replay(a: Architecture, s: Settings) -> int:
    """The compute buffer of ``s``, replayed now (:func:`graph_memo.compute_buffer` remembers it)."""
    peak = reserve(_Builder(a, s, replayed_layers(a)).build())
    if a.model_type == "minimax_m1" and s.n_seq > 1 and s.n_tokens is None:
        # llama_context reserves again with one sequence for MiniMax-01 (its diagonal decay
        # grows with the tokens per sequence squared); the buffer keeps the larger
        one = _Builder(a, s, replayed_layers(a))
        one.ns = 1
        peak = max(peak, reserve(one.build()))
    return peak


def replayed_layers(a: Architecture) -> list[int]:
    """The layers worth replaying: the allocator's pattern repeats with the layers', so the
    last few (the last one gathers the outputs) give the peak of all of them.  With
    interleaved windows, at least two full periods, starting on a layer of the same kind as
    layer 0 (the masks enter the graph in the same order); leading dense layers of a MoE
    model are kept too."""
    n = a.num_hidden_layers
    if a.ffn_only_layers or a.model_type == "gemma3n_text":
        # Nemotron-H: three kinds of layer in no fixed period; Gemma 3n: layers with and
        # without their own cache, sparse and dense FFNs: all of them
        return list(range(n))
    period = 1
    if a.num_attention_layers:  # hybrids: one attention layer per group
        period = a.num_hidden_layers // a.num_attention_layers
    elif a.sliding_window and a.model_type in SWA_ARCHS:
        full = n - min(a.sliding_window_layers or n, n)
        period = round(n / full) if full else 1
    keep = max(2, 2 * period)
    keep = min(n, keep + (n - keep) % period)
    head = list(range(min(n - keep, (a.first_k_dense_layers or 0) + 2))) if a.is_moe else []
    if (a.moe_layer_step or 1) > 1:  # Llama 4 Maverick: dense and MoE layers alternate
        head = []
    return head + list(range(n - keep, n))


def touched(a: Architecture, s: Settings, filled: int) -> int:
    """Compute-buffer bytes a CPU run writes to (its resident pages) after ``filled`` prompt
    tokens: at run time llama.cpp lays out each graph afresh in the reserved buffer, over the
    cells in use and with logits for the last token only, so the pages touched reach the
    highest address of the largest graph run: the prompt's final (partial) ubatch or the full
    one before it.  (A decode step, one token over as many cells, stays below both.)"""
    return max(compute_buffer(a, g) for g in _run_graphs(s, filled))


def _run_graphs(s: Settings, filled: int) -> list[Settings]:
    ub = s.n_ubatch
    last = filled - (filled - 1) // ub * ub
    graphs = [replace(s, n_tokens=last, n_outputs=1, used=filled)]
    if filled > ub:
        graphs.append(replace(s, n_tokens=ub, n_outputs=0, used=filled - last))
    return graphs


def work_touched(a: Architecture, s: Settings, filled: int) -> int:
    """Work-buffer bytes (:func:`llmatlas.sizing.ggml_alloc.work_size`) a CPU run writes after
    ``filled`` prompt tokens: the largest of the same graphs :func:`touched` replays.  Weights
    count as f16 (an f16 copy of the activations; K-quant weights take ggml's tiled kernels
    and ~1 byte per value instead), so the term is exact where it matters: the scores of a
    long context."""
    return max(work_buffer(a, g) for g in _run_graphs(s, filled))


def replay_work(a: Architecture, s: Settings) -> int:
    """The work buffer of ``s``'s graph, computed now (:func:`graph_memo.work_buffer`
    remembers it)."""
    return work_size(_Builder(a, s, replayed_layers(a)).build())


def device_buffers(
    a: Architecture, s: Settings, dev_layer: list[int], dev_out: int, n_devices: int
) -> list[int]:
    """Compute buffer of each device (the host last) when the layers sit on devices
    ``dev_layer`` and the output head on ``dev_out``: every layer replayed, scheduled as
    ``ggml_backend_sched`` does (:func:`llmatlas.sizing.ggml_sched.schedule`), with the
    scheduler's 4 input copies when more than one device runs the model (llama.cpp's
    pipeline parallelism with every layer offloaded).  On one device only
    :func:`replayed_layers` are replayed (equal to the whole model in 444 of 450 catalog
    checks, within 3.5 KiB in the other six, hybrids); over several, a few layers do not stand
    for all: where a slice starts and ends moves the allocator's holes
    (:func:`graph_memo.device_compute` remembers the answers instead)."""
    from llmatlas.sizing.ggml_sched import MAX_COPIES, schedule

    layers = replayed_layers(a) if n_devices == 1 else None
    g = _Builder(a, s, layers, (dev_layer, dev_out, n_devices)).build()
    return schedule(g, n_devices + 1, MAX_COPIES if n_devices > 1 else 1)
