"""Errors a user can cause, each with a one-line message that says what to do.

The CLI prints ``str(err)`` and exits non-zero; the server maps them to 4xx
responses with an OpenAI-shaped body.  Anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from llmatlas.i18n import N_


class AtlasError(Exception):
    """Base of every user-facing error.

    ``str(err)`` is English (API bodies, logs). An error built with :meth:`translatable`
    also keeps its message template, so the CLI can print it in the user's language.
    """

    exit_code = 1
    http_status = 400
    code = "invalid_request_error"

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.template: str | None = None
        self.params: dict[str, object] = {}

    @classmethod
    def translatable(cls, template: str, **params: object) -> Self:
        """An error whose message is ``template.format(**params)``; the template is a msgid
        of the ``cli`` catalog (params are values, never translated)."""
        err = cls(template.format(**params))
        err.template, err.params = template, params
        return err

    def localized(self) -> str:
        """The message in the current language (English where no translation exists)."""
        if self.template is None:
            return str(self)
        from llmatlas.i18n import gettext

        return gettext(self.template).format(**self.params)


class CatalogError(AtlasError):
    """The curated data is malformed (a bug in the data, caught at load time)."""

    exit_code = 3
    http_status = 500


class UnknownModelError(AtlasError):
    http_status = 404
    code = "model_not_found"

    def __init__(
        self,
        name: str,
        suggestions: list[str] | None = None,
        hint: str = "",
        **hint_params: object,
    ) -> None:
        """``hint`` is a msgid (mark it with ``N_``) formatted with ``hint_params``, or a
        fact's own text (an erratum's correction), shown as it is."""
        self.name = name
        self.suggestions = suggestions or []
        self.hint = hint
        self.hint_params = hint_params
        super().__init__(self._message(lambda s: s))

    def _message(self, tr: Callable[[str], str]) -> str:
        msg = tr(N_("unknown model {name}")).format(name=repr(self.name))
        if self.hint:
            hint = tr(self.hint).format(**self.hint_params) if self.hint_params else tr(self.hint)
            msg += tr("; ") + hint.rstrip(".")
        if self.suggestions:
            msg += tr("; ") + tr(N_("did you mean: {names}?")).format(
                names=", ".join(self.suggestions)
            )
        else:
            msg += tr("; ") + tr(N_("see `llmatlas models` for the catalog"))
        return msg

    def localized(self) -> str:
        from llmatlas.i18n import gettext

        return self._message(gettext)


class BadInputError(AtlasError):
    """An option value that cannot be used (contradictory filters, unknown format...)."""


class DoesNotFitError(AtlasError):
    http_status = 400
    code = "model_too_large"


class StoreError(AtlasError):
    """Model store problems: unwritable home, corrupt file, failed download."""

    exit_code = 2


class ModelBusyError(AtlasError):
    """The model is serving other clients' requests and cannot be unloaded or deleted now."""

    http_status = 409
    code = "model_busy"


class OverloadedError(AtlasError):
    """More requests than the server admits (slots + queue); the client should retry."""

    http_status = 429
    code = "rate_limit_exceeded"
    retry_after: int | None = None  # seconds, for the Retry-After header (None: 1)


class EngineError(AtlasError):
    exit_code = 2
    http_status = 500
