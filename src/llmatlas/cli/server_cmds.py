"""`serve`: the OpenAI/Ollama-compatible server and the web UI."""

from __future__ import annotations

import ipaddress

import typer

from llmatlas.cli._common import console, handle_errors
from llmatlas.errors import BadInputError
from llmatlas.i18n import _
from llmatlas.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command(
        "serve",
        help=_("Serve models over OpenAI- and Ollama-compatible HTTP APIs, with the web UI at /."),
    )(serve)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_aliases(items: list[str]) -> dict[str, str]:
    """``NAME=MODEL`` pairs of ``--alias``; a malformed one is a one-line error."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, model = item.partition("=")
        if not sep or not name.strip() or not model.strip():
            raise BadInputError.translatable(
                "--alias {item!r}: use NAME=MODEL, e.g. gpt-4o-mini=gemma-3-270m", item=item
            )
        out[name.strip()] = model.strip()
    return out


@handle_errors
def serve(
    models: list[str] = typer.Argument(
        None, help=_("Models to load at start (default: gemma-3-270m).")
    ),
    host: str = typer.Option(None, "--host", help=_("Bind address (default 127.0.0.1).")),
    port: int = typer.Option(None, "--port", help=_("Port (default 8080).")),
    api_key: str = typer.Option(
        None, "--api-key", help=_("Require Authorization: Bearer KEY (or LLMATLAS_API_KEY).")
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help=_("Allow a non-loopback bind without an API key.")
    ),
    cors_origin: list[str] = typer.Option(
        None,
        "--cors-origin",
        help=_(
            "Allow this browser origin, e.g. http://localhost:3000 (repeatable; or "
            "LLMATLAS_CORS_ORIGINS). Other origins get 403."
        ),
    ),
    allowed_hosts: list[str] = typer.Option(
        None,
        "--allowed-hosts",
        help=_(
            "Also answer requests whose Host is this name (repeatable or comma-separated; "
            "'.example.com' for subdomains, '*' for any; or LLMATLAS_ALLOWED_HOSTS). Loopback "
            "names and the bind address are always allowed; others get 403 (DNS rebinding)."
        ),
    ),
    header_timeout: float = typer.Option(
        10.0, "--header-timeout", help=_("Seconds a client has to send a request's headers.")
    ),
    shutdown_timeout: int = typer.Option(
        10,
        "--shutdown-timeout",
        help=_("On SIGTERM/Ctrl-C, seconds to let requests finish before cancelling them."),
    ),
    slots: int = typer.Option(
        8, "--slots", help=_("Concurrent sequences per model (continuous batching).")
    ),
    ctx: int = typer.Option(None, "--ctx", help=_("Context per request (default 4096).")),
    threads: int = typer.Option(
        None, "--threads", help=_("CPU threads (default: physical cores).")
    ),
    queue_max: int = typer.Option(
        64, "--queue-max", help=_("Requests that may wait; beyond, 429.")
    ),
    engine: str = typer.Option(
        "llama.cpp",
        "--engine",
        help=_(
            "llama.cpp (in-process, continuous batching) or vllm (started for you; "
            "llmatlas fronts its OpenAI API and adds the Ollama API, catalog and UI)."
        ),
    ),
    upstream_url: str = typer.Option(
        None,
        "--upstream",
        help=_(
            "Front an OpenAI-compatible engine already running at this /v1 URL "
            "(vLLM, TGI, SGLang, llama-server)."
        ),
    ),
    upstream_key: str = typer.Option(
        None, "--upstream-key", help=_("Bearer key the --upstream engine requires.")
    ),
    device: str = typer.Option(
        None, "--device", help=_("--engine vllm: GPU type (default: detected).")
    ),
    gpus: int = typer.Option(
        None, "--gpus", help=_("--engine vllm: GPUs to use (default: detected).")
    ),
    quant: str = typer.Option(
        None, "--quant", help=_("--engine vllm: BF16 (default), FP8, AWQ...")
    ),
    alias: list[str] = typer.Option(
        None,
        "--alias",
        help=_(
            "NAME=MODEL: answer requests for NAME with MODEL, e.g. gpt-4o-mini=gemma-3-270m "
            "(repeatable)."
        ),
    ),
) -> None:
    """Serve models over OpenAI- and Ollama-compatible HTTP APIs, with the web UI at /."""
    import uvicorn

    from llmatlas.server.app import ServerConfig, create_app
    from llmatlas.server.security import http_protocol

    s = get_settings()
    host = host or s.host
    port = port or s.port
    key = api_key or s.api_key
    if not is_loopback(host) and not key and not insecure:
        raise BadInputError.translatable(
            "refusing to bind {host} without an API key: pass --api-key KEY "
            "(or LLMATLAS_API_KEY), or --insecure if the network is trusted",
            host=host,
        )
    if slots < 1 or queue_max < 0:
        raise BadInputError.translatable("--slots must be >= 1 and --queue-max >= 0")
    if header_timeout <= 0 or shutdown_timeout < 0:
        raise BadInputError.translatable("--header-timeout must be > 0 and --shutdown-timeout >= 0")
    hosts = [h for x in (allowed_hosts or s.allowed_hosts) for h in x.split(",") if h.strip()]
    up = None
    if engine not in ("llama.cpp", "vllm"):
        raise BadInputError.translatable(
            "--engine {engine!r}: use llama.cpp or vllm", engine=engine
        )
    if upstream_url and engine == "vllm":
        raise BadInputError.translatable("--upstream and --engine vllm exclude each other")
    if upstream_url:
        from llmatlas.server.upstream import Upstream

        if not upstream_url.startswith(("http://", "https://")):
            raise BadInputError.translatable(
                "--upstream {url!r}: give an http(s) URL, e.g. http://127.0.0.1:8000/v1",
                url=upstream_url,
            )
        up = Upstream(upstream_url, upstream_key)
    elif engine == "vllm":
        from llmatlas.server.upstream import launch_vllm

        if len(models or []) != 1:
            raise BadInputError.translatable(
                "--engine vllm serves one model: name it, e.g. "
                "llmatlas serve llama-3.1-8b-instruct --engine vllm"
            )
        up, argv = launch_vllm(models[0], s.home / "logs", device, gpus, ctx, quant)
        console.print(_("started: ") + " ".join(argv), highlight=False, soft_wrap=True)
        console.print(
            "  "
            + _("log: {path}; /health turns 200 once vLLM has loaded the model").format(
                path=up.log_path
            )
        )
    cfg = ServerConfig(
        settings=s,
        models=list(models or ["gemma-3-270m"]),
        n_slots=slots,
        n_ctx=ctx or s.context,
        n_threads=threads or s.threads,
        queue_max=queue_max,
        api_key=key,
        cors_origins=list(cors_origin or s.cors_origins),
        bind_host=host,
        allowed_hosts=hosts,
        upstream=up,
        aliases=parse_aliases(alias or []),
    )
    over = ", " + _("engine at {url}").format(url=up.base_url) if up else ""
    console.print(
        _("llmatlas serving on {url}  (OpenAI: /v1, Ollama: /api, UI: /{more})").format(
            url=f"http://{host}:{port}", more=over
        )
    )
    try:
        uvicorn.run(
            create_app(cfg),
            host=host,
            port=port,
            log_level="warning",
            http=http_protocol(header_timeout),
            timeout_graceful_shutdown=shutdown_timeout,
        )
    finally:
        if up is not None and up.proc is not None and up.proc.poll() is None:
            up.proc.terminate()  # never leave a GPU engine behind
            try:
                up.proc.wait(30)
            except Exception:
                up.proc.kill()
