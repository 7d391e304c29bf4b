"""llmatlas in front of another engine: vLLM (``serve --engine vllm``) or any running
OpenAI-compatible server (``serve --upstream URL``: vLLM, TGI, SGLang, llama-server).

The OpenAI routes (``/v1/*``) are proxied as they are, streaming included, so the engine's
own batching, tool calling and structured output answer them.  The Ollama routes are
translated onto the engine's OpenAI API (NDJSON from SSE, tool-call arguments as objects),
and the catalog, sizing, web UI, ``/health`` and ``/metrics`` stay llmatlas's own.
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
from llmatlas.server.ollama.routes import version
from llmatlas.server.ollama.translate import iso, load_reply
from llmatlas.server.wire import (
    OllamaChatRequest,
    OllamaGenerateRequest,
    OllamaOptions,
    OllamaShowRequest,
    ns,
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
def _sampling(o: OllamaOptions) -> dict[str, Any]:
    """Ollama options as OpenAI fields; unset ones are left to the engine's defaults.
    ``top_k``, ``min_p`` and the repeat penalty are extensions vLLM and llama-server accept
    (vLLM names it ``repetition_penalty``, llama-server ``repeat_penalty``)."""
    out: dict[str, Any] = {}
    for key in ("temperature", "top_p", "top_k", "min_p", "seed"):
        v = getattr(o, key)
        if v is not None:
            out[key] = v
    if o.repeat_penalty is not None:
        out["repetition_penalty"] = out["repeat_penalty"] = o.repeat_penalty
    if o.stop:
        out["stop"] = list(o.stop)
    if o.num_predict is not None and o.num_predict > 0:
        out["max_tokens"] = o.num_predict
    return out


def _response_format(fmt: str | dict[str, Any] | None) -> dict[str, Any] | None:
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return {"type": "json_object"}
    if isinstance(fmt, dict):
        return {"type": "json_schema", "json_schema": {"name": "format", "schema": fmt}}
    raise BadInputError('format: use "json" or a JSON schema object')


def _openai_messages(req: OllamaChatRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, m in enumerate(req.messages):
        msg: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:  # Ollama: arguments as an object; OpenAI: a JSON string with an id
            msg["tool_calls"] = [
                {
                    "id": f"call_{i}_{j}",
                    "type": "function",
                    "function": {
                        "name": c.get("function", {}).get("name", ""),
                        "arguments": json.dumps(c.get("function", {}).get("arguments", {})),
                    },
                }
                for j, c in enumerate(m.tool_calls)
            ]
        out.append(msg)
    return out


@dataclass
class _Turn:
    """What the engine streamed back for one Ollama request."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft: float | None = None
    chunks: int = 0  # engines stream a token per chunk: the count when usage is not sent

    def add_call_delta(self, d: dict[str, Any]) -> None:
        c = self.calls.setdefault(int(d.get("index", len(self.calls))), {"name": "", "args": ""})
        fn = d.get("function") or {}
        c["name"] += fn.get("name") or ""
        c["args"] += fn.get("arguments") or ""

    def ollama_calls(self) -> list[dict[str, Any]]:
        out = []
        for _, c in sorted(self.calls.items()):
            try:
                args = json.loads(c["args"] or "{}")
            except ValueError:
                args = {"_raw": c["args"]}
            out.append({"function": {"name": c["name"], "arguments": args}})
        return out

    def done_fields(self, t0: float) -> dict[str, Any]:
        total = time.perf_counter() - t0
        ttft = self.ttft if self.ttft is not None else total
        return {
            "total_duration": ns(total),
            "load_duration": 0,
            "prompt_eval_count": self.prompt_tokens,
            "prompt_eval_duration": ns(ttft),
            "eval_count": self.completion_tokens or self.chunks,
            "eval_duration": ns(max(total - ttft, 0.0)),
        }


async def _stream_openai(
    up: Upstream, route: str, body: dict[str, Any], turn: _Turn, t0: float
) -> AsyncIterator[str]:
    """POST a streaming OpenAI request; yield each new piece of text, filling ``turn``."""
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    async with up.client.stream("POST", route, json=body) as resp:
        if resp.status_code != 200:
            raise _UpstreamError(resp.status_code, await _error_text(resp))
        async for line in resp.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if chunk.get("usage"):
                turn.prompt_tokens = chunk["usage"].get("prompt_tokens", 0) or 0
                turn.completion_tokens = chunk["usage"].get("completion_tokens", 0) or 0
            for ch in chunk.get("choices") or []:
                delta = ch.get("delta") or {}
                piece = delta.get("content") if "delta" in ch else ch.get("text")
                for d in delta.get("tool_calls") or []:
                    turn.add_call_delta(d)
                if ch.get("finish_reason"):
                    turn.finish = ch["finish_reason"]
                if piece:
                    turn.chunks += 1
                    if turn.ttft is None:
                        turn.ttft = time.perf_counter() - t0
                    turn.text.append(piece)
                    yield piece


