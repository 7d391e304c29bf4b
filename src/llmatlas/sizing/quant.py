"""Weight formats and their real bytes per weight.

GGUF "Q4_K_M" is not 4 bits everywhere: llama.cpp's quantizer gives each tensor
a type (more bits for ``attn_v``/``ffn_down`` on some layers, Q6_K for the
output head, a fallback when a row length is not a multiple of 256).  We
reproduce those rules (``src/llama-quant.cpp``) per tensor and price each
tensor with ggml's block sizes (taken from the ``gguf`` package), so the
predicted file size matches real files.

Other formats: GPTQ/AWQ 4-bit at group size 128 store a 16-bit scale and a
4-bit zero per 128 weights (4.156 bits); bitsandbytes NF4 keeps an fp32
absmax per 64 weights (4.5 bits; 4.127 with double quantization); embeddings
and the LM head stay 16-bit in those formats.  A checkpoint published pre-quantized in
compressed-tensors INT4 (Kimi K2 Thinking: symmetric 4-bit integers with one BF16 scale per
32 weights, routed experts only) is ``INT4-G32-EXPERTS``: 4.5 bits on the experts, BF16 elsewhere.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Literal, NamedTuple

from llmatlas._record import Value, value
from llmatlas.catalog._schema import Architecture
from llmatlas.errors import BadInputError
from llmatlas.sizing.params import Tensor, tensors

if TYPE_CHECKING:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
else:  # the table without `import gguf` (numpy): see llmatlas._gguf_constants
    from llmatlas._gguf_constants import quant_types

    GGMLQuantizationType, GGML_QUANT_SIZES = quant_types()

T = GGMLQuantizationType
Kind = Literal[
    "float", "gguf", "gptq", "awq", "bnb", "fp8", "int8", "mxfp4", "nvfp4", "int4-experts"
]


@value
class QuantFormat(Value):
    """A weight format.  ``bits`` is the nominal bits per weight of its main tensors."""

    name: str
    kind: Kind
    bits: float
    description: str
    engines: tuple[str, ...]
    gguf_type: GGMLQuantizationType | None = None  # default tensor type of a GGUF mix

    @property
    def is_gguf(self) -> bool:
        return self.kind == "gguf"


def _bits(t: GGMLQuantizationType) -> float:
    block, size = GGML_QUANT_SIZES[t]
    return size * 8 / block


_LLAMA = ("llama.cpp",)
_HF = ("vllm", "transformers")

FORMATS: dict[str, QuantFormat] = {
    f.name: f
    for f in [
        QuantFormat("FP32", "float", 32, "full precision", _HF),
        QuantFormat("FP16", "float", 16, "half precision (also BF16)", _HF),
        QuantFormat("BF16", "float", 16, "bfloat16, the usual release format", _HF),
        QuantFormat("FP8", "fp8", 8, "8-bit float weights (per-tensor/channel scales)", ("vllm",)),
        QuantFormat("INT8", "int8", 8, "8-bit integer weights (W8A16)", _HF),
        QuantFormat("BNB-INT8", "bnb", 8, "bitsandbytes LLM.int8()", ("transformers",)),
        QuantFormat(
            "BNB-NF4", "bnb", 4.5, "bitsandbytes 4-bit NormalFloat, blocksize 64", ("transformers",)
        ),
        QuantFormat("GPTQ-4BIT", "gptq", 4 + 20 / 128, "GPTQ 4-bit, group size 128", _HF),
        QuantFormat("AWQ-4BIT", "awq", 4 + 20 / 128, "AWQ 4-bit, group size 128", _HF),
        QuantFormat("F16", "gguf", 16, "GGUF 16-bit", _LLAMA, T.F16),
        QuantFormat("Q8_0", "gguf", _bits(T.Q8_0), "GGUF 8-bit, near-lossless", _LLAMA, T.Q8_0),
        QuantFormat("Q6_K", "gguf", _bits(T.Q6_K), "GGUF 6-bit k-quant", _LLAMA, T.Q6_K),
        QuantFormat(
            "Q5_K_M", "gguf", _bits(T.Q5_K), "GGUF 5-bit k-quant, medium mix", _LLAMA, T.Q5_K
        ),
        QuantFormat(
            "Q5_K_S", "gguf", _bits(T.Q5_K), "GGUF 5-bit k-quant, small mix", _LLAMA, T.Q5_K
        ),
        QuantFormat("Q5_0", "gguf", _bits(T.Q5_0), "GGUF legacy 5-bit", _LLAMA, T.Q5_0),
        QuantFormat(
            "Q4_K_M",
            "gguf",
            _bits(T.Q4_K),
            "GGUF 4-bit k-quant, medium mix (the usual pick)",
            _LLAMA,
            T.Q4_K,
        ),
        QuantFormat(
            "Q4_K_S", "gguf", _bits(T.Q4_K), "GGUF 4-bit k-quant, small mix", _LLAMA, T.Q4_K
        ),
        QuantFormat("Q4_0", "gguf", _bits(T.Q4_0), "GGUF legacy 4-bit", _LLAMA, T.Q4_0),
        QuantFormat("IQ4_XS", "gguf", _bits(T.IQ4_XS), "GGUF 4.25-bit i-quant", _LLAMA, T.IQ4_XS),
        QuantFormat(
            "Q3_K_M", "gguf", _bits(T.Q3_K), "GGUF 3-bit k-quant, medium mix", _LLAMA, T.Q3_K
        ),
        QuantFormat(
            "Q2_K", "gguf", _bits(T.Q2_K), "GGUF 2-bit k-quant (large quality loss)", _LLAMA, T.Q2_K
        ),
    ]
}
ALIASES = {
    "FP16": "FP16",
    "F16": "F16",
    "HALF": "FP16",
    "BF16": "BF16",
    "FP32": "FP32",
    "F32": "FP32",
    "INT8": "INT8",
    "8BIT": "INT8",
    "8-BIT": "INT8",
    "INT4": "GPTQ-4BIT",
    "4BIT": "Q4_K_M",
    "4-BIT": "Q4_K_M",
    "NF4": "BNB-NF4",
    "GPTQ": "GPTQ-4BIT",
    "AWQ": "AWQ-4BIT",
    "FP8": "FP8",
    "LLM.INT8": "BNB-INT8",
    "Q4_K": "Q4_K_M",
    "Q5_K": "Q5_K_M",
    "Q3_K": "Q3_K_M",
}

# Every GGUF file type llama.cpp's quantizer writes (gguf's LlamaFileType, from llama.h), with
# the default tensor type llama-quant.cpp's llama_ftype_get_default_type gives it.
_FTYPE_DEFAULT: dict[str, GGMLQuantizationType] = {
    "F32": T.F32,
    "BF16": T.BF16,
    "Q4_1": T.Q4_1,
    "Q5_1": T.Q5_1,
    "Q2_K_S": T.Q2_K,
    "Q3_K_S": T.Q3_K,
    "Q3_K_L": T.Q3_K,
    "IQ2_XXS": T.IQ2_XXS,
    "IQ2_XS": T.IQ2_XS,
    "IQ2_S": T.IQ2_XS,
    "IQ2_M": T.IQ2_S,
    "IQ3_XXS": T.IQ3_XXS,
    "IQ3_XS": T.IQ3_S,
    "IQ3_S": T.IQ3_S,
    "IQ3_M": T.IQ3_S,
    "IQ1_S": T.IQ1_S,
    "IQ1_M": T.IQ1_M,
    "IQ4_NL": T.IQ4_NL,
    "TQ1_0": T.TQ1_0,
    "TQ2_0": T.TQ2_0,
    "MXFP4": T.MXFP4,  # file type MXFP4_MOE: experts MXFP4, every other matrix Q8_0
    "NVFP4": T.NVFP4,
}
_NOT_WEIGHT_TYPES = {"I8", "I16", "I32", "I64", "F64"}


def _gguf_format(name: str, t: GGMLQuantizationType) -> QuantFormat:
    return QuantFormat(name, "gguf", _bits(t), f"GGUF {name} ({t.name} tensors)", _LLAMA, t)


GGUF_FORMATS: dict[str, QuantFormat] = {n: f for n, f in FORMATS.items() if f.is_gguf}
for _n, _t in _FTYPE_DEFAULT.items():
    GGUF_FORMATS.setdefault(_n, _gguf_format(_n, _t))
for _t in GGMLQuantizationType:
    if _t.name not in _NOT_WEIGHT_TYPES and _t in GGML_QUANT_SIZES:
        GGUF_FORMATS.setdefault(_t.name, _gguf_format(_t.name, _t))
"""Every GGUF quantization: the named mixes plus each single ggml type ``gguf`` knows."""

# What the names people type mean on each engine (what that engine really loads).
_ENGINE_ALIASES: dict[str, dict[str, str]] = {
    "llama.cpp": {
        "8BIT": "Q8_0",
        "8-BIT": "Q8_0",
        "INT8": "Q8_0",
        "4BIT": "Q4_K_M",
        "4-BIT": "Q4_K_M",
        "INT4": "Q4_K_M",
        "FP16": "F16",
        "HALF": "F16",
        "FP32": "F32",
        "MXFP4_MOE": "MXFP4",
        "Q4_K": "Q4_K_M",
        "Q5_K": "Q5_K_M",
        "Q3_K": "Q3_K_M",
    },
    "vllm": {
        "8BIT": "INT8",
        "8-BIT": "INT8",
        "4BIT": "AWQ-4BIT",
        "4-BIT": "AWQ-4BIT",
        "INT4": "AWQ-4BIT",
        "F16": "FP16",
        "HALF": "FP16",
        "F32": "FP32",
        "GPTQ": "GPTQ-4BIT",
        "AWQ": "AWQ-4BIT",
    },
    "transformers": {
        "8BIT": "BNB-INT8",
        "8-BIT": "BNB-INT8",
        "LLM.INT8": "BNB-INT8",
        "4BIT": "BNB-NF4",
        "4-BIT": "BNB-NF4",
        "INT4": "BNB-NF4",
        "NF4": "BNB-NF4",
        "F16": "FP16",
        "HALF": "FP16",
        "F32": "FP32",
        "GPTQ": "GPTQ-4BIT",
        "AWQ": "AWQ-4BIT",
    },
}
# Names an engine cannot load, with the nearest formats it can.
_REFUSED: dict[str, dict[str, str]] = {
    "llama.cpp": {
        "FP8": "llama.cpp has no FP8 weights; nearest: Q8_0, F16",
        "AWQ": "AWQ checkpoints run on vLLM/transformers; on llama.cpp use Q4_K_M or Q4_0",
        "AWQ-4BIT": "AWQ checkpoints run on vLLM/transformers; on llama.cpp use Q4_K_M or Q4_0",
        "GPTQ": "GPTQ checkpoints run on vLLM/transformers; on llama.cpp use Q4_K_M or Q4_0",
        "GPTQ-4BIT": "GPTQ checkpoints run on vLLM/transformers; on llama.cpp use Q4_K_M or Q4_0",
        "NF4": "bitsandbytes NF4 is transformers-only; on llama.cpp use Q4_K_M or IQ4_NL",
        "BNB-NF4": "bitsandbytes NF4 is transformers-only; on llama.cpp use Q4_K_M or IQ4_NL",
        "BNB-INT8": "bitsandbytes int8 is transformers-only; on llama.cpp use Q8_0",
        "INT4-G32-EXPERTS": "compressed-tensors INT4 checkpoints run on vLLM; on llama.cpp use "
        "a GGUF type such as Q4_K_M",
    },
}
_HF_EXTRA = {
    "MXFP4": QuantFormat(
        "MXFP4",
        "mxfp4",
        _bits(T.MXFP4),
        "OCP microscaling FP4 experts (gpt-oss's checkpoint format), other weights BF16",
        ("vllm", "transformers"),
    ),
    "NVFP4": QuantFormat(
        "NVFP4",
        "nvfp4",
        4.5,
        "NVIDIA FP4: 4-bit values with an FP8 scale per 16 (Blackwell), embeddings/head BF16",
        ("vllm",),
    ),
    "INT4-G32-EXPERTS": QuantFormat(
        "INT4-G32-EXPERTS",
        "int4-experts",
        4 + 16 / 32,
        "compressed-tensors INT4 (pack-quantized, symmetric, a BF16 scale per 32 weights) on the "
        "routed MoE experts, other weights BF16: a checkpoint published that way (Kimi K2 Thinking)",
        ("vllm",),
    ),
}
FORMATS.update(_HF_EXTRA)
HF_FORMATS: dict[str, QuantFormat] = {n: f for n, f in FORMATS.items() if not f.is_gguf}


def _key(name: str) -> str:
    return name.strip().upper().replace(" ", "")


def _nearest(key: str, names: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5) or names[:6]
    return ", ".join(close)


def resolve_quant(name: str, engine: str) -> QuantFormat:
    """What ``name`` means on ``engine``: a format it loads, or a one-line refusal with the nearest.

    llama.cpp takes every GGUF file type and every single ggml type (Q4_1, MXFP4, IQ1_S, TQ1_0,
    BF16...); ``8bit``/``int8`` mean Q8_0 there and ``4bit``/``int4`` Q4_K_M.  vLLM and
    transformers take the Hugging Face formats (FP8, AWQ, GPTQ, bitsandbytes, MXFP4, NVFP4).
    """
    key = _key(name)
    if engine == "llama.cpp":
        if key in _REFUSED["llama.cpp"]:
            raise BadInputError(f"{name!r} on llama.cpp: {_REFUSED['llama.cpp'][key]}")
        key = _ENGINE_ALIASES["llama.cpp"].get(key, key)
        for k in (key, key.replace("-", "_")):
            if k in GGUF_FORMATS:
                return GGUF_FORMATS[k]
        raise BadInputError.translatable(
            "unknown quantization {name!r} for {engine}; nearest: {nearest}",
            name=name,
            engine="llama.cpp",
            nearest=_nearest(key, list(GGUF_FORMATS)),
        )
    aliases = _ENGINE_ALIASES.get(engine, {})
    key = aliases.get(key, key)
    for k in (key, key.replace("_", "-")):
        f = HF_FORMATS.get(k) or (FORMATS.get(ALIASES[k]) if k in ALIASES else None)
        if f is not None and not f.is_gguf:
            if engine in f.engines:
                return f
            raise BadInputError.translatable(
                "{format} does not run on {engine}; it runs on {engines}",
                format=f.name,
                engine=engine,
                engines=", ".join(f.engines),
            )
    if key in GGUF_FORMATS or key.replace("-", "_") in GGUF_FORMATS:
        if key in ("F16", "FP16"):
            return FORMATS["FP16"]
        raise BadInputError.translatable(
            "{format} is a GGUF format; use --engine llama.cpp", format=name
        )
    usable = [n for n, f in HF_FORMATS.items() if engine in f.engines]
    raise BadInputError.translatable(
        "unknown quantization {name!r} for {engine}; nearest: {nearest}",
        name=name,
        engine=engine,
        nearest=_nearest(key, usable),
    )


def native_format(a: Architecture, engine: str) -> QuantFormat | None:
    """The model's own checkpoint format on ``engine`` (config.json's quantization), if it runs there."""
    if not a.quantization:
        return None
    try:
        return resolve_quant(a.quantization, engine)
    except BadInputError:
        return None


# Quality order, best first: the advisor walks it down until a model fits.
GGUF_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_K_S", "IQ4_XS", "Q3_K_M", "Q2_K")
HF_LADDER = ("BF16", "FP8", "INT8", "AWQ-4BIT")


def get_format(name: str, engine: str | None = None) -> QuantFormat:
    """A format by name; with ``engine``, what that name means on that engine (:func:`resolve_quant`)."""
    if engine is not None:
        return resolve_quant(name, engine)
    key = name.strip().upper().replace("-", "_") if name.upper() not in FORMATS else name.upper()
    for candidate in (name.strip().upper(), key, key.replace("_", "-")):
        if candidate in FORMATS:
            return FORMATS[candidate]
        if candidate in ALIASES:
            return FORMATS[ALIASES[candidate]]
        if candidate in GGUF_FORMATS:
            return GGUF_FORMATS[candidate]
    raise BadInputError.translatable(
        "unknown quantization {name!r}; use one of: {formats}, or any GGUF type",
        name=name,
        formats=", ".join(FORMATS),
    )


def _use_more_bits(i: int, n: int) -> bool:
    """llama.cpp's rule for which layers get extra bits in *_M mixes (integer arithmetic)."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


