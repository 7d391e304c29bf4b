"""llmatlas in front of another engine: vLLM (``serve --engine vllm``) or any running
OpenAI-compatible server (``serve --upstream URL``: vLLM, TGI, SGLang, llama-server).

The OpenAI routes (``/v1/*``) are proxied as they are, streaming included, so the engine's
own batching, tool calling and structured output answer them.  The Ollama routes go through
the same translators as for a local model: the request becomes an OpenAI body
(``server/ollama/translate.py``), the engine's SSE stream becomes the typed deltas a local
model streams (``server/openai/translate.py``), and those become Ollama's NDJSON by the one
Ollama reply builder.  The catalog, sizing, web UI, ``/health`` and ``/metrics`` stay
llmatlas's own.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from llmatlas.errors import BadInputError, EngineError, UnknownModelError
from llmatlas.runtime.deltas import Event
from llmatlas.server.ollama import translate as tr
from llmatlas.server.ollama.routes import respond, version
from llmatlas.server.ollama.translate import iso, load_reply
from llmatlas.server.openai import translate as oa
from llmatlas.server.wire import (
    OllamaChatRequest,
    OllamaGenerateRequest,
    OllamaShowRequest,
    openai_error,
)

NDJSON = "application/x-ndjson"
# hop-by-hop and length headers are the proxy's own business
_DROP = {"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}


@dataclass
class Upstream:
    """An OpenAI-compatible engine at ``base_url`` (ending in ``/v1``), perhaps our child."""

    base_url: str
    api_key: str | None = None
    proc: subprocess.Popen[bytes] | None = None  # set when llmatlas started the engine
    log_path: Path | None = None
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        headers = {"accept-encoding": "identity"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(600.0, connect=5.0),
        )

    def exited(self) -> str | None:
        """Why the engine we started is gone, else None."""
        if self.proc is None or self.proc.poll() is None:
            return None
        tail = ""
        if self.log_path and self.log_path.exists():
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
            tail = f": {lines[-1][:300]}" if lines else ""
        return f"engine exited with code {self.proc.returncode}{tail} (log: {self.log_path})"

    async def models(self) -> list[dict[str, Any]]:
        r = await self.client.get("/models", timeout=5.0)
        r.raise_for_status()
        return list(r.json().get("data", []))

    async def health(self) -> tuple[int, dict[str, Any]]:
        gone = self.exited()
        if gone:
            return 503, {"status": "error", "error": gone, "upstream": self.base_url}
        try:
            ids = [m["id"] for m in await self.models()]
        except (httpx.HTTPError, ValueError, KeyError):
            return 503, {"status": "loading", "upstream": self.base_url}
        return 200, {"status": "ok", "models": ids, "upstream": self.base_url}

    async def close(self) -> None:
        await self.client.aclose()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _up(request: Request) -> Upstream:
    up: Upstream = request.app.state.atlas.upstream
    return up


def _unreachable(up: Upstream, exc: Exception) -> JSONResponse:
    why = up.exited() or f"{type(exc).__name__}: {exc}"
    return JSONResponse(
        openai_error(f"the engine at {up.base_url} did not answer ({why})", "server_error"), 502
    )


async def _error_text(resp: httpx.Response) -> str:
    body = await resp.aread()
    try:
        obj = json.loads(body)
        err = obj.get("error", obj) if isinstance(obj, dict) else obj
        msg = err.get("message", err) if isinstance(err, dict) else err
        return str(msg if msg else obj)[:1000]
    except ValueError:
        return body.decode(errors="replace")[:1000] or f"HTTP {resp.status_code}"


# ---------------------------------------------------------------------------- OpenAI: proxy
router = APIRouter()


@router.api_route("/v1/{path:path}", methods=["GET", "POST"], tags=["openai"])
async def proxy(path: str, request: Request) -> Response:
    """The engine's own OpenAI API, passed through (streams stay streams)."""
    up = _up(request)
    ctype = request.headers.get("content-type", "application/json")
    req = up.client.build_request(
        request.method,
        "/" + path,
        params=request.query_params,
        content=await request.body(),
        headers={"content-type": ctype},
    )
    t0 = time.perf_counter()
    try:
        resp = await up.client.send(req, stream=True)
    except httpx.HTTPError as exc:
        return _unreachable(up, exc)
    metrics = request.app.state.atlas.metrics
    known = ("chat/completions", "completions", "embeddings", "models")
    route = f"/v1/{path}" if path in known else "/v1/other"  # bounded metric labels

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.aiter_raw():
                yield chunk
        finally:  # a client that went away closes the engine's stream, which aborts it
            await resp.aclose()
            metrics.requests.labels(route, str(resp.status_code)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - t0)

    headers = {k: v for k, v in resp.headers.items() if k.lower() not in _DROP}
    return StreamingResponse(body(), status_code=resp.status_code, headers=headers)


