"""The server with the real `openai` and `ollama` clients and the embedded model."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import openai
import pytest

from tests.serverproc import ServerProcess, model_home

MODEL = "gemma-3-270m"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_home(tmp_path_factory, "srv-home")


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[ServerProcess]:
    s = ServerProcess(home, "--slots", "8", "--ctx", "1024")
    yield s
    s.stop()


@pytest.fixture()
def oa(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


@pytest.fixture()
def ol(server: ServerProcess) -> ollama.Client:
    return ollama.Client(host=server.url)


# ------------------------------------------------------------------------------ OpenAI
def test_chat_completion_and_usage(oa: openai.OpenAI) -> None:
    r = oa.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "The capital of France is"}],
        max_tokens=12,
        temperature=0,
    )
    assert r.object == "chat.completion" and r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content and r.choices[0].finish_reason == "length"
    assert r.usage is not None and r.usage.completion_tokens == 12 and r.usage.prompt_tokens > 0
    again = oa.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "The capital of France is"}],
        max_tokens=12,
        temperature=0,
    )
    assert again.choices[0].message.content == r.choices[0].message.content


def test_chat_streaming_chunks_and_usage(oa: openai.OpenAI) -> None:
    stream = oa.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Once upon a time"}],
        max_tokens=10,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c for c in chunks if c.choices and c.choices[0].finish_reason == "length"]
    assert (
        chunks[-1].usage is not None
        and chunks[-1].usage.completion_tokens == 10
        and not chunks[-1].choices
    )
    assert len(text) > 0


def test_stop_sequence(oa: openai.OpenAI) -> None:
    full = (
        oa.completions.create(model=MODEL, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0)
        .choices[0]
        .text
    )
    assert "6" in full
    r = oa.completions.create(
        model=MODEL, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0, stop=["6"]
    )
    assert r.choices[0].finish_reason == "stop" and "6" not in r.choices[0].text


def test_completions_stream(oa: openai.OpenAI) -> None:
    parts = [
        c.choices[0].text
        for c in oa.completions.create(
            model=MODEL, prompt="Paris is", max_tokens=6, temperature=0, stream=True
        )
        if c.choices
    ]
    assert len("".join(parts)) > 0 and len(parts) >= 6


def test_models_list(oa: openai.OpenAI) -> None:
    assert MODEL in [m.id for m in oa.models.list().data]


def test_embeddings(oa: openai.OpenAI) -> None:
    r = oa.embeddings.create(model=MODEL, input=["hello world", "bonjour le monde"])
    assert len(r.data) == 2 and len(r.data[0].embedding) == 640
    norm = sum(x * x for x in r.data[0].embedding) ** 0.5
    assert abs(norm - 1) < 1e-3 and r.usage.prompt_tokens > 0


def test_openai_errors(oa: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        oa.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    assert "unknown model" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e2:
        oa.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], temperature=9
        )
    assert "temperature" in str(e2.value)
    with pytest.raises(openai.BadRequestError) as e3:
        oa.completions.create(model=MODEL, prompt="word " * 2000, max_tokens=4)
    assert "1024" in str(e3.value)


def test_max_tokens_clamped_and_said(server: ServerProcess) -> None:
    r = httpx.post(
        server.url + "/v1/completions",
        json={"model": MODEL, "prompt": "Hi", "max_tokens": 5000, "temperature": 0},
        timeout=120,
    )
    assert r.status_code == 200 and "clamped" in r.json()["warnings"][0]
    assert "clamped" in r.headers["x-llmatlas-warning"]


def test_json_response_format_parses(oa: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    r = oa.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Paris as JSON"}],
        max_tokens=60,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
    )
    obj = json.loads(r.choices[0].message.content or "")
    assert isinstance(obj["city"], str) and isinstance(obj["population"], int)


def test_llama_server_grammar_and_schema_extensions(server: ServerProcess) -> None:
    """llama-server's `grammar` (GBNF) and `json_schema` fields, and a schema on json_object."""

    def chat(**extra: object) -> httpx.Response:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "Say it"}], **extra}
        return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=120)

    r = chat(grammar='root ::= "a"{5,5}', max_tokens=8)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "aaaaa"
    bad = chat(grammar="root ::= this is (not valid GBNF", max_tokens=8)
    assert bad.status_code == 400 and "grammar" in bad.json()["error"]["message"]
    for extra in (
        {"json_schema": {"const": "42"}},
        {"response_format": {"type": "json_object", "schema": {"const": "42"}}},
    ):
        r = chat(max_tokens=6, **extra)
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == '"42"'
    assert chat(response_format={"type": "json_object", "schema": 123}).status_code == 400


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "time",
            "parameters": {
                "type": "object",
                "properties": {"tz": {"type": "string"}},
                "required": ["tz"],
            },
        },
    },
]


