"""Package attributes imported on first use (PEP 562), so a short command loads only its modules.

A package lists which submodule holds each public name; ``import llmatlas.sizing`` then costs
nothing until ``llmatlas.sizing.estimate_memory`` (or ``from llmatlas.sizing import ...``) is
asked for. Type checkers see the real imports in the package's ``TYPE_CHECKING`` block.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def attach(
    package: str, owners: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` from ``{submodule: (name, ...)}``."""
    where = {name: f"{package}.{module}" for module, names in owners.items() for name in names}
    if len(where) != sum(len(names) for names in owners.values()):
        raise ValueError(f"{package}: a name is listed under two submodules")

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:  # what is loaded already, and what would be on first use
        return sorted({*vars(importlib.import_module(package)), *where})

    return __getattr__, __dir__
