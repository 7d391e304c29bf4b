"""OpenAI-compatible routes: chat completions, completions, models, embeddings."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from llmatlas.errors import AtlasError, EngineError, StoreError, UnknownModelError
from llmatlas.runtime.deltas import Event, TokenLogprob
from llmatlas.server.gen import (
    Prepared,
    ToolPlan,
    chat_messages,
    check_capacity,
    copies,
    grammar_for_format,
    merged_events,
    plan_tools,
    prepare,
)
from llmatlas.server.manager import Loaded, lease
from llmatlas.server.openai import responses as rs
from llmatlas.server.openai import translate as oa
from llmatlas.server.openai.models import (
    ChunkChoice,
    Completion,
    CompletionChoice,
    EmbeddingList,
    Model,
    ModelList,
    Usage,
)
from llmatlas.server.openai.translate import embedding_inputs, embedding_response
from llmatlas.server.security import offload
from llmatlas.server.wire import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    new_id,
    now,
    openai_error,
)

router = APIRouter(tags=["openai"])
SSE = "text/event-stream"


def _state(request: Request) -> Any:
    return request.app.state.atlas


def _sse(obj: BaseModel | dict[str, Any]) -> str:
    if isinstance(obj, BaseModel):
        return f"data: {obj.model_dump_json()}\n\n"
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def _models(st: Any) -> ModelList:
    """Stored models (the embedded one even before its first use), then ``--alias`` names."""
    names = [
        (
            m.name,
            int(time.mktime(time.strptime(m.pulled_at, "%Y-%m-%d %H:%M:%S")))
            if m.pulled_at
            else now(),
        )
        for m in st.store.list()
    ]
    names += [("gemma-3-270m", now())] + [(a, now()) for a in st.cfg.aliases]
    return oa.model_list(names)


@router.get("/v1/models")
def list_models(request: Request) -> ModelList:
    return _models(_state(request))


@router.get("/v1/models/{model_id:path}")
def get_model(model_id: str, request: Request) -> Model:
    st = _state(request)
    for m in _models(st).data:
        if m.id.lower() == model_id.lower():
            return m
    try:  # a catalog id or alias of a stored model; else 404 with suggestions
        st.manager.resolve(model_id)
    except StoreError:
        raise UnknownModelError(model_id, hint="it is in the catalog but not downloaded") from None
    return Model(id=model_id, created=now())


def plan_chat(lm: Loaded, req: ChatCompletionRequest) -> tuple[list[Prepared], ToolPlan]:
    """The native requests (one per ``n``) and the tool plan of a chat completion request
    (CPU work: template rendering and tokenizing; run it off the event loop)."""
    sampling = req.sampling(default_max=lm.n_ctx)
    tools = plan_tools(req.tools, req.tool_choice)
    grammar = grammar_for_format(*req.output_schema())
    if req.grammar is not None:
        lm.sched.check_grammar(req.grammar)
        grammar = req.grammar
    if tools.mode == "forced":
        grammar = tools.grammar
    if grammar:
        sampling = sampling.model_copy(update={"grammar": grammar})
    if req.logprobs or req.top_logprobs:
        sampling = sampling.model_copy(update={"logprobs": req.top_logprobs or 0})
    tool_defs = (
        [t.model_dump() for t in req.tools] if (req.tools and tools.mode != "none") else None
    )
    msgs = chat_messages(oa.chat_messages_of(req), tool_defs, lm.chat.template)
    prompt = lm.chat.render(msgs, True, tool_defs)
    sampling = lm.chat.with_turn_stops(sampling)
    prep = prepare(lm, prompt, sampling, add_special=not lm.chat.is_chat)
    preps = copies(prep, req.n)
    check_capacity(lm, preps)
    return preps, tools


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(req: ChatCompletionRequest, request: Request) -> Any:
    st = _state(request)
    lm = await lease(request, req.model)
    preps, tools = await offload(plan_chat, lm, req)
    cid, created = new_id("chatcmpl"), now()
    fp = oa.system_fingerprint(lm.stored.sha256)
    warnings = preps[0].warnings
    want_lp = bool(req.logprobs or req.top_logprobs)
    st.metrics.requests.labels("chat", "200").inc()
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        return StreamingResponse(
            _chat_stream(st, lm, preps, cid, created, fp, req.model, tools, want_lp, include_usage),
            media_type=SSE,
            headers=_warn_headers(warnings),
        )
    t0 = time.perf_counter()
    results = await run_all(lm, preps)
    choices = []
    for i, (text, last, lps) in enumerate(results):
        _observe(st, lm.name, last, time.perf_counter() - t0, "chat")
        choices.append(
            oa.chat_choice(i, text, last.finish_reason or "stop", tools, lps if want_lp else None)
        )
    lasts = [r[1] for r in results]
    body = oa.chat_completion(cid, created, req.model, fp, choices, lasts, warnings)
    return JSONResponse(body.model_dump(mode="json"), headers=_warn_headers(warnings))


async def run_all(lm: Loaded, preps: list[Prepared]) -> list[tuple[str, Event, list[TokenLogprob]]]:
    """Run every request to its end: (text, last event, logprobs) per request."""
    texts: list[list[str]] = [[] for _ in preps]
    lps: list[list[TokenLogprob]] = [[] for _ in preps]
    last: list[Event] = [Event() for _ in preps]
    async for i, ev in merged_events(lm, preps, raise_refusals=True):
        if ev.error:
            raise EngineError(ev.error)
        texts[i].append(ev.text)
        lps[i] += ev.logprobs
        last[i] = ev
    return [("".join(t), e, lp) for t, e, lp in zip(texts, last, lps, strict=True)]


def _warn_headers(warnings: list[str]) -> dict[str, str]:
    return {"X-Llmatlas-Warning": "; ".join(warnings)} if warnings else {}


def _observe(st: Any, model: str, last: Any, seconds: float, route: str) -> None:
    st.metrics.prompt_tokens.labels(model).inc(last.prompt_tokens)
    st.metrics.completion_tokens.labels(model).inc(last.completion_tokens)
    if last.ttft_s is not None:
        st.metrics.ttft.labels(model).observe(last.ttft_s)
    st.metrics.latency.labels(route).observe(seconds)


async def _chat_stream(
    st: Any,
    lm: Loaded,
    preps: list[Prepared],
    cid: str,
    created: int,
    fp: str,
    model: str,
    tools: ToolPlan,
    want_lp: bool,
    include_usage: bool,
) -> AsyncIterator[str]:
    t0 = time.perf_counter()
    streams = [oa.ChoiceStream(i, tools, want_lp) for i in range(len(preps))]

    def sse(choices: list[ChunkChoice], use: Usage | None = None) -> str:
        return _sse(oa.chunk(cid, model, created, fp, choices, use))

    for cs in streams:
        yield sse([cs.start()])
    lasts: list[Event] = [Event() for _ in preps]
    try:
        async for i, ev in merged_events(lm, preps):
            lasts[i] = ev
            if ev.error:
                yield _sse(openai_error(ev.error, "server_error"))
                return
            items = streams[i].feed(ev.text, ev.logprobs)
            if ev.finish_reason:
                items += streams[i].finish(ev.finish_reason)
            for item in items:
                yield sse([item])
    except AtlasError as exc:
        yield _sse(openai_error(str(exc)))
        return
    if include_usage:
        yield sse([], oa.usage_of(lasts))
    for last in lasts:
        _observe(st, lm.name, last, time.perf_counter() - t0, "chat")
    yield "data: [DONE]\n\n"


@router.post("/v1/completions", response_model=None)
async def completions(req: CompletionRequest, request: Request) -> Any:
    st = _state(request)
    lm = await lease(request, req.model)
    sampling = req.sampling(default_max=16)
    if req.logprobs is not None:
        sampling = sampling.model_copy(update={"logprobs": req.logprobs})
    prompts = oa.prompt_inputs(req.prompt)

    def plan() -> list[Prepared]:
        preps: list[Prepared] = []
        for p in prompts:
            if isinstance(p, str):
                one = prepare(lm, p, sampling)
            else:
                one = prepare(lm, "", sampling, prefix=p)
            preps += copies(one, req.n)
        return preps

    preps = await offload(plan)
    check_capacity(lm, preps)  # before a stream starts: a 400, not an error chunk
    texts = [p if isinstance(p, str) else lm.sched.detokenize(p) for p in prompts]
    echo = [texts[k // req.n] if req.echo else "" for k in range(len(preps))]
    cid, created = new_id("cmpl"), now()
    fp = oa.system_fingerprint(lm.stored.sha256)
    warnings = preps[0].warnings
    st.metrics.requests.labels("completions", "200").inc()

    def lp(lps: list[TokenLogprob], offset: int) -> dict[str, Any] | None:
        return oa.completion_logprobs(lps, offset) if req.logprobs is not None else None

    def one(k: int, text: str, finish: str | None, logprobs: dict[str, Any] | None) -> Completion:
        choice = CompletionChoice(index=k, text=text, logprobs=logprobs, finish_reason=finish)
        return oa.completion(cid, created, req.model, fp, [choice])

    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)

        async def gen() -> AsyncIterator[str]:
            t0 = time.perf_counter()
            lasts: list[Event] = [Event() for _ in preps]
            offsets = [len(e) for e in echo]
            for k, e in enumerate(echo):
                if e:
                    yield _sse(one(k, e, None, None))
            async for k, ev in merged_events(lm, preps):
                lasts[k] = ev
                if ev.error:
                    yield _sse(openai_error(ev.error, "server_error"))
                    return
                if ev.text or ev.finish_reason:
                    yield _sse(one(k, ev.text, ev.finish_reason, lp(ev.logprobs, offsets[k])))
                    offsets[k] += len(ev.text)
            if include_usage:
                yield _sse(oa.completion(cid, created, req.model, fp, [], oa.usage_of(lasts)))
            for last in lasts:
                _observe(st, lm.name, last, time.perf_counter() - t0, "completions")
            yield "data: [DONE]\n\n"

        return StreamingResponse(gen(), media_type=SSE, headers=_warn_headers(warnings))
    t0 = time.perf_counter()
    results = await run_all(lm, preps)
    choices = []
    for k, (text, last, lps) in enumerate(results):
        _observe(st, lm.name, last, time.perf_counter() - t0, "completions")
        choices.append(
            CompletionChoice(
                index=k,
                text=echo[k] + text,
                logprobs=lp(lps, len(echo[k])),
                finish_reason=last.finish_reason or "stop",
            )
        )
    use = oa.usage_of([r[1] for r in results])
    body = oa.completion(cid, created, req.model, fp, choices, use, warnings)
    return JSONResponse(body.model_dump(mode="json"), headers=_warn_headers(warnings))


@router.post("/v1/embeddings")
async def embeddings(req: EmbeddingRequest, request: Request) -> EmbeddingList:
    st = _state(request)
    lm = await lease(request, req.model)
    emb = await offload(st.manager.embedder, lm)

    def work() -> tuple[list[list[int]], list[list[float]]]:
        ids = [emb.check_tokens(x) for x in embedding_inputs(req.input, emb.tokenize)]
        return ids, emb.embed(ids)

    ids, vecs = await offload(work)
    st.metrics.requests.labels("embeddings", "200").inc()
    return embedding_response(req.model, vecs, sum(len(x) for x in ids), req.encoding_format)


@router.post("/v1/responses", response_model=None)
async def responses(req: rs.ResponsesRequest, request: Request) -> Any:  # Response or SSE
    """The Responses API over the chat path (text, tools, structured output; streamed too)."""
    st = _state(request)
    chat = rs.to_chat_request(req)
    lm = await lease(request, req.model)
    preps, tools = await offload(plan_chat, lm, chat)
    resp_id, created = f"resp_{new_id('r')[2:]}", now()
    st.metrics.requests.labels("responses", "200").inc()
    if req.stream:

        async def gen() -> AsyncIterator[str]:
            out = rs.ResponseStream(req, resp_id, created)
            cs = oa.ChoiceStream(0, tools, False)
            for ev in out.start():
                yield _sse_event(ev)
            last = Event()
            try:
                async for _, ev in merged_events(lm, preps):
                    last = ev
                    if ev.error:
                        yield _sse_event({"type": "error", "message": ev.error, "code": None})
                        return
                    items = cs.feed(ev.text, ev.logprobs)
                    if ev.finish_reason:
                        items += cs.finish(ev.finish_reason)
                    for item in items:
                        for out_ev in out.feed(item):
                            yield _sse_event(out_ev)
            except AtlasError as exc:
                yield _sse_event({"type": "error", "message": str(exc), "code": exc.code})
                return
            for out_ev in out.end(oa.usage_of([last])):
                yield _sse_event(out_ev)

        return StreamingResponse(gen(), media_type=SSE)
    ((text, last, _lps),) = await run_all(lm, preps)
    choice = oa.chat_choice(0, text, last.finish_reason or "stop", tools, None)
    return rs.response_object(
        req, resp_id, created, rs.output_of(choice), oa.usage_of([last]), last.finish_reason
    )


def _sse_event(ev: dict[str, Any]) -> str:
    return f"event: {ev['type']}\ndata: {json.dumps(ev, ensure_ascii=False)}\n\n"
