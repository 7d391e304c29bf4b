"""OpenAI-compatible routes: chat completions, completions, models, embeddings."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from llmatlas.errors import AtlasError, BadInputError
from llmatlas.server.gen import (
    ForcedCallSplitter,
    events,
    grammar_for_format,
    parse_tool_call,
    plan_tools,
    prepare,
    run_to_end,
)
from llmatlas.server.manager import lease
from llmatlas.server.security import offload
from llmatlas.server.wire import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    chat_chunk,
    new_id,
    now,
    openai_error,
    tool_call_delta,
    usage,
)

router = APIRouter(tags=["openai"])
SSE = "text/event-stream"


def _state(request: Request) -> Any:
    return request.app.state.atlas


def _sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def _messages(req: ChatCompletionRequest) -> list[dict[str, Any]]:
    out = []
    for m in req.messages:
        d: dict[str, Any] = {
            "role": "system" if m.role == "developer" else m.role,
            "content": m.text(),
        }
        if m.tool_calls:
            d["tool_calls"] = [
                {
                    "type": "function",
                    "function": {
                        "name": c.function.name,
                        "arguments": _json_or_text(c.function.arguments),
                    },
                }
                for c in m.tool_calls
            ]
        if m.tool_call_id:
            d["tool_call_id"] = m.tool_call_id
        out.append(d)
    return out


def _json_or_text(s: str | None) -> Any:
    """Earlier tool-call arguments as an object for the chat template; left as text if not JSON."""
    try:
        return json.loads(s or "{}")
    except ValueError:
        return s


@router.get("/v1/models")
def list_models(request: Request) -> dict[str, Any]:
    st = _state(request)
    data = []
    for m in st.store.list():
        created = (
            int(time.mktime(time.strptime(m.pulled_at, "%Y-%m-%d %H:%M:%S")))
            if m.pulled_at
            else now()
        )
        data.append({"id": m.name, "object": "model", "created": created, "owned_by": "llmatlas"})
    if not any(d["id"] == "gemma-3-270m" for d in data):
        data.append(
            {"id": "gemma-3-270m", "object": "model", "created": now(), "owned_by": "llmatlas"}
        )
    return {"object": "list", "data": data}


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(req: ChatCompletionRequest, request: Request) -> Any:
    st = _state(request)
    lm = await lease(request, req.model)
    sampling = req.sampling(default_max=lm.n_ctx)
    tools = plan_tools(req.tools, req.tool_choice)
    rf = req.response_format
    grammar = grammar_for_format(
        rf.type if rf else None, (rf.json_schema or {}).get("schema") if rf else None
    )
    if tools.mode == "forced":
        grammar = tools.grammar
    if grammar:
        sampling = sampling.model_copy(update={"grammar": grammar})
    tool_defs = (
        [t.model_dump() for t in req.tools] if (req.tools and tools.mode != "none") else None
    )
    prompt = await offload(lm.chat.render, _messages(req), True, tool_defs)
    sampling = lm.chat.with_turn_stops(sampling)
    prep = await offload(prepare, lm, prompt, sampling, add_special=not lm.chat.is_chat)
    cid, created = new_id("chatcmpl"), now()
    st.metrics.requests.labels("chat", "200").inc()
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        return StreamingResponse(
            _chat_stream(st, lm, prep, cid, created, req.model, tools, include_usage),
            media_type=SSE,
            headers=_warn_headers(prep.warnings),
        )
    t0 = time.perf_counter()
    text, last = await run_to_end(lm, prep)
    _observe(st, lm.name, last, time.perf_counter() - t0, "chat")
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    finish = last.finish_reason or "stop"
    call = None
    if tools.mode == "forced":
        call = (tools.name, text.strip()) if tools.name else parse_tool_call(text, tools.names)
    elif tools.mode == "auto":
        call = parse_tool_call(text, tools.names)
    if call:
        message = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": new_id("call"),
                    "type": "function",
                    "function": {"name": call[0], "arguments": call[1]},
                }
            ],
        }
        finish = "tool_calls"
    body = {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": req.model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage(last.prompt_tokens, last.completion_tokens),
    }
    if prep.warnings:
        body["warnings"] = prep.warnings
    return JSONResponse(body, headers=_warn_headers(prep.warnings))


def _warn_headers(warnings: list[str]) -> dict[str, str]:
    return {"X-Llmatlas-Warning": "; ".join(warnings)} if warnings else {}


def _observe(st: Any, model: str, last: Any, seconds: float, route: str) -> None:
    st.metrics.prompt_tokens.labels(model).inc(last.prompt_tokens)
    st.metrics.completion_tokens.labels(model).inc(last.completion_tokens)
    if last.ttft_s is not None:
        st.metrics.ttft.labels(model).observe(last.ttft_s)
    st.metrics.latency.labels(route).observe(seconds)


async def _chat_stream(
    st: Any, lm: Any, prep: Any, cid: str, created: int, model: str, tools: Any, include_usage: bool
) -> AsyncIterator[str]:
    t0 = time.perf_counter()
    yield _sse(chat_chunk(cid, model, created, {"role": "assistant", "content": ""}))
    last = None
    call_id = new_id("call")
    splitter = ForcedCallSplitter() if (tools.mode == "forced" and not tools.name) else None
    header_sent = False
    auto_buf: list[str] | None = [] if tools.mode == "auto" else None
    try:
        async for ev in events(lm, prep):
            last = ev
            if ev.error:
                yield _sse(openai_error(ev.error, "server_error"))
                return
            text = ev.text
            if text:
                if tools.mode == "forced" and tools.name:
                    if not header_sent:
                        yield _sse(
                            chat_chunk(
                                cid,
                                model,
                                created,
                                {"tool_calls": [tool_call_delta(0, call_id, tools.name, "")]},
                            )
                        )
                        header_sent = True
                    yield _sse(
                        chat_chunk(
                            cid,
                            model,
                            created,
                            {"tool_calls": [tool_call_delta(0, None, None, text)]},
                        )
                    )
                elif splitter is not None:
                    name, args = splitter.feed(text)
                    if name:
                        yield _sse(
                            chat_chunk(
                                cid,
                                model,
                                created,
                                {"tool_calls": [tool_call_delta(0, call_id, name, "")]},
                            )
                        )
                        header_sent = True
                    if args:
                        yield _sse(
                            chat_chunk(
                                cid,
                                model,
                                created,
                                {"tool_calls": [tool_call_delta(0, None, None, args)]},
                            )
                        )
                elif auto_buf is not None and (
                    auto_buf or text.lstrip().startswith(("{", "<tool_call>"))
                ):
                    auto_buf.append(text)  # may be a tool call: decide at the end
                else:
                    yield _sse(chat_chunk(cid, model, created, {"content": text}))
            if ev.finish_reason:
                break
    except AtlasError as exc:
        yield _sse(openai_error(str(exc)))
        return
    finish = (last.finish_reason if last else None) or "stop"
    if splitter is not None:
        rest = splitter.finish()
        if rest:
            yield _sse(
                chat_chunk(
                    cid, model, created, {"tool_calls": [tool_call_delta(0, None, None, rest)]}
                )
            )
    if auto_buf:
        text = "".join(auto_buf)
        call = parse_tool_call(text, tools.names)
        if call:
            yield _sse(
                chat_chunk(
                    cid,
                    model,
                    created,
                    {"tool_calls": [tool_call_delta(0, call_id, call[0], call[1])]},
                )
            )
            header_sent = True
        else:
            yield _sse(chat_chunk(cid, model, created, {"content": text}))
    if header_sent:
        finish = "tool_calls"
    yield _sse(chat_chunk(cid, model, created, {}, finish))
    if include_usage and last is not None:
        chunk = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage(last.prompt_tokens, last.completion_tokens),
        }
        yield _sse(chunk)
    if last is not None:
        _observe(st, lm.name, last, time.perf_counter() - t0, "chat")
    yield "data: [DONE]\n\n"


@router.post("/v1/completions", response_model=None)
async def completions(req: CompletionRequest, request: Request) -> Any:
    st = _state(request)
    lm = await lease(request, req.model)
    if isinstance(req.prompt, list):
        if len(req.prompt) != 1:
            raise BadInputError("prompt: send one prompt per request")
        prompt = req.prompt[0]
    else:
        prompt = req.prompt
    prep = await offload(prepare, lm, prompt, req.sampling(default_max=16))
    cid, created = new_id("cmpl"), now()
    st.metrics.requests.labels("completions", "200").inc()
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)

        async def gen() -> AsyncIterator[str]:
            t0 = time.perf_counter()
            last = None
            if req.echo:
                yield _sse(_cmpl_chunk(cid, created, req.model, prompt, None))
            async for ev in events(lm, prep):
                last = ev
                if ev.error:
                    yield _sse(openai_error(ev.error, "server_error"))
                    return
                if ev.text:
                    yield _sse(_cmpl_chunk(cid, created, req.model, ev.text, None))
            yield _sse(
                _cmpl_chunk(
                    cid, created, req.model, "", (last.finish_reason if last else None) or "stop"
                )
            )
            if include_usage and last is not None:
                yield _sse(
                    {
                        "id": cid,
                        "object": "text_completion",
                        "created": created,
                        "model": req.model,
                        "choices": [],
                        "usage": usage(last.prompt_tokens, last.completion_tokens),
                    }
                )
            if last is not None:
                _observe(st, lm.name, last, time.perf_counter() - t0, "completions")
            yield "data: [DONE]\n\n"

        return StreamingResponse(gen(), media_type=SSE, headers=_warn_headers(prep.warnings))
    t0 = time.perf_counter()
    text, last = await run_to_end(lm, prep)
    _observe(st, lm.name, last, time.perf_counter() - t0, "completions")
    body = {
        "id": cid,
        "object": "text_completion",
        "created": created,
        "model": req.model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "text": (prompt + text) if req.echo else text,
                "logprobs": None,
                "finish_reason": last.finish_reason or "stop",
            }
        ],
        "usage": usage(last.prompt_tokens, last.completion_tokens),
    }
    if prep.warnings:
        body["warnings"] = prep.warnings
    return JSONResponse(body, headers=_warn_headers(prep.warnings))


def _cmpl_chunk(
    cid: str, created: int, model: str, text: str, finish: str | None
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
    }


@router.post("/v1/embeddings")
async def embeddings(req: EmbeddingRequest, request: Request) -> dict[str, Any]:
    st = _state(request)
    lm = await lease(request, req.model)
    inputs = [req.input] if isinstance(req.input, str) else req.input
    if not inputs or any(not isinstance(x, str) or not x for x in inputs):
        raise BadInputError("input: give a non-empty string or list of non-empty strings")
    if len(inputs) > 256:
        raise BadInputError("input: at most 256 strings per request")

    def work() -> tuple[list[list[float]], int]:
        emb = st.manager.embedder(lm)
        with lm.embed_lock:
            vecs, n = [], 0
            for text in inputs:
                toks = emb.tokenize(text.encode("utf-8"))
                n += len(toks)
                v = emb.embed(text, normalize=True, truncate=True)
                if v and isinstance(v[0], list):  # per-token output: mean-pool, then unit length
                    v = [sum(col) / len(v) for col in zip(*v, strict=True)]
                    norm = sum(x * x for x in v) ** 0.5 or 1.0
                    v = [x / norm for x in v]
                vecs.append(list(v))
            return vecs, n

    vecs, n = await offload(work)
    st.metrics.requests.labels("embeddings", "200").inc()
    return {
        "object": "list",
        "model": req.model,
        "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vecs)],
        "usage": {"prompt_tokens": n, "total_tokens": n},
    }
