"""Serve the web UI (static files shipped in the package; no CDN, works offline)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

PLACEHOLDER = "<!doctype html><title>llmatlas</title><p>llmatlas server is running. API: /docs</p>"


def mount(app: FastAPI, static_dir: Path) -> None:
    index = static_dir / "index.html"
    if static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=static_dir), name="static")

    @app.get("/", include_in_schema=False, response_model=None)
    async def root() -> FileResponse | HTMLResponse:
        if index.exists():
            return FileResponse(index, media_type="text/html")
        return HTMLResponse(PLACEHOLDER)
