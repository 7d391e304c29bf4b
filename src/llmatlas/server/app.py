"""The HTTP server: an app factory with all state in the lifespan (no module globals).

Routes: OpenAI-compatible (``/v1/*``), Ollama-compatible (``/api/*``), llmatlas's own
(``/api/atlas/*``), ``/health``, ``/metrics`` and the web UI at ``/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware

from llmatlas import __version__
from llmatlas.catalog import Catalog
from llmatlas.errors import AtlasError, OverloadedError
from llmatlas.runtime.store import ModelStore
from llmatlas.server.language import Language
from llmatlas.server.manager import ModelManager
from llmatlas.server.metrics import Metrics
from llmatlas.server.ollama.translate import error_body as ollama_error
from llmatlas.server.ollama.translate import is_ollama_path
from llmatlas.server.security import Guard, Policy, auth_router, offload, security_headers
from llmatlas.server.upstream import Upstream
from llmatlas.server.wire import openai_error, validation_message
from llmatlas.settings import Settings

VERSION = __version__
log = logging.getLogger("llmatlas.server")


@dataclass
class ServerConfig:
    settings: Settings
    models: list[str] = field(default_factory=list)  # preloaded at start
    n_slots: int = 8
    n_ctx: int = 4096  # per request (slot)
    n_threads: int = 0
    queue_max: int = 64
    budget_bytes: int | None = (
        None  # memory the server may use for models (default: sizing of this machine)
    )
    api_key: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    max_body_bytes: int = 4 * 1024 * 1024
    bind_host: str = "127.0.0.1"  # Host headers naming it are allowed (with loopback names)
    allowed_hosts: list[str] = field(default_factory=list)
    body_timeout_s: float = 30.0  # the whole request body must arrive within this

    def policy(self) -> Policy:
        return Policy.build(
            self.bind_host,
            self.allowed_hosts,
            self.cors_origins,
            self.api_key,
            self.max_body_bytes,
            self.body_timeout_s,
        )

    expire_interval_s: float = 5.0
    upstream: Upstream | None = None  # serve over another engine's OpenAI API (vLLM, TGI...)
    aliases: dict[str, str] = field(default_factory=dict)  # --alias NAME=MODEL


class State:
    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.catalog = Catalog()
        self.store = ModelStore(cfg.settings, self.catalog)
        budget = cfg.budget_bytes
        if budget is None:
            from llmatlas.advisor import Target
            from llmatlas.hardware import detect

            budget = Target.from_machine(detect(measure=False)).budget_bytes
        self.manager = ModelManager(
            self.store,
            self.catalog,
            budget,
            cfg.n_slots,
            cfg.n_ctx,
            cfg.n_threads,
            cfg.queue_max,
            cfg.aliases,
        )
        self.metrics = Metrics()
        self.upstream = cfg.upstream
        self.ready = threading.Event()
        self.load_error: str | None = None
        self._machine = None

    def machine(self):  # type: ignore[no-untyped-def]
        if self._machine is None:
            from llmatlas.hardware import detect

            self._machine = detect()
        return self._machine


def _preload(state: State) -> None:
    try:
        for name in state.cfg.models or []:
            state.manager.get(name)
    except AtlasError as exc:
        state.load_error = str(exc)
    except Exception as exc:  # keep serving the API; /health reports it
        state.load_error = f"could not load: {type(exc).__name__}: {exc}"
    finally:
        state.ready.set()


def create_app(cfg: ServerConfig) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = State(cfg)
        app.state.atlas = state
        if cfg.upstream is None:
            threading.Thread(target=_preload, args=(state,), daemon=True).start()
        else:
            state.ready.set()  # readiness is the engine's: see /health

        async def expire_loop() -> None:
            while True:
                await asyncio.sleep(cfg.expire_interval_s)
                await offload(state.manager.expire)

        task = asyncio.create_task(expire_loop())
        try:
            yield
        finally:
            task.cancel()
            if cfg.upstream is not None:
                await cfg.upstream.close()
            await offload(state.manager.close)
            state.store.close()

    policy = cfg.policy()
    # outermost first: the Guard (hosts, origins, key, body limit, disconnects), then CORS
    middleware = [Middleware(Guard, policy=policy), Middleware(Language)]
    if cfg.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(policy.cors_origins),
                allow_methods=["*"],
                allow_headers=["*"],
            )
        )
    app = FastAPI(
        title="llmatlas",
        version=VERSION,
        lifespan=lifespan,
        middleware=middleware,
        description="OpenAI- and Ollama-compatible server with continuous batching, "
        "plus the llmatlas catalog, sizing and advisor over HTTP.",
    )

    def error(
        request: Request,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        """Ollama's routes answer ``{"error": "text"}``; every other route OpenAI's object."""
        if is_ollama_path(request.url.path):
            return JSONResponse(ollama_error(message), status, headers=headers)
        return JSONResponse(openai_error(message, type_, code, param), status, headers=headers)

    @app.exception_handler(AtlasError)
    async def atlas_error(request: Request, exc: AtlasError) -> JSONResponse:
        if exc.http_status >= 500:  # the server's fault: say so where its operator looks
            log.error(
                "%s %s answered %d: %s", request.method, request.url.path, exc.http_status, exc
            )
        headers = None
        if isinstance(exc, OverloadedError):  # the scheduler's estimate of the wait
            headers = {"Retry-After": str(exc.retry_after or 1)}
        type_ = "invalid_request_error" if exc.http_status < 500 else "server_error"
        # in the request's language on /api/atlas (server.language), English elsewhere
        return error(request, exc.http_status, exc.localized(), type_, exc.code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        field_name, msg = validation_message(exc.errors()[0])
        return error(request, 400, msg, "invalid_request_error", "invalid_value", field_name)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        # Starlette answers this one from outside every middleware: the Guard's headers are
        # added here
        headers = {k.decode(): v.decode() for k, v in security_headers(request.url.path)}
        return error(request, 500, "internal server error", "server_error", headers=headers)

    @app.get("/health", tags=["server"])
    async def health(request: Request) -> JSONResponse:
        st: State = request.app.state.atlas
        if st.upstream is not None:
            code, body = await st.upstream.health()
            return JSONResponse(body, code)
        if not st.ready.is_set() or st.manager.loading:
            return JSONResponse({"status": "loading"}, 503)
        if st.load_error:
            return JSONResponse({"status": "error", "error": st.load_error}, 503)
        return JSONResponse({"status": "ok", "models": sorted(st.manager.loaded)})

    @app.get("/metrics", tags=["server"])
    def metrics(request: Request) -> Response:
        st: State = request.app.state.atlas
        body, ctype = st.metrics.render(st.manager)
        return Response(body, media_type=ctype)

    from llmatlas.server import atlas_routes, ollama_routes, openai_routes, ui, upstream
    from llmatlas.server.ollama import routes as ollama_api

    if cfg.upstream is None:
        app.include_router(openai_routes.router)
        app.include_router(ollama_routes.router)
        app.include_router(ollama_api.router)
    else:
        app.include_router(upstream.router)
        app.include_router(upstream.ollama_router)
    app.include_router(atlas_routes.router)
    app.include_router(auth_router(policy))
    ui.mount(app, Path(__file__).parent / "static")
    return app
