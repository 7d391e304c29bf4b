"""Ollama-compatible routes: chat, generate (NDJSON streaming), tags, show, ps, version."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from llmatlas.server.gen import events, grammar_for_format, parse_tool_call, plan_tools, prepare
from llmatlas.server.manager import Loaded, lease, parse_keep_alive
from llmatlas.server.security import offload
from llmatlas.server.wire import (
    OllamaChatRequest,
    OllamaGenerateRequest,
    OllamaShowRequest,
    ns,
    ollama_tool_calls,
)

router = APIRouter(tags=["ollama"])
NDJSON = "application/x-ndjson"


def _iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts or time.time(), UTC).isoformat().replace("+00:00", "Z")


def load_reply(model: str, chat: bool, reason: str = "load") -> dict[str, Any]:
    """Ollama's answer to a request with nothing to generate: it only loads (or unloads)."""
    out: dict[str, Any] = {"model": model, "created_at": _iso()}
    if chat:
        out["message"] = {"role": "assistant", "content": ""}
    else:
        out["response"] = ""
    return {**out, "done_reason": reason, "done": True}


def _format_grammar(fmt: str | dict[str, Any] | None) -> str | None:
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return grammar_for_format("json_object", None)
    if isinstance(fmt, dict):
        return grammar_for_format("json_schema", fmt)
    from llmatlas.errors import BadInputError

    raise BadInputError('format: use "json" or a JSON schema object')


async def _model(request: Request, name: str, keep_alive: Any) -> Loaded:
    """The model, held for this request; ``keep_alive: 0`` unloads it when its last request
    (this one or another client's) ends, never under someone else's stream."""
    return await lease(request, name, parse_keep_alive(keep_alive))


def _done_fields(last: Any, t0: float, load_s: float) -> dict[str, Any]:
    total = time.perf_counter() - t0
    ttft = last.ttft_s or 0.0
    return {
        "total_duration": ns(total + load_s),
        "load_duration": ns(load_s),
        "prompt_eval_count": last.prompt_tokens,
        "prompt_eval_duration": ns(ttft),
        "eval_count": last.completion_tokens,
        "eval_duration": ns(max(total - ttft, 0.0)),
    }


@router.post("/api/chat", response_model=None)
async def chat(req: OllamaChatRequest, request: Request) -> Any:
    t_load = time.perf_counter()
    lm = await _model(request, req.model, req.keep_alive)
    load_s = time.perf_counter() - t_load
    if not req.messages:  # Ollama: an empty chat just loads (or unloads) the model
        return load_reply(req.model, chat=True)
    sampling = req.options.sampling(default_max=lm.n_ctx)
    tools = plan_tools(req.tools, "auto" if req.tools else None)
    grammar = _format_grammar(req.format)
    if grammar:
        sampling = sampling.model_copy(update={"grammar": grammar})
    msgs = [{"role": m.role, "content": m.content} for m in req.messages]
    tool_defs = [t.model_dump() for t in req.tools] if req.tools else None
    prompt = await offload(lm.chat.render, msgs, True, tool_defs)
    sampling = lm.chat.with_turn_stops(sampling)
    prep = await offload(
        prepare, lm, prompt, sampling, req.options.num_ctx, add_special=not lm.chat.is_chat
    )
    t0 = time.perf_counter()

    async def gen() -> AsyncIterator[str]:
        last = None
        buf: list[str] = []
        async for ev in events(lm, prep):
            last = ev
            if ev.error:
                yield json.dumps({"error": ev.error}) + "\n"
                return
            if ev.text:
                if tools.mode == "auto" and (buf or ev.text.lstrip().startswith("{")):
                    buf.append(ev.text)
                else:
                    yield (
                        json.dumps(
                            {
                                "model": req.model,
                                "created_at": _iso(),
                                "message": {"role": "assistant", "content": ev.text},
                                "done": False,
                            }
                        )
                        + "\n"
                    )
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        if buf:
            call = parse_tool_call("".join(buf), tools.names)
            if call:
                message["tool_calls"] = ollama_tool_calls([call])
            else:
                message["content"] = "".join(buf)
        assert last is not None
        done = {
            "model": req.model,
            "created_at": _iso(),
            "message": message,
            "done_reason": last.finish_reason or "stop",
            "done": True,
            **_done_fields(last, t0, load_s),
        }
        yield json.dumps(done) + "\n"

    if req.stream:
        return StreamingResponse(gen(), media_type=NDJSON)
    text, last_line = "", None
    tool_calls = None
    async for line in gen():
        obj = json.loads(line)
        if "error" in obj:
            return JSONResponse(obj, 500)
        text += obj["message"].get("content", "")
        tool_calls = obj["message"].get("tool_calls") or tool_calls
        last_line = obj
    assert last_line is not None
    last_line["message"] = {"role": "assistant", "content": text}
    if tool_calls:
        last_line["message"]["tool_calls"] = tool_calls
    return last_line


