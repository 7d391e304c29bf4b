"""Serve the web UI (static files shipped in the package; no CDN, works offline) and its
messages: the `ui` gettext domain as JSON, in the language the browser asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from llmatlas import i18n
from llmatlas.errors import BadInputError

PLACEHOLDER = "<!doctype html><title>llmatlas</title><p>llmatlas server is running. API: /docs</p>"


def ui_languages() -> list[str]:
    """Languages the page can be shown in: English plus those with a `ui` catalog."""
    return [lang for lang in i18n.LANGUAGES if lang == i18n.DEFAULT or i18n.messages(lang, "ui")]


def mount(app: FastAPI, static_dir: Path) -> None:
    index = static_dir / "index.html"
    if static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=static_dir), name="static")

    @app.get("/", include_in_schema=False, response_model=None)
    async def root() -> FileResponse | HTMLResponse:
        if index.exists():
            return FileResponse(index, media_type="text/html")
        return HTMLResponse(PLACEHOLDER)

    @app.get("/ui/messages", tags=["ui"])
    async def ui_messages(request: Request, lang: str | None = None) -> JSONResponse:
        """The web UI's messages (msgid -> translation; plural messages: their forms) in `lang`,
        or else in the best language for the request's Accept-Language."""
        have = ui_languages()
        if lang is not None:
            chosen = i18n.normalize(lang)
            if chosen is None or chosen not in have:
                raise BadInputError(
                    f"unsupported language {lang!r}; use one of "
                    + ", ".join(i18n.BCP47[x] for x in have)
                )
        else:
            chosen = i18n.negotiate(request.headers.get("accept-language"))
            if chosen not in have:
                chosen = i18n.DEFAULT
        body: dict[str, Any] = {
            "lang": chosen,
            "tag": i18n.BCP47[chosen],
            "messages": i18n.messages(chosen, "ui"),
            "languages": [
                {"lang": x, "tag": i18n.BCP47[x], "name": i18n.NATIVE_NAMES[x]} for x in have
            ],
        }
        headers = {"Content-Language": body["tag"], "Vary": "Accept-Language"}
        return JSONResponse(body, headers=headers)
