"""Generation plumbing shared by the OpenAI and Ollama routes.

A request becomes a :class:`GenRequest` for the model's batch scheduler; its events
cross from the scheduler thread into an asyncio queue.  If the HTTP client goes
away, the stream is cancelled and the request frees its slot at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from llmatlas.errors import BadInputError
from llmatlas.runtime.batching import Event, GenRequest
from llmatlas.runtime.engines import SamplingOptions
from llmatlas.server.manager import Loaded


@dataclass
class Prepared:
    """A request ready for the scheduler: tokens, sampling, and what was adjusted."""

    tokens: list[int]
    sampling: SamplingOptions
    warnings: list[str] = field(default_factory=list)


def prepare(
    lm: Loaded,
    prompt: str,
    sampling: SamplingOptions,
    num_ctx: int | None = None,
    add_special: bool = True,
) -> Prepared:
    """Tokenize and fit the request into the context: a prompt that cannot fit is a 400 with the
    limits; ``max_tokens`` beyond the context is clamped, and said so."""
    warnings = []
    limit = lm.n_ctx
    if num_ctx is not None:
        if num_ctx > lm.n_ctx:
            warnings.append(
                f"num_ctx {num_ctx} above this server's {lm.n_ctx} per request; using {lm.n_ctx}"
            )
        limit = min(num_ctx, lm.n_ctx)
    n_bytes = len(prompt.encode("utf-8", errors="replace"))
    if n_bytes > 4 * limit and n_bytes > limit * lm.sched.max_piece_bytes:
        # more tokens than the context for certain: refuse without the tokenizer's CPU time
        raise BadInputError(
            f"prompt is {n_bytes} bytes, over {limit} tokens for certain; the context is "
            f"{limit} tokens (prompt + completion) for this model on this server; shorten it"
        )
    tokens = lm.sched.tokenize(prompt, add_special)
    if len(tokens) >= limit:
        raise BadInputError(
            f"prompt is {len(tokens)} tokens; the context is {limit} tokens (prompt + completion) "
            "for this model on this server; shorten the prompt"
        )
    room = limit - len(tokens)
    if sampling.max_tokens > room:
        warnings.append(
            f"max_tokens {sampling.max_tokens} clamped to {room} to fit the {limit}-token context"
        )
        sampling = sampling.model_copy(update={"max_tokens": room})
    return Prepared(tokens, sampling, warnings)


async def events(lm: Loaded, prep: Prepared) -> AsyncIterator[Event]:
    """Run one request on the model's scheduler, yielding its events as they come."""
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[Event] = asyncio.Queue()

    def emit(ev: Event) -> None:
        loop.call_soon_threadsafe(q.put_nowait, ev)

    req = GenRequest(prep.tokens, prep.sampling, emit)
    lm.sched.submit(req)
    lm.last_used = time.time()
    try:
        while True:
            ev = await q.get()
            yield ev
            if ev.finish_reason:
                return
    finally:
        req.cancel()  # no-op if finished; frees the slot if the client went away
        lm.last_used = time.time()


async def run_to_end(lm: Loaded, prep: Prepared) -> tuple[str, Event]:
    parts = []
    last = Event()
    async for ev in events(lm, prep):
        parts.append(ev.text)
        last = ev
    if last.error:
        from llmatlas.errors import EngineError

        raise EngineError(last.error)
    return "".join(parts), last


# --------------------------------------------------------------------- structured output
def grammar_for_format(kind: str | None, schema: dict[str, Any] | None) -> str | None:
    """GBNF that forces valid JSON (any object, or one matching ``schema``)."""
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return JSON_GBNF
    if kind == "json_schema":
        if not schema:
            raise BadInputError("response_format.json_schema.schema is required for json_schema")
        try:
            return str(json_schema_to_gbnf(json.dumps(schema)))
        except Exception as exc:
            raise BadInputError(f"response_format: cannot use this JSON schema: {exc}") from None
    raise BadInputError(f"response_format.type {kind!r} is not supported")