class LayerClass(NamedTuple):
    """Everything about a layer's index that the type rules below read, and nothing else.

    :func:`gguf_tensor_type` looks at the index only through this, so layers of the same
    class and the same tensors get the same types, and :func:`weight_bytes` prices one
    layer per (class, tensors) and multiplies (a few classes instead of every layer).

    llama.cpp counts ``attn_v`` tensors, not layers (``i_attention_wv`` of
    ``n_attention_wv``): in a hybrid the first two attention layers get Q3_K_M's Q5_K
    wherever they are.  ``ffn_down`` of a dense model likewise counts ``ffn_down`` tensors
    (of ``n_layer``); a MoE model reads the layer from the tensor's name."""

    v_first_2: bool  # among the first 2 attn_v tensors
    v_first_4: bool
    v_more_bits: bool
    first_16th: bool  # ffn_down: i < n_layer / 16
    first_8th: bool
    more_bits: bool


# llama.cpp's category_is_attn_v: attn_v and every fused attn_qkv (a linear-attention layer's
# too: MiniMax's lightning, Qwen3-Next's delta-net); MLA's attn_kv_b is written as attn_k_b
# and attn_v_b, which get the default type
_ATTN_V = ("attn_v", "attn_qkv")


@functools.lru_cache(maxsize=1024)
def _ranks(a: Architecture) -> tuple[dict[int, int], dict[int, int]]:
    """Layer -> its rank among the layers with attention, and among those with an
    ``ffn_down`` (dense models; a MoE model's ffn_down goes by layer)."""
    attn: dict[int, int] = {}
    ffn: dict[int, int] = {}
    for t in tensors(a):
        if t.layer is None:
            continue
        if t.name.removeprefix("lin_") in _ATTN_V and t.layer not in attn:
            attn[t.layer] = len(attn)
        if t.name == "ffn_down" and t.layer not in ffn:
            ffn[t.layer] = len(ffn)
    return attn, ffn


