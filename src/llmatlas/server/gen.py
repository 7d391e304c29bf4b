"""Generation plumbing shared by the OpenAI and Ollama routes.

A request becomes a :class:`GenRequest` for the model's batch scheduler; its events
cross from the scheduler thread into an asyncio queue.  If the HTTP client goes
away, the stream is cancelled and the request frees its slot at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from llmatlas.errors import AtlasError, BadInputError
from llmatlas.runtime.batching import Event, GenRequest
from llmatlas.runtime.deltas import ToolCallDelta
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
    prefix: list[int] | None = None,
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
    tokens = lm.sched.tokenize(prompt, add_special and not prefix)
    if prefix:  # Ollama's `context`: the token ids an earlier /api/generate answered with
        if any(not 0 <= t < lm.sched.n_vocab for t in prefix):
            raise BadInputError("context: token ids outside this model's vocabulary")
        tokens = list(prefix) + tokens
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
    try:
        while True:
            ev = await q.get()
            yield ev
            if ev.finish_reason:
                return
    finally:
        req.cancel()  # no-op if finished; frees the slot if the client went away


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


def _call_of(obj: Any, names: list[str]) -> tuple[str, str] | None:
    if isinstance(obj, dict) and "function" in obj and isinstance(obj["function"], dict):
        obj = obj["function"]  # an OpenAI-shaped call
    if isinstance(obj, dict) and obj.get("name") in names:
        args = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                return None
        return obj["name"], json.dumps(args if isinstance(args, dict) else {})
    return None


def parse_tool_calls(text: str, names: list[str]) -> list[tuple[str, str]]:
    """[(name, arguments JSON)] when ``text`` is nothing but tool calls in a common shape:
    one JSON object, a JSON list of them, objects one per line, or each inside
    ``<tool_call>...</tool_call>`` or a fenced code block.  Anything else: no calls."""
    t = text.strip()
    blocks: list[str] = []
    for open_, close in (("<tool_call>", "</tool_call>"), ("```json", "```"), ("```", "```")):
        if t.startswith(open_):
            rest = t
            while rest.startswith(open_):
                body, sep, rest = rest[len(open_) :].partition(close)
                if not sep and open_ != "<tool_call>":
                    return []
                blocks.append(body.strip())
                rest = rest.strip()
            if rest:
                return []
            break
    else:
        blocks = [t]
    calls: list[tuple[str, str]] = []
    decoder = json.JSONDecoder()
    for block in blocks:
        pos = 0
        while pos < len(block):
            try:
                obj, end = decoder.raw_decode(block, pos)
            except ValueError:
                return []
            items = obj if isinstance(obj, list) else [obj]
            for item in items:
                call = _call_of(item, names)
                if call is None:
                    return []
                calls.append(call)
            pos = end
            while pos < len(block) and block[pos] in " \t\r\n,;":
                pos += 1
    return calls


def parse_tool_call(text: str, names: list[str]) -> tuple[str, str] | None:
    """The first tool call in ``text`` (see :func:`parse_tool_calls`), else None."""
    calls = parse_tool_calls(text, names)
    return calls[0] if calls else None


def calls_in(text: str, tools: ToolPlan) -> list[tuple[str, str]]:
    """The tool calls a whole answer makes under ``tools``'s plan."""
    if tools.mode == "forced" and tools.name:
        return [(tools.name, text.strip() or "{}")]
    if tools.mode in ("forced", "auto"):
        return parse_tool_calls(text, tools.names)
    return []


CALL_STARTS = ("{", "[", "<tool_call>", "```")
"""How a generated answer that may be a tool call begins (held back until the end)."""


async def with_tool_calls(evs: AsyncIterator[Event], tools: ToolPlan) -> AsyncIterator[Event]:
    """A local model's events with its tool calls as typed deltas, as an engine that parses
    calls itself (an upstream one) streams them: text that may be a call (all of it when a
    call is forced) is held back; at the end it becomes tool-call deltas on the last event,
    or is released as text when it is no call."""
    if tools.mode == "none":
        async for ev in evs:
            yield ev
        return
    held: list[str] = []
    async for ev in evs:
        final = bool(ev.finish_reason or ev.error)
        if ev.text and (tools.mode == "forced" or held or ev.text.lstrip().startswith(CALL_STARTS)):
            held.append(ev.text)
            if not final:
                continue
            ev = replace(ev, text="")
        if final and held and not ev.error:
            calls = calls_in("".join(held), tools)
            if calls:
                deltas = [ToolCallDelta(i, None, n, a) for i, (n, a) in enumerate(calls)]
                ev = replace(ev, tool_calls=deltas)
            else:
                ev = replace(ev, text="".join(held) + ev.text)
        yield ev


