"""Pure translations between OpenAI's wire shapes and llmatlas's own objects (no I/O):
requests to native messages, events to the typed responses of ``server/openai/models.py``."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any

from llmatlas.errors import BadInputError
from llmatlas.runtime.deltas import Event, TokenLogprob, ToolCallDelta
from llmatlas.server.gen import (
    CALL_STARTS,
    ForcedCallSplitter,
    ToolPlan,
    calls_in,
    parse_tool_calls,
)
from llmatlas.server.openai import models as m
from llmatlas.server.wire import ChatCompletionRequest, new_id

MAX_EMBED_INPUTS = 2048  # OpenAI's own limit on inputs per request


def embedding_inputs(
    value: str | list[str] | list[int] | list[list[int]], tokenize: Callable[[str], list[int]]
) -> list[list[int]]:
    """Token ids of each input: a string, strings, one token array, or token arrays."""
    if isinstance(value, str):
        items: list[Any] = [value]
    elif value and all(isinstance(x, int) for x in value):
        items = [list(value)]
    else:
        items = list(value)
    if not items:
        raise BadInputError("input: give a string, a list of strings or token arrays")
    if len(items) > MAX_EMBED_INPUTS:
        raise BadInputError(f"input: at most {MAX_EMBED_INPUTS} inputs per request")
    out = []
    for item in items:
        ids = tokenize(item) if isinstance(item, str) else list(item)
        if not ids or (isinstance(item, str) and not item):
            raise BadInputError("input: an empty input has no embedding")
        out.append(ids)
    return out


def encode_embedding(vec: list[float], fmt: str) -> list[float] | str:
    """``base64``: the little-endian float32 bytes, as OpenAI's API sends them."""
    if fmt == "base64":
        return base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode("ascii")
    return vec


def embedding_response(
    model: str, vecs: list[list[float]], n_tokens: int, fmt: str = "float"
) -> m.EmbeddingList:
    return m.EmbeddingList(
        model=model,
        data=[m.Embedding(index=i, embedding=encode_embedding(v, fmt)) for i, v in enumerate(vecs)],
        usage=m.EmbeddingUsage(prompt_tokens=n_tokens, total_tokens=n_tokens),
    )


# ------------------------------------------------------------------------------ models
def model_list(names: list[tuple[str, int]]) -> m.ModelList:
    """``/v1/models`` from (id, created) pairs, each id once."""
    seen: set[str] = set()
    data = []
    for name, created in names:
        if name not in seen:
            seen.add(name)
            data.append(m.Model(id=name, created=created))
    return m.ModelList(data=data)


# ------------------------------------------------------------------------------ chat
def _json_or_text(s: str | None) -> Any:
    """Earlier tool-call arguments as an object for the chat template; left as text if not JSON."""
    try:
        return json.loads(s or "{}")
    except ValueError:
        return s


def chat_messages_of(req: ChatCompletionRequest) -> list[dict[str, Any]]:
    """A chat request's messages as the chat template takes them (``developer`` is the system
    role; earlier calls' arguments as objects)."""
    out = []
    for msg in req.messages:
        d: dict[str, Any] = {
            "role": "system" if msg.role == "developer" else msg.role,
            "content": msg.text(),
        }
        if msg.tool_calls:
            d["tool_calls"] = [
                {
                    "type": "function",
                    "function": {
                        "name": c.function.name,
                        "arguments": _json_or_text(c.function.arguments),
                    },
                }
                for c in msg.tool_calls
            ]
        if msg.tool_call_id:
            d["tool_call_id"] = msg.tool_call_id
        out.append(d)
    return out


def usage_of(lasts: list[Event]) -> m.Usage:
    """One request's usage from its choices' last events (they share the prompt)."""
    prompt = lasts[0].prompt_tokens if lasts else 0
    return m.Usage.of(prompt, sum(e.completion_tokens for e in lasts))


def system_fingerprint(model_sha256: str) -> str:
    """Names the exact weights that answered (OpenAI: the backend configuration)."""
    return f"fp_{model_sha256[:12]}" if model_sha256 else "fp_unknown"


def _piece_text(piece: bytes) -> str:
    return piece.decode("utf-8", errors="replace")