class EngineUnreachable(EngineError):
    http_status = 502
    code = "engine_unreachable"


class _UpstreamError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _ndjson(
    up: Upstream,
    route: str,
    body: dict[str, Any],
    stream: bool,
    line_for: Any,
    done_for: Any,
) -> Any:
    """Run ``body`` on the engine and answer in Ollama's shape, streamed (NDJSON) or whole."""
    t0 = time.perf_counter()
    turn = _Turn()

    async def lines() -> AsyncIterator[str]:
        try:
            async for piece in _stream_openai(up, route, body, turn, t0):
                yield json.dumps(line_for(piece)) + "\n"
        except _UpstreamError as exc:
            yield json.dumps({"error": str(exc)}) + "\n"
            return
        except httpx.HTTPError as exc:
            yield json.dumps({"error": f"the engine at {up.base_url} failed: {exc}"}) + "\n"
            return
        yield json.dumps(done_for(turn, t0)) + "\n"

    if stream:
        return StreamingResponse(lines(), media_type=NDJSON)
    try:
        async for _ in _stream_openai(up, route, body, turn, t0):
            pass
    except _UpstreamError as exc:
        return JSONResponse({"error": str(exc)}, exc.status)
    except httpx.HTTPError as exc:
        return JSONResponse({"error": f"the engine at {up.base_url} failed: {exc}"}, 502)
    return done_for(turn, t0, whole=True)


ollama_router = APIRouter(tags=["ollama"])


@ollama_router.post("/api/chat", response_model=None)
async def chat(req: OllamaChatRequest, request: Request) -> Any:
    up = _up(request)
    if not req.messages:  # Ollama: an empty chat loads the model; the engine has it loaded
        return load_reply(req.model, chat=True)
    body: dict[str, Any] = {
        "model": req.model,
        "messages": _openai_messages(req),
        **_sampling(req.options),
    }
    fmt = _response_format(req.format)
    if fmt:
        body["response_format"] = fmt
    if req.tools:
        body["tools"] = [t.model_dump(exclude_none=True) for t in req.tools]

    def line_for(piece: str) -> dict[str, Any]:
        return {
            "model": req.model,
            "created_at": iso(),
            "message": {"role": "assistant", "content": piece},
            "done": False,
        }

    def done_for(turn: _Turn, t0: float, whole: bool = False) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(turn.text) if whole else "",
        }
        if turn.calls:
            message["tool_calls"] = turn.ollama_calls()
        return {
            "model": req.model,
            "created_at": iso(),
            "message": message,
            "done_reason": "stop" if turn.finish == "tool_calls" else turn.finish,
            "done": True,
            **turn.done_fields(t0),
        }

    return await _ndjson(up, "/chat/completions", body, req.stream, line_for, done_for)


@ollama_router.post("/api/generate", response_model=None)
async def generate(req: OllamaGenerateRequest, request: Request) -> Any:
    up = _up(request)
    if not req.prompt and not req.system:
        return load_reply(req.model, chat=False)
    body: dict[str, Any] = {"model": req.model, **_sampling(req.options)}
    fmt = _response_format(req.format)
    if fmt:
        body["response_format"] = fmt
    if req.raw:  # no template: the engine's completions endpoint
        route = "/completions"
        body["prompt"] = req.prompt
    else:  # Ollama applies the model's template: the engine's chat endpoint does that
        route = "/chat/completions"
        body["messages"] = ([{"role": "system", "content": req.system}] if req.system else []) + [
            {"role": "user", "content": req.prompt}
        ]

    def line_for(piece: str) -> dict[str, Any]:
        return {"model": req.model, "created_at": iso(), "response": piece, "done": False}

    def done_for(turn: _Turn, t0: float, whole: bool = False) -> dict[str, Any]:
        return {
            "model": req.model,
            "created_at": iso(),
            "response": "".join(turn.text) if whole else "",
            "done": True,
            "done_reason": turn.finish,
            "context": [],
            **turn.done_fields(t0),
        }

    return await _ndjson(up, route, body, req.stream, line_for, done_for)


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
