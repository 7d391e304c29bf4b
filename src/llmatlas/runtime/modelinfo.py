"""Every key-value pair of a GGUF header, as Ollama's ``/api/show`` lists them in ``model_info``.

Large arrays (the tokenizer's vocabulary, scores, merges) are reported as ``None`` unless
``verbose`` is asked for, as Ollama does; ``general.parameter_count`` is added from the
tensor shapes when the file does not carry it.

The header is walked by the same fast reader sizing uses (not ``gguf.GGUFReader``, which
builds an object per vocabulary entry: seconds per call for Gemma 3's 262k tokens).
"""

from __future__ import annotations

import functools
import math
import mmap
from pathlib import Path
from typing import Any

from llmatlas.errors import BadInputError, StoreError

BIG_ARRAY = 64  # items: longer arrays are elided unless verbose


def read_gguf_header(path: Path, verbose: bool = False) -> dict[str, Any]:
    """All key-value pairs, plus ``general.parameter_count`` from the tensor infos.

    The header walk is the sizing code's (``artifacts._gguf.parse_header``); this only
    shapes its answer the way Ollama's ``model_info`` does.
    """
    from llmatlas.artifacts._gguf import parse_header

    try:
        size = path.stat().st_size
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            meta, tensors = parse_header(buf, path.name, size, keep_arrays=verbose)
    except (OSError, ValueError) as exc:
        raise StoreError.translatable(
            "{path} is not a readable GGUF file: {reason}", path=path, reason=type(exc).__name__
        ) from None
    except BadInputError as exc:
        raise StoreError(str(exc)) from None
    info = {k: None if _elided(v, verbose) else v for k, v in meta.items()}
    info.setdefault("general.parameter_count", sum(math.prod(t.shape) for t in tensors))
    return info


def _elided(value: Any, verbose: bool) -> bool:
    from llmatlas.artifacts._gguf import _Skipped

    if isinstance(value, _Skipped):
        return True
    return not verbose and isinstance(value, list) and len(value) > BIG_ARRAY


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