@router.post("/api/generate", response_model=None)
async def generate(req: OllamaGenerateRequest, request: Request) -> Any:
    t_load = time.perf_counter()
    lm = await _model(request, req.model, req.keep_alive)
    load_s = time.perf_counter() - t_load
    if not req.prompt and not req.system:
        return load_reply(req.model, chat=False, reason="unload" if lm.keep_alive == 0 else "load")
    sampling = req.options.sampling(default_max=lm.n_ctx)
    grammar = _format_grammar(req.format)
    if grammar:
        sampling = sampling.model_copy(update={"grammar": grammar})
    if req.raw or not lm.chat.is_chat:
        prompt = (req.system + "\n\n" if req.system and not req.raw else "") + req.prompt
        add_special = True
    else:
        msgs = ([{"role": "system", "content": req.system}] if req.system else []) + [
            {"role": "user", "content": req.prompt}
        ]
        prompt = await offload(lm.chat.render, msgs, True)
        add_special = False
    prep = await offload(
        prepare, lm, prompt, sampling, req.options.num_ctx, add_special=add_special
    )
    t0 = time.perf_counter()

    async def gen() -> AsyncIterator[str]:
        last = None
        async for ev in events(lm, prep):
            last = ev
            if ev.error:
                yield json.dumps({"error": ev.error}) + "\n"
                return
            if ev.text:
                yield (
                    json.dumps(
                        {
                            "model": req.model,
                            "created_at": _iso(),
                            "response": ev.text,
                            "done": False,
                        }
                    )
                    + "\n"
                )
        assert last is not None
        yield (
            json.dumps(
                {
                    "model": req.model,
                    "created_at": _iso(),
                    "response": "",
                    "done": True,
                    "done_reason": last.finish_reason or "stop",
                    "context": [],
                    **_done_fields(last, t0, load_s),
                }
            )
            + "\n"
        )

    if req.stream:
        return StreamingResponse(gen(), media_type=NDJSON)
    text, final = "", None
    async for line in gen():
        obj = json.loads(line)
        if "error" in obj:
            return JSONResponse(obj, 500)
        text += obj.get("response", "")
        final = obj
    assert final is not None
    final["response"] = text
    return final


def _details(st: Any, name: str) -> dict[str, Any]:
    m = st.store.get(name)
    entry = st.catalog.data.models.get(m.catalog_id) if m and m.catalog_id else None
    return {
        "parent_model": "",
        "format": "gguf",
        "family": entry.family if entry else "",
        "families": [entry.family] if entry else [],
        "parameter_size": f"{entry.params_b:g}B" if entry and entry.params_b else "",
        "quantization_level": (m.quant or "") if m else "",
    }


@router.get("/api/tags")
def tags(request: Request) -> dict[str, Any]:
    st = request.app.state.atlas
    st.store.ensure_embedded()
    return {
        "models": [
            {
                "name": m.name,
                "model": m.name,
                "modified_at": _iso(),
                "size": m.size_bytes,
                "digest": m.sha256,
                "details": _details(st, m.name),
            }
            for m in st.store.list()
        ]
    }


@router.post("/api/show")
def show(req: OllamaShowRequest, request: Request) -> dict[str, Any]:
    from llmatlas.runtime.store import check_gguf

    st = request.app.state.atlas
    name = req.model or req.name
    if not name:
        from llmatlas.errors import BadInputError

        raise BadInputError("model: required")
    m = st.store.resolve(name)
    meta = check_gguf(m.path)
    entry = st.catalog.data.models.get(m.catalog_id) if m.catalog_id else None
    lic = st.catalog.license_of(entry).name if entry else (meta.get("license") or "")
    info = {
        "general.architecture": meta["architecture"],
        "general.parameter_count": meta["parameters"],
        f"{meta['architecture']}.context_length": meta["context_length"],
    }
    caps = ["completion", "embedding"]
    return {
        "license": lic,
        "modelfile": f"FROM {m.path}\n",
        "parameters": "",
        "template": meta.get("chat_template") or "",
        "details": _details(st, m.name),
        "model_info": info,
        "capabilities": caps,
        "modified_at": _iso(),
    }


@router.get("/api/ps")
async def ps(request: Request) -> dict[str, Any]:
    st = request.app.state.atlas
    out = []
    for lm in list(st.manager.loaded.values()):
        expires = lm.expires_at if lm.keep_alive != float("inf") else time.time() + 10 * 365 * 86400
        out.append(
            {
                "name": lm.name,
                "model": lm.name,
                "size": lm.held_bytes,
                "digest": lm.stored.sha256,
                "details": _details(st, lm.name),
                "expires_at": _iso(expires),
                "size_vram": 0,
                "context_length": lm.n_ctx,
            }
        )
    return {"models": out}


@router.get("/api/version")
async def version() -> dict[str, str]:
    from llmatlas.server.app import VERSION

    return {"version": VERSION}


@router.delete("/api/delete")
def delete(req: OllamaShowRequest, request: Request) -> dict[str, Any]:
    """Waits for the model's requests to end (409 if they do not within 30 s), then deletes."""
    st = request.app.state.atlas
    name = req.model or req.name or ""
    stored = st.store.get(name)
    if stored is not None:
        st.manager.retire(stored.name)
    st.store.remove(name)  # UnknownModelError -> 404
    return {}