@dataclass
class ToolPlan:
    """How a request with tools is answered.

    ``forced``: the grammar makes the model emit a call (``name`` known up front when a
    single function is forced, else the output is ``{"name": ..., "arguments": {...}}``).
    ``auto``: tools go into the prompt; output that parses as a call becomes one.
    """

    mode: str  # "none" | "auto" | "forced"
    name: str | None = None
    grammar: str | None = None
    names: list[str] = field(default_factory=list)


def plan_tools(tools: list[Any] | None, tool_choice: Any) -> ToolPlan:
    if not tools or tool_choice == "none":
        return ToolPlan("none")
    by_name = {t.function.name: t.function for t in tools}
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        if name not in by_name:
            raise BadInputError(f"tool_choice names {name!r}, which is not among the tools")
        return ToolPlan("forced", name, _schema_grammar(by_name[name].parameters), list(by_name))
    if tool_choice == "required":
        if len(by_name) == 1:
            name = next(iter(by_name))
            return ToolPlan(
                "forced", name, _schema_grammar(by_name[name].parameters), list(by_name)
            )
        schema = {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"name": {"const": n}, "arguments": f.parameters},
                    "required": ["name", "arguments"],
                }
                for n, f in by_name.items()
            ]
        }
        return ToolPlan("forced", None, _schema_grammar(schema), list(by_name))
    if tool_choice not in (None, "auto"):
        raise BadInputError(
            "tool_choice must be none, auto, required or {type: function, function: {name}}"
        )
    return ToolPlan("auto", names=list(by_name))


def _schema_grammar(schema: dict[str, Any]) -> str:
    try:
        return str(json_schema_to_gbnf(json.dumps(schema or {"type": "object"})))
    except Exception as exc:
        raise BadInputError(f"tools: cannot use this parameters schema: {exc}") from None


def parse_tool_call(text: str, names: list[str]) -> tuple[str, str] | None:
    """(name, arguments JSON string) if ``text`` is a tool call in one of the common shapes."""
    t = text.strip()
    for open_, close in (("<tool_call>", "</tool_call>"), ("```json", "```")):
        if t.startswith(open_):
            t = t[len(open_) :].split(close)[0].strip()
    try:
        obj = json.loads(t)
    except (ValueError, TypeError):
        return None
    if isinstance(obj, dict) and obj.get("name") in names:
        args = obj.get("arguments", obj.get("parameters", {}))
        return obj["name"], json.dumps(args if isinstance(args, dict) else {})
    return None


class ForcedCallSplitter:
    """Streams a grammar-forced multi-tool output ``{"name": "x", "arguments": {...}}``:
    the name once it is complete, then the arguments as they are generated."""

    def __init__(self) -> None:
        self.buf = ""
        self.name: str | None = None
        self.args_start: int | None = None
        self.sent = 0

    def feed(self, text: str) -> tuple[str | None, str]:
        """Returns (name if it just became known, new arguments text)."""
        self.buf += text
        new_name = None
        if self.args_start is None:
            k = self.buf.find('"arguments"')
            n = self.buf.find('"name"')
            colon = self.buf.find(":", k) if k >= 0 else -1
            if n >= 0 and colon >= 0:
                try:
                    self.name = json.loads("{" + self.buf[n : self.buf.rfind(",", 0, k)] + "}")[
                        "name"
                    ]
                except (ValueError, KeyError):
                    return None, ""
                self.args_start = colon + 1
                new_name = self.name
        if self.args_start is None:
            return new_name, ""
        body = self.buf[self.args_start :]
        stripped = body.rstrip()
        # never send the last "}" yet: it may close the outer object, not the arguments
        cut = len(stripped) - 1 if stripped.endswith("}") else len(stripped)
        out = body[self.sent : cut] if cut > self.sent else ""
        self.sent = max(self.sent, cut)
        return new_name, out

    def finish(self) -> str:
        if self.args_start is None:
            return ""
        body = self.buf[self.args_start :].rstrip()
        if body.endswith("}"):
            body = body[:-1].rstrip()  # the outer object's closing brace
        out = body[self.sent :]
        self.sent = len(body)
        return out
