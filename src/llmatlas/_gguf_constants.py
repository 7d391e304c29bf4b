"""``gguf.constants`` (ggml's type table) without ``import gguf``.

The ``gguf`` package's ``__init__`` imports its reader, writer and numpy (about
80-100 ms) before any submodule, although ``constants.py`` itself needs only the
standard library.  Sizing needs only that table, so it loads the one file
directly (the standard recipe "importing a source file directly", importlib docs)
under a private name.  Where ``gguf`` is already imported, its own module is used.
Its ``IntEnum`` members compare and hash as ints, so tables keyed by them also
answer for the members ``gguf.GGUFReader`` returns.

Sizing needs only the quantization types and their block sizes (:func:`quant_types`);
executing all of ``constants.py`` (hundreds of enum members) costs more than the rest of
an ``estimate``, so the two are kept compiled (:mod:`llmatlas._snapshot`, keyed by the
bytes of gguf's ``constants.py``) and the enum is rebuilt from that copy: same class name,
member names and values.
"""

from __future__ import annotations

import importlib.util
import sys
from enum import IntEnum
from pathlib import Path
from types import ModuleType
from typing import Any

_NAME = "llmatlas._gguf_constants_module"


def constants_path() -> Path:
    spec = importlib.util.find_spec("gguf")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the gguf package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "constants.py"


def quant_types() -> tuple[type[IntEnum], dict[Any, tuple[int, int]]]:
    """gguf's ``GGMLQuantizationType`` and ``GGML_QUANT_SIZES`` (type -> (block, bytes))."""
    loaded = sys.modules.get("gguf.constants") or sys.modules.get(_NAME)
    if loaded is not None:
        return loaded.GGMLQuantizationType, loaded.GGML_QUANT_SIZES
    from llmatlas._snapshot import compiled

    members, sizes = compiled("gguf-types", [constants_path()], _quant_table)
    types = IntEnum("GGMLQuantizationType", members, module=__name__)  # type: ignore[misc]
    return types, {types(value): block for value, block in sizes}


def _quant_table(
    _: dict[str, bytes],
) -> tuple[list[tuple[str, int]], list[tuple[int, tuple[int, int]]]]:
    module = gguf_constants()
    members = [(name, int(t)) for name, t in module.GGMLQuantizationType.__members__.items()]
    return members, [(int(t), tuple(b)) for t, b in module.GGML_QUANT_SIZES.items()]


def gguf_constants() -> ModuleType:
    loaded = sys.modules.get("gguf.constants") or sys.modules.get(_NAME)
    if loaded is not None:
        return loaded
    path = constants_path()
    file_spec = importlib.util.spec_from_file_location(_NAME, path)
    if file_spec is None or file_spec.loader is None:  # pragma: no cover
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[_NAME] = module
    file_spec.loader.exec_module(module)
    return module
