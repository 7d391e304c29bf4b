"""Ollama-compatible routes: chat, generate (NDJSON streaming), tags, show, ps, version."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from llmatlas.errors import BadInputError
from llmatlas.server.gen import (
    chat_messages,
    events,
    grammar_for_format,
    plan_tools,
    prepare,
    with_tool_calls,
)
from llmatlas.server.manager import Loaded, lease, parse_keep_alive
from llmatlas.server.ollama import translate as tr
from llmatlas.server.ollama.routes import model_details, respond
from llmatlas.server.security import offload
from llmatlas.server.wire import (
    OllamaChatRequest,
    OllamaGenerateRequest,
    OllamaShowRequest,
)

router = APIRouter(tags=["ollama"])
NO_IMAGES = "images: the models llmatlas serves take text only"
NDJSON = "application/x-ndjson"


def _format_grammar(fmt: str | dict[str, Any] | None) -> str | None:
    """Ollama's ``format`` as a grammar, through its OpenAI ``response_format``."""
    rf = tr.openai_response_format(fmt)
    if rf is None:
        return None
    return grammar_for_format(rf["type"], rf.get("json_schema", {}).get("schema"))


async def _model(request: Request, name: str, keep_alive: Any) -> Loaded:
    """The model, held for this request; ``keep_alive: 0`` unloads it when its last request
    (this one or another client's) ends, never under someone else's stream."""
    return await lease(request, name, parse_keep_alive(keep_alive))


@router.post("/api/chat", response_model=None)
async def chat(req: OllamaChatRequest, request: Request) -> Any:
    if any(m.images for m in req.messages):
        raise BadInputError(NO_IMAGES)
    t_load = time.perf_counter()
    lm = await _model(request, req.model, req.keep_alive)
    load_s = time.perf_counter() - t_load
    if not req.messages:  # Ollama: an empty chat just loads (or unloads) the model
        return tr.load_reply(
            req.model, chat=True, reason="unload" if lm.keep_alive == 0 else "load"
        )
    options = tr.options_with_defaults(req.options, lm.modelfile.parameters)
    sampling = options.sampling(default_max=lm.n_ctx)
    # JSON schema -> grammar compilation is CPU work: off the event loop
    tools = await offload(plan_tools, req.tools, (req.tool_choice or "auto") if req.tools else None)
    grammar = (
        tools.grammar if tools.mode == "forced" else await offload(_format_grammar, req.format)
    )
    if grammar:
        sampling = sampling.model_copy(update={"grammar": grammar})
    msgs = tr.with_system([m.model_dump(exclude_none=True) for m in req.messages], lm.modelfile)
    tool_defs = [t.model_dump() for t in req.tools] if req.tools else None
    msgs = chat_messages(msgs, tool_defs, lm.chat.template)
    prompt = await offload(lm.chat.render, msgs, True, tool_defs)
    sampling = lm.chat.with_turn_stops(sampling)
    prep = await offload(
        prepare, lm, prompt, sampling, options.num_ctx, add_special=not lm.chat.is_chat
    )
    reply = tr.Reply(req.model, chat=True, t0=time.perf_counter(), load_s=load_s)
    return await respond(with_tool_calls(events(lm, prep), tools), reply, req.stream)


@router.post("/api/generate", response_model=None)
async def generate(req: OllamaGenerateRequest, request: Request) -> Any:
    if req.images:
        raise BadInputError(NO_IMAGES)
    if req.suffix:
        raise BadInputError(
            "suffix: this server has no fill-in-the-middle templates; send prompt only"
        )
    t_load = time.perf_counter()
    lm = await _model(request, req.model, req.keep_alive)
    load_s = time.perf_counter() - t_load
    if not req.prompt and not req.system:
        return tr.load_reply(
            req.model, chat=False, reason="unload" if lm.keep_alive == 0 else "load"
        )
    options = tr.options_with_defaults(req.options, lm.modelfile.parameters)
    sampling = options.sampling(default_max=lm.n_ctx)
    system = req.system if req.system is not None else lm.modelfile.system
    grammar = await offload(_format_grammar, req.format)
    if grammar:
        sampling = sampling.model_copy(update={"grammar": grammar})
    if req.raw or not lm.chat.is_chat:
        prompt = (system + "\n\n" if system and not req.raw else "") + req.prompt
        add_special = True
    else:
        msgs = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": req.prompt}
        ]
        prompt = await offload(lm.chat.render, msgs, True)
        add_special = False
        sampling = lm.chat.with_turn_stops(sampling)
    prep = await offload(
        prepare, lm, prompt, sampling, options.num_ctx, add_special=add_special, prefix=req.context
    )
    reply = tr.Reply(
        req.model, chat=False, t0=time.perf_counter(), load_s=load_s, context=prep.tokens
    )
    return await respond(events(lm, prep), reply, req.stream)


@router.get("/api/tags")
def tags(request: Request) -> dict[str, Any]:
    st = request.app.state.atlas
    st.store.ensure_embedded()
    return {
        "models": [
            {
                "name": m.name,
                "model": m.name,
                "modified_at": tr.iso(),
                "size": m.size_bytes,
                "digest": m.sha256,
                "details": model_details(st, m.name).model_dump(),
            }
            for m in st.store.list()
        ]
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
                "details": model_details(st, lm.name).model_dump(),
                "expires_at": tr.iso(expires),
                "size_vram": 0,
                "context_length": lm.n_ctx,
            }
        )
    return {"models": out}


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
