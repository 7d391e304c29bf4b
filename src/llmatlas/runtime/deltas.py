"""What a generation streams back: typed deltas, the same for every engine and protocol.

Each :class:`Event` carries new text (and, when asked, each new token's log-probability) or
tool-call fragments; the last one carries the finish reason, the token counts and every
generated token id.  Local engines and an upstream OpenAI-compatible engine both produce
them; the OpenAI and Ollama translators turn them into their wire chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token's natural-log probability under the model (before sampling
    settings), and the ``top`` most likely alternatives as (token id, piece, logprob)."""

    token_id: int
    piece: bytes
    logprob: float
    top: tuple[tuple[int, bytes, float], ...] = ()


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of the ``index``-th tool call: its id and name when it starts, then fragments
    of its JSON arguments (their concatenation is the arguments object)."""

    index: int
    id: str | None = None
    name: str = ""
    arguments: str = ""


@dataclass
class Event:
    """What the scheduler reports to a request's consumer.  The last event (the one with
    ``finish_reason``) carries every generated token id in ``output_ids``."""

    text: str = ""
    token_id: int | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = None
    error: str | None = None
    logprobs: list[TokenLogprob] = field(default_factory=list)
    output_ids: list[int] = field(default_factory=list)
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
