"""How close is the speed model to measured single-stream decode?  Prints the error table.

Three kinds of rows, each marked with its role:

- ``held out``: published llama.cpp scoreboards (``llama-bench -ngl 99``, Llama-2 7B Q4_0,
  ``tg128``) on NVIDIA and Apple GPUs, compared with ``estimate`` on the same device from
  the device table, default efficiencies, no calibration;
- ``fitted``: the multi-GPU measurements the tensor-parallel and MoE constants were fitted
  to (gpt-fast's TP table, DeepSeek-R1-0528-AWQ on 8 x H100): they show the fit, not a test;
- ``here``: the embedded Gemma 3 270M decoded on this machine through llama-cpp-python
  (a fresh child process, as ``llmatlas bench`` does), against the estimate from this
  machine's memory bandwidth, uncalibrated.

    python bench/speed_accuracy.py            # all rows
    python bench/speed_accuracy.py --no-local # published rows only (no model run)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import dataclass

from llmatlas.advisor import Target, estimate
from llmatlas.catalog import Catalog
from llmatlas.hardware import find_device

CUDA_BOARD = "https://github.com/ggml-org/llama.cpp/discussions/15013"
APPLE_BOARD = "https://github.com/ggml-org/llama.cpp/discussions/4167"
GPT_FAST = "https://github.com/pytorch-labs/gpt-fast#tensor-parallelism"
R1_AWQ = "https://github.com/tenstorrent/tt-inference-server/issues/356"


@dataclass(frozen=True)
class Published:
    label: str
    model: str
    quant: str
    device: str
    gpus: int
    engine: str
    measured_tps: float
    role: str
    source: str
    context: int = 256


# Llama-2 7B Q4_0 tg128, batch 1, all layers on the GPU (the scoreboards' one setting).
PUBLISHED: tuple[Published, ...] = (
    Published(
        "RTX 3060 12 GB",
        "llama-2-7b",
        "Q4_0",
        "rtx-3060",
        1,
        "llama.cpp",
        75.6,
        "held out",
        CUDA_BOARD,
    ),
    Published(
        "RTX 3090", "llama-2-7b", "Q4_0", "rtx-3090", 1, "llama.cpp", 158.2, "held out", CUDA_BOARD
    ),
    Published(
        "RTX 4090", "llama-2-7b", "Q4_0", "rtx-4090", 1, "llama.cpp", 189.0, "held out", CUDA_BOARD
    ),
    Published(
        "RTX 5080", "llama-2-7b", "Q4_0", "rtx-5080", 1, "llama.cpp", 184.7, "held out", CUDA_BOARD
    ),
    Published(
        "RTX 5090", "llama-2-7b", "Q4_0", "rtx-5090", 1, "llama.cpp", 300.4, "held out", CUDA_BOARD
    ),
    Published(
        "A100 80 GB",
        "llama-2-7b",
        "Q4_0",
        "a100-80gb-sxm",
        1,
        "llama.cpp",
        200.9,
        "held out",
        CUDA_BOARD,
    ),
    Published(
        "H100 80 GB",
        "llama-2-7b",
        "Q4_0",
        "h100-sxm",
        1,
        "llama.cpp",
        280.7,
        "held out",
        CUDA_BOARD,
    ),
    Published(
        "M1 Ultra", "llama-2-7b", "Q4_0", "m1-ultra", 1, "llama.cpp", 83.7, "held out", APPLE_BOARD
    ),
    Published(
        "M2 Ultra", "llama-2-7b", "Q4_0", "m2-ultra", 1, "llama.cpp", 94.3, "held out", APPLE_BOARD
    ),
    Published(
        "M3 Ultra", "llama-2-7b", "Q4_0", "m3-ultra", 1, "llama.cpp", 92.1, "held out", APPLE_BOARD
    ),
    Published(
        "M4 Pro", "llama-2-7b", "Q4_0", "m4-pro", 1, "llama.cpp", 50.7, "held out", APPLE_BOARD
    ),
    Published(
        "M4 Max", "llama-2-7b", "Q4_0", "m4-max", 1, "llama.cpp", 83.1, "held out", APPLE_BOARD
    ),
    # gpt-fast, Llama-2 bf16, batch 1, 8 x A100-80GB power-limited to 330 W
    Published(
        "gpt-fast 7B bf16, TP 2",
        "llama-2-7b",
        "BF16",
        "a100-80gb-sxm",
        2,
        "vllm",
        168.84,
        "fitted",
        GPT_FAST,
        8,
    ),
    Published(
        "gpt-fast 7B bf16, TP 8",
        "llama-2-7b",
        "BF16",
        "a100-80gb-sxm",
        8,
        "vllm",
        328.43,
        "fitted",
        GPT_FAST,
        8,
    ),
    Published(
        "gpt-fast 70B bf16, TP 4",
        "llama-2-70b",
        "BF16",
        "a100-80gb-sxm",
        4,
        "vllm",
        38.01,
        "held out",
        GPT_FAST,
        8,
    ),
    Published(
        "gpt-fast 70B bf16, TP 8",
        "llama-2-70b",
        "BF16",
        "a100-80gb-sxm",
        8,
        "vllm",
        62.50,
        "held out",
        GPT_FAST,
        8,
    ),
    # vLLM, concurrency 1, ISL 128 / OSL 128: TPOT 16.1 ms
    Published(
        "DeepSeek-R1 AWQ, 8 x H100 (vLLM)",
        "deepseek-r1",
        "AWQ-4BIT",
        "h100-sxm",
        8,
        "vllm",
        62.11,
        "fitted",
        R1_AWQ,
    ),
)


@dataclass
class Row:
    label: str
    measured: float
    estimated: float
    role: str
    source: str

    @property
    def error_pct(self) -> float:
        return (self.estimated - self.measured) / self.measured * 100


def published_rows(cat: Catalog) -> list[Row]:
    rows = []
    for p in PUBLISHED:
        m = cat.get(p.model)
        target = Target.from_device(find_device(p.device), p.gpus, p.engine)
        # the scoreboards measure speed, not fit: size against the target ignoring headroom
        e = estimate(m, target, p.quant, p.context, 1, p.engine)
        rows.append(Row(p.label, p.measured_tps, e.decode_tps, p.role, p.source))
    return rows


def local_rows(cat: Catalog, runs: int = 1) -> list[Row]:
    """Decode the embedded model here and compare with the uncalibrated estimate."""
    from llmatlas.hardware import detect
    from llmatlas.runtime.bench import measure_once
    from llmatlas.runtime.store import ModelStore

    path = str(ModelStore().ensure_embedded().path)
    threads = os.cpu_count() or 1
    tps = [measure_once(path, 2048, threads, 64, 96)["tg_tps"] for _ in range(runs)]
    machine = detect()
    target = Target.from_machine(machine)
    e = estimate(cat.get("gemma-3-270m-it"), target, "Q4_K_M", 2048, calibration=None)
    label = f"Gemma 3 270M Q4_K_M here ({machine.cpu_bandwidth_gbs:g} GB/s, {threads} threads)"
    return [Row(label, statistics.median(tps), e.decode_tps, "here", "llmatlas bench")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-local", action="store_true", help="skip the run on this machine")
    args = ap.parse_args(argv)
    cat = Catalog()
    rows = published_rows(cat)
    if not args.no_local:
        try:
            rows += local_rows(cat)
        except Exception as exc:
            print(f"local run skipped: {exc}", file=sys.stderr)
    print("| setup | measured tok/s | estimated tok/s | error | role |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r.label} | {r.measured:.1f} | {r.estimated:.1f} | {r.error_pct:+.0f}% | {r.role} |"
        )
    held = [abs(r.error_pct) for r in rows if r.role == "held out"]
    if held:
        print(
            f"\nheld-out rows: median |error| {statistics.median(held):.0f}%, "
            f"max {max(held):.0f}% over {len(held)} setups"
        )
    print("sources: " + ", ".join(sorted({r.source for r in rows if r.source.startswith("http")})))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
