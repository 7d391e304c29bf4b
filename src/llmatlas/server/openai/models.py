"""OpenAI's response shapes as pydantic models (what the translators return, what the routes
send): chat completions and their stream chunks, text completions, embeddings, models and
Responses.  Fields mirror OpenAI's API reference; a field OpenAI leaves out when it has no
value is listed in ``_omit_none`` (sent as ``null`` otherwise, as OpenAI does)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")
    _omit_none: ClassVar[frozenset[str]] = frozenset()

    # no return annotation: the JSON schema (OpenAPI) stays the model's own fields
    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        out: dict[str, Any] = handler(self)
        return {k: v for k, v in out.items() if v is not None or k not in self._omit_none}


class Usage(_Wire):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt: int, completion: int) -> Usage:
        return cls(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )


# --------------------------------------------------------------------------- chat
class FunctionCall(_Wire):
    name: str
    arguments: str  # JSON text


class ToolCall(_Wire):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class FunctionCallDelta(_Wire):
    _omit_none = frozenset({"name"})
    name: str | None = None
    arguments: str = ""


class ToolCallDelta(_Wire):
    """A streamed piece of a tool call: ``id``, ``type`` and the name come with its first piece."""

    _omit_none = frozenset({"id", "type"})
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: FunctionCallDelta


class ChatMessage(_Wire):
    _omit_none = frozenset({"tool_calls"})
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None


class ChatChoice(_Wire):
    index: int
    message: ChatMessage
    logprobs: dict[str, Any] | None = None
    finish_reason: str


class ChatCompletion(_Wire):
    _omit_none = frozenset({"warnings"})
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    system_fingerprint: str
    choices: list[ChatChoice]
    usage: Usage
    warnings: list[str] | None = None  # llmatlas: what was adjusted (max_tokens clamped...)


class Delta(_Wire):
    """What a chunk adds; ``content`` is null when it adds no text (the role chunk, tool-call
    pieces, the finish), as llama-server and vLLM send it."""

    _omit_none = frozenset({"role", "tool_calls"})
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(_Wire):
    index: int
    delta: Delta
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(_Wire):
    _omit_none = frozenset({"usage"})
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    system_fingerprint: str
    choices: list[ChunkChoice]
    usage: Usage | None = None  # the last chunk, when stream_options.include_usage


# ---------------------------------------------------------------------- completions
class CompletionChoice(_Wire):
    index: int
    text: str
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None = None


class Completion(_Wire):
    """A whole text completion, or one chunk of a streamed one (no usage but the last)."""

    _omit_none = frozenset({"usage", "warnings"})
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    system_fingerprint: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    warnings: list[str] | None = None


# ----------------------------------------------------------------- embeddings, models
class Embedding(_Wire):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str  # str: base64 of little-endian float32


class EmbeddingUsage(_Wire):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(_Wire):
    object: Literal["list"] = "list"
    model: str
    data: list[Embedding]
    usage: EmbeddingUsage


class Model(_Wire):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "llmatlas"


class ModelList(_Wire):
    object: Literal["list"] = "list"
    data: list[Model]


# ------------------------------------------------------------------------ Responses
class ResponseUsage(_Wire):
    input_tokens: int
    input_tokens_details: dict[str, int]
    output_tokens: int
    output_tokens_details: dict[str, int]
    total_tokens: int

    @classmethod
    def of(cls, usage: Usage) -> ResponseUsage:
        return cls(
            input_tokens=usage.prompt_tokens,
            input_tokens_details={"cached_tokens": 0},
            output_tokens=usage.completion_tokens,
            output_tokens_details={"reasoning_tokens": 0},
            total_tokens=usage.total_tokens,
        )


class OutputText(_Wire):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[dict[str, Any]] = []
    logprobs: list[dict[str, Any]] = []


class OutputMessage(_Wire):
    """An assistant message among a response's output items (no content while in progress)."""

    type: Literal["message"] = "message"
    id: str
    status: Literal["completed", "in_progress", "incomplete"]
    role: Literal["assistant"] = "assistant"
    content: list[OutputText]


class FunctionCallItem(_Wire):
    """A tool call among a response's output items (``arguments``: JSON text, streamed)."""

    type: Literal["function_call"] = "function_call"
    id: str
    call_id: str
    name: str
    arguments: str
    status: Literal["completed", "in_progress", "incomplete"]


OutputItem = Annotated[OutputMessage | FunctionCallItem, Field(discriminator="type")]


class Response(_Wire):
    """The Responses API's response object (output items: message and function_call)."""

    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: Literal["completed", "incomplete", "in_progress", "failed"]
    incomplete_details: dict[str, str] | None = None
    error: dict[str, Any] | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    model: str
    output: list[OutputItem]
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    reasoning: dict[str, Any]
    store: bool = False
    temperature: float | None = None
    text: dict[str, Any]
    tool_choice: Any
    tools: list[dict[str, Any]]
    top_p: float | None = None
    truncation: str = "disabled"
    usage: ResponseUsage | None = None
    user: str | None = None
    metadata: dict[str, Any]