# ------------------------------------------------------------------- Ollama: translation
class EngineUnreachable(EngineError):
    http_status = 502
    code = "engine_unreachable"


class EngineFailed(EngineError):
    """The engine answered an error (its status kept) or broke off."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.http_status = status


async def events(up: Upstream, route: str, body: dict[str, Any]) -> AsyncIterator[Event]:
    """The engine's streamed OpenAI answer to ``body`` as the same typed deltas a local model
    streams (the last event: finish reason and usage), for the Ollama translator."""
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    finish: str | None = None
    usage: dict[str, Any] = {}
    try:
        async with up.client.stream("POST", route, json=body) as resp:
            if resp.status_code != 200:
                raise EngineFailed(await _error_text(resp), resp.status_code)
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                ev, reason, used = oa.chunk_event(json.loads(data))
                finish, usage = reason or finish, used or usage
                if ev is not None:
                    yield ev
    except httpx.HTTPError as exc:
        raise EngineFailed(f"the engine at {up.base_url} failed: {exc}") from None
    yield Event(
        finish_reason=finish or "stop",
        prompt_tokens=usage.get("prompt_tokens") or 0,
        completion_tokens=usage.get("completion_tokens") or 0,
    )


ollama_router = APIRouter(tags=["ollama"])


@ollama_router.post("/api/chat", response_model=None)
async def chat(req: OllamaChatRequest, request: Request) -> Any:
    if not req.messages:  # Ollama: an empty chat loads the model; the engine has it loaded
        return load_reply(req.model, chat=True)
    stream = events(_up(request), "/chat/completions", tr.openai_chat(req))
    return await respond(stream, tr.Reply(req.model, True, time.perf_counter()), req.stream)


@ollama_router.post("/api/generate", response_model=None)
async def generate(req: OllamaGenerateRequest, request: Request) -> Any:
    if not req.prompt and not req.system:
        return load_reply(req.model, chat=False)
    route, body = tr.openai_generate(req)
    stream = events(_up(request), route, body)
    return await respond(stream, tr.Reply(req.model, False, time.perf_counter()), req.stream)


def _entry(request: Request, model_id: str) -> Any:
    """The catalog entry the engine's model name maps to (vLLM serves the catalog id)."""
    try:
        return request.app.state.atlas.catalog.get(model_id)
    except UnknownModelError:
        return None


def _details(request: Request, model_id: str) -> dict[str, Any]:
    entry = _entry(request, model_id)
    return {
        "parent_model": "",
        "format": "",
        "family": entry.family if entry else "",
        "families": [entry.family] if entry else [],
        "parameter_size": f"{entry.params_b:g}B" if entry and entry.params_b else "",
        "quantization_level": "",
    }


async def _engine_models(request: Request) -> list[dict[str, Any]]:
    up = _up(request)
    try:
        return await up.models()
    except httpx.HTTPError as exc:
        raise EngineUnreachable(
            up.exited() or f"the engine at {up.base_url} did not answer: {exc}"
        ) from None


