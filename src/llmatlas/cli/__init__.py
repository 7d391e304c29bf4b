"""The `llmatlas` command: a thin layer over the library, one module per command group.

A command imports only its own group: ``llmatlas models`` never loads the
advisor, the runtime or the server.  :data:`GROUPS` says which module registers
which command; ``main`` reads the command name from the arguments and builds an
app with that group alone.  Anything else (``--help``, no command, a name not in
the table) gets every group, so a command missing from the table is slower,
never absent (``tests/test_cli_lazy.py`` checks the table against the modules).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

import typer

GROUPS: dict[str, tuple[str, ...]] = {
    "catalog_cmds": ("models", "show", "compare", "tree", "catalog"),
    "sizing_cmds": ("hw", "estimate", "fit", "recommend"),
    "deploy_cmds": ("deploy", "cost"),
    "runtime_cmds": ("pull", "import", "list", "rm", "info", "run", "bench"),
    "server_cmds": ("serve",),
}
"""Command-group module -> the commands it registers."""
OPTIONAL_GROUPS = ("runtime_cmds", "server_cmds")
"""Groups that need llama-cpp-python; the catalog and sizing work without it."""


def _version(value: bool) -> None:
    if not value:
        return
    from llmatlas import __version__
    from llmatlas.catalog import load

    data = load()
    date = data.data_date.isoformat() if data.data_date else "unknown"
    mine = f", {len(data.user_models)} of yours" if data.user_models else ""
    typer.echo(f"llmatlas {__version__}; catalog data to {date} ({len(data.models)} models{mine})")
    raise typer.Exit()


def build_app(groups: Iterable[str] | None = None) -> typer.Typer:
    """The CLI with the given command groups (all when None)."""
    app = typer.Typer(
        name="llmatlas",
        help="Find, size and self-host open-weight LLMs.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False,
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and the catalog's data date, then exit.",
        ),
    ) -> None:
        """Find, size and self-host open-weight LLMs."""

    for name in GROUPS if groups is None else groups:
        try:
            module = importlib.import_module(f"llmatlas.cli.{name}")
        except ImportError:  # pragma: no cover
            if name in OPTIONAL_GROUPS:
                continue
            raise
        module.register(app)
    return app


def groups_for(argv: list[str]) -> list[str] | None:
    """The one group that holds the command in ``argv``; None (every group) when unsure."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None:
        return [] if "--version" in argv and "--help" not in argv else None
    for module, commands in GROUPS.items():
        if first in commands:
            return [module]
    return None


def __getattr__(name: str) -> typer.Typer:
    """``from llmatlas.cli import app``: the complete CLI (tests, ``python -m llmatlas``)."""
    if name == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)


def main() -> None:
    build_app(groups_for(sys.argv[1:]))()