def tool_instructions(tools: list[dict[str, Any]]) -> str:
    """A system-prompt section offering ``tools`` to a model whose chat template has no
    tool syntax of its own; the answer shape is what :func:`parse_tool_calls` reads."""
    specs = "\n".join(json.dumps(t.get("function", t), ensure_ascii=False) for t in tools)
    return (
        "You can call these functions:\n"
        f"{specs}\n"
        "To call a function, answer with only a JSON object "
        '{"name": "<function name>", "arguments": {<arguments>}}; '
        "to call several, answer with a JSON list of such objects. "
        "Otherwise answer normally."
    )


def chat_messages(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, template: str | None
) -> list[dict[str, Any]]:
    """Messages as the chat template can render them.  A template that knows nothing of tools
    gets them as a system-prompt section, earlier calls as JSON text and tool results as
    user turns."""
    if template is not None and "tools" in template:
        return messages  # the template writes the tools and calls in the model's own syntax
    out: list[dict[str, Any]] = []
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            calls = [
                {"name": c["function"]["name"], "arguments": c["function"].get("arguments", {})}
                for c in m["tool_calls"]
            ]
            text = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
            m = {"role": "assistant", "content": ((m.get("content") or "") + "\n" + text).strip()}
        elif m.get("role") == "tool":
            name = m.get("name") or m.get("tool_name") or "the function"
            m = {"role": "user", "content": f"Result of {name}: {m.get('content', '')}"}
        out.append(m)
    if tools:
        section = tool_instructions(tools)
        if out and out[0].get("role") == "system":
            out[0] = {**out[0], "content": f"{out[0].get('content', '')}\n\n{section}".strip()}
        else:
            out.insert(0, {"role": "system", "content": section})
    return out


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


async def merged_events(
    lm: Loaded, preps: list[Prepared], raise_refusals: bool = False
) -> AsyncIterator[tuple[int, Event]]:
    """Several requests (OpenAI's ``n``, several prompts) run side by side on the scheduler;
    their events interleave as (request index, event).  A submission the scheduler refuses
    (its queue full) is an error event on that choice, or with ``raise_refusals`` (an answer
    not yet started) the refusal itself, so the client gets its 429."""
    if len(preps) == 1:
        async for ev in events(lm, preps[0]):
            yield 0, ev
        return
    q: asyncio.Queue[tuple[int, Event | None]] = asyncio.Queue()

    refused: list[AtlasError] = []

    async def pump(i: int, prep: Prepared) -> None:
        try:
            async for ev in events(lm, prep):
                await q.put((i, ev))
        except AtlasError as exc:  # e.g. the queue filled meanwhile: a 429, not a 500
            refused.append(exc)
            await q.put((i, Event(finish_reason="error", error=str(exc))))
        except Exception as exc:
            await q.put((i, Event(finish_reason="error", error=str(exc))))
        finally:
            await q.put((i, None))

    check_capacity(lm, preps)
    tasks = [asyncio.create_task(pump(i, p)) for i, p in enumerate(preps)]
    remaining = len(tasks)
    try:
        while remaining:
            i, ev = await q.get()
            if ev is None:
                remaining -= 1
                continue
            if refused and raise_refusals:
                raise refused[0]
            yield i, ev
    finally:
        for t in tasks:
            t.cancel()


def check_capacity(lm: Loaded, preps: list[Prepared]) -> None:
    """One request's sequences (prompts x ``n``) must fit what the model's scheduler holds at
    once (slots + queue): more could never all run, so it is the client's error, said before
    anything is queued (not a 429 to retry, nor a failure halfway)."""
    slots = getattr(lm.sched, "n_slots", None)
    queue = getattr(lm.sched, "queue_max", None)
    if slots is None or queue is None:
        return
    if len(preps) > slots + queue:
        raise BadInputError(
            f"this request asks for {len(preps)} sequences (prompts x n); this server runs "
            f"{slots} at once and queues {queue} more: ask for at most {slots + queue}"
        )


def copies(prep: Prepared, n: int) -> list[Prepared]:
    """``n`` requests for one prompt; a fixed seed gives each its own (seed, seed+1, ...)."""
    out = []
    for i in range(n):
        s = prep.sampling
        if i and s.seed is not None:
            s = s.model_copy(update={"seed": s.seed + i})
        out.append(Prepared(prep.tokens, s, prep.warnings))
    return out
