"""Errors a user can cause, each with a one-line message that says what to do.

The CLI prints ``str(err)`` and exits non-zero; the server maps them to 4xx
responses with an OpenAI-shaped body.  Anything else is a bug.
"""

from __future__ import annotations


class AtlasError(Exception):
    """Base of every user-facing error."""

    exit_code = 1
    http_status = 400
    code = "invalid_request_error"


class CatalogError(AtlasError):
    """The curated data is malformed (a bug in the data, caught at load time)."""

    exit_code = 3
    http_status = 500


class UnknownModelError(AtlasError):
    http_status = 404
    code = "model_not_found"

    def __init__(self, name: str, suggestions: list[str] | None = None, hint: str = "") -> None:
        self.name = name
        self.suggestions = suggestions or []
        msg = f"unknown model {name!r}"
        if hint:
            msg += f"; {hint.rstrip('.')}"
        if self.suggestions:
            msg += "; did you mean: " + ", ".join(self.suggestions) + "?"
        else:
            msg += "; see `llmatlas models` for the catalog"
        super().__init__(msg)


class BadInputError(AtlasError):
    """An option value that cannot be used (contradictory filters, unknown format...)."""


class DoesNotFitError(AtlasError):
    http_status = 400
    code = "model_too_large"


class StoreError(AtlasError):
    """Model store problems: unwritable home, corrupt file, failed download."""

    exit_code = 2


class EngineError(AtlasError):
    exit_code = 2
    http_status = 500
