"""Every key-value pair of a GGUF header, as Ollama's ``/api/show`` lists them in ``model_info``.

Large arrays (the tokenizer's vocabulary, scores, merges) are reported as ``None`` unless
``verbose`` is asked for, as Ollama does; the chat template is left out (it has its own field);
``general.parameter_count`` is added from the tensor shapes when the file does not carry it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmatlas.errors import StoreError

BIG_ARRAY = 64  # items: longer arrays are elided unless verbose


def gguf_model_info(path: Path, verbose: bool = False) -> dict[str, Any]:
    from gguf import GGUFReader, GGUFValueType

    try:
        reader = GGUFReader(str(path))
    except Exception as exc:
        raise StoreError(f"{path} is not a readable GGUF file: {type(exc).__name__}") from None
    info: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "tokenizer.chat_template":
            continue
        is_array = field.types and field.types[0] == GGUFValueType.ARRAY
        if is_array and not verbose and len(field.data) > BIG_ARRAY:
            info[key] = None
            continue
        try:
            info[key] = field.contents()
        except Exception:
            info[key] = None
    if "general.parameter_count" not in info:
        info["general.parameter_count"] = sum(int(t.n_elements) for t in reader.tensors)
    return dict(sorted(info.items()))
