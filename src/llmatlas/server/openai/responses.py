"""OpenAI's Responses API (``/v1/responses``) as a translation over chat completions.

A Responses request becomes a :class:`ChatCompletionRequest` (instructions as the system
message, input items as messages, flat function tools as chat tools); the chat answer, whole
or streamed, becomes a ``response`` object or the Responses event stream
(``response.created`` ... ``response.output_text.delta`` ... ``response.completed``).
Stateless: ``previous_response_id`` is refused, since nothing is stored.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmatlas.errors import BadInputError
from llmatlas.server.openai import models as m
from llmatlas.server.wire import MAX_TOKENS, ChatCompletionRequest, invalid


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FunctionTool(_Loose):
    type: Literal["function"] = "function"
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


class TextFormat(_Loose):
    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextConfig(_Loose):
    format: TextFormat = Field(default_factory=TextFormat)


class ResponsesRequest(_Loose):
    model: str = Field(min_length=1)
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool = True
    max_output_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    text: TextConfig = Field(default_factory=TextConfig)
    stream: bool = False
    store: bool = False
    previous_response_id: str | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    seed: int | None = None


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for p in content or []:
        kind = p.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append(p.get("text", ""))
        else:
            raise BadInputError(f"input: content of type {kind!r} is not supported (text only)")
    return "".join(parts)


def to_chat_messages(req: ResponsesRequest) -> list[dict[str, Any]]:
    """Instructions and input items as chat messages (function calls and their outputs too)."""
    out: list[dict[str, Any]] = []
    if req.instructions:
        out.append({"role": "system", "content": req.instructions})
    items = [{"role": "user", "content": req.input}] if isinstance(req.input, str) else req.input
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role", "user")
            if role not in ("user", "assistant", "system", "developer"):
                raise BadInputError(f"input: role {role!r} is not supported")
            out.append({"role": role, "content": _text_of(item.get("content"))})
        elif kind == "function_call":
            call = {
                "id": item.get("call_id") or item.get("id") or _id("call"),
                "type": "function",
                "function": {"name": item.get("name", ""), "arguments": item.get("arguments", "")},
            }
            if out and out[-1]["role"] == "assistant" and out[-1].get("tool_calls"):
                out[-1]["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id", ""),
                    "content": str(item.get("output", "")),
                }
            )
        else:
            raise BadInputError(f"input: items of type {kind!r} are not supported")
    if not out:
        raise BadInputError("input: give a string or at least one message")
    return out


def to_chat_request(req: ResponsesRequest) -> ChatCompletionRequest:
    if req.previous_response_id:
        raise BadInputError(
            "previous_response_id: this server stores no responses; send the whole conversation"
        )
    tool_choice: Any = req.tool_choice
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        tool_choice = {"type": "function", "function": {"name": tool_choice.get("name")}}
    fmt = req.text.format
    response_format: dict[str, Any] | None = None
    if fmt.type == "json_object":
        response_format = {"type": "json_object"}
    elif fmt.type == "json_schema":
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": fmt.name or "output", "schema": fmt.schema_},
        }
    try:
        return ChatCompletionRequest.model_validate(
            {
                "model": req.model,
                "messages": to_chat_messages(req),
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": t.name,
                            "description": t.description,
                            "parameters": t.parameters,
                        },
                    }
                    for t in req.tools or []
                ]
                or None,
                "tool_choice": tool_choice,
                "parallel_tool_calls": req.parallel_tool_calls,
                "max_tokens": req.max_output_tokens,
                "temperature": req.temperature,
                "top_p": req.top_p,
                "seed": req.seed,
                "response_format": response_format,
                "logprobs": req.top_logprobs is not None,
                "top_logprobs": req.top_logprobs,
            }
        )
    except ValidationError as exc:
        raise invalid(exc) from None


def message_item(
    text: str,
    item_id: str | None = None,
    status: Literal["completed", "in_progress"] = "completed",
) -> m.OutputMessage:
    return m.OutputMessage(
        id=item_id or _id("msg"),
        status=status,
        content=[m.OutputText(text=text)] if status == "completed" else [],
    )


def call_item(
    call_id: str,
    name: str,
    arguments: str,
    item_id: str | None = None,
    status: Literal["completed", "in_progress"] = "completed",
) -> m.FunctionCallItem:
    return m.FunctionCallItem(
        id=item_id or _id("fc"), call_id=call_id, name=name, arguments=arguments, status=status
    )


def output_of(choice: m.ChatChoice) -> list[m.OutputMessage | m.FunctionCallItem]:
    """A whole chat choice as Responses output items."""
    msg = choice.message
    out: list[m.OutputMessage | m.FunctionCallItem] = []
    if msg.content:
        out.append(message_item(msg.content))
    for c in msg.tool_calls or []:
        out.append(call_item(c.id, c.function.name, c.function.arguments))
    if not out:
        out.append(message_item(""))
    return out


def response_object(
    req: ResponsesRequest,
    resp_id: str,
    created: int,
    output: list[m.OutputMessage | m.FunctionCallItem],
    usage: m.Usage | None,
    finish: str | None,
    status: Literal["completed", "in_progress"] = "completed",
) -> m.Response:
    incomplete = finish == "length" and status == "completed"
    return m.Response(
        id=resp_id,
        created_at=created,
        status="incomplete" if incomplete else status,
        incomplete_details={"reason": "max_output_tokens"} if incomplete else None,
        instructions=req.instructions,
        max_output_tokens=req.max_output_tokens,
        model=req.model,
        output=output,
        parallel_tool_calls=req.parallel_tool_calls,
        reasoning={"effort": None, "summary": None},
        temperature=req.temperature,
        text={"format": {"type": req.text.format.type}},
        tool_choice=req.tool_choice if req.tool_choice is not None else "auto",
        tools=[t.model_dump(exclude_none=True) for t in req.tools or []],
        top_p=req.top_p,
        usage=None if usage is None else m.ResponseUsage.of(usage),
        user=req.user,
        metadata=req.metadata or {},
    )


class ResponseStream:
    """Chat stream ``choices`` items (of choice 0) in, Responses stream events out."""

    def __init__(self, req: ResponsesRequest, resp_id: str, created: int) -> None:
        self.req = req
        self.resp_id = resp_id
        self.created = created
        self.seq = 0
        self.output: list[m.OutputMessage | m.FunctionCallItem] = []
        self.open_msg: tuple[str, int] | None = None  # (item id, output index)
        self.text = ""
        self.calls: dict[int, tuple[m.FunctionCallItem, int]] = {}  # chat index -> item, index
        self.finish: str | None = None

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        ev = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return ev

    def start(self) -> list[dict[str, Any]]:
        snapshot = response_object(
            self.req, self.resp_id, self.created, [], None, None, "in_progress"
        ).model_dump()
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def _close_message(self) -> list[dict[str, Any]]:
        if self.open_msg is None:
            return []
        item_id, idx = self.open_msg
        item = message_item(self.text, item_id)
        self.output[idx] = item
        part = item.content[0].model_dump()
        where = {"item_id": item_id, "output_index": idx, "content_index": 0}
        self.open_msg = None
        return [
            self._event("response.output_text.done", **where, text=self.text, logprobs=[]),
            self._event("response.content_part.done", **where, part=part),
            self._event("response.output_item.done", output_index=idx, item=item.model_dump()),
        ]

    def feed(self, item: m.ChunkChoice) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        text = item.delta.content
        if text:
            if self.open_msg is None:
                idx = len(self.output)
                msg = message_item("", status="in_progress")
                self.output.append(msg)
                self.open_msg = (msg.id, idx)
                where = {"item_id": msg.id, "output_index": idx, "content_index": 0}
                part = m.OutputText(text="").model_dump()
                out.append(
                    self._event(
                        "response.output_item.added", output_index=idx, item=msg.model_dump()
                    )
                )
                out.append(self._event("response.content_part.added", **where, part=part))
            self.text += text
            item_id, idx = self.open_msg
            out.append(
                self._event(
                    "response.output_text.delta",
                    item_id=item_id,
                    output_index=idx,
                    content_index=0,
                    delta=text,
                    logprobs=[],
                )
            )
        for d in item.delta.tool_calls or []:
            k = d.index
            if k not in self.calls:
                out += self._close_message()
                call = call_item(
                    d.id or _id("call"), d.function.name or "", "", status="in_progress"
                )
                self.calls[k] = (call, len(self.output))
                self.output.append(call)
                out.append(
                    self._event(
                        "response.output_item.added",
                        output_index=len(self.output) - 1,
                        item=call.model_dump(),
                    )
                )
            c, idx = self.calls[k]
            args = d.function.arguments
            if args:
                c.arguments += args
                out.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        item_id=c.id,
                        output_index=idx,
                        delta=args,
                    )
                )
        if item.finish_reason:
            self.finish = item.finish_reason
        return out

    def end(self, usage: m.Usage) -> list[dict[str, Any]]:
        out = self._close_message()
        for c, idx in self.calls.values():
            done = call_item(c.call_id, c.name, c.arguments, c.id)
            self.output[idx] = done
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=c.id,
                    output_index=idx,
                    name=c.name,
                    arguments=c.arguments,
                )
            )
            out.append(
                self._event("response.output_item.done", output_index=idx, item=done.model_dump())
            )
        final = response_object(
            self.req, self.resp_id, self.created, self.output, usage, self.finish
        )
        kind = "response.incomplete" if final.status == "incomplete" else "response.completed"
        out.append(self._event(kind, response=final.model_dump()))
        return out
