"""Conformance of the per-device figures against llama.cpp split over several devices.

llama.cpp's RPC backend makes each ``ggml-rpc-server`` a device of its own, with its own
buffers, so a CPU-only machine can run llama.cpp's real multi-device path: the layer
split (``--tensor-split``), the per-device model buffers and KV caches, and the backend
scheduler's per-device compute buffers with pipeline parallelism.  This starts 2-3
rpc-servers on 127.0.0.1, loads small, deep synthesised models with ``-ngl 99`` and several
``--tensor-split`` values and contexts through ``llama-completion``, reads each device's
model, KV and compute buffer from its log, and prints them against
``llmatlas.sizing.memory.llama_cpp_devices`` for the same file.

Needs a llama.cpp build with ``-DGGML_RPC=ON`` (targets ``ggml-rpc-server`` and
``llama-completion``)::

    cmake -S llama.cpp -B build-rpc -DGGML_RPC=ON -DGGML_NATIVE=ON -DLLAMA_OPENSSL=OFF
    cmake --build build-rpc -j2 --target ggml-rpc-server llama-completion
    PYTHONPATH=src .venv/bin/python bench/multidevice_conformance.py --bin build-rpc/bin

or, instead of ``llama-completion`` (its common library is most of the build), build
``bench/llama_rpc_probe.cpp`` against libllama (the command is in that file).
(``--bin`` defaults to ``$LLMATLAS_LLAMA_RPC_BIN``.)  Target: model and KV buffers exact (to
the log's 0.01 MiB), compute buffers within 2%.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from llmatlas.artifacts import from_gguf
from llmatlas.artifacts.synth import synth_gguf
from llmatlas.catalog import Architecture, Catalog
from llmatlas.sizing import MiB
from llmatlas.sizing.memory import DeviceMemory, llama_cpp_devices
from llmatlas.sizing.quant import get_format

SERVER = "ggml-rpc-server"
CLIENTS = ("llama-completion", "llama-rpc-probe")
"""Either llama.cpp's own CLI, or bench/llama_rpc_probe.cpp built against libllama (the same
load and context calls without the common library, which is the slow part of the build)."""
BASE_PORT = 50152

SMALL: dict[str, object] = {
    "num_hidden_layers": 32,
    "hidden_size": 256,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "intermediate_size": 704,
    "vocab_size": 32000,
}
"""Deep but narrow: the split has layers to place, and the files and buffers stay small."""
SHAPES: dict[str, dict[str, object]] = {
    "llama-3-8b": SMALL,  # Llama 3: GQA, untied head
    # Gemma 3: sliding-window layers (two masks), tied embeddings
    "gemma-3-4b-it": {**SMALL, "num_key_value_heads": 1, "num_hidden_layers": 30},
    "qwen2.5-7b": SMALL,  # Qwen2: QKV biases
    # Qwen3 MoE: routed experts, QK norms
    "qwen3-30b-a3b": {
        **SMALL,
        "num_experts": 16,
        "num_experts_per_tok": 4,
        "moe_intermediate_size": 128,
    },
    # gpt-oss: sliding-window layers, attention sinks, MoE with biases
    "gpt-oss-20b": {
        **SMALL,
        "num_experts": 8,
        "num_experts_per_tok": 2,
        "intermediate_size": 256,
        "moe_intermediate_size": 256,
        "num_hidden_layers": 24,
    },
}
"""Small models of catalog architectures: (catalog id, what changes)."""


def small_model(cat: Catalog, mid: str) -> Architecture:
    """The catalog architecture ``mid`` at the bench's small shape."""
    a = cat.get(mid).architecture
    assert a is not None
    return a.model_copy(update=SHAPES[mid])


@dataclass(frozen=True)
class Case:
    model: str
    devices: int
    split: tuple[float, ...] | None  # None: llama.cpp's default (free memory per device)
    ctx: int
    flash: bool = False
    kv_type: str = "f16"