def layer_class(i: int, a: Architecture) -> LayerClass:
    """The class of layer ``i`` of ``a`` (tensors outside the layers count as layer 0)."""
    known = _layer_classes(a)
    return known[i] if i < len(known) else _layer_class(i, a)


@functools.lru_cache(maxsize=1024)
def _layer_classes(a: Architecture) -> tuple[LayerClass, ...]:
    """Every layer's class, once per architecture (the type rules ask for each tensor)."""
    return tuple(_layer_class(i, a) for i in range(a.num_hidden_layers))


def _layer_class(i: int, a: Architecture) -> LayerClass:
    n = a.num_hidden_layers
    attn, ffn = _ranks(a)
    v = attn.get(i, 0)
    f = i if a.is_moe else ffn.get(i, i)
    return LayerClass(
        v < 2, v < 4, _use_more_bits(v, len(attn)), f < n // 16, f < n // 8, _use_more_bits(f, n)
    )


# Matrices llama-quant.cpp's tensor_allows_quantization leaves as they are (with every name
# holding "altup" or "laurel", Gemma 3n's small ones)
_KEPT = ("position_embd", "token_types", "per_layer_model_proj")

# llama-quant.cpp's tensor_type_fallback: the type used when a row is not a multiple of
# the chosen type's block (F16 if that one does not fit either).
_FALLBACK = {
    T.Q2_K: T.Q4_0,
    T.Q3_K: T.Q4_0,
    T.IQ4_XS: T.IQ4_NL,
    T.Q4_K: T.Q5_0,
    T.Q5_K: T.Q5_1,
    T.Q6_K: T.Q8_0,
}
# File types whose attn_output llama.cpp raises to Q5_K in an 8-expert model (Mixtral).
_MOE8_ATTN_OUTPUT_Q5_K = {
    "Q2_K",
    "IQ3_XS",
    "IQ3_XXS",
    "Q3_K_S",
    "Q3_K_M",
    "IQ4_NL",
    "Q4_K_S",
    "Q4_K_M",
    "IQ3_S",
    "IQ3_M",
    "IQ4_XS",
}
# (model types, layer count) llama.cpp loads as LLM_TYPE_70B (models/llama.cpp needs GQA too)
_70B = {("llama", "mistral", "mixtral"): 80, ("qwen2", "olmo"): 80}


