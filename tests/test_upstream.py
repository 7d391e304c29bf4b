"""`serve --upstream URL` and `serve --engine vllm`: llmatlas in front of another engine.

The engine here is real: llama-cpp-python's own OpenAI-compatible server
(`python -m llama_cpp.server`) on the embedded model.  The clients are the real `openai`
and `ollama` packages.  vLLM itself cannot run on this machine (no GPU), so the
`--engine vllm` lifecycle is driven through a stand-in `vllm` executable that records
its arguments and starts that same llama_cpp.server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import openai
import pytest

from tests.serverproc import ServerProcess, free_port, stop_proc, wait_http

MODEL = "gemma-3-270m"


class Engine:
    """`python -m llama_cpp.server` on 127.0.0.1 (through llmatlas.runtime.llama_server, for the AMX guard)."""

    def __init__(self, gguf: Path, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = open(log, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llmatlas.runtime.llama_server",
                "--model",
                str(gguf),
                "--model_alias",
                MODEL,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                "1024",
                "--n_threads",
                "2",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_http(self.url + "/models", self.proc, log)

    def stop(self) -> None:
        stop_proc(self.proc)
        self.log.close()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, embedded_gguf: Path
) -> Iterator[tuple[Engine, ServerProcess]]:
    home = tmp_path_factory.mktemp("upstream-home")
    engine = Engine(embedded_gguf, home / "engine.log")
    front = ServerProcess(home, "--upstream", engine.url)
    yield engine, front
    front.stop()
    engine.stop()


COMPLETION = {
    "model": MODEL,
    "prompt": "The three primary colours are",
    "max_tokens": 16,
    "temperature": 0,
}


def test_openai_routes_pass_through(stack: tuple[Engine, ServerProcess]) -> None:
    engine, front = stack
    direct = httpx.post(engine.url + "/completions", json=COMPLETION, timeout=60).json()
    client = openai.OpenAI(base_url=front.url + "/v1", api_key="unused")
    via = client.completions.create(**COMPLETION)
    assert via.choices[0].text == direct["choices"][0]["text"]
    assert via.choices[0].text.strip()
    assert via.usage is not None and via.usage.completion_tokens == 16

    pieces = [
        c.choices[0].text for c in client.completions.create(**COMPLETION, stream=True) if c.choices
    ]
    assert len(pieces) > 3  # streamed, not buffered into one chunk
    assert "".join(pieces) == via.choices[0].text
    assert [m.id for m in client.models.list().data] == [MODEL]


def test_ollama_routes_are_translated(stack: tuple[Engine, ServerProcess]) -> None:
    engine, front = stack
    direct = httpx.post(engine.url + "/completions", json=COMPLETION, timeout=60).json()
    client = ollama.Client(host=front.url)
    opts = {"temperature": 0, "num_predict": 16}
    parts = list(client.generate(MODEL, COMPLETION["prompt"], raw=True, options=opts, stream=True))
    assert len(parts) > 3 and parts[-1].done
    assert "".join(p.response for p in parts) == direct["choices"][0]["text"]
    assert parts[-1].done_reason == "length" and parts[-1].eval_count == 16

    whole = client.generate(MODEL, COMPLETION["prompt"], raw=True, options=opts)
    assert whole.response == direct["choices"][0]["text"]

    # format="json" becomes response_format, which the engine enforces with a grammar
    chunks = list(
        client.chat(
            MODEL,
            messages=[{"role": "user", "content": "A JSON object describing a cat:"}],
            format="json",
            options={"temperature": 0, "num_predict": 24},
            stream=True,
        )
    )
    text = "".join(c.message.content or "" for c in chunks)
    assert chunks[-1].done and text.lstrip().startswith("{")

    assert [m.model for m in client.list().models] == [MODEL]
    assert [m.model for m in client.ps().models] == [MODEL]
    shown = client.show(MODEL)
    assert shown.license == "Gemma Terms of Use"  # from the catalog, by the served name
    with pytest.raises(ollama.ResponseError) as err:
        client.show("no-such-model")
    assert err.value.status_code == 404 and MODEL in str(err.value)


def test_atlas_routes_and_health(stack: tuple[Engine, ServerProcess]) -> None:
    engine, front = stack
    h = httpx.get(front.url + "/health", timeout=5)
    assert h.status_code == 200 and h.json()["models"] == [MODEL]
    assert h.json()["upstream"] == engine.url
    loaded = httpx.get(front.url + "/api/atlas/loaded", timeout=5).json()
    assert loaded["loaded"] == [MODEL]
    m = httpx.get(front.url + f"/api/atlas/models/{MODEL}", timeout=5).json()
    assert m["id"] == MODEL
    assert httpx.get(front.url + "/", timeout=5).status_code == 200  # the web UI


def test_engine_gone_is_a_502_and_unhealthy(tmp_path: Path, embedded_gguf: Path) -> None:
    engine = Engine(embedded_gguf, tmp_path / "engine.log")
    front = ServerProcess(tmp_path, "--upstream", engine.url, api_key="k1")
    try:
        # the front's key guards the proxied routes too
        r = httpx.post(front.url + "/v1/completions", json=COMPLETION, timeout=60)
        assert r.status_code == 401
        engine.stop()
        r = httpx.post(
            front.url + "/v1/completions",
            json=COMPLETION,
            headers={"authorization": "Bearer k1"},
            timeout=30,
        )
        assert r.status_code == 502
        assert "did not answer" in r.json()["error"]["message"]
        assert httpx.get(front.url + "/health", timeout=10).status_code == 503
    finally:
        front.stop()
        engine.stop()


def _serve(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmatlas", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, LLMATLAS_HOME=str(home), **(env or {})),
    )


def test_bad_engine_options_are_one_line_errors(tmp_path: Path) -> None:
    no_vllm = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    r = _serve(tmp_path, MODEL, "--engine", "vllm", env=no_vllm)
    assert r.returncode == 1
    assert "needs vLLM installed" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _serve(tmp_path, "--engine", "tensorrt")
    assert r.returncode == 1 and "use llama.cpp or vllm" in r.stderr
    r = _serve(tmp_path, "--upstream", "127.0.0.1:8000")
    assert r.returncode == 1 and "http(s) URL" in r.stderr


STAND_IN = """#!{python}
# Stand-in for the `vllm` executable: records its argv, then serves the embedded model
# with llama_cpp.server on the host/port it was given.
import json, os, sys
argv = sys.argv[1:]
open({record!r}, "w").write(json.dumps(argv))
val = lambda flag: argv[argv.index(flag) + 1]
os.execv(sys.executable, [sys.executable, "-m", "llmatlas.runtime.llama_server", "--model", {gguf!r},
    "--model_alias", val("--served-model-name"), "--host", val("--host"), "--port", val("--port"),
    "--n_ctx", val("--max-model-len"), "--n_threads", "2"])
