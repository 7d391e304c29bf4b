"""Typed requests and responses of Ollama's model-management and embedding endpoints.

Field names and shapes follow Ollama's docs/api.md; unknown request fields are ignored
(clients send more than they need), responses carry exactly the documented fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llmatlas.server.wire import OllamaOptions


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorResponse(_Response):
    """Every Ollama error body: one line of text (not OpenAI's object)."""

    error: str


class EmbedRequest(_Request):
    model: str = Field(min_length=1)
    input: str | list[str] = Field(default="")
    truncate: bool = True
    dimensions: int | None = Field(default=None, ge=1)
    options: OllamaOptions = Field(default_factory=OllamaOptions)
    keep_alive: str | int | None = None


class EmbedResponse(_Response):
    model: str
    embeddings: list[list[float]]
    total_duration: int
    load_duration: int
    prompt_eval_count: int


class EmbeddingsRequest(_Request):
    """The older ``/api/embeddings``: one prompt, one vector (not normalised)."""

    model: str = Field(min_length=1)
    prompt: str = ""
    options: OllamaOptions = Field(default_factory=OllamaOptions)
    keep_alive: str | int | None = None


class EmbeddingsResponse(_Response):
    embedding: list[float]


class CopyRequest(_Request):
    source: str = Field(min_length=1)
    destination: str = Field(min_length=1)


class CreateRequest(_Request):
    model: str | None = None
    name: str | None = None  # older clients
    modelfile: str | None = None  # older API: the Modelfile text
    from_: str | None = Field(default=None, alias="from")
    files: dict[str, str] | None = None  # file name -> blob digest
    template: str | None = None
    system: str | None = None
    license: str | list[str] | None = None
    parameters: dict[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None
    quantize: str | None = None
    adapters: dict[str, str] | None = None
    stream: bool = True


class PullRequest(_Request):
    model: str | None = None
    name: str | None = None
    insecure: bool = False
    stream: bool = True


class ProgressResponse(_Response):
    """One line of the pull/create/push progress stream."""

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


class ModelDetails(_Response):
    parent_model: str = ""
    format: str = "gguf"
    family: str = ""
    families: list[str] | None = None
    parameter_size: str = ""
    quantization_level: str = ""


class ShowRequest(_Request):
    model: str | None = None
    name: str | None = None
    verbose: bool = False


class ShowResponse(_Response):
    license: str = ""
    modelfile: str = ""
    parameters: str = ""
    template: str = ""
    system: str = ""
    details: ModelDetails
    model_info: dict[str, Any]
    capabilities: list[str]
    modified_at: str