def test_forced_tool_call(oa: openai.OpenAI) -> None:
    r = oa.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=40,
        temperature=0,
    )
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_streamed_tool_call_deltas(oa: openai.OpenAI) -> None:
    stream = oa.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What time is it?"}],
        tools=TOOLS,
        tool_choice="required",
        max_tokens=60,
        temperature=0,
        stream=True,
    )
    deltas = [c.choices[0].delta for c in stream if c.choices and c.choices[0].delta.tool_calls]
    assert len(deltas) >= 3, "arguments arrive in several pieces"
    first = deltas[0].tool_calls[0]
    assert first.id and first.function.name in ("get_weather", "get_time")
    args = "".join(d.tool_calls[0].function.arguments or "" for d in deltas)
    assert isinstance(json.loads(args), dict)


def test_half_a_surrogate_pair_is_answered_not_a_500(server: ServerProcess) -> None:
    """JSON may carry "\\ud83d" alone (found by the fuzzer: a 500 from the tokenizer); it is
    read as U+FFFD, as Ollama's Go decoder and a browser's TextEncoder read it."""
    body = '"content": "tell me \\ud83d in one word"'
    for path, extra in (
        ("/api/chat", '"stream": false, "options": {"num_predict": 2}'),
        ("/v1/chat/completions", '"max_tokens": 2'),
    ):
        r = httpx.post(
            server.url + path,
            content=f'{{"model": "gemma-3-270m", "messages": [{{"role": "user", {body}}}], {extra}}}',
            headers={"content-type": "application/json"},
            timeout=120,
        )
        assert r.status_code == 200, (path, r.text)


# ------------------------------------------------------------------------------ Ollama
def test_ollama_chat_and_generate(ol: ollama.Client) -> None:
    r = ol.chat(
        model=MODEL,
        messages=[{"role": "user", "content": "Hello"}],
        options={"num_predict": 8, "temperature": 0},
    )
    assert r.message.role == "assistant" and r.message.content and r.done and r.eval_count == 8
    parts = list(
        ol.generate(
            model=MODEL,
            prompt="The sky is",
            stream=True,
            options={"num_predict": 6, "temperature": 0},
        )
    )
    assert parts[-1].done and len("".join(p.response for p in parts)) > 0 and len(parts) >= 6


def test_ollama_format_json_and_num_ctx(ol: ollama.Client) -> None:
    r = ol.generate(
        model=MODEL,
        prompt="A JSON object:",
        format="json",
        options={"num_predict": 40, "temperature": 0},
    )
    json.loads(r.response)
    with pytest.raises(ollama.ResponseError) as e:
        ol.generate(model=MODEL, prompt="word " * 300, options={"num_ctx": 128, "num_predict": 4})
    assert e.value.status_code == 400 and "128" in str(e.value)


def test_ollama_tags_show_ps_version(ol: ollama.Client, server: ServerProcess) -> None:
    assert MODEL in [m.model for m in ol.list().models]
    s = ol.show(MODEL)
    assert s.modelinfo["general.architecture"] == "gemma3"
    assert MODEL in [m.model for m in ol.ps().models]
    assert httpx.get(server.url + "/api/version").json()["version"]


# ------------------------------------------------------------------------------ batching
def test_concurrent_streams_all_answered(server: ServerProcess) -> None:
    async def one(client: httpx.AsyncClient, i: int) -> int:
        n = 0
        async with client.stream(
            "POST",
            server.url + "/v1/completions",
            json={
                "model": MODEL,
                "prompt": f"Story {i}:",
                "max_tokens": 24,
                "temperature": 0,
                "stream": True,
            },
        ) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line.startswith("data: {"):
                    n += bool(json.loads(line[6:])["choices"][0]["text"])
        return n

    async def main() -> list[int]:
        async with httpx.AsyncClient(timeout=120) as c:
            return await asyncio.gather(*(one(c, i) for i in range(8)))

    counts = asyncio.run(main())
    assert all(c >= 20 for c in counts), counts
    metrics = httpx.get(server.url + "/metrics").text
    sizes = [
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("llmatlas_batch_size")
    ]
    assert sizes


