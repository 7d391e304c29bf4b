"""Read a GGUF file's header: its architecture and every tensor's exact type and bytes.

Nothing here guesses bits per weight: the weights are the tensors the file holds,
priced by their ggml types, exactly as llama.cpp's loader sizes its model buffers.
Split files (``name-00001-of-00003.gguf``) are read part by part and summed.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmatlas.catalog._schema import Architecture
from llmatlas.errors import BadInputError
from llmatlas.sizing.quant import WeightBytes

SPLIT = re.compile(r"^(?P<stem>.*)-(?P<i>\d{5})-of-(?P<n>\d{5})\.gguf$")

# GGUF architecture names (llama.cpp's LLM_ARCH names) -> Hugging Face model_type, where they
# differ; the rest map by replacing '-' with '_'.
MODEL_TYPES = {
    "gptneox": "gpt_neox",
    "gpt-oss": "gpt_oss",
    "deepseek2": "deepseek_v3",
    "qwen2moe": "qwen2_moe",
    "qwen3moe": "qwen3_moe",
    "qwen3next": "qwen3_next",
    "phi3": "phi3",
    "phimoe": "phimoe",
    "command-r": "cohere",
    "cohere2": "cohere2",
    "starcoder2": "starcoder2",
    "olmo2": "olmo2",
    "granitehybrid": "granitemoehybrid",
    "phi2": "phi",  # Phi-1/1.5/2
    "glm4moe": "glm4_moe",
    "qwen35": "qwen3_5",
    "qwen35moe": "qwen3_5_moe",
    "llama4": "llama4_text",
    "minimax-m2": "minimax_m2",
    "hunyuan-moe": "hunyuan",
    "grok": "grok-1",
    "minimax-01": "minimax_m1",
    "gemma3n": "gemma3n_text",
}
# How many layers use the sliding window when the file does not list them per layer.
_SWA_EVERY = {
    "gemma2": 2,
    "gpt_oss": 2,
    "gemma3": 6,
    "cohere2": 4,
    "llama4_text": 4,
    "gemma3n_text": 5,
}
_NORM = {"bloom": "layernorm", "falcon": "layernorm", "gpt_neox": "layernorm", "phi": "layernorm"}
_LAYERNORM = {"gpt2", "mpt", "stablelm", "starcoder", "olmo"}  # with a bias where the file has one
_PLAIN_MLP = {"bloom", "falcon", "gpt_neox", "gpt2", "phi", "starcoder", "mpt"}
_LEARNED_POS = {"gpt2", "starcoder"}
_ALIBI = {"bloom", "mpt"}


@dataclass(frozen=True)
class GGUFTensor:
    name: str
    ggml_type: str
    shape: tuple[int, ...]
    n_bytes: int


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF file says about itself."""

    paths: tuple[Path, ...]
    arch: str  # general.architecture, as llama.cpp names it
    name: str | None
    file_type: str  # the quantization (file type) name, e.g. Q4_K_M
    metadata: dict[str, Any]  # scalar and short-array fields (token lists left out)
    vocab_size: int
    tensors: tuple[GGUFTensor, ...]
    file_bytes: int

    @property
    def weight_bytes(self) -> WeightBytes:
        by_type: dict[str, int] = {}
        total = 0
        params = 0
        active = 0.0
        n_exp = self.metadata.get(f"{self.arch}.expert_count") or 0
        used = self.metadata.get(f"{self.arch}.expert_used_count") or 0
        for t in self.tensors:
            by_type[t.ggml_type] = by_type.get(t.ggml_type, 0) + t.n_bytes
            total += t.n_bytes
            n = 1
            for d in t.shape:
                n *= d
            params += n
            frac = used / n_exp if (n_exp and "_exps" in t.name) else 1.0
            active += t.n_bytes * frac
        return WeightBytes(total=total, active=round(active), by_type=by_type, params=params)

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(f"{self.arch}.{key}", default)


