"""The language of the server's own human text (advisor reasons, estimate notes, error
messages) for the routes the web UI reads: negotiated from each request's Accept-Language.

Only ``/api/atlas`` follows the header: the OpenAI- and Ollama-compatible routes answer in
English, as the clients written for those APIs expect. Field names and enumerated values
stay English everywhere; only sentences are translated.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmatlas import i18n

LOCALIZED_PREFIXES = ("/api/atlas",)


class Language:
    """Pure ASGI middleware: runs a localized route inside :func:`i18n.using` (a context
    variable, so worker threads of ``def`` routes see it too) and labels the answer with
    ``Content-Language`` and ``Vary: Accept-Language``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LOCALIZED_PREFIXES):
            await self.app(scope, receive, send)
            return
        lang = i18n.negotiate(Headers(scope=scope).get("accept-language"))

        async def labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Language"] = i18n.BCP47[lang]
                headers.add_vary_header("Accept-Language")
            await send(message)

        with i18n.using(lang):
            await self.app(scope, receive, labelled)