def chat_logprobs(lps: list[TokenLogprob]) -> dict[str, Any]:
    """OpenAI chat ``logprobs``: per token its text, bytes, logprob and alternatives."""
    return {
        "content": [
            {
                "token": _piece_text(lp.piece),
                "logprob": lp.logprob,
                "bytes": list(lp.piece),
                "top_logprobs": [
                    {"token": _piece_text(p), "logprob": v, "bytes": list(p)} for _, p, v in lp.top
                ],
            }
            for lp in lps
        ],
        "refusal": None,
    }


def completion_logprobs(lps: list[TokenLogprob], offset: int = 0) -> dict[str, Any]:
    """The legacy completions ``logprobs``: parallel lists and character offsets."""
    tokens, offsets = [], []
    pos = offset
    for lp in lps:
        text = _piece_text(lp.piece)
        tokens.append(text)
        offsets.append(pos)
        pos += len(text)
    return {
        "tokens": tokens,
        "token_logprobs": [lp.logprob for lp in lps],
        "top_logprobs": [{_piece_text(p): v for _, p, v in lp.top} for lp in lps],
        "text_offset": offsets,
    }


def tool_call_delta(
    index: int, call_id: str | None, name: str | None, args: str
) -> m.ToolCallDelta:
    return m.ToolCallDelta(
        index=index,
        id=call_id,
        type="function" if call_id is not None else None,
        function=m.FunctionCallDelta(name=name, arguments=args),
    )


def tool_calls_message(calls: list[tuple[str, str]]) -> list[m.ToolCall]:
    return [
        m.ToolCall(id=new_id("call"), function=m.FunctionCall(name=n, arguments=a))
        for n, a in calls
    ]


def chat_choice(
    index: int,
    text: str,
    finish: str,
    tools: ToolPlan,
    lps: list[TokenLogprob] | None,
) -> m.ChatChoice:
    """One choice of a whole chat completion."""
    calls = calls_in(text, tools)
    message = m.ChatMessage(content=text)
    if calls:
        message = m.ChatMessage(content=None, tool_calls=tool_calls_message(calls))
        finish = "tool_calls"
    return m.ChatChoice(
        index=index,
        message=message,
        logprobs=chat_logprobs(lps) if lps is not None else None,
        finish_reason=finish,
    )


def chat_completion(
    cid: str,
    created: int,
    model: str,
    fingerprint: str,
    choices: list[m.ChatChoice],
    lasts: list[Event],
    warnings: list[str],
) -> m.ChatCompletion:
    head = _head(cid, created, model, fingerprint)
    return m.ChatCompletion(
        **head, choices=choices, usage=usage_of(lasts), warnings=warnings or None
    )


def _head(cid: str, created: int, model: str, fingerprint: str) -> dict[str, Any]:
    """The fields every completion object and chunk starts with."""
    return {"id": cid, "created": created, "model": model, "system_fingerprint": fingerprint}