def _is_70b(a: Architecture) -> bool:
    for types, n in _70B.items():
        if a.model_type in types and a.num_hidden_layers == n:
            return types[0] != "llama" or a.num_attention_heads != a.num_key_value_heads
    return False


def gguf_tensor_type(fmt: QuantFormat, t: Tensor, a: Architecture) -> GGMLQuantizationType:
    """The ggml type llama.cpp's quantizer gives tensor ``t`` in a file of format ``fmt``
    (llama-quant.cpp's llama_tensor_get_type_impl and tensor_type_fallback, no imatrix;
    checked tensor by tensor with ``llama-quantize --dry-run``: bench/quant_conformance.py)."""
    assert fmt.gguf_type is not None
    if not t.quantizable or t.row == 1:
        return T.F32
    name = fmt.name
    default = fmt.gguf_type
    if name in ("F16", "BF16", "F32"):
        return default
    if t.name in _KEPT or t.name.startswith(("altup", "laurel")):
        return T.F16  # tensor_allows_quantization: left in the converter's 16-bit type
    if name == "MXFP4":
        # LLAMA_FTYPE_MOSTLY_MXFP4_MOE: expert tensors MXFP4, every other matrix (head too) Q8_0
        new = T.MXFP4 if t.name.endswith("_exps") else T.Q8_0
        return new if t.row % GGML_QUANT_SIZES[new][0] == 0 else T.F16
    c = layer_class(t.layer if t.layer is not None else 0, a)
    role = t.name.removeprefix("lin_")  # MiniMax's lightning layers: attn_qkv, attn_output
    # a file without output.weight quantizes its token embeddings (Gemma 3n's per-layer ones
    # too) as the output head
    embd = t.name in ("token_embd", "per_layer_token_embd")
    is_output = t.name == "output" or (embd and a.tie_word_embeddings)
    falcon = a.model_type == "falcon"
    moe8 = a.is_moe and (a.num_experts or 0) == 8  # llama.cpp's hparams.n_expert == 8
    # hparams.n_gqa() reads layer 0: 0 in a Mamba-2 hybrid whose layer 0 has no attention
    # (its file lists KV heads per layer, 0 there)
    mamba0 = a.recurrent_kind == "mamba2" and 0 not in _ranks(a)[0]
    n_gqa = 0 if mamba0 else a.num_attention_heads // a.num_key_value_heads
    new = default
    if is_output:
        if falcon or name == "Q8_0" or t.row % GGML_QUANT_SIZES[default][0]:
            new = T.Q8_0
        elif name.startswith(("IQ1", "IQ2")):
            new = T.Q5_K
        else:
            new = T.Q6_K
    elif embd:
        new = default
    elif role in _ATTN_V:
        if name == "Q2_K":
            new = T.Q4_K if n_gqa >= 4 else T.Q3_K
        elif name == "Q3_K_M":
            new = T.Q5_K if c.v_first_2 else T.Q4_K
        elif name == "IQ4_XS" and n_gqa >= 4:
            new = T.Q5_K
        elif name in ("Q4_K_M", "Q5_K_M") and c.v_more_bits:
            new = T.Q6_K
        elif name == "Q4_K_S" and c.v_first_4:
            new = T.Q5_K
        if _is_70b(a) and new in (T.Q3_K, T.Q4_K):
            new = T.Q5_K
        if moe8:
            new = T.Q8_0
    elif role == "attn_k" and moe8:
        new = T.Q8_0
    elif t.name.startswith("ffn_down"):
        if name == "Q2_K":
            new = T.Q3_K
        elif name == "Q3_K_M":
            if c.first_16th:
                new = T.Q5_K
            elif not falcon or c.more_bits:
                new = T.Q4_K
            else:
                new = T.Q3_K
        elif name == "Q4_K_M":
            if falcon:
                new = T.Q6_K if c.first_16th else T.Q5_K if c.more_bits else T.Q4_K
            elif c.more_bits:
                new = T.Q6_K
        elif name == "IQ4_XS" and c.first_8th:
            new = T.Q5_K
        elif name == "Q5_K_M" and c.more_bits:
            new = T.Q6_K
        elif name == "Q4_K_S" and c.first_8th and not falcon:
            new = T.Q5_K
    elif role == "attn_output" and not falcon:
        if moe8:
            if name in _MOE8_ATTN_OUTPUT_Q5_K:
                new = T.Q5_K
        elif name == "Q2_K":
            new = T.Q3_K
        elif name == "Q3_K_M":
            new = T.Q4_K
    block, _ = GGML_QUANT_SIZES[new]
    if t.row % block:
        new = _FALLBACK.get(new, new)
        if t.row % GGML_QUANT_SIZES[new][0]:
            new = T.F16
    return new