def split_parts(path: Path) -> list[Path]:
    """All parts of a split GGUF given any one of them (or just ``[path]``)."""
    m = SPLIT.match(path.name)
    if not m:
        return [path]
    n = int(m["n"])
    parts = [path.with_name(f"{m['stem']}-{i:05d}-of-{n:05d}.gguf") for i in range(1, n + 1)]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise BadInputError(
            f"{path.name} is part of a {n}-file split GGUF; missing: {', '.join(missing[:3])}"
        )
    return parts


class _Header:
    """A fast walk over a GGUF header with ``gguf``'s type tables.

    ``gguf.GGUFReader`` builds a numpy view per array element: 10 s of CPU for a
    262k-token vocabulary.  Sizing needs the scalars, array lengths and tensor infos,
    so this reads those and steps over token strings by their length prefixes.
    """

    def __init__(self, buf: bytes | mmap.mmap, name: str, short: bool = False) -> None:
        self.buf = buf
        self.pos = 0
        self.name = name
        self.short = short  # ``buf`` is only the file's first bytes
        self.keep_all = False  # keep arrays of any length (the whole vocabulary)

    def _end(self) -> None:
        if self.short:
            raise HeaderTooShort(f"{self.name}: header longer than the bytes read")
        raise BadInputError(f"{self.name} is truncated inside its GGUF header")

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            self._end()
        b = self.buf[self.pos : end]
        self.pos = end
        return bytes(b)

    def u32(self) -> int:
        return int(struct.unpack("<I", self._take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self._take(8))[0])

    def string(self) -> str:
        return self._take(self.u64()).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep_array: bool) -> Any:
        from gguf import GGUFValueType as V

        if vtype == V.STRING:
            return self.string()
        if vtype == V.ARRAY:
            sub = self.u32()
            n = self.u64()
            if sub == V.STRING:
                if not keep_array:
                    for _ in range(n):
                        self.pos += 8 + int.from_bytes(self.buf[self.pos : self.pos + 8], "little")
                    if self.pos > len(self.buf):
                        self._end()
                    return _Skipped(n)
                return [self.string() for _ in range(n)]
            size = _SCALAR[sub][1]
            if not keep_array or (n > 4096 and not self.keep_all):
                self._take(n * size)
                return _Skipped(n)
            return [self.value(sub, False) for _ in range(n)]
        fmt, size = _SCALAR[vtype]
        v = struct.unpack("<" + fmt, self._take(size))[0]
        return bool(v) if vtype == V.BOOL else v


@dataclass(frozen=True)
class _Skipped:
    """A long array whose length is all sizing needs (token lists, scores, merges)."""

    n: int


def _scalar_table() -> dict[int, tuple[str, int]]:
    from gguf import GGUFValueType as V

    return {
        V.UINT8: ("B", 1),
        V.INT8: ("b", 1),
        V.UINT16: ("H", 2),
        V.INT16: ("h", 2),
        V.UINT32: ("I", 4),
        V.INT32: ("i", 4),
        V.FLOAT32: ("f", 4),
        V.BOOL: ("?", 1),
        V.UINT64: ("Q", 8),
        V.INT64: ("q", 8),
        V.FLOAT64: ("d", 8),
    }


_SCALAR = _scalar_table()


class HeaderTooShort(BadInputError):
    """The bytes given end inside the GGUF header (a remote read fetches more)."""


def _read_part(part: Path, size: int) -> tuple[dict[str, Any], list[GGUFTensor]]:
    with part.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise BadInputError(f"{part.name} is not a GGUF file (no GGUF magic at its start)")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return parse_header(mm, part.name, size)


