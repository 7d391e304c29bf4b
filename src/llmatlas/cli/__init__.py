"""The `llmatlas` command: a thin layer over the library, one module per command group."""

from __future__ import annotations

import sys

import typer

from llmatlas import i18n
from llmatlas.settings import Settings


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
    import typer.rich_utils as _panels  # typer's panel titles are module settings

    _panels.ARGUMENTS_PANEL_TITLE = i18n._("Arguments")
    _panels.OPTIONS_PANEL_TITLE = i18n._("Options")
    _panels.COMMANDS_PANEL_TITLE = i18n._("Commands")
    _panels.ERRORS_PANEL_TITLE = i18n._("Error")
    _panels.DEFAULT_STRING = i18n._("[default: {}]")
    _panels.REQUIRED_LONG_STRING = i18n._("[required]")

from llmatlas.cli import catalog_cmds, deploy_cmds, sizing_cmds  # noqa: E402
from llmatlas.cli._common import fail, handle_errors  # noqa: E402
from llmatlas.errors import AtlasError  # noqa: E402

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
) -> None:
    if lang is not None:
        i18n.set_language(i18n.require(lang))


catalog_cmds.register(app)
sizing_cmds.register(app)
deploy_cmds.register(app)

try:  # the runtime needs llama-cpp-python; the catalog and sizing work without it
    from llmatlas.cli import runtime_cmds, server_cmds

    runtime_cmds.register(app)
    server_cmds.register(app)
except ImportError:  # pragma: no cover
    pass


def main() -> None:
    lang, args = _lang_from_argv(sys.argv[1:])
    if lang is not None:
        try:
            i18n.set_language(i18n.require(lang))
        except AtlasError as exc:
            fail(exc.localized())
            sys.exit(exc.exit_code)
    app(args)