@ollama_router.get("/api/tags")
async def tags(request: Request) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": m["id"],
                "model": m["id"],
                "modified_at": iso(m.get("created")),
                "size": 0,
                "digest": "",
                "details": _details(request, m["id"]),
            }
            for m in await _engine_models(request)
        ]
    }


@ollama_router.get("/api/ps")
async def ps(request: Request) -> dict[str, Any]:
    out = []
    for m in await _engine_models(request):
        out.append(
            {
                "name": m["id"],
                "model": m["id"],
                "size": 0,
                "digest": "",
                "details": _details(request, m["id"]),
                "expires_at": iso(time.time() + 10 * 365 * 86400),
                "size_vram": 0,
                "context_length": m.get("max_model_len", 0),
            }
        )
    return {"models": out}


@ollama_router.post("/api/show")
async def show(req: OllamaShowRequest, request: Request) -> dict[str, Any]:
    name = req.model or req.name
    if not name:
        raise BadInputError("model: required")
    ids = {m["id"]: m for m in await _engine_models(request)}
    if name not in ids:
        raise UnknownModelError(name, sorted(ids), hint="the engine serves other models")
    cat = request.app.state.atlas.catalog
    entry = _entry(request, name)
    info: dict[str, Any] = {}
    if entry and entry.architecture:
        info = {
            "general.architecture": entry.architecture.model_type,
            "general.parameter_count": int((entry.params_b or 0) * 1e9),
        }
    ctx = ids[name].get("max_model_len")
    if ctx:
        info["context_length"] = ctx
    return {
        "license": cat.license_of(entry).name if entry else "",
        "modelfile": "",
        "parameters": "",
        "template": "",
        "details": _details(request, name),
        "model_info": info,
        "capabilities": ["completion"],
        "modified_at": iso(),
    }


ollama_router.add_api_route("/api/version", version, methods=["GET"])


# ------------------------------------------------------------------------ starting vLLM
def launch_vllm(
    model: str,
    log_dir: Path,
    device: str | None = None,
    gpus: int | None = None,
    context: int | None = None,
    quant: str | None = None,
) -> tuple[Upstream, list[str]]:
    """Start ``vllm serve`` on 127.0.0.1 with the flags the deploy plan computes, and return
    it as the upstream (with the command line).  One node only: more needs Ray, which
    ``llmatlas deploy --target vllm`` spells out."""
    import shutil
    import socket

    from llmatlas.catalog import Catalog
    from llmatlas.deploy import plan, vllm_args
    from llmatlas.hardware import detect, find_device, match_gpu_name

    exe = shutil.which("vllm")
    if exe is None:
        raise BadInputError(
            "--engine vllm needs vLLM installed (pip install vllm; Linux with NVIDIA or AMD GPUs), "
            "or start an OpenAI-compatible engine yourself and pass --upstream URL"
        )
    entry = Catalog().get(model)
    if device:
        dev = find_device(device)
    else:
        found = detect(measure=False).gpus
        dev = match_gpu_name(found[0].name, found[0].memory_bytes) if found else None
        if dev is None:
            raise BadInputError(
                "no GPU from the hardware table was detected here; pass --device NAME"
            )
        gpus = gpus or len(found)
    p = plan(entry, "vllm", dev, gpus=gpus, context=context, quant=quant)
    if p.nodes > 1:
        raise BadInputError(
            f"{entry.id} needs {p.nodes} nodes on {dev.id} (TP {p.tensor_parallel} x PP "
            f"{p.pipeline_parallel}); see `llmatlas deploy {entry.id} --target vllm`"
        )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    args = vllm_args(p)
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    argv = [exe, "serve", *args]
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"vllm-{port}.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    return Upstream(f"http://127.0.0.1:{port}/v1", proc=proc, log_path=log_path), argv
