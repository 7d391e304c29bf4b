"""`serve`: the OpenAI/Ollama-compatible server and the web UI."""

from __future__ import annotations

import ipaddress

import typer

from llmatlas.cli._common import console, handle_errors
from llmatlas.errors import BadInputError
from llmatlas.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@handle_errors
def serve(
    models: list[str] = typer.Argument(
        None, help="Models to load at start (default: gemma-3-270m)."
    ),
    host: str = typer.Option(None, "--host", help="Bind address (default 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Port (default 8080)."),
    api_key: str = typer.Option(
        None, "--api-key", help="Require Authorization: Bearer KEY (or LLMATLAS_API_KEY)."
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="Allow a non-loopback bind without an API key."
    ),
    cors_origin: list[str] = typer.Option(
        None, "--cors-origin", help="Allow this browser origin (repeatable)."
    ),
    slots: int = typer.Option(
        8, "--slots", help="Concurrent sequences per model (continuous batching)."
    ),
    ctx: int = typer.Option(None, "--ctx", help="Context per request (default 4096)."),
    threads: int = typer.Option(None, "--threads", help="CPU threads (default: physical cores)."),
    queue_max: int = typer.Option(64, "--queue-max", help="Requests that may wait; beyond, 429."),
) -> None:
    """Serve models over OpenAI- and Ollama-compatible HTTP APIs, with the web UI at /."""
    import uvicorn

    from llmatlas.server.app import ServerConfig, create_app

    s = get_settings()
    host = host or s.host
    port = port or s.port
    key = api_key or s.api_key
    if not is_loopback(host) and not key and not insecure:
        raise BadInputError(
            f"refusing to bind {host} without an API key: pass --api-key KEY "
            "(or LLMATLAS_API_KEY), or --insecure if the network is trusted"
        )
    if slots < 1 or queue_max < 0:
        raise BadInputError("--slots must be >= 1 and --queue-max >= 0")
    cfg = ServerConfig(
        settings=s,
        models=list(models or ["gemma-3-270m"]),
        n_slots=slots,
        n_ctx=ctx or s.context,
        n_threads=threads or s.threads,
        queue_max=queue_max,
        api_key=key,
        cors_origins=list(cors_origin or []),
    )
    console.print(f"llmatlas serving on http://{host}:{port}  (OpenAI: /v1, Ollama: /api, UI: /)")
    uvicorn.run(create_app(cfg), host=host, port=port, log_level="warning")
