"""Pure translations between Ollama's wire shapes and llmatlas's own objects (no I/O)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from llmatlas.runtime.modelfile import Modelfile, render_parameters
from llmatlas.server.ollama.wire import ModelDetails, ProgressResponse, ShowResponse
from llmatlas.server.wire import OllamaOptions

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
