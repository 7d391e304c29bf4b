"""The words typer prints itself (Usage:, Options, "No such option", "Missing argument",
--help's own help...) in the CLI's language.

typer marks a few of its strings with the standard library's gettext (``from gettext import
gettext as _`` in ``typer.core`` and ``typer.rich_utils``, under the default domain, where no
catalog of ours is bound); :func:`install` points those names at :mod:`llmatlas.i18n` and
re-reads the panel titles typer computes once at import.  The click copy typer ships
(``typer._click``) writes its messages as plain f-strings, so those are translated where
they leave: each exception's ``format_message`` passes through :func:`translate`, which
matches the English message against :data:`PATTERNS` and formats the msgid with the parts
it captured.  A message no pattern knows stays English; a typer release that renames the
patched functions leaves the CLI working, in English for those words.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import re
from collections.abc import Callable
from typing import Any

from llmatlas import i18n
from llmatlas.i18n import N_

# (typer's English message as a regex, our msgid) — the named groups are the msgid's
# placeholders; a group named ``message`` is itself translated (it nests another message).
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rx, re.DOTALL), msgid)
    for rx, msgid in (
        (
            r"No such option: (?P<name>\S+) \(Possible options: (?P<options>.*)\)",
            N_("No such option: {name} (did you mean one of: {options}?)"),
        ),
        (r"No such option: (?P<name>\S+)", N_("No such option: {name}")),
        (r"Missing argument (?P<hint>.+?)\.", N_("Missing argument {hint}.")),
        (r"Missing option (?P<hint>.+?)\.", N_("Missing option {hint}.")),
        (r"Missing parameter (?P<hint>.+?)\.", N_("Missing parameter {hint}.")),
        (r"Missing parameter: (?P<name>.+)", N_("Missing parameter: {name}")),
        (
            r"Invalid value for (?P<hint>.+?): (?P<message>.*)",
            N_("Invalid value for {hint}: {message}"),
        ),
        (r"Invalid value: (?P<message>.*)", N_("Invalid value: {message}")),
        (
            r"Got unexpected extra argument\(s\) \((?P<args>.*)\)",
            N_("Got unexpected extra argument(s) ({args})"),
        ),
        (
            r"Option (?P<name>\S+) does not take a value\.",
            N_("Option {name} does not take a value."),
        ),
        (r"Option (?P<name>\S+) requires an argument\.", N_("Option {name} requires an argument.")),
        (
            r"Option (?P<name>\S+) requires (?P<n>\d+) arguments\.",
            N_("Option {name} requires {n} arguments."),
        ),
        (
            r"Argument (?P<name>\S+) takes (?P<n>\d+) values\.",
            N_("Argument {name} takes {n} values."),
        ),
        (
            r"(?P<message>.*)\. Did you mean (?P<suggestions>.*)\?",
            N_("{message} Did you mean {suggestions}?"),
        ),
        # click's words for a flag value (typer below 0.29), said as pydantic's
        (
            r"(?P<value>.+) is not a valid boolean\. Recognized values: (?P<states>.*)",
            N_("Input should be a valid boolean, unable to interpret input"),
        ),
        (
            r"(?P<value>'.*') is not a valid (?P<type>\w+)\.",
            N_("{value} is not a valid {type}."),
        ),  # other types
        # pydantic's words when typer (0.29) converts an option's value
        (
            r"Input should be a valid integer, unable to parse string as an integer",
            N_("Input should be a valid integer, unable to parse string as an integer"),
        ),
        (
            r"Input should be a valid number, unable to parse string as a number",
            N_("Input should be a valid number, unable to parse string as a number"),
        ),
        (
            r"Input should be a valid boolean, unable to interpret input",
            N_("Input should be a valid boolean, unable to interpret input"),
        ),
    )
)
TYPE_NAMES = (N_("int"), N_("integer"), N_("float"), N_("boolean"), N_("text"))
"""Value types named in conversion errors ("'x' is not a valid int.")."""
HELP_OPTION_HELP = N_("Show this message and exit.")
USAGE = N_("Usage:")
METAVARS = (N_("COMMAND [ARGS]..."), N_("[OPTIONS]"))
"""Placeholders in usage lines (the commands' own argument names stay as they are)."""
PANELS = (  # typer.rich_utils settings and the msgid each one holds
    ("ARGUMENTS_PANEL_TITLE", N_("Arguments")),
    ("OPTIONS_PANEL_TITLE", N_("Options")),
    ("COMMANDS_PANEL_TITLE", N_("Commands")),
    ("ERRORS_PANEL_TITLE", N_("Error")),
    ("DEFAULT_STRING", N_("[default: {}]")),
    ("ENVVAR_STRING", N_("[env var: {}]")),
    ("REQUIRED_LONG_STRING", N_("[required]")),
    ("DEPRECATED_STRING", N_("(deprecated) ")),
    ("ABORTED_TEXT", N_("Aborted.")),
    ("RICH_HELP", N_("Try [blue]'{command_path} {help_option}'[/] for help.")),
)
TYPER_CORE = (N_("Missing command."), N_("No such command {name!r}."), N_("Aborted!"))
"""Messages typer.core passes through gettext itself."""


def translate(text: str) -> str:
    """One of typer's English messages in the current language (unknown ones unchanged)."""
    if i18n.get_language() == i18n.DEFAULT:
        return text
    for rx, msgid in PATTERNS:
        m = rx.fullmatch(text)
        if m:
            parts = m.groupdict()
            if "message" in parts:
                parts["message"] = translate(parts["message"])
            if "type" in parts:
                parts["type"] = i18n.gettext(parts["type"])
            return i18n.gettext(msgid).format(**parts)
    return text


def _translated(fn: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(fn)
    def wrapper(self: Any) -> str:
        return translate(fn(self))

    return wrapper


def install() -> None:
    """Translate typer's own words in the current language from now on (idempotent)."""
    for name in ("typer.core", "typer.rich_utils"):
        module = importlib.import_module(name)
        if hasattr(module, "_"):
            module._ = i18n.gettext  # type: ignore[attr-defined]
    import typer.rich_utils as panels

    for attr, msgid in PANELS:
        setattr(panels, attr, i18n.gettext(msgid))
    with contextlib.suppress(ImportError, AttributeError):
        from typer._click import core, exceptions, formatting
        from typer.exceptions import TyperException

        for cls in [TyperException, *vars(exceptions).values()]:
            if (
                isinstance(cls, type)
                and issubclass(cls, TyperException)
                and "format_message" in vars(cls)
                and not hasattr(vars(cls)["format_message"], "__wrapped__")
            ):
                cls.format_message = _translated(vars(cls)["format_message"])  # type: ignore[method-assign]
        write_usage = formatting.HelpFormatter.write_usage
        if not hasattr(write_usage, "__wrapped__"):

            @functools.wraps(write_usage)
            def usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
                prefix = i18n.gettext(USAGE) + " " if prefix is None else prefix
                for metavar in METAVARS:
                    args = args.replace(metavar, i18n.gettext(metavar))
                write_usage(self, prog, args, prefix)

            formatting.HelpFormatter.write_usage = usage  # type: ignore[method-assign]
        get_help_option = core.Command.get_help_option
        if not hasattr(get_help_option, "__wrapped__"):

            @functools.wraps(get_help_option)
            def help_option(self: Any, ctx: Any) -> Any:
                opt = get_help_option(self, ctx)
                if opt is not None and opt.help == HELP_OPTION_HELP:
                    opt.help = i18n.gettext(HELP_OPTION_HELP)
                return opt

            core.Command.get_help_option = help_option  # type: ignore[method-assign]
