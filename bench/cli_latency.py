"""Whole-process latency of the catalog, sizing and advisor commands, against baselines
measured in the same run.

Each command runs as its own process (what a user waits for), ``--runs`` times after one
warm-up run (which builds the catalog snapshot and measures this machine once, as a
first use would); the table shows the median wall time, the median CPU time (user +
system: what the command itself costs when other programs share the cores) and the
peak RSS.  The children may write ``__pycache__`` (as ``pip install`` does), so what is
timed is the installed package, not a recompilation of its sources.  Baselines in the
same run:

* ``python -c pass``: the interpreter's own start;
* ``models --json`` with a fresh ``LLMATLAS_HOME`` each run: the catalog parsed and
  validated from YAML (the path every command took before the compiled snapshot);
* ``llmfit list --json`` when ``llmfit`` is installed (``pip install llmfit``: a Rust
  binary on PyPI; ``--llmfit PATH`` to name one), the tool issue 12 compares against.

The web API: ``--api`` also starts ``llmatlas serve`` and times ``/api/atlas/models``
and ``/api/atlas/fit`` over HTTP, the first call and the median of the next ones.

``--instructions`` also counts the instructions each short command and ``llmfit`` execute
(valgrind's callgrind, one run after the warm-up): unlike times, counts do not move with
the machine's load, so they compare two versions, or llmatlas and llmfit, on a busy machine
(about 20 s a command under valgrind).

``--before PYTHONPATH`` also times each command with another llmatlas (an older checkout's
``src``, with its own dependencies first on the path if they differ), right after this
one's runs of the same command and with a home of its own, so both see the same load.

    python bench/cli_latency.py [--runs 5] [--api] [--llmfit PATH] [--before PATH]
                                [--instructions] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CMD = [sys.executable, "-m", "llmatlas"]
COMMANDS: list[tuple[str, list[str], float | None, float | None]] = [
    # label, arguments, wall-time target (s), peak-RSS target (MB)
    ("models --json", ["models", "--json"], 0.3, None),
    ("show", ["show", "llama-3-8b-instruct"], 0.3, None),
    ("compare", ["compare", "llama-3-8b-instruct", "gemma-7b-it"], 0.3, None),
    ("estimate", ["estimate", "llama-3-8b-instruct", "--device", "rtx-4090"], 0.3, None),
    ("fit --json", ["fit", "--json"], 1.0, 150.0),
    ("recommend --json", ["recommend", "--json"], 2.0, None),
]


@dataclass
class Timing:
    label: str
    wall_s: float
    cpu_s: float
    rss_mb: float
    runs: int
    target_s: float | None = None
    target_mb: float | None = None
    note: str = ""
    instructions: int | None = None

    def ok(self) -> str:
        if self.target_s is None:
            return ""
        fine = self.wall_s <= self.target_s and (
            self.target_mb is None or self.rss_mb <= self.target_mb
        )
        goal = f"<= {self.target_s:g} s" + (f", <= {self.target_mb:g} MB" if self.target_mb else "")
        return ("met " if fine else "MISSED ") + goal


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one process, from its own rusage (os.wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.strip()[-300:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(
    label: str,
    argv: list[str],
    env: dict[str, str],
    runs: int,
    warm: bool = True,
    fresh_home: bool = False,
) -> Timing:
    if warm:
        run_once(argv, env)
    samples = []
    for _ in range(runs):
        if fresh_home:
            env = dict(env, LLMATLAS_HOME=tempfile.mkdtemp(prefix="llmatlas-cold-"))
        samples.append(run_once(argv, env))
        if fresh_home:
            shutil.rmtree(env["LLMATLAS_HOME"], ignore_errors=True)
    walls, cpus, rss = zip(*samples, strict=True)
    return Timing(label, statistics.median(walls), statistics.median(cpus), max(rss), runs)


SHORT = ("models --json", "show", "compare", "estimate")
"""The commands whose instructions ``--instructions`` counts (fit and recommend would take
minutes under valgrind)."""


def count_instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions one run of ``argv`` executes (callgrind's "Collected"), after the warm-up
    run that :func:`measure` made; the children's own processes are not followed."""
    with tempfile.TemporaryDirectory(prefix="llmatlas-cg-") as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
        )
    for line in out.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    raise SystemExit(f"valgrind gave no instruction count for {' '.join(argv)}")