GGUF_METADATA_BYTES_PER_TOKEN = 25
"""GGUF header bytes per vocabulary entry (token string, score, type): 6,525,120 bytes of
header over 262,144 tokens in the embedded Gemma 3 file."""


def gguf_file_bytes(a: Architecture, fmt: QuantFormat) -> int:
    """Predicted size of a GGUF file: tensor data plus the tokenizer-dominated header."""
    return weight_bytes(a, fmt).total + GGUF_METADATA_BYTES_PER_TOKEN * a.vocab_size


def tensor_bytes(t: Tensor, ggml_type: GGMLQuantizationType) -> int:
    block, size = GGML_QUANT_SIZES[ggml_type]
    return t.n * size // block


@value
class WeightBytes(Value):
    """Bytes of the weights in a format; ``active`` are those read per token (MoE)."""

    total: int
    active: int
    by_type: dict[str, int]
    params: int
    routed: int = 0  # routed-expert tensors, every expert (MoE)

    @property
    def bits_per_weight(self) -> float:
        return self.total * 8 / self.params


LayerGroups = tuple[tuple[Tensor, ...], tuple[tuple[tuple[int, ...], tuple[Tensor, ...]], ...]]


@functools.lru_cache(maxsize=1024)
def layer_groups(a: Architecture) -> LayerGroups:
    """:func:`tensors` as (the tensors outside the repeating layers, the layers grouped): layers
    with the same tensors and the same :class:`LayerClass` get the same ggml types, so each
    group is (its layer indices, the first one's tensors), in order of first appearance.
    Once per architecture: pricing a format then costs one layer per group."""
    outside: list[Tensor] = []
    layers: dict[int, list[Tensor]] = {}
    for t in tensors(a):
        if t.layer is None:
            outside.append(t)
        else:
            layers.setdefault(t.layer, []).append(t)
    alike: dict[tuple[object, ...], tuple[list[int], list[Tensor]]] = {}
    for i, ts in layers.items():
        shape = tuple((t.name, t.n, t.row, t.category, t.active_fraction) for t in ts)
        key = (layer_class(i, a), shape)
        if key in alike:
            alike[key][0].append(i)
        else:
            alike[key] = ([i], ts)
    return tuple(outside), tuple((tuple(ix), tuple(ts)) for ix, ts in alike.values())


