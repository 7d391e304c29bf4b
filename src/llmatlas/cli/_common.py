"""Shared CLI plumbing: JSON output, one-line errors, size parsing, formatting."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import typer

from llmatlas.errors import AtlasError
from llmatlas.i18n import _

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    """rich's ``Console``, made on first use: importing rich costs about 30 ms that a
    ``--json`` answer never needs."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            # no :emoji: codes either: none is meant, and a name like "a:cat:b" stays as written
            options = {"highlight": self._styled(), "emoji": False, **self._options}
            self._console = Console(**options)
        return getattr(self._console, name)

    def _styled(self) -> bool:
        """Whether styles can show: rich's automatic highlighting (numbers, paths, quotes) only
        adds styles, and colouring text that goes to a pipe or a file costs about 5 ms a
        command for nothing (a terminal, or FORCE_COLOR, keeps it)."""
        stream = sys.stderr if self._options.get("stderr") else sys.stdout
        try:
            return stream.isatty() or bool(os.environ.get("FORCE_COLOR"))
        except (AttributeError, ValueError):  # a replaced or closed stream: rich decides
            return True


console = cast("Console", _LazyConsole())
err_console = cast("Console", _LazyConsole(stderr=True))
P = ParamSpec("P")
R = TypeVar("R")

JSON_OPT = typer.Option(
    False, "--json", help=_("Print machine-readable JSON (English field names) instead of a table.")
)


# orjson writes a float below 1e-4 as 0.00001 or 1.5e-7, Python as 1e-05 and 1.5e-07.  In
# indented JSON a number stands alone after the indent or after a key, up to the line's end
# (inside a string, a quote would follow it).
_SMALL_FLOAT = re.compile(rb'(?m)(^ *|": )(-?(?:0\.0000\d+|\d(?:\.\d+)?e-\d+))(?=,?$)')


def dumps_json(obj: Any) -> str:
    """``json.dumps(obj, indent=2, ensure_ascii=False, default=str)``, byte for byte, made
    in C by orjson where it can be (see :func:`_orjson_dumps`)."""
    out = _orjson_dumps(obj)
    return _stdlib_dumps(obj) if out is None else out.decode()


def _stdlib_dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON (UTF-8 bytes straight to stdout when it is UTF-8)."""
    out = _orjson_dumps(obj)
    stream = sys.stdout
    if out is not None and os.name == "posix" and _utf8(stream) and hasattr(stream, "buffer"):
        stream.flush()  # what was printed before stays before
        stream.buffer.write(out + b"\n")
        return
    stream.write((_stdlib_dumps(obj) if out is None else out.decode()) + "\n")


def _utf8(stream: Any) -> bool:
    return str(getattr(stream, "encoding", "")).lower().replace("_", "-") in ("utf-8", "utf8")


def _orjson_dumps(obj: Any) -> bytes | None:
    """The standard library's indented JSON of ``obj`` (``indent=2, ensure_ascii=False,
    default=str``), made by orjson in C: the standard library indents in Python, about
    35 ms for the catalog.  None where orjson refuses (keys that are not strings, integers
    past 64 bits): the caller uses the standard library.  One difference remains: NaN and
    infinity become ``null`` (Python writes ``NaN``, which is not JSON); no answer holds them.
    """
    import orjson  # here, not at the top: it imports the standard json (2 ms a text answer)

    options = (
        orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    )
    try:
        out = orjson.dumps(obj, default=str, option=options)
    except (TypeError, orjson.JSONEncodeError):
        return None
    if _may_hold_small_floats(out):
        out = _SMALL_FLOAT.sub(lambda m: m[1] + repr(float(m[2])).encode(), out)
    return out


def _may_hold_small_floats(out: bytes) -> bool:
    """Whether ``0.0000`` or a digit before ``e-`` and a digit occur: a quick scan (the
    regex that finds the numbers themselves takes longer than orjson's whole run)."""
    return b"0.0000" in out or any(out[m.start() - 1] in _DIGITS for m in _EXPONENT.finditer(out))


_EXPONENT = re.compile(rb"e-\d")
_DIGITS = frozenset(b"0123456789")


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


def say_hidden(columns: list[str]) -> None:
    """Name the table columns left out at this width, if any."""
    if columns:
        console.print(
            "[dim]"
            + _("not shown at this width: {columns} (widen the terminal, or use --json)").format(
                columns=", ".join(columns)
            )
            + "[/]"
        )


def hanging(label: str, text: str) -> Any:
    """``label`` then ``text``, the text's continuation lines indented under the text (not
    back at the margin), so long notes stay readable at 80 columns."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(Text(label), Text(text))
    return grid


def fmt_params(b: float | None) -> str:
    if b is None:
        return "?"
    if b < 1:
        return f"{b * 1000:.0f}M"
    return f"{b:g}B"
