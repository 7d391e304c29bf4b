"""Every key-value pair of a GGUF header, as Ollama's ``/api/show`` lists them in ``model_info``.

Large arrays (the tokenizer's vocabulary, scores, merges) are reported as ``None`` unless
``verbose`` is asked for, as Ollama does; ``general.parameter_count`` is added from the
tensor shapes when the file does not carry it.

A direct reader of the header (GGUF v2/v3, little-endian), not ``gguf.GGUFReader``: that one
builds an object per vocabulary entry (262k for Gemma 3), which takes seconds per call.
"""

from __future__ import annotations

import functools
import mmap
import struct
from pathlib import Path
from typing import Any

from llmatlas.errors import StoreError

BIG_ARRAY = 64  # items: longer arrays are elided unless verbose
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


class _Cursor:
    def __init__(self, buf: Any) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        n = self.take("<Q")
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def value(self, kind: int, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.take("<I"), self.take("<Q")
            keep_items = keep or count <= BIG_ARRAY
            if item in _SCALARS and not keep_items:
                self.pos += count * struct.calcsize(_SCALARS[item])
                return None
            values = [self.value(item, keep) for _ in range(count)]
            return values if keep_items else None
        raise StoreError(f"GGUF value type {kind} is not known")


def read_gguf_header(path: Path, verbose: bool = False) -> dict[str, Any]:
    """All key-value pairs, plus ``general.parameter_count`` from the tensor infos."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            c = _Cursor(buf)
            if bytes(buf[:4]) != b"GGUF":
                raise StoreError(f"{path} is not a GGUF file (bad magic bytes)")
            c.pos = 4
            version = c.take("<I")
            if version < 2:
                raise StoreError(f"{path}: GGUF version {version} is too old")
            n_tensors, n_kv = c.take("<Q"), c.take("<Q")
            info: dict[str, Any] = {}
            for _ in range(n_kv):
                key = c.string()
                info[key] = c.value(c.take("<I"), verbose)
            n_params = 0
            for _ in range(n_tensors):
                c.string()
                dims = [c.take("<Q") for _ in range(c.take("<I"))]
                c.take("<I")  # tensor type
                c.take("<Q")  # data offset
                count = 1
                for d in dims:
                    count *= d
                n_params += count
    except (OSError, ValueError, struct.error) as exc:
        raise StoreError(f"{path} is not a readable GGUF file: {type(exc).__name__}") from None
    info.setdefault("general.parameter_count", n_params)
    return info


@functools.lru_cache(maxsize=32)
def _cached(path: str, mtime_ns: int, size: int, verbose: bool) -> dict[str, Any]:
    return read_gguf_header(Path(path), verbose)


def gguf_header(path: Path, verbose: bool = False) -> dict[str, Any]:
    """:func:`read_gguf_header`, remembered while the file is unchanged."""
    st = Path(path).stat()
    return dict(_cached(str(path), st.st_mtime_ns, st.st_size, verbose))


def gguf_model_info(path: Path, verbose: bool = False) -> dict[str, Any]:
    """Ollama's ``model_info``: the header without the chat template (it has its own field)."""
    info = gguf_header(path, verbose)
    info.pop("tokenizer.chat_template", None)
    return dict(sorted(info.items()))