def parse_header(
    buf: bytes | mmap.mmap, name: str, size: int, keep_arrays: bool = False
) -> tuple[dict[str, Any], list[GGUFTensor]]:
    """Metadata and tensors of a GGUF header held in ``buf`` (the file, or its first bytes);
    ``size`` is the whole file's, to check every tensor lies inside it.  Long arrays (token
    lists, scores, merges) come back as their length only, unless ``keep_arrays``."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    if bytes(buf[:4]) != b"GGUF":
        raise BadInputError(f"{name} is not a GGUF file (no GGUF magic at its start)")
    short = len(buf) < size
    r = _Header(buf, name, short)
    r.keep_all = keep_arrays
    r.pos = 4
    version = r.u32()
    if version not in (2, 3):
        raise BadInputError(f"{name}: GGUF version {version} is not supported")
    n_tensors, n_kv = r.u64(), r.u64()
    if n_tensors > 1_000_000 or n_kv > 1_000_000:
        raise BadInputError(f"{name}: corrupt GGUF header (counts out of range)")
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string()
        vtype = r.u32()
        if vtype not in _SCALAR and vtype not in (8, 9):
            raise BadInputError(f"{name}: corrupt GGUF header (value type {vtype})")
        meta[key] = r.value(vtype, keep_array=keep_arrays or not key.startswith("tokenizer."))
    infos = []
    for _ in range(n_tensors):
        tname = r.string()
        n_dims = r.u32()
        if n_dims > 8:
            raise BadInputError(f"{name}: corrupt GGUF header ({tname} has {n_dims} dims)")
        ne = tuple(r.u64() for _ in range(n_dims))
        code = r.u32()
        offset = r.u64()
        try:
            gt = GGMLQuantizationType(code)
            block, tsize = GGML_QUANT_SIZES[gt]
        except (ValueError, KeyError):
            raise BadInputError(
                f"{name}: tensor {tname} has ggml type {code}, unknown to gguf "
                "(a newer llama.cpp type? update the gguf package)"
            ) from None
        n = 1
        for d in ne:
            n *= d
        infos.append((tname, gt.name, ne, offset, n // block * tsize))
    align = int(meta.get("general.alignment") or 32)
    start = -(-r.pos // align) * align
    tensors = []
    for tname, type_name, ne, offset, nbytes in infos:
        end = start + offset + nbytes
        if end > size:
            raise BadInputError(
                f"{name} is truncated: tensor {tname} ends at byte {end:,} but the file has {size:,}"
            )
        tensors.append(GGUFTensor(tname, type_name, tuple(reversed(ne)), nbytes))
    return meta, tensors


def _file_type_name(code: int | None, tensors: list[GGUFTensor]) -> str:
    from gguf import LlamaFileType

    if code is not None:
        try:
            name = LlamaFileType(code).name
        except ValueError:
            name = ""
        if name and name != "GUESSED":
            name = name.removeprefix("MOSTLY_").removeprefix("ALL_")
            return "MXFP4" if name == "MXFP4_MOE" else name
    by_type: dict[str, int] = {}
    for t in tensors:
        if len(t.shape) > 1:
            by_type[t.ggml_type] = by_type.get(t.ggml_type, 0) + t.n_bytes
    return max(by_type, key=by_type.__getitem__) if by_type else "F32"


def read_header(path: str | Path) -> GGUFHeader:
    """Header of a GGUF file (all parts of a split one).  One clear error for anything else."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise BadInputError(f"no such file: {p}")
    parts = split_parts(p)
    tensors: list[GGUFTensor] = []
    metadata: dict[str, Any] = {}
    vocab = 0
    total_size = 0
    for i, part in enumerate(parts):
        size = part.stat().st_size
        total_size += size
        if size < 24:
            raise BadInputError(f"{part.name} is not a GGUF file ({size} bytes)")
        meta, part_tensors = _read_part(part, size)
        tensors += part_tensors
        if i == 0:
            metadata = {k: v for k, v in meta.items() if not isinstance(v, _Skipped)}
            tokens = meta.get("tokenizer.ggml.tokens")
            vocab = tokens.n if isinstance(tokens, _Skipped) else len(tokens or [])
    return assemble(tuple(parts), metadata, vocab, tensors, total_size)


def assemble(
    paths: tuple[Path, ...],
    metadata: dict[str, Any],
    vocab: int,
    tensors: list[GGUFTensor],
    total_size: int,
) -> GGUFHeader:
    """A :class:`GGUFHeader` from parsed parts (first part's metadata, every part's tensors)."""
    p = paths[0]
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str):
        raise BadInputError(f"{p.name}: GGUF without general.architecture; cannot size it")
    if not vocab:
        vocab = int(metadata.get(f"{arch}.vocab_size") or 0)
    return GGUFHeader(
        paths=paths,
        arch=arch,
        name=metadata.get("general.name"),
        file_type=_file_type_name(metadata.get("general.file_type"), tensors),
        metadata=metadata,
        vocab_size=vocab,
        tensors=tuple(tensors),
        file_bytes=total_size,
    )


