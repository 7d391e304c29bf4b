"""Shared CLI plumbing: JSON output, one-line errors, size parsing, formatting."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from llmatlas.errors import AtlasError
from llmatlas.i18n import _

console = Console()
err_console = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")

JSON_OPT = typer.Option(
    False, "--json", help=_("Print machine-readable JSON (English field names) instead of a table.")
)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    prefix = _("error:")
    err_console.print(f"[bold red]{prefix}[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn user errors into one line on stderr and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except AtlasError as exc:
            raise fail(exc.localized(), exc.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'16G', '12GiB', '800M', '24 GB' -> bytes (G/GB/GiB all mean 2**30: what OSes display)."""
    from llmatlas.errors import BadInputError

    m = _SIZE.match(text)
    if not m:
        raise BadInputError.translatable(
            "cannot read size {text!r}; write e.g. 16G, 12GiB or 800M", text=text
        )
    value = float(m.group(1))
    unit = (m.group(2) or "b").lower()[0]
    mult = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}[unit]
    if value <= 0:
        raise BadInputError.translatable("size must be positive, got {text!r}", text=text)
    return int(value * mult)


def gib(n: int | float | None) -> str:
    if n is None:
        return "-"
    if n < 1024**3:
        return f"{n / 1024**2:,.0f} MiB"
    return f"{n / 1024**3:,.2f} GiB"


def fit_columns(
    columns: dict[str, list[str]], priority: list[str], width: int, wrap: str | None = None
) -> tuple[set[str], str | None]:
    """Which table columns fit ``width`` terminal cells, never cutting a cell short.

    ``columns`` maps a key to its header and cells; ``priority`` lists the keys kept first
    (the first is always kept); ``wrap`` may still follow, wrapped, in at least 12 cells.
    Widths count East Asian characters as two cells, as terminals draw them.
    """
    from rich.cells import cell_len

    def natural(k: str) -> int:
        return max(cell_len(c) for c in columns[k]) + 3  # padding and a border

    shown, used = set(), 1
    for k in priority:
        if k in columns and (not shown or used + natural(k) <= width):
            shown.add(k)
            used += natural(k)
    if wrap and wrap in columns and width - used >= min(natural(wrap), 15):
        shown.add(wrap)
        return shown, wrap
    return shown, None


def key_values(lines: list[tuple[str, str]]) -> Any:
    """Label/value lines as a two-column grid (aligned for CJK labels too; values wrap)."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="cyan", no_wrap=True, justify="right")
    grid.add_column(overflow="fold")
    for k, v in lines:
        grid.add_row(Text(k), Text(str(v)))
    return grid


def fmt_params(b: float | None) -> str:
    if b is None:
        return "?"
    if b < 1:
        return f"{b * 1000:.0f}M"
    return f"{b:g}B"