"""


def test_engine_vllm_starts_plans_and_stops_the_engine(tmp_path: Path, embedded_gguf: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "argv.json"
    exe = bindir / "vllm"
    exe.write_text(
        STAND_IN.format(python=sys.executable, record=str(record), gguf=str(embedded_gguf))
    )
    exe.chmod(0o755)
    os.environ["PATH"] = f"{bindir}:{os.environ['PATH']}"
    try:
        front = ServerProcess(
            tmp_path, MODEL, "--engine", "vllm", "--device", "rtx-4090", "--ctx", "1024"
        )
    finally:
        os.environ["PATH"] = os.environ["PATH"].split(":", 1)[1]
    try:
        argv = json.loads(record.read_text())
        # the deploy plan's flags, bound to loopback on a private port
        assert argv[:2] == ["serve", "google/gemma-3-270m"]
        flags = dict(zip(argv[2::2], argv[3::2], strict=False))
        assert flags["--served-model-name"] == MODEL
        assert flags["--tensor-parallel-size"] == "1"
        assert flags["--max-model-len"] == "1024"
        assert flags["--host"] == "127.0.0.1"
        assert int(flags["--max-num-seqs"]) >= 1
        client = openai.OpenAI(base_url=front.url + "/v1", api_key="unused")
        out = client.completions.create(**COMPLETION)
        assert out.choices[0].text.strip()
        engine_pid = int(
            subprocess.run(
                ["pgrep", "-f", f"runtime.llama_server.*--port {flags['--port']}"],
                capture_output=True,
                text=True,
            ).stdout.split()[0]
        )
    finally:
        front.stop()
    deadline = time.time() + 20
    while time.time() < deadline and Path(f"/proc/{engine_pid}").exists():
        time.sleep(0.2)
    assert not Path(f"/proc/{engine_pid}").exists(), "the engine outlived `llmatlas serve`"