Priced = tuple[tuple[Tensor, int, str], ...]
"""Tensors with their bytes and type name in a format."""


@functools.lru_cache(maxsize=4096)
def priced_groups(
    a: Architecture, fmt: QuantFormat
) -> tuple[Priced, tuple[tuple[tuple[int, ...], Priced], ...]]:
    """:func:`layer_groups` with each tensor's (bytes, type) in ``fmt``: the tensors outside
    the layers, and (layer indices, one layer's tensors) of each group (towers in
    ``extra_params`` at 16-bit).  Once
    per (architecture, format): the totals (:func:`weight_bytes`) and the per-layer split
    over devices (``memory.llama_cpp_devices``) both read it."""

    def price(t: Tensor) -> tuple[Tensor, int, str]:
        if t.name == "extra":
            return t, t.n * 2, "F16 (extra)"
        if fmt.is_gguf:
            gt = gguf_tensor_type(fmt, t, a)
            return t, tensor_bytes(t, gt), gt.name
        return (t, *_hf_tensor_bytes(fmt, t))

    outside, groups = layer_groups(a)
    return tuple(map(price, outside)), tuple((ix, tuple(map(price, ts))) for ix, ts in groups)


def weight_bytes(a: Architecture, fmt: QuantFormat) -> WeightBytes:
    """Bytes of every weight in ``fmt`` (towers in ``extra_params`` at 16-bit).

    Computed once per (architecture, format), one layer per group of alike layers
    (:func:`layer_groups`), and remembered in :data:`WEIGHTS`: ``fit`` asks for every rung
    of the quantization ladder of every model, and ``recommend`` for each tier and need."""
    key = (a, fmt.name, fmt.kind)
    found = WEIGHTS.get(key)
    if found is None:
        if len(WEIGHTS) >= 8192:  # a long-running server asked about many files
            WEIGHTS.clear()
        found = WEIGHTS[key] = _weight_bytes(a, fmt)
    return found


