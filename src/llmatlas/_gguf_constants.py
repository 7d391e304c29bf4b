"""``gguf.constants`` (ggml's type table) without ``import gguf``.

The ``gguf`` package's ``__init__`` imports its reader, writer and numpy (about
80-100 ms) before any submodule, although ``constants.py`` itself needs only the
standard library.  Sizing needs only that table, so it loads the one file
directly (the standard recipe "importing a source file directly", importlib docs)
under a private name.  Where ``gguf`` is already imported, its own module is used.
Its ``IntEnum`` members compare and hash as ints, so tables keyed by them also
answer for the members ``gguf.GGUFReader`` returns.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_NAME = "llmatlas._gguf_constants_module"


def gguf_constants() -> ModuleType:
    loaded = sys.modules.get("gguf.constants") or sys.modules.get(_NAME)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("gguf")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the gguf package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "constants.py"
    file_spec = importlib.util.spec_from_file_location(_NAME, path)
    if file_spec is None or file_spec.loader is None:  # pragma: no cover
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[_NAME] = module
    file_spec.loader.exec_module(module)
    return module
