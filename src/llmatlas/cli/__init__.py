"""The `llmatlas` command: a thin layer over the library, one module per command group.

A command imports only its own group: ``llmatlas models`` never loads the
advisor, the runtime or the server.  :data:`GROUPS` says which module registers
which command; ``main`` reads the command name from the arguments and builds an
app with that group alone.  Anything else (``--help``, no command, a name not in
the table) gets every group, so a command missing from the table is slower,
never absent (``tests/test_cli_lazy.py`` checks the table against the modules).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from llmatlas import i18n
from llmatlas.settings import Settings

if TYPE_CHECKING:
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
SHORT_COMMANDS = frozenset({"models", "show", "compare", "tree", "estimate"})
"""Commands that answer in a fraction of a second and then exit: they run without the cyclic
garbage collector, whose passes over the objects made by importing typer, rich and our
modules and by loading the catalog, and Python's collection at exit (made only while the
collector is on), cost about 8% of such a run and find no garbage worth it.  They also end
without the interpreter's teardown (:func:`_end_now`).  Every other command (servers, fit and
recommend over the whole catalog) keeps the collector and the usual exit."""


def _lang_from_argv(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take ``--lang X`` / ``--lang=X`` out of argv wherever it stands (before ``--``), so the
    flag works after a subcommand too; returns (the last value given, the remaining args)."""
    value, rest, i = None, [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest += argv[i:]
            break
        if a == "--lang" and i + 1 < len(argv):
            value, i = argv[i + 1], i + 2
            continue
        if a.startswith("--lang="):
            value, i = a.split("=", 1)[1], i + 1
            continue
        rest.append(a)
        i += 1
    return value, rest


# Help texts are built when the command modules are imported, so the language is chosen first.
_argv_lang, _ = _lang_from_argv(sys.argv[1:])
i18n.set_language(i18n.normalize(_argv_lang) or Settings.from_env().lang)
if i18n.get_language() != i18n.DEFAULT:
    from llmatlas.cli._click_i18n import install

    install()  # click's and typer's own words (Usage:, Options, "No such option"...)


def _version(value: bool) -> None:
    if not value:
        return
    import typer

    from llmatlas import __version__
    from llmatlas.catalog import Catalog, freshness

    f = freshness(Catalog())
    mine = f", {f['user_models']} of yours" if f["user_models"] else ""
    typer.echo(
        f"llmatlas {__version__}; catalog data to {f['data_date'] or 'unknown'} "
        f"({f['models']} models{mine})"
    )
    raise typer.Exit()


def build_app(groups: Iterable[str] | None = None, command: str | None = None) -> typer.Typer:
    """The CLI with the given command groups (all when None); with ``command``, only that one
    of their commands (typer turns every registered command into a click command on each run,
    evaluating its options' annotations: a third of a short command's own time)."""
    import typer

    from llmatlas.cli._common import handle_errors

    app = typer.Typer(
        name="llmatlas",
        help=i18n._("Find, size and self-host open-weight LLMs."),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    @handle_errors
    def _root(
        lang: str = typer.Option(
            None,
            "--lang",
            help=i18n._(
                "Language of the output: en, zh-TW (繁體中文) or zh-CN (简体中文); "
                "default from LLMATLAS_LANG or LANG. JSON stays English."
            ),
        ),
        version: bool = typer.Option(
            False,
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and the catalog's data date, then exit.",
        ),
    ) -> None:
        if lang is not None:
            i18n.set_language(i18n.require(lang))
            if i18n.get_language() != i18n.DEFAULT:
                from llmatlas.cli._click_i18n import install

                install()

    for name in GROUPS if groups is None else groups:
        try:
            module = importlib.import_module(f"llmatlas.cli.{name}")
        except ImportError:  # pragma: no cover
            if name in OPTIONAL_GROUPS:
                continue
            raise
        module.register(app)
    if command is not None:
        app.registered_commands = [c for c in app.registered_commands if c.name == command]
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


def _end_now(code: object) -> None:
    """End the process with ``code`` without the interpreter's teardown, which frees every
    module and object one by one (about 25 ms of a 0.15 s ``show``) only for the OS to take
    the memory back.  What teardown would do that matters still happens: the ``atexit``
    functions (``weakref.finalize`` included) run and stdout/stderr are flushed.  When the
    code is not a number or a flush fails, this returns and Python exits the usual way."""
    if code is not None and not isinstance(code, int):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: Python reports it as usual
        return
    os._exit(code or 0)


def main() -> None:
    """The program: parse ``sys.argv``, run the command, exit."""
    lang, args = _lang_from_argv(sys.argv[1:])
    short = next((a for a in args if not a.startswith("-")), None) in SHORT_COMMANDS
    if short:
        gc.disable()  # for the rest of the process: see SHORT_COMMANDS
    if lang is not None:
        from llmatlas.cli._common import fail
        from llmatlas.errors import AtlasError

        try:
            i18n.set_language(i18n.require(lang))
        except AtlasError as exc:
            fail(exc.localized())
            sys.exit(exc.exit_code)
    try:
        groups = groups_for(args)
        first = next((a for a in args if not a.startswith("-")), None) if groups else None
        build_app(groups, first)(args)
    except SystemExit as exc:
        if short:
            _end_now(exc.code)
        raise
