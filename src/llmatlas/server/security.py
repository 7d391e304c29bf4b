"""What keeps the server safe to run next to a browser and under load.

:class:`Guard` is a pure ASGI middleware that sits outside every route:

- **Host allow-list** (DNS rebinding; Ollama answers 403 since CVE-2024-28224): loopback names
  (``localhost``, ``*.localhost``, loopback IPs), the bound address (any IP literal and this
  machine's name when bound to a wildcard address) and ``--allowed-hosts`` /
  ``LLMATLAS_ALLOWED_HOSTS`` (``.example.com`` matches subdomains, ``*`` turns the check off).
- **Origin**: a request carrying ``Origin`` must be same-origin (its host:port equals the checked
  ``Host``) or listed with ``--cors-origin``; anything else is 403, preflights included.  A request
  that a browser marks ``Sec-Fetch-Site: cross-site`` without an Origin is refused on the API too.
- **Content type**: Ollama's clients POST JSON without saying so; only requests without an Origin
  (not from a web page) have their body read as JSON whatever the content type, so a page can
  never reach a route with a ``text/plain`` "simple request".
- **Headers** on every response: CSP with ``frame-ancestors 'none'``, ``X-Frame-Options: DENY``,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``.
- **Body limit** counted as the bytes arrive (chunked bodies too): 413 past ``max_body_bytes``;
  408 when the body does not arrive within ``body_timeout_s``.
- **Client gone**: once the body is read, the middleware watches the connection; a disconnect
  before the response is complete cancels the route (streaming or not), which cancels its
  generation and frees the slot.
- **Leases**: :func:`lease` takes a model for the length of one request; whatever the route did,
  the lease is returned when the request ends (answered, failed, abandoned or cancelled).
- **API key**: ``Authorization: Bearer KEY`` or the session cookie set by the login below.

Login contract (the web UI's form uses it when the server has an API key):

- ``GET /api/session`` -> ``{"auth_required": bool, "authenticated": bool}`` (never 401).
- ``POST /api/login`` with JSON ``{"key": "..."}`` -> 204 and
  ``Set-Cookie: llmatlas_session=TOKEN; HttpOnly; SameSite=Strict; Path=/``; a wrong key is 401
  with an OpenAI-shaped error.  TOKEN is an HMAC of the key, never the key itself.
- ``POST /api/logout`` -> 204 and the cookie cleared.
- Every protected route (``/v1/*``, ``/api/*``, ``/metrics``) then accepts either the header or
  the cookie; without one of them it is 401.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
T = TypeVar("T")

SESSION_COOKIE = "llmatlas_session"
CLEANUPS = "llmatlas.cleanups"  # scope key: callables run when the request ends
PROTECTED = ("/v1/", "/api/", "/metrics")
OPEN_PATHS = frozenset({"/api/session", "/api/login", "/api/logout"})
UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc pages load their scripts from a CDN and start them inline
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


async def offload(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking or CPU-bound work (tokenizing, GGUF parsing, sizing, SQLite) on a worker
    thread, so the event loop keeps answering other requests (``/health`` first of all)."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def session_token(api_key: str) -> str:
    """The cookie value for a key: an HMAC of it, so the cookie never holds the key itself."""
    return hmac.new(api_key.encode(), b"llmatlas-session-v1", hashlib.sha256).hexdigest()


def _host_only(host: str) -> str:
    """'[::1]:8080' -> '::1', 'LocalHost.:80' -> 'localhost'."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class Policy:
    """The server's safety settings (from ServerConfig)."""

    bind_host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    api_key: str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    body_timeout_s: float = 30.0
    machine_names: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls,
        bind_host: str,
        allowed_hosts: list[str] | tuple[str, ...] = (),
        cors_origins: list[str] | tuple[str, ...] = (),
        api_key: str | None = None,
        max_body_bytes: int = 4 * 1024 * 1024,
        body_timeout_s: float = 30.0,
    ) -> Policy:
        names: set[str] = set()
        if bind_host in WILDCARD_BINDS:
            try:
                names = {socket.gethostname().lower(), socket.getfqdn().lower()}
            except OSError:  # pragma: no cover
                names = set()
        return cls(
            _host_only(bind_host) if bind_host not in WILDCARD_BINDS else bind_host,
            tuple(h.strip().lower().rstrip(".") for h in allowed_hosts if h.strip()),
            tuple(o.strip().rstrip("/") for o in cors_origins if o.strip()),
            api_key or None,
            max_body_bytes,
            body_timeout_s,
            frozenset(names),
        )

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:  # HTTP/1.0 without Host: not a browser
            return True
        if "*" in self.allowed_hosts:
            return True
        host = _host_only(host_header)
        if host == "localhost" or host.endswith(".localhost"):
            return True
        ip = _ip(host)
        if ip is not None and ip.is_loopback:
            return True
        if self.bind_host in WILDCARD_BINDS:
            # an IP literal cannot be rebound by DNS; names must be this machine's or listed
            if ip is not None or host in self.machine_names:
                return True
        elif host == self.bind_host:
            return True
        for allowed in self.allowed_hosts:
            if host == allowed or (allowed.startswith(".") and host.endswith(allowed)):
                return True
        return False

    def origin_allowed(self, origin: str, host_header: str | None) -> bool:
        """Same-origin (scheme http/https, host:port equal to the checked Host) or listed."""
        origin = origin.rstrip("/")
        if origin in self.cors_origins or "*" in self.cors_origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not host_header:
            return False
        return parts.netloc.lower() == host_header.strip().lower()

    def authorized(self, headers: dict[str, str]) -> bool:
        if not self.api_key:
            return True
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token and hmac.compare_digest(token.encode(), self.api_key.encode()):
            return True
        cookie = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
        return bool(cookie) and hmac.compare_digest(
            cookie.encode(), session_token(self.api_key).encode()
        )