def find_llmfit(given: str | None) -> str | None:
    return given or shutil.which("llmfit")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api_timings(env: dict[str, str], runs: int) -> list[Timing]:
    """First call and median of the next ``runs`` for the web UI's catalog and fit calls."""
    import httpx

    port = free_port()
    log = Path(env["LLMATLAS_HOME"]) / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*CMD, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"llmatlas serve exited: {log.read_text()[-500:]}")
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise SystemExit("llmatlas serve did not come up in 180 s")
            time.sleep(0.3)
        out_rows = []
        with httpx.Client(base_url=base, timeout=120) as client:
            for label, path, params in (
                ("GET /api/atlas/models", "/api/atlas/models", {}),
                ("GET /api/atlas/fit (this machine)", "/api/atlas/fit", {}),
                (
                    "GET /api/atlas/fit (24 GB GPU, code)",
                    "/api/atlas/fit",
                    {"device": "rtx-4090", "task": "code"},
                ),
            ):
                walls = []
                for _ in range(runs + 1):
                    t0 = time.perf_counter()
                    r = client.get(path, params=params)
                    walls.append(time.perf_counter() - t0)
                    r.raise_for_status()
                out_rows.append(Timing(f"{label}: first", walls[0], float("nan"), float("nan"), 1))
                out_rows.append(
                    Timing(
                        f"{label}: next",
                        statistics.median(walls[1:]),
                        float("nan"),
                        float("nan"),
                        runs,
                        0.1,
                    )
                )
        return out_rows
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs per command (median)")
    ap.add_argument("--llmfit", help="path to an llmfit binary (default: llmfit on PATH)")
    ap.add_argument("--api", action="store_true", help="also time the web API over HTTP")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument(
        "--before", metavar="PYTHONPATH", help="also time an older llmatlas (its src directory)"
    )
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions (valgrind) of the short commands and llmfit",
    )
    args = ap.parse_args()
    if args.instructions and not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    load_before = os.getloadavg()[0]
    home = tempfile.mkdtemp(prefix="llmatlas-bench-")
    env = dict(os.environ, LLMATLAS_HOME=home)
    # Time what an installed package runs: compiled bytecode (pip writes it at install time;
    # PYTHONDONTWRITEBYTECODE would make every run recompile llmatlas's sources instead).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    rows: list[Timing] = []
    try:
        rows.append(measure("python -c pass", [sys.executable, "-c", "pass"], env, args.runs))
        cold = measure(
            "models --json, no snapshot (YAML)",
            [*CMD, "models", "--json"],
            env,
            args.runs,
            warm=False,
            fresh_home=True,
        )
        rows.append(cold)
        old_env = None
        if args.before:
            old_env = dict(env, LLMATLAS_HOME=os.path.join(home, "before"), PYTHONPATH=args.before)
        for label, argv, target_s, target_mb in COMMANDS:
            t = measure(label, [*CMD, *argv], env, args.runs)
            t.target_s, t.target_mb = target_s, target_mb
            if args.instructions and label in SHORT:
                t.instructions = count_instructions([*CMD, *argv], env)
            rows.append(t)
            if old_env is not None:
                old = measure(f"{label} (before)", [*CMD, *argv], old_env, args.runs)
                if args.instructions and label in SHORT:
                    old.instructions = count_instructions([*CMD, *argv], old_env)
                old.note = (
                    f"now {t.cpu_s / old.cpu_s:.2f}x its CPU, {t.wall_s / old.wall_s:.2f}x wall"
                )
                if t.instructions and old.instructions:
                    old.note += f", {t.instructions / old.instructions:.2f}x its instructions"
                rows.append(old)
        llmfit = find_llmfit(args.llmfit)
        peer: Timing | None = None
        if llmfit:
            peer = measure("llmfit list --json", [llmfit, "list", "--json"], env, args.runs)
            if args.instructions:
                peer.instructions = count_instructions([llmfit, "list", "--json"], env)
            rows.append(peer)
        if args.api:
            rows += api_timings(env, args.runs)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    warm_models = next(r for r in rows if r.label == "models --json")
    for r in rows:
        parts = []
        if r.note:
            parts.append(r.note)
        if peer and r is not peer and r.cpu_s == r.cpu_s:  # not NaN
            parts.append(
                f"{r.wall_s / peer.wall_s:.2f}x llmfit wall, {r.cpu_s / peer.cpu_s:.2f}x CPU"
            )
        if r is cold:
            parts.append(f"{cold.wall_s / warm_models.wall_s:.1f}x the snapshot's time")
        if peer and peer.instructions and r.instructions and r is not peer:
            parts.append(f"{r.instructions / peer.instructions:.2f}x llmfit's instructions")
        r.note = ", ".join(parts)
    if args.json:
        print(
            json.dumps(
                {
                    "load_average": [load_before, os.getloadavg()[0]],
                    "rows": [r.__dict__ for r in rows],
                },
                indent=2,
            )
        )
        return 0
    load = os.getloadavg()[0]
    print(
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} before and {load:.1f} after; "
        f"median of {args.runs} runs"
    )
    if not llmfit:
        print("llmfit not installed (`pip install llmfit`, or --llmfit PATH): no peer row")
    print("| command | wall s | CPU s | peak RSS MB | instructions (M) | target | ratio |")
    print("|---|---:|---:|---:|---:|---|---|")
    for r in rows:
        cpu = f"{r.cpu_s:.2f}" if r.cpu_s == r.cpu_s else "-"
        rss = f"{r.rss_mb:.0f}" if r.rss_mb == r.rss_mb else "-"
        ins = f"{r.instructions / 1e6:.0f}" if r.instructions else "-"
        print(f"| {r.label} | {r.wall_s:.3f} | {cpu} | {rss} | {ins} | {r.ok()} | {r.note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