def weights_by_layer(a: Architecture, fmt: QuantFormat) -> tuple[tuple[str, int | None, int], ...]:
    """(name, layer, bytes) of the weights llama.cpp loads: each tensor outside the layers,
    then each layer's tensors as one entry (what a layer split puts on each device);
    remembered in :data:`LAYER_WEIGHTS` as :func:`weight_bytes` is."""
    key = (a, fmt.name, fmt.kind)
    found = LAYER_WEIGHTS.get(key)
    if found is None:
        if len(LAYER_WEIGHTS) >= 8192:
            LAYER_WEIGHTS.clear()
        outside, groups = priced_groups(a, fmt)
        out: list[tuple[str, int | None, int]] = [(t.name, None, b) for t, b, _ in outside]
        per_layer: dict[int, int] = {}
        for layers, priced in groups:
            size = sum(p[1] for p in priced)
            per_layer.update((i, size) for i in layers)
        out += [(f"blk.{i}", i, per_layer[i]) for i in sorted(per_layer)]
        found = LAYER_WEIGHTS[key] = tuple(out)
    return found


LAYER_WEIGHTS: dict[tuple[Architecture, str, str], tuple[tuple[str, int | None, int], ...]] = {}
"""(architecture, format name, kind) -> :func:`weights_by_layer`."""
WEIGHTS: dict[tuple[Architecture, str, str], WeightBytes] = {}
"""(architecture, format name, kind) -> :func:`weight_bytes`.  Building an architecture's
tensors and typing them costs about a millisecond per (architecture, format), a second for
``fit`` over the catalog, so the command line keeps a copy between runs
(:func:`llmatlas._snapshot.remembered`, keyed by :data:`WEIGHT_SOURCES`)."""
WEIGHT_SOURCES = ("sizing/quant.py", "sizing/params.py", "catalog/_schema.py")
"""The code a weight size depends on (with gguf's type table, keyed separately)."""


