"""Wire types of the OpenAI- and Ollama-compatible APIs, and pure translations to/from ours.

Requests are pydantic models so that FastAPI validates them (422 with the field
named) and the OpenAPI document says what the server really accepts.  Unknown
fields that clients commonly send are accepted and ignored (``extra="ignore"``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmatlas.errors import BadInputError
from llmatlas.runtime.engines import SamplingOptions


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ----------------------------------------------------------------------------- OpenAI
class FunctionDef(_Loose):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class Tool(_Loose):
    type: Literal["function"] = "function"
    function: FunctionDef


class ToolCallFunction(_Loose):
    name: str
    arguments: str


class ToolCall(_Loose):
    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ChatMessage(_Loose):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.get("text", "") for p in self.content if p.get("type") == "text")
        return self.content or ""


class ResponseFormat(_Loose):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None


class StreamOptions(_Loose):
    include_usage: bool = False


class _SamplingFields(_Loose):
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.8, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(default=None, ge=0.0, le=5.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=16)
    user: str | None = None

    def sampling(self, default_max: int) -> SamplingOptions:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stop) > 4:
            raise BadInputError("stop: at most 4 sequences")
        return SamplingOptions(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=40 if self.top_k is None else self.top_k,
            min_p=0.05 if self.min_p is None else self.min_p,
            repeat_penalty=self.repeat_penalty or 1.0,
            seed=self.seed,
            stop=stop,
            max_tokens=self.max_completion_tokens or self.max_tokens or default_max,
        )


class ChatCompletionRequest(_SamplingFields):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)


class CompletionRequest(_SamplingFields):
    model: str = Field(min_length=1)
    prompt: str | list[str] | list[int] | list[list[int]]
    logprobs: int | None = Field(default=None, ge=0, le=20)
    echo: bool = False
    suffix: str | None = None


class EmbeddingRequest(_Loose):
    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)


# ----------------------------------------------------------------------------- Ollama
class OllamaOptions(_Loose):
    temperature: float | None = Field(default=None, ge=0.0, le=5.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(default=None, ge=0.0)
    seed: int | None = None
    num_predict: int | None = None
    num_ctx: int | None = Field(default=None, ge=64)
    stop: list[str] | None = None

    def sampling(self, default_max: int) -> SamplingOptions:
        n = self.num_predict
        return SamplingOptions(
            temperature=0.8 if self.temperature is None else self.temperature,
            top_p=0.9 if self.top_p is None else self.top_p,
            top_k=40 if self.top_k is None else self.top_k,
            min_p=0.0 if self.min_p is None else self.min_p,
            repeat_penalty=1.1 if self.repeat_penalty is None else self.repeat_penalty,
            seed=self.seed,
            stop=list(self.stop or []),
            max_tokens=default_max if (n is None or n < 0) else max(1, n),
        )


class OllamaMessage(_Loose):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    tool_name: str | None = None
    images: list[str] | None = None


class OllamaChatRequest(_Loose):
    model: str = Field(min_length=1)
    messages: list[OllamaMessage] = Field(default_factory=list)
    stream: bool = True
    format: str | dict[str, Any] | None = None
    options: OllamaOptions = Field(default_factory=OllamaOptions)
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None  # llmatlas extension, as in OpenAI's API
    keep_alive: str | int | None = None


class OllamaGenerateRequest(_Loose):
    model: str = Field(min_length=1)
    prompt: str = ""
    system: str | None = None
    raw: bool = False
    context: list[int] | None = None
    suffix: str | None = None
    images: list[str] | None = None
    stream: bool = True
    format: str | dict[str, Any] | None = None
    options: OllamaOptions = Field(default_factory=OllamaOptions)
    keep_alive: str | int | None = None


class OllamaShowRequest(_Loose):
    model: str | None = None
    name: str | None = None


# ----------------------------------------------------------------------------- helpers
def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def openai_error(
    message: str,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def ns(seconds: float) -> int:
    return int(seconds * 1e9)