CASES = [
    Case("llama-3-8b", 2, None, 4096),
    Case("llama-3-8b", 2, (3, 1), 8192),
    Case("llama-3-8b", 3, (1, 1, 1), 2048),
    Case("llama-3-8b", 3, (2, 1, 1), 4096, flash=True),
    Case("llama-3-8b", 3, (1, 2, 1), 4096, kv_type="q8_0", flash=True),
    Case("gemma-3-4b-it", 2, (1, 1), 4096),
    Case("gemma-3-4b-it", 3, (1, 1, 2), 2048, flash=True),
    Case("qwen2.5-7b", 2, (1, 2), 4096),
    Case("qwen3-30b-a3b", 2, (1, 1), 4096),
    Case("qwen3-30b-a3b", 3, (1, 1, 1), 8192, flash=True),
    Case("gpt-oss-20b", 2, (2, 1), 4096),
    Case("gpt-oss-20b", 3, (1, 1, 1), 2048, flash=True),
    # one device: no pipeline parallelism (one copy of each input), embeddings still on the CPU
    Case("llama-3-8b", 1, None, 4096),
    Case("gemma-3-4b-it", 1, None, 8192, flash=True),
]

_LINE = re.compile(r"(?P<what>model|KV|compute) buffer size =\s*(?P<mib>[0-9.]+) MiB")
_FREE = re.compile(r"using device \S+ \((?P<dev>[^)]*)\) .* - (?P<free>\d+) MiB free")


def _wait_port(port: int, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"rpc-server on port {port} did not start")


def parse_log(log: str, endpoints: list[str]) -> tuple[list[dict[str, int]], list[int]]:
    """Per device (the endpoints in order, then the host): bytes of model/KV/compute buffer
    as logged (0.01 MiB resolution); and the free memory each device reported (bytes)."""
    rows = [{"model": 0, "KV": 0, "compute": 0} for _ in range(len(endpoints) + 1)]
    free = [0] * len(endpoints)
    for line in log.splitlines():
        m = _FREE.search(line)
        if m:
            for i, ep in enumerate(endpoints):
                if m["dev"] == ep:
                    free[i] = int(m["free"]) * MiB
            continue
        m = _LINE.search(line)
        if not m:
            continue
        where = next((i for i, ep in enumerate(endpoints) if f"[{ep}]" in line), None)
        if where is None:
            if "CPU" not in line:
                continue
            where = len(endpoints)
        rows[where][m["what"]] += round(float(m["mib"]) * MiB)
    return rows, free


def run_case(case: Case, path: Path, endpoints: list[str], client: Path) -> str:
    eps = ",".join(endpoints[: case.devices])
    split = ",".join(f"{x:g}" for x in case.split) if case.split is not None else "-"
    if client.name == "llama-rpc-probe":
        cmd = [str(client), str(path), eps, "99", split, str(case.ctx), str(int(case.flash))]
        cmd.append(case.kv_type)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        return p.stdout + p.stderr
    cmd = [
        str(client),
        "-m",
        str(path),
        "--rpc",
        eps,
        "-ngl",
        "99",
        "-c",
        str(case.ctx),
        "-fa",
        "on" if case.flash else "off",
        "-ctk",
        case.kv_type,
        "-ctv",
        case.kv_type,
        "--fit",
        "off",
        "--swa-full",  # llama-cpp-python's default (and llmatlas's); llama.cpp's CLI trims
        "-v",  # the CLI logs llama.cpp's buffer sizes only when verbose
        "-n",
        "1",
        "-no-cnv",
        "--no-warmup",
        "-t",
        "1",
        "-p",
        "hi",
    ]
    if case.split is not None:
        cmd += ["--tensor-split", split]
    # the log lines this reads are printed while the context is built; a file without a
    # vocabulary may then fail to tokenize the prompt, which does not matter here
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return p.stdout + p.stderr