def _weight_bytes(a: Architecture, fmt: QuantFormat) -> WeightBytes:
    total = 0
    active = 0.0
    routed = 0
    params = 0
    by_type: dict[str, int] = {}
    outside, groups = priced_groups(a, fmt)
    counted = [(p, 1) for p in outside] + [(p, len(ix)) for ix, ps in groups for p in ps]
    for (t, b, kind), count in counted:
        params += t.n * count
        total += b * count
        active += b * t.active_fraction * count
        if t.active_fraction < 1.0:
            routed += b * count
        by_type[kind] = by_type.get(kind, 0) + b * count
    return WeightBytes(
        total=total, active=round(active), by_type=by_type, params=params, routed=routed
    )


def _hf_tensor_bytes(fmt: QuantFormat, t: Tensor) -> tuple[int, str]:
    """Safetensors-style formats: linear layers quantized, embeddings/head/norms kept 16-bit."""
    if fmt.kind == "float":
        bytes_per = 4 if fmt.name == "FP32" else 2
        return t.n * bytes_per, fmt.name
    if t.category in ("embedding", "output", "norm") or t.row == 1:
        return t.n * 2, "BF16"
    if t.name == "ffn_gate_inp":
        return t.n * 2, "BF16"
    if fmt.kind in ("mxfp4", "int4-experts"):
        # gpt-oss: only the experts are MXFP4 (32 x 4 bits + one E8M0 scale); Kimi K2 Thinking:
        # only the routed experts are INT4 (32 x 4 bits + one BF16 scale); the rest BF16
        if t.category == "experts":
            return round(t.n * fmt.bits / 8), fmt.name
        return t.n * 2, "BF16"
    if fmt.kind == "nvfp4":
        return round(t.n * fmt.bits / 8), fmt.name
    if fmt.name == "BNB-NF4":
        return round(t.n * 4.5 / 8), fmt.name
    if fmt.kind in ("int8", "bnb", "fp8"):
        # one byte per weight plus one 16/32-bit scale per output row (negligible) -> 8 bits
        rows = max(1, t.n // max(t.row, 1))
        return t.n + rows * 4, fmt.name
    # GPTQ / AWQ: 4-bit weights, fp16 scale + 4-bit zero per group of 128 inputs
    return round(t.n * fmt.bits / 8), fmt.name
