"""Wire types of the OpenAI- and Ollama-compatible APIs, and pure translations to/from ours.

Requests are pydantic models so that FastAPI validates them (422 with the field
named) and the OpenAPI document says what the server really accepts.  Unknown
fields that clients commonly send are accepted and ignored (``extra="ignore"``).
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmatlas.errors import BadInputError
from llmatlas.runtime.engines import SamplingOptions


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


# Bounds on every list and short string a client sends (texts are bounded by the body limit).
# A 10k-entry stop list once slowed every sequence on the server; each bound is a 400 naming
# the field.  MAX_TOOLS follows OpenAI's documented 128 tools per request.
MAX_MESSAGES = 1024
MAX_TOOLS = 128
MAX_PARTS = 256  # content parts in one message
MAX_INPUTS = 256  # embedding inputs per request
MAX_TOKENS = 1 << 20
Name = Annotated[str, Field(min_length=1, max_length=256)]
Short = Annotated[str, Field(max_length=256)]
StopText = Annotated[str, Field(min_length=1, max_length=256)]
OpenAIStops = Annotated[list[StopText], Field(max_length=4)]
OllamaStops = Annotated[list[StopText], Field(max_length=16)]
KeepAlive = Annotated[str, Field(max_length=32)] | int


# ----------------------------------------------------------------------------- OpenAI
class FunctionDef(_Loose):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=8192)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class Tool(_Loose):
    type: Literal["function"] = "function"
    function: FunctionDef


class ToolCallFunction(_Loose):
    name: Name
    arguments: str


class ToolCall(_Loose):
    id: Short
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ChatMessage(_Loose):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | Annotated[list[dict[str, Any]], Field(max_length=MAX_PARTS)] | None = None
    name: Short | None = None
    tool_calls: Annotated[list[ToolCall], Field(max_length=MAX_TOOLS)] | None = None
    tool_call_id: Short | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.get("text", "") for p in self.content if p.get("type") == "text")
        return self.content or ""


class ResponseFormat(_Loose):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None
    # json_object with a schema: an extension llama-server, vLLM and Together accept
    object_schema: dict[str, Any] | None = Field(default=None, alias="schema")


class StreamOptions(_Loose):
    include_usage: bool = False


class _SamplingFields(_Loose):
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    temperature: float = Field(default=0.8, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(default=None, ge=0.0, le=5.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    seed: int | None = None
    stop: StopText | OpenAIStops | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=16)
    user: Short | None = None

    def sampling(self, default_max: int) -> SamplingOptions:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
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
    model: Name
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    tools: Annotated[list[Tool], Field(max_length=MAX_TOOLS)] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    # llama-server's (and llama-cpp-python's) extensions: a GBNF grammar, a JSON schema
    grammar: Annotated[str, Field(min_length=1, max_length=1 << 16)] | None = None
    json_schema: dict[str, Any] | None = None

    def output_schema(self) -> tuple[str | None, dict[str, Any] | None]:
        """What the answer must be: (response_format kind, JSON schema) from
        ``response_format`` or the ``json_schema`` extension."""
        if self.json_schema is not None:
            return "json_schema", self.json_schema
        rf = self.response_format
        if rf is None:
            return None, None
        if rf.type == "json_object" and rf.object_schema is not None:
            return "json_schema", rf.object_schema
        return rf.type, (rf.json_schema or {}).get("schema")


class CompletionRequest(_SamplingFields):
    model: Name
    prompt: (
        str
        | Annotated[list[str], Field(max_length=16)]
        | Annotated[list[int], Field(max_length=MAX_TOKENS)]
        | Annotated[list[list[int]], Field(max_length=16)]
    )
    logprobs: int | None = Field(default=None, ge=0, le=20)
    echo: bool = False
    suffix: str | None = None


class EmbeddingRequest(_Loose):
    model: Name
    input: (
        str
        | Annotated[list[str], Field(max_length=MAX_INPUTS)]
        | Annotated[list[int], Field(max_length=MAX_TOKENS)]
        | Annotated[list[list[int]], Field(max_length=MAX_INPUTS)]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)


# ----------------------------------------------------------------------------- Ollama
class OllamaOptions(_Loose):
    temperature: float | None = Field(default=None, ge=0.0, le=5.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(default=None, ge=0.0, le=5.0)
    seed: int | None = None
    num_predict: int | None = Field(default=None, ge=-2, le=MAX_TOKENS)
    num_ctx: int | None = Field(default=None, ge=64, le=MAX_TOKENS)
    stop: OllamaStops | None = None

    def sampling(self, default_max: int) -> SamplingOptions:
        n = self.num_predict
        try:
            return self._sampling(n, default_max)
        except ValidationError as exc:
            raise invalid(exc) from None

    def _sampling(self, n: int | None, default_max: int) -> SamplingOptions:
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
    tool_calls: Annotated[list[dict[str, Any]], Field(max_length=MAX_TOOLS)] | None = None
    tool_name: Short | None = None
    images: list[str] | None = None


class OllamaChatRequest(_Loose):
    model: Name
    messages: list[OllamaMessage] = Field(default_factory=list, max_length=MAX_MESSAGES)
    stream: bool = True
    format: Short | dict[str, Any] | None = None
    options: OllamaOptions = Field(default_factory=OllamaOptions)
    tools: Annotated[list[Tool], Field(max_length=MAX_TOOLS)] | None = None
    tool_choice: str | dict[str, Any] | None = None  # llmatlas extension, as in OpenAI's API
    keep_alive: KeepAlive | None = None


class OllamaGenerateRequest(_Loose):
    model: Name
    prompt: str = ""
    system: str | None = None
    raw: bool = False
    context: Annotated[list[int], Field(max_length=MAX_TOKENS)] | None = None
    suffix: str | None = None
    images: list[str] | None = None
    stream: bool = True
    format: Short | dict[str, Any] | None = None
    options: OllamaOptions = Field(default_factory=OllamaOptions)
    keep_alive: KeepAlive | None = None


class OllamaShowRequest(_Loose):
    model: Name | None = None
    name: Name | None = None


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


def validation_message(err: Any) -> tuple[str, str]:
    """``(field, "field: message")`` for the first error pydantic reports."""
    loc = [str(x) for x in err.get("loc", ()) if x != "body"]
    name = ".".join(loc) or "body"
    return name, f"{name}: {err.get('msg')}"


def invalid(exc: ValidationError) -> BadInputError:
    """A request that passed its own wire model but not the one it is translated into (a
    bound of the native request): the client's error, a 400, not a server error."""
    return BadInputError(validation_message(exc.errors()[0])[1])