def _active(server: ServerProcess) -> float:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith("llmatlas_active_sequences{"):
            return float(line.split()[-1])
    return 0.0


def test_disconnect_frees_slots(server: ServerProcess) -> None:
    finished: list[int] = []

    def client(i: int, drop: bool) -> None:
        with (
            httpx.Client(timeout=120) as c,
            c.stream(
                "POST",
                server.url + "/v1/completions",
                json={
                    "model": MODEL,
                    "prompt": f"Tale {i}:",
                    "max_tokens": 400 if drop else 60,
                    "temperature": 0.7,
                    "stream": True,
                },
            ) as r,
        ):
            got = 0
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    got += 1
                if drop and got >= 3:
                    return  # closing the stream drops the connection
            finished.append(i)

    threads = [threading.Thread(target=client, args=(i, i < 4)) for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    for t in threads[:4]:
        t.join(timeout=60)
    deadline = time.time() + 10
    while time.time() < deadline and _active(server) > 4:
        time.sleep(0.1)
    assert _active(server) <= 4
    for t in threads[4:]:
        t.join(timeout=120)
    assert sorted(finished) == [4, 5, 6, 7]


def test_queue_full_is_429(home: Path) -> None:
    s = ServerProcess(home, "--slots", "1", "--queue-max", "0", "--ctx", "512")
    try:
        results: list[int] = []

        def call() -> None:
            r = httpx.post(
                s.url + "/v1/completions",
                json={"model": MODEL, "prompt": "Hi", "max_tokens": 24, "temperature": 0},
                timeout=600,
            )
            results.append(r.status_code)
            if r.status_code == 429:
                assert r.headers["retry-after"] and r.json()["error"]["message"]

        ts = [threading.Thread(target=call) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert 429 in results and 200 in results
    finally:
        s.stop()


def _gauge(server: ServerProcess, name: str) -> float:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith(name + "{"):
            return float(line.split()[-1])
    return 0.0


def test_429_retry_after_is_the_estimated_wait(home: Path) -> None:
    """Retry-After is whole seconds estimated from the work ahead: with one slot and one
    queued request, more max_tokens queued means a longer answer."""
    # one thread: on a busy machine a second thread's barriers make steps seconds long, and
    # both answers would reach the cap
    s = ServerProcess(home, "--slots", "1", "--queue-max", "1", "--ctx", "1024", "--threads", "1")
    body = {"model": MODEL, "prompt": "Write a long story about a dragon.", "temperature": 0}

    def stream(max_tokens: int, started: threading.Event, stop: threading.Event) -> None:
        with (
            httpx.Client(timeout=300) as c,
            c.stream(
                "POST",
                s.url + "/v1/completions",
                json={**body, "max_tokens": max_tokens, "stream": True},
            ) as r,
        ):
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    started.set()
                    if stop.is_set():
                        return  # dropping the connection cancels the request

    def retry_after(queued_max_tokens: int) -> int:
        stop, a_started, b_started = threading.Event(), threading.Event(), threading.Event()
        a = threading.Thread(target=stream, args=(200, a_started, stop))
        b = threading.Thread(target=stream, args=(queued_max_tokens, b_started, stop))
        a.start()
        assert a_started.wait(120)
        b.start()
        deadline = time.time() + 60
        while _gauge(s, "llmatlas_queue_depth") < 1 and time.time() < deadline:
            time.sleep(0.05)
        r = httpx.post(s.url + "/v1/completions", json={**body, "max_tokens": 8}, timeout=60)
        assert a.is_alive(), "the running request ended before the probe"
        stop.set()
        a.join(120)
        b.join(120)
        assert r.status_code == 429, r.text
        value = r.headers["retry-after"]
        assert value.isdigit(), value  # whole seconds (RFC 9110 delay-seconds)
        return int(value)

    try:
        short, long = retry_after(8), retry_after(300)
        assert 1 <= short < long <= 600, (short, long)
    finally:
        s.stop()


# ------------------------------------------------------------------------------ safety
def test_api_key_required_except_health(home: Path) -> None:
    s = ServerProcess(home, "--slots", "1", "--ctx", "256", api_key="s3cret")
    try:
        assert httpx.get(s.url + "/health").status_code == 200
        r = httpx.get(s.url + "/v1/models")
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert (
            httpx.get(s.url + "/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code
            == 200
        )
        c = openai.OpenAI(base_url=s.url + "/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            c.models.list()
    finally:
        s.stop()


def test_non_loopback_bind_refused_without_key() -> None:
    from typer.testing import CliRunner

    from llmatlas.cli import app

    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 1 and "--api-key" in r.stderr


def test_body_limit_cors_and_no_traces(server: ServerProcess) -> None:
    big = "x" * (5 * 1024 * 1024)
    r = httpx.post(
        server.url + "/v1/completions",
        content=json.dumps({"model": MODEL, "prompt": big}),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    r = httpx.options(
        server.url + "/v1/models",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = httpx.post(
        server.url + "/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and "Traceback" not in r.text and r.json()["error"]["message"]


def test_health_is_503_while_loading(home: Path) -> None:
    from fastapi.testclient import TestClient

    from llmatlas.server.app import ServerConfig, create_app
    from llmatlas.settings import Settings

    fresh = home.parent / "fresh-home"
    fresh.mkdir(exist_ok=True)
    cfg = ServerConfig(
        settings=Settings.from_env().__class__(home=fresh), models=[MODEL], n_slots=1, n_ctx=256
    )
    with TestClient(create_app(cfg), base_url="http://127.0.0.1") as c:
        first = c.get("/health").status_code
        deadline = time.time() + 120
        while c.get("/health").status_code != 200 and time.time() < deadline:
            time.sleep(0.2)
        assert first == 503 and c.get("/health").status_code == 200


def test_atlas_api(server: ServerProcess) -> None:
    d = httpx.get(server.url + "/api/atlas/models", params={"language": "zh-Hant"}).json()
    assert d["count"] > 5
    strict, loose = (
        httpx.get(
            server.url + "/api/atlas/models",
            params={"commercial": "true", "allow_conditional": cond},
        ).json()["models"]
        for cond in ("false", "true")
    )
    assert {m["commercial_use"] for m in strict} == {"yes"}  # as /api/atlas/fit reads it
    assert {m["commercial_use"] for m in loose} == {"yes", "conditional"}
    m = httpx.get(server.url + "/api/atlas/models/llama3:8b").json()
    assert m["id"] == "llama-3-8b-instruct"
    e = httpx.get(
        server.url + "/api/atlas/estimate",
        params={"model": "llama-3-8b", "device": "rtx-4090", "ctx": 8192},
    ).json()
    assert e["fits"] and e["kv_cache_bytes"] == 1024**3
    assert httpx.get(server.url + "/api/atlas/models/nope").status_code == 404
    assert (
        httpx.get(
            server.url + "/api/atlas/estimate", params={"model": "llama-3-8b", "quant": "Q9"}
        ).status_code
        == 400
    )
    t = httpx.get(server.url + "/api/atlas/sizing-table", params={"model": "llama-3-8b"}).json()
    assert t["rows"][0]["quant"] == "F16"


def test_atlas_freshness_and_since(server: ServerProcess) -> None:
    """The version and the catalog's data date (the UI footer), and `since` on the models list."""
    from llmatlas import __version__
    from llmatlas.catalog import Catalog, freshness

    d = httpx.get(server.url + "/api/atlas").json()
    assert d == {"version": __version__, "catalog": freshness(Catalog())}
    assert d["catalog"]["data_date"] >= "2025-08-01"
    rows = httpx.get(server.url + "/api/atlas/models", params={"since": "2025-06"}).json()
    assert rows["catalog"] == d["catalog"]
    assert rows["count"] > 0 and all(m["released"] >= "2025-06-01" for m in rows["models"])
    assert {m["origin"] for m in rows["models"]} == {"shipped"}
    bad = httpx.get(server.url + "/api/atlas/models", params={"since": "June"})
    assert bad.status_code == 400 and "--since takes a date" in bad.text
