"""Pure translations between Ollama's wire shapes and llmatlas's own objects (no I/O)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from llmatlas.errors import BadInputError
from llmatlas.runtime.deltas import Event
from llmatlas.runtime.modelfile import Modelfile, render_parameters
from llmatlas.server.ollama.wire import ModelDetails, ProgressResponse, ShowResponse
from llmatlas.server.wire import OllamaChatRequest, OllamaGenerateRequest, OllamaOptions, ns

OLLAMA_PREFIX = "/api/"
OWN_PREFIX = "/api/atlas/"  # llmatlas's own API answers OpenAI-shaped errors


def iso(ts: float | None = None) -> str:
    """Ollama's timestamps: RFC 3339 in UTC."""
    return datetime.fromtimestamp(ts or time.time(), UTC).isoformat().replace("+00:00", "Z")


def load_reply(model: str, chat: bool, reason: str = "load") -> dict[str, Any]:
    """Ollama's answer to a request with nothing to generate: it only loads (or unloads)."""
    out: dict[str, Any] = {"model": model, "created_at": iso()}
    if chat:
        out["message"] = {"role": "assistant", "content": ""}
    else:
        out["response"] = ""
    return {**out, "done_reason": reason, "done": True}


def is_ollama_path(path: str) -> bool:
    return path.startswith(OLLAMA_PREFIX) and not path.startswith(OWN_PREFIX)


def error_body(message: str) -> dict[str, str]:
    """Ollama's error body is ``{"error": "text"}``."""
    return {"error": message}


def ndjson(model: Any) -> str:
    """One line of an NDJSON stream from a response model (unset optional fields left out)."""
    return model.model_dump_json(exclude_none=True) + "\n"


def progress(status: str, **kw: Any) -> ProgressResponse:
    return ProgressResponse(status=status, **kw)


def details(
    family: str | None, params_b: float | None, quant: str | None, parent: str = ""
) -> ModelDetails:
    return ModelDetails(
        parent_model=parent,
        family=family or "",
        families=[family] if family else None,
        parameter_size=f"{params_b:g}B" if params_b else "",
        quantization_level=quant or "",
    )


def options_with_defaults(options: OllamaOptions, parameters: dict[str, Any]) -> OllamaOptions:
    """A derived model's PARAMETERs under the request's options (the request wins)."""
    if not parameters:
        return options
    known = set(OllamaOptions.model_fields)
    base = {k: v for k, v in parameters.items() if k in known}
    return OllamaOptions(**{**base, **options.model_dump(exclude_none=True)})


def with_system(messages: list[dict[str, Any]], mf: Modelfile) -> list[dict[str, Any]]:
    """A derived model's MESSAGEs and SYSTEM prompt before the request's messages."""
    out = list(mf.messages) + list(messages)
    if mf.system and not any(m.get("role") == "system" for m in out):
        out.insert(0, {"role": "system", "content": mf.system})
    return out


def show_response(
    *,
    license: str,
    modelfile: str,
    mf: Modelfile,
    template: str,
    turn_stops: list[str],
    details: ModelDetails,
    model_info: dict[str, Any],
    capabilities: list[str],
    modified_at: str,
) -> ShowResponse:
    params: dict[str, Any] = {}
    if turn_stops:
        params["stop"] = list(turn_stops)
    params.update(mf.parameters)
    return ShowResponse(
        license=license,
        modelfile=modelfile,
        parameters=render_parameters(params),
        template=mf.template or template,
        system=mf.system or "",
        details=details,
        model_info=model_info,
        capabilities=capabilities,
        modified_at=modified_at,
    )