class ChoiceStream:
    """One choice of a streamed chat completion: events in, OpenAI ``choices`` items out.

    A forced call streams its arguments as they come; in ``auto`` mode an answer that
    begins like a call is held back and sent, at the end, as calls or as text.
    """

    def __init__(self, index: int, tools: ToolPlan, logprobs: bool) -> None:
        self.index = index
        self.tools = tools
        self.want_lp = logprobs
        self.call_id = new_id("call")
        self.splitter = (
            ForcedCallSplitter() if (tools.mode == "forced" and not tools.name) else None
        )
        self.header_sent = False
        self.held: list[str] | None = [] if tools.mode == "auto" else None
        self.held_lp: list[TokenLogprob] = []

    def _item(
        self,
        delta: m.Delta,
        finish: str | None = None,
        lps: list[TokenLogprob] | None = None,
    ) -> m.ChunkChoice:
        return m.ChunkChoice(
            index=self.index,
            delta=delta,
            logprobs=chat_logprobs(lps) if (self.want_lp and lps) else None,
            finish_reason=finish,
        )

    def start(self) -> m.ChunkChoice:
        return self._item(m.Delta(role="assistant"))

    def _call(self, delta: m.ToolCallDelta) -> m.ChunkChoice:
        return self._item(m.Delta(tool_calls=[delta]))

    def feed(self, text: str, lps: list[TokenLogprob]) -> list[m.ChunkChoice]:
        if not text:
            return []
        out = []
        if self.tools.mode == "forced" and self.tools.name:
            if not self.header_sent:
                out.append(self._call(tool_call_delta(0, self.call_id, self.tools.name, "")))
                self.header_sent = True
            out.append(self._call(tool_call_delta(0, None, None, text)))
        elif self.splitter is not None:
            name, args = self.splitter.feed(text)
            if name:
                out.append(self._call(tool_call_delta(0, self.call_id, name, "")))
                self.header_sent = True
            if args:
                out.append(self._call(tool_call_delta(0, None, None, args)))
        elif self.held is not None and (self.held or text.lstrip().startswith(CALL_STARTS)):
            self.held.append(text)  # may be a tool call: decided at the end
            self.held_lp += lps
        else:
            out.append(self._item(m.Delta(content=text), lps=lps))
        return out

    def finish(self, reason: str) -> list[m.ChunkChoice]:
        out = []
        if self.splitter is not None:
            rest = self.splitter.finish()
            if rest:
                out.append(self._call(tool_call_delta(0, None, None, rest)))
        if self.held:
            text = "".join(self.held)
            calls = parse_tool_calls(text, self.tools.names)
            for k, (name, args) in enumerate(calls):
                out.append(self._call(tool_call_delta(k, new_id("call"), name, args)))
            if calls:
                self.header_sent = True
            else:
                out.append(self._item(m.Delta(content=text), lps=self.held_lp))
        out.append(self._item(m.Delta(), "tool_calls" if self.header_sent else reason))
        return out


def chunk(
    cid: str,
    model: str,
    created: int,
    fingerprint: str,
    choices: list[m.ChunkChoice],
    usage: m.Usage | None = None,
) -> m.ChatCompletionChunk:
    head = _head(cid, created, model, fingerprint)
    return m.ChatCompletionChunk(**head, choices=choices, usage=usage)


# ------------------------------------------------------------------------ completions
def completion(
    cid: str,
    created: int,
    model: str,
    fingerprint: str,
    choices: list[m.CompletionChoice],
    usage: m.Usage | None = None,
    warnings: list[str] | None = None,
) -> m.Completion:
    """A whole text completion, or (no usage, one choice) a chunk of a streamed one."""
    head = _head(cid, created, model, fingerprint)
    return m.Completion(**head, choices=choices, usage=usage, warnings=warnings or None)


def prompt_inputs(value: str | list[str] | list[int] | list[list[int]]) -> list[str | list[int]]:
    """The prompts of a completions request: a string, strings, token ids or token-id lists."""
    if isinstance(value, str):
        return [value]
    if not value:
        raise BadInputError("prompt: give a string, strings, or token ids")
    if all(isinstance(x, int) for x in value):
        return [list(value)]  # type: ignore[arg-type]
    out: list[str | list[int]] = []
    for item in value:
        if isinstance(item, list) and not item:
            raise BadInputError("prompt: an empty token list")
        out.append(item)  # type: ignore[arg-type]
    return out


# ---------------------------------------------- an OpenAI-compatible engine's stream -> events
def chunk_event(chunk: dict[str, Any]) -> tuple[Event | None, str | None, dict[str, Any] | None]:
    """One streamed chunk of an engine's ``/chat/completions`` or ``/completions`` answer as
    (the event with its text and tool-call fragments or None, its finish reason, its usage):
    the first choice only, as the proxy asks for one."""
    usage = chunk.get("usage") or None
    choices = chunk.get("choices") or []
    if not choices:
        return None, None, usage
    ch = choices[0]
    delta = ch.get("delta") or {}
    text = (delta.get("content") if "delta" in ch else ch.get("text")) or ""
    calls = [
        ToolCallDelta(
            int(d.get("index", 0)),
            d.get("id"),
            (d.get("function") or {}).get("name") or "",
            (d.get("function") or {}).get("arguments") or "",
        )
        for d in delta.get("tool_calls") or []
    ]
    ev = Event(text=text, tool_calls=calls) if text or calls else None
    return ev, ch.get("finish_reason"), usage