def _scalar(v: Any, how: str = "max") -> int | None:
    if v is None:
        return None
    if isinstance(v, list):
        vals = [int(x) for x in v]
        if not vals:
            return None
        nz = [x for x in vals if x]
        return (max(vals) if how == "max" else min(nz or vals)) or None
    return int(v)


def architecture(h: GGUFHeader) -> Architecture:
    """The :class:`Architecture` a GGUF header describes (what the sizing model needs)."""
    mt = MODEL_TYPES.get(h.arch, h.arch.replace("-", "_"))
    names = {t.name for t in h.tensors}
    layers = _scalar(h.get("block_count"))
    hidden = _scalar(h.get("embedding_length"))
    heads = _scalar(h.get("attention.head_count"))
    if not (layers and hidden and heads and h.vocab_size):
        raise BadInputError(
            f"{h.paths[0].name}: the {h.arch} header lacks block_count/embedding_length/"
            "head_count/vocabulary; cannot size it"
        )
    kv_raw = h.get("attention.head_count_kv")
    ffn_only = None
    kv_heads = _scalar(kv_raw) or heads
    attn_layers: int | None = None
    if isinstance(kv_raw, list) and any(int(x) == 0 for x in kv_raw):
        attn_layers = sum(1 for x in kv_raw if int(x))
    ff_raw = h.get("feed_forward_length")
    if mt == "nemotron_h" and isinstance(ff_raw, list):  # FFN-only layers: KV 0, FFN > 0
        ffn_only = sum(1 for x in ff_raw if int(x))
    interval = _scalar(h.get("full_attention_interval"))
    if interval and (h.get("ssm.inner_size") is not None or mt == "minimax_m1"):
        attn_layers = layers // interval  # Qwen3-Next / Qwen3.5 / MiniMax-M1 hybrids
    n_exp = _scalar(h.get("expert_count"))
    exp_ff = _scalar(h.get("expert_feed_forward_length"))
    ff = _scalar(h.get("feed_forward_length")) or exp_ff or 4 * hidden
    if mt == "qwen":  # Qwen-1 files give twice the width of each FFN matrix (qwen.cpp halves it)
        ff //= 2
    norm = _NORM.get(mt, "rmsnorm")
    if mt == "phimoe":  # its norms carry a bias (llama.cpp runs them as RMS norms)
        norm = "layernorm"
    if mt in _LAYERNORM:
        norm = "layernorm" if "blk.0.attn_norm.bias" in names else "layernorm-nobias"
    fields: dict[str, Any] = dict(
        model_type=mt,
        num_hidden_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads if heads % kv_heads == 0 else heads,
        intermediate_size=ff,
        vocab_size=h.vocab_size,
        max_position_embeddings=_scalar(h.get("context_length")) or 2048,
        tie_word_embeddings="output.weight" not in names,
        norm=norm,
        mlp="plain" if mt in _PLAIN_MLP else "gated",
    )
    if mt in _LEARNED_POS:
        fields["position_embedding"] = "learned"
    elif mt in _ALIBI:
        fields["position_embedding"] = "alibi"
    kv_lora = _scalar(h.get("attention.kv_lora_rank"))
    key_len = _scalar(h.get("attention.key_length"))
    if kv_lora:
        rope = _scalar(h.get("rope.dimension_count")) or 64
        k_mla = _scalar(h.get("attention.key_length_mla")) or (key_len or rope + 128)
        fields.update(
            kv_lora_rank=kv_lora,
            q_lora_rank=_scalar(h.get("attention.q_lora_rank")),
            qk_rope_head_dim=rope,
            qk_nope_head_dim=max(1, k_mla - rope),
            v_head_dim=_scalar(h.get("attention.value_length_mla"))
            or _scalar(h.get("attention.value_length")),
        )
    elif mt == "gemma4":  # window layers' heads; global layers' own width and KV heads
        fields["head_dim"] = _scalar(h.get("attention.key_length_swa")) or key_len
        fields["global_head_dim"] = key_len
        pattern = h.get("attention.sliding_window_pattern")
        if isinstance(kv_raw, list) and isinstance(pattern, list) and len(pattern) == len(kv_raw):
            pairs = list(zip(kv_raw, pattern, strict=True))
            fields["num_key_value_heads"] = max((int(k) for k, w in pairs if w), default=kv_heads)
            fields["num_global_key_value_heads"] = max(
                (int(k) for k, w in pairs if not w), default=kv_heads
            )
            glob = [i for i, w in enumerate(pattern) if not w]
            fields["attention_k_eq_v"] = bool(glob) and f"blk.{glob[0]}.attn_v.weight" not in names
    elif key_len:
        fields["head_dim"] = key_len
    window = _scalar(h.get("attention.sliding_window"))
    if window:
        pattern = h.get("attention.sliding_window_pattern")
        if isinstance(pattern, list) and len(pattern) == layers:
            swa_layers = sum(1 for x in pattern if x)
        elif mt in _SWA_EVERY:
            every = _SWA_EVERY[mt]
            swa_layers = layers - layers // every
        else:
            swa_layers = layers
        fields.update(sliding_window=window, sliding_window_layers=swa_layers)
        if mt == "olmo2":  # OLMo 3 is OLMo 2 with sliding windows
            fields["model_type"] = "olmo3"
    step = _scalar(h.get("interleave_moe_layer_step"))
    if step and step > 1:
        fields["moe_layer_step"] = step
    if n_exp and n_exp > 1:
        fields.update(
            num_experts=n_exp,
            num_experts_per_tok=_scalar(h.get("expert_used_count")) or 1,
            moe_intermediate_size=exp_ff,
            first_k_dense_layers=_scalar(h.get("leading_dense_block_count")),
        )
        shared = _scalar(h.get("expert_shared_count"))
        if shared:
            fields["num_shared_experts"] = shared
        shared_ff = _scalar(h.get("expert_shared_feed_forward_length"))
        if shared_ff:
            fields["shared_expert_intermediate_size"] = shared_ff
            fields.setdefault("num_shared_experts", 1)
    if attn_layers is not None:
        fields["num_attention_layers"] = attn_layers
        if mt == "minimax_m1":
            fields["recurrent_kind"] = "lightning"
        if ffn_only:
            fields["ffn_only_layers"] = ffn_only
        inner = _scalar(h.get("ssm.inner_size"))
        if inner:
            fields["recurrent_state_width"] = inner
        conv = _scalar(h.get("ssm.conv_kernel"))
        if conv:
            fields["conv1d_width"] = conv
        state = _scalar(h.get("ssm.state_size"))
        ssm_heads = _scalar(h.get("ssm.time_step_rank"))
        if inner and state and ssm_heads:
            # Mamba-2 / gated delta-net: value heads of inner/heads, key (state) heads per group
            fields.update(
                recurrent_kind="gated-deltanet" if mt.startswith("qwen3") else "mamba2",
                linear_num_key_heads=_scalar(h.get("ssm.group_count")) or 1,
                linear_key_head_dim=state,
                linear_num_value_heads=ssm_heads,
                linear_value_head_dim=inner // ssm_heads,
            )
    fields["attention_bias"] = any(n.endswith("attn_q.bias") for n in names) or any(
        n.endswith("attn_qkv.bias") for n in names
    )
    if mt == "gemma3n_text":  # llama.cpp: layers from the 20th on read earlier layers' caches
        fields["kv_shared_layers"] = max(0, layers - 20)
    fields["attention_out_bias"] = any(n.endswith("attn_output.bias") for n in names)
    fields["mlp_bias"] = any(n.endswith("ffn_up.bias") for n in names)
    fields["qk_norm"] = any(n.endswith("attn_q_norm.weight") for n in names)
    try:
        return Architecture(**{k: v for k, v in fields.items() if v is not None})
    except ValueError as exc:
        raise BadInputError(f"{h.paths[0].name}: inconsistent {h.arch} header ({exc})") from None
