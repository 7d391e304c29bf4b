"""The `llmatlas` command: a thin layer over the library, one module per command group."""

from __future__ import annotations

import typer

from llmatlas.cli import catalog_cmds, deploy_cmds, sizing_cmds

app = typer.Typer(
    name="llmatlas",
    help="Find, size and self-host open-weight LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
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
    app()