def _err(pred: int, actual: int) -> float:
    if abs(pred - actual) <= MiB // 200:  # the log's resolution: 0.01 MiB
        return 0.0
    return pred / actual - 1 if actual else float("inf")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.environ.get("LLMATLAS_LLAMA_RPC_BIN", ""))
    ap.add_argument("--cases", default="", help="comma-separated case numbers (default: all)")
    args = ap.parse_args()
    bindir = Path(args.bin) if args.bin else None
    client = next((bindir / c for c in CLIENTS if bindir and (bindir / c).exists()), None)
    if bindir is None or not (bindir / SERVER).exists() or client is None:
        print(
            f"needs llama.cpp's {SERVER} and {CLIENTS[0]} (or {CLIENTS[1]}) built with "
            "-DGGML_RPC=ON: give their folder with --bin or LLMATLAS_LLAMA_RPC_BIN "
            "(see this file's docstring)",
            file=sys.stderr,
        )
        return 2
    cases = CASES
    if args.cases:
        cases = [CASES[int(i)] for i in args.cases.split(",")]
    cat = Catalog()
    n_servers = max(c.devices for c in cases)
    endpoints = [f"127.0.0.1:{BASE_PORT + i}" for i in range(n_servers)]
    print(f"# client: {client.name}, {n_servers} rpc-servers on 127.0.0.1")
    print(
        f"{'model':14} {'split':9} {'ctx':>5} {'FA':3} {'KV':5} {'device':7} {'layers':>6} "
        f"{'model MiB':>10} {'err':>7} {'KV MiB':>8} {'err':>7} {'compute MiB':>11} {'err':>7}"
    )
    worst = {"model": 0.0, "KV": 0.0, "compute": 0.0}
    n_rows = 0
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        for i in range(n_servers):
            p = subprocess.Popen(
                [str(bindir / SERVER), "-H", "127.0.0.1", "-p", str(BASE_PORT + i), "-t", "1"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            stack.callback(p.wait, 10)
            stack.callback(p.terminate)
            _wait_port(BASE_PORT + i)
        files: dict[str, tuple[Path, object]] = {}
        for case in cases:
            if case.model not in files:
                a0 = small_model(cat, case.model)
                path = synth_gguf(
                    a0, get_format("Q8_0", "llama.cpp"), Path(tmp) / f"{case.model}.gguf"
                )[0]
                files[case.model] = (path, from_gguf(path, cat))
            path, art = files[case.model]
            a = art.architecture  # type: ignore[attr-defined]
            header = art.header  # type: ignore[attr-defined]
            log = run_case(case, path, endpoints, client)
            measured, free = parse_log(log, endpoints[: case.devices])
            if not any(r["compute"] for r in measured):
                print(f"{case}: llama.cpp logged no compute buffer; log tail:\n{log[-2000:]}")
                return 1
            pred: list[DeviceMemory] = llama_cpp_devices(
                a,
                get_format(art.quant, "llama.cpp"),  # type: ignore[attr-defined]
                case.ctx,
                case.devices,
                list(case.split) if case.split else None,
                kv_type=case.kv_type,
                flash_attn=case.flash,
                free_bytes=free if case.split is None else None,
                weight_tensors=[(t.name, t.n_bytes) for t in header.tensors],
            )
            split = ",".join(f"{x:g}" for x in case.split) if case.split else "free mem"
            for d, m in zip(pred, measured, strict=True):
                name = f"RPC{d.device}" if d.device < case.devices else "host"
                errs = {
                    "model": _err(d.weights_bytes, m["model"]),
                    "KV": _err(d.kv_cache_bytes, m["KV"]),
                    "compute": _err(d.compute_bytes, m["compute"]),
                }
                for k, v in errs.items():
                    worst[k] = max(worst[k], abs(v))
                n_rows += 1
                print(
                    f"{case.model:14} {split:9} {case.ctx:>5} {'on' if case.flash else 'off':3} "
                    f"{case.kv_type:5} {name:7} {d.layers:>3}{'+o' if d.output else '  '} "
                    f" {m['model'] / MiB:>10.2f} {errs['model']:>+7.2%} {m['KV'] / MiB:>8.2f} "
                    f"{errs['KV']:>+7.2%} {m['compute'] / MiB:>11.2f} {errs['compute']:>+7.2%}"
                )
    print(
        f"\n{len(cases)} runs, {n_rows} device rows; worst error: model {worst['model']:.2%}, "
        f"KV {worst['KV']:.2%}, compute {worst['compute']:.2%} (target: exact, exact, 2%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