def tool_calls(calls: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Ollama's tool calls carry arguments as an object (OpenAI's as a JSON string)."""
    out = []
    for i, (name, args) in enumerate(calls):
        try:
            obj = json.loads(args or "{}")
        except ValueError:
            obj = {"_raw": args}
        fn: dict[str, Any] = {"name": name, "arguments": obj}
        if i:  # Ollama's Go struct omits a zero index
            fn = {"index": i, **fn}
        out.append({"function": fn})
    return out


# ------------------------------------------------------------ events -> /api/chat, /api/generate
@dataclass
class Reply:
    """One /api/chat (``chat``) or /api/generate answer built from a generation's events,
    whichever engine produced them (local, or upstream over its OpenAI API).

    :meth:`line` turns an event into a stream line (None when it has no text); :meth:`done`
    is the last line, with the whole text when the answer is not streamed.  ``context``:
    /api/generate's prompt token ids (the answer's ``context`` adds the generated ones);
    None when the engine does not say them."""

    model: str
    chat: bool
    t0: float  # time.perf_counter() when generation was asked for
    load_s: float = 0.0
    context: list[int] | None = None
    text: list[str] = field(default_factory=list)
    calls: dict[int, list[str]] = field(default_factory=dict)  # index -> [name, arguments]
    first_s: float | None = None  # seconds to the first text or call
    pieces: int = 0  # text events: the token count when the engine sends no usage

    def line(self, ev: Event) -> dict[str, Any] | None:
        for d in ev.tool_calls:
            call = self.calls.setdefault(d.index, ["", ""])
            call[0] += d.name
            call[1] += d.arguments
        if (ev.text or ev.tool_calls) and self.first_s is None:
            self.first_s = time.perf_counter() - self.t0
        if not ev.text:
            return None
        self.text.append(ev.text)
        self.pieces += 1
        out: dict[str, Any] = {"model": self.model, "created_at": iso()}
        if self.chat:
            out["message"] = {"role": "assistant", "content": ev.text}
        else:
            out["response"] = ev.text
        return {**out, "done": False}

    def done(self, last: Event, whole: bool) -> dict[str, Any]:
        total = time.perf_counter() - self.t0
        ttft = last.ttft_s if last.ttft_s is not None else (self.first_s or total)
        text = "".join(self.text) if whole else ""
        out: dict[str, Any] = {"model": self.model, "created_at": iso()}
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if self.calls:
                message["tool_calls"] = tool_calls(
                    [(n, a) for _, (n, a) in sorted(self.calls.items())]
                )
            out["message"] = message
        else:
            out["response"] = text
        reason = last.finish_reason or "stop"
        out["done_reason"] = "stop" if reason == "tool_calls" else reason
        out["done"] = True
        if not self.chat:
            out["context"] = [] if self.context is None else self.context + last.output_ids
        return {
            **out,
            "total_duration": ns(total + self.load_s),
            "load_duration": ns(self.load_s),
            "prompt_eval_count": last.prompt_tokens,
            "prompt_eval_duration": ns(ttft),
            "eval_count": last.completion_tokens or self.pieces,
            "eval_duration": ns(max(total - ttft, 0.0)),
        }


# ------------------------------------------------------ requests -> an OpenAI-compatible engine
def openai_sampling(o: OllamaOptions) -> dict[str, Any]:
    """Ollama options as OpenAI fields; unset ones are left to the engine's defaults.
    ``top_k``, ``min_p`` and the repeat penalty are extensions vLLM and llama-server accept
    (vLLM names it ``repetition_penalty``, llama-server ``repeat_penalty``)."""
    out: dict[str, Any] = {}
    for key in ("temperature", "top_p", "top_k", "min_p", "seed"):
        v = getattr(o, key)
        if v is not None:
            out[key] = v
    if o.repeat_penalty is not None:
        out["repetition_penalty"] = out["repeat_penalty"] = o.repeat_penalty
    if o.stop:
        out["stop"] = list(o.stop)
    if o.num_predict is not None and o.num_predict > 0:
        out["max_tokens"] = o.num_predict
    return out


def openai_response_format(fmt: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Ollama's ``format`` ("json" or a JSON schema) as OpenAI's ``response_format``."""
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return {"type": "json_object"}
    if isinstance(fmt, dict):
        return {"type": "json_schema", "json_schema": {"name": "format", "schema": fmt}}
    raise BadInputError('format: use "json" or a JSON schema object')


def openai_messages(req: OllamaChatRequest) -> list[dict[str, Any]]:
    """Ollama chat messages as OpenAI's: tool-call arguments become a JSON string with an id."""
    out: list[dict[str, Any]] = []
    for i, m in enumerate(req.messages):
        msg: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            msg["tool_calls"] = [
                {
                    "id": f"call_{i}_{j}",
                    "type": "function",
                    "function": {
                        "name": c.get("function", {}).get("name", ""),
                        "arguments": json.dumps(c.get("function", {}).get("arguments", {})),
                    },
                }
                for j, c in enumerate(m.tool_calls)
            ]
        out.append(msg)
    return out


def _with_format(body: dict[str, Any], fmt: str | dict[str, Any] | None) -> dict[str, Any]:
    rf = openai_response_format(fmt)
    return {**body, "response_format": rf} if rf else body


def openai_chat(req: OllamaChatRequest) -> dict[str, Any]:
    """/api/chat as an OpenAI ``/chat/completions`` body."""
    body: dict[str, Any] = {
        "model": req.model,
        "messages": openai_messages(req),
        **openai_sampling(req.options),
    }
    if req.tools:
        body["tools"] = [t.model_dump(exclude_none=True) for t in req.tools]
    return _with_format(body, req.format)


def openai_generate(req: OllamaGenerateRequest) -> tuple[str, dict[str, Any]]:
    """/api/generate as an OpenAI (route, body): ``raw`` skips the template, so the engine's
    ``/completions``; otherwise its ``/chat/completions`` applies the model's template."""
    body: dict[str, Any] = {"model": req.model, **openai_sampling(req.options)}
    if req.raw:
        return "/completions", _with_format({**body, "prompt": req.prompt}, req.format)
    system = [{"role": "system", "content": req.system}] if req.system else []
    messages = [*system, {"role": "user", "content": req.prompt}]
    return "/chat/completions", _with_format({**body, "messages": messages}, req.format)