def _cookie(header: str, name: str) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed cookie header is no cookie
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


BLOB_PATH = "/api/blobs/"


def _error_body(message: str, code: str, type_: str = "invalid_request_error") -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": type_, "param": None, "code": code}}
    ).encode()


async def _reply(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers every response carries (also the 500 answered outside the middleware)."""
    csp = DOCS_CSP if path in ("/docs", "/redoc") else UI_CSP
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


class Guard:
    """The ASGI middleware described in this module's docstring."""

    def __init__(self, app: ASGIApp, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        send = self._with_headers(send, path)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host")
        p = self.policy
        if not p.host_allowed(host):
            await _reply(
                send,
                403,
                _error_body(
                    f"host {host!r} is not allowed; list it with --allowed-hosts "
                    "(or LLMATLAS_ALLOWED_HOSTS) if you mean to reach this server by that name",
                    "host_not_allowed",
                ),
            )
            return
        origin = headers.get("origin")
        api = path.startswith(PROTECTED)
        fetch_site = headers.get("sec-fetch-site", "")
        if origin is not None and not p.origin_allowed(origin, host):
            await _reply(
                send,
                403,
                _error_body(
                    f"origin {origin!r} is not allowed; list it with --cors-origin",
                    "origin_not_allowed",
                ),
            )
            return
        if (
            origin is None
            and api
            and fetch_site == "cross-site"
            and headers.get("sec-fetch-mode") != "navigate"
        ):
            await _reply(
                send,
                403,
                _error_body("cross-site requests are not allowed", "origin_not_allowed"),
            )
            return
        if (
            origin is None
            and fetch_site in ("", "none", "same-origin")
            and scope["method"] in ("POST", "DELETE")
            and path.startswith("/api/")
            and "json" not in headers.get("content-type", "")
        ):
            # Ollama's clients send JSON without the content type; never for a web page's request
            scope = dict(scope)
            scope["headers"] = [
                *[(k, v) for k, v in scope["headers"] if k != b"content-type"],
                (b"content-type", b"application/json"),
            ]
        needs_key = api and path not in OPEN_PATHS and scope["method"] != "OPTIONS"
        if needs_key and not p.authorized(headers):
            await _reply(
                send,
                401,
                _error_body(
                    "invalid or missing API key (Authorization: Bearer KEY, or log in)",
                    "invalid_api_key",
                ),
                [(b"www-authenticate", b"Bearer")],
            )
            return
        if scope["method"] == "POST" and path.startswith(BLOB_PATH):
            # a model file (GiBs): streamed to disk by the route and checked against its
            # digest there, so neither held in memory here nor bounded by max_body_bytes
            await self.app(scope, receive, send)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > p.max_body_bytes:
            await self._too_large(send)
            return
        body = await self._read_body(receive, send)
        if body is None:
            return
        await self._run(scope, body, receive, send)

    def _with_headers(self, send: Send, path: str) -> Send:
        extra = security_headers(path)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message = dict(message)
                message["headers"] = [
                    *message.get("headers", []),
                    *[(k, v) for k, v in extra if k not in have],
                ]
            await send(message)

        return wrapped

    async def _too_large(self, send: Send) -> None:
        await _reply(
            send,
            413,
            _error_body(
                f"request body over {self.policy.max_body_bytes} bytes", "request_too_large"
            ),
            [(b"connection", b"close")],
        )

    async def _read_body(self, receive: Receive, send: Send) -> list[Message] | None:
        """The body's messages, counted as they arrive; None once a reply (413/408) was sent
        or the client left."""
        messages: list[Message] = []
        total = 0
        with anyio.move_on_after(self.policy.body_timeout_s) as scope:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return None
                total += len(msg.get("body", b""))
                if total > self.policy.max_body_bytes:
                    await self._too_large(send)
                    # read on for a moment so the client (still sending) sees the 413
                    with anyio.move_on_after(2):
                        while msg.get("more_body") and msg["type"] != "http.disconnect":
                            msg = await receive()
                    return None
                messages.append(msg)
                if not msg.get("more_body"):
                    return messages
        if scope.cancelled_caught:
            await _reply(
                send,
                408,
                _error_body(
                    f"request body not received within {self.policy.body_timeout_s:g} s",
                    "request_timeout",
                ),
                [(b"connection", b"close")],
            )
        return None

    async def _run(self, scope: Scope, body: list[Message], receive: Receive, send: Send) -> None:
        """Run the app; cancel it if the client leaves before the response is complete; return
        the request's leases whatever happens."""
        gone = anyio.Event()
        complete = False
        cleanups: list[Callable[[], None]] = []
        scope = dict(scope)
        scope[CLEANUPS] = cleanups

        async def replay() -> Message:
            if body:
                return body.pop(0)
            await gone.wait()
            return {"type": "http.disconnect"}

        async def tracked_send(message: Message) -> None:
            nonlocal complete
            if message["type"] == "http.response.body" and not message.get("more_body"):
                complete = True
            await send(message)

        try:
            with anyio.CancelScope() as app_scope:

                async def watch() -> None:
                    while True:
                        msg = await receive()
                        if msg["type"] == "http.disconnect":
                            gone.set()
                            if not complete:
                                app_scope.cancel()
                            return

                async with anyio.create_task_group() as tg:
                    tg.start_soon(watch)
                    await self.app(scope, replay, tracked_send)
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:  # the task group wraps the route's own error
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        finally:
            if cleanups:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_run_all, cleanups)


def _run_all(cleanups: list[Callable[[], None]]) -> None:
    for fn in reversed(cleanups):
        fn()


def on_request_end(scope: Scope, fn: Callable[[], None]) -> None:
    """Run ``fn`` (on a worker thread) when this request ends, however it ends."""
    cleanups = scope.get(CLEANUPS)
    if cleanups is None:  # no Guard in front (an app built without it): nothing would run it
        raise RuntimeError("the request has no Guard middleware")
    cleanups.append(fn)


def http_protocol(header_timeout_s: float) -> type:
    """uvicorn's h11 protocol with a header-read timeout: a connection that has not sent a
    complete request head within ``header_timeout_s`` (slowloris) is closed.  uvicorn's own
    keep-alive timer is reset by every byte, so it does not bound a slow sender."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(H11Protocol):
        _timer: Any = None
        _armed_for: Any = None

        def _arm(self) -> None:
            self._disarm()
            self._armed_for = self.cycle
            self._timer = self.loop.call_later(header_timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expired(self) -> None:
            self._timer = None
            if self.cycle is self._armed_for and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            if self._timer is not None and self.cycle is not self._armed_for:
                self._disarm()  # a complete request head arrived

        def on_response_complete(self) -> None:
            self._arm()
            super().on_response_complete()
            if self.transport.is_closing():
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutH11Protocol


# ----------------------------------------------------------------------------- login routes
class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=4096)


def auth_router(policy: Policy) -> APIRouter:
    """``/api/session``, ``/api/login``, ``/api/logout`` (the contract in the module docstring)."""
    router = APIRouter(tags=["server"])

    @router.get("/api/session")
    async def session(request: Request) -> dict[str, bool]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return {"auth_required": bool(policy.api_key), "authenticated": policy.authorized(headers)}

    @router.post("/api/login", status_code=204, response_model=None)
    async def login(body: Login) -> Response:
        # surrogatepass: half a surrogate pair (valid JSON) is no 500, and never equals a key
        if policy.api_key and not hmac.compare_digest(
            body.key.encode("utf-8", "surrogatepass"), policy.api_key.encode()
        ):
            return JSONResponse(json.loads(_error_body("wrong API key", "invalid_api_key")), 401)
        r = Response(status_code=204)
        if policy.api_key:
            r.set_cookie(
                SESSION_COOKIE,
                session_token(policy.api_key),
                httponly=True,
                samesite="strict",
                path="/",
            )
        return r

    @router.post("/api/logout", status_code=204, response_model=None)
    async def logout() -> Response:
        r = Response(status_code=204)
        r.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return r

    return router
