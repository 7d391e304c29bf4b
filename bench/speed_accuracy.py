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

Dense against MoE, each on one device in one run (what the llama.cpp MoE terms are about):

- one published llama-bench table on a Ryzen AI Max+ 395 (ROCm) with dense and MoE models;
  two Qwen3-30B-A3B rows are what ``EXPERT_MATRIX_EXTRA_BYTES["gpu"]`` was fitted to, the
  other MoE rows are held out;
- here: synthetic GGUFs (``artifacts.synth`` with random weights) of a dense Llama-shaped,
  a Qwen3-MoE-shaped and a Mixtral-shaped model of similar active bytes, decoded at batch 1
  in one process, interleaved, ``--reps`` times; one thread and CPU time, because this
  machine's cores are shared (wall time and a second thread's barriers measure the
  neighbours).  Printed: predicted/measured per file and rep, and MoE's ratio over dense's.

    python bench/speed_accuracy.py            # all rows
    python bench/speed_accuracy.py --no-local # published rows only (no model run)
    python bench/speed_accuracy.py --moe-only --reps 3  # the dense-vs-MoE run here only
    python bench/speed_accuracy.py --moe-only --batch   # and a step of 4 sequences vs 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import dataclass
from typing import Any

from llmatlas.advisor import Target, estimate
from llmatlas.catalog import Catalog
from llmatlas.hardware import find_device

CUDA_BOARD = "https://github.com/ggml-org/llama.cpp/discussions/15013"
APPLE_BOARD = "https://github.com/ggml-org/llama.cpp/discussions/4167"
GPT_FAST = "https://github.com/pytorch-labs/gpt-fast#tensor-parallelism"
R1_AWQ = "https://github.com/tenstorrent/tt-inference-server/issues/356"
STRIX = "https://blog.tosukui.xyz/posts/gmktec-ryzen-ai-rocm-therock"
# Ryzen AI Max+ 395: LPDDR5X-8000 on a 256-bit bus = 256 GB/s
STRIX_SPEC = "https://www.amd.com/en/products/processors/laptop/ryzen/ai-300-series/amd-ryzen-ai-max-plus-395.html"
STRIX_GBS = 256.0
# llama-bench -ngl 99 -mmp 0, tg128, build 7de5c7ca (5882), ROCm (TheRock), gfx1151:
# (model, quant, tok/s, role)
STRIX_ROWS: tuple[tuple[str, str, float, str], ...] = (
    ("llama-2-7b", "Q4_0", 47.92, "held out"),
    ("qwen3-32b", "Q4_K_M", 9.91, "held out"),
    ("qwen3-32b", "Q8_0", 5.67, "held out"),
    ("qwen3-30b-a3b", "Q4_K_M", 56.55, "fitted"),
    ("qwen3-30b-a3b", "Q8_0", 37.91, "fitted"),
    ("hunyuan-a13b-instruct", "Q4_K_M", 22.56, "held out"),
    ("qwen3-235b-a22b", "Q3_K_S", 13.52, "held out"),
)


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


def same_device_rows(cat: Catalog) -> list[Row]:
    """The Ryzen AI Max+ 395 table: dense and MoE on one device, one build.  Decode at batch
    1 is memory-bound there, so the device's FLOP/s do not enter (passed as unbounded)."""
    from llmatlas.sizing import estimate_speed, get_format

    rows = []
    for model, quant, tps, role in STRIX_ROWS:
        a = cat.get(model).architecture
        assert a is not None
        e = estimate_speed(a, get_format(quant, "llama.cpp"), STRIX_GBS, float("inf"), "gpu", 128)
        kind = "MoE" if a.is_moe else "dense"
        rows.append(
            Row(f"Ryzen AI Max+ 395: {model} {quant} ({kind})", tps, e.decode_tps, role, STRIX)
        )
    return rows


# Synthetic shapes for the run here: hidden 2048, 16 layers, GQA 16/4 heads of 128, 32k vocab.
_BASE = dict(
    num_hidden_layers=16,
    hidden_size=2048,
    num_attention_heads=16,
    num_key_value_heads=4,
    head_dim=128,
    vocab_size=32000,
    max_position_embeddings=4096,
    tie_word_embeddings=False,
    rope_theta=1e6,
)
SHAPES: dict[str, dict[str, object]] = {
    "dense (Llama-shaped, 8192 FFN)": dict(model_type="llama", intermediate_size=8192),
    "MoE (Qwen3-shaped, 8 of 32 x 768)": dict(
        model_type="qwen3_moe",
        qk_norm=True,
        intermediate_size=6144,
        num_experts=32,
        num_experts_per_tok=8,
        moe_intermediate_size=768,
    ),
    "MoE (Mixtral-shaped, 2 of 8 x 4096)": dict(
        model_type="mixtral",
        intermediate_size=4096,
        num_experts=8,
        num_experts_per_tok=2,
        moe_intermediate_size=4096,
    ),
}

MoeRow = tuple[str, float, list[float], float]  # label, predicted, measured per rep, term

DECODE_CHILD = r"""
import json, sys, time
from llmatlas.runtime._llama_log import quiet
quiet()  # the AMX guard: without it llama.cpp crashes on AMX CPUs
from llama_cpp import Llama
paths, reps, n = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
llms = [Llama(model_path=p, n_ctx=256, n_threads=1, n_batch=16, verbose=False) for p in paths]
out = [[] for _ in paths]
for rep in range(reps + 1):  # round 0 warms the page cache
    for i, llm in enumerate(llms):
        llm.reset()
        llm.eval([11, 22, 33, 44, 55, 66, 77, 88])
        c0 = time.process_time()
        for j in range(n):
            llm.eval([100 + (j * 37) % 1000])
        if rep:
            out[i].append(n / (time.process_time() - c0))
print(json.dumps(out))
"""


BATCH_CHILD = r"""
import json, sys, time
from llmatlas.runtime._llama_log import quiet
quiet()
import llama_cpp as L
from llama_cpp import _internals
paths, reps, steps = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
ctxs = []
for p in paths:
    model = _internals.LlamaModel(path_model=p, params=L.llama_model_default_params(), verbose=False)
    cp = L.llama_context_default_params()
    cp.n_ctx, cp.n_batch, cp.n_ubatch, cp.n_seq_max = 1024, 64, 64, 4
    cp.n_threads = cp.n_threads_batch = 1
    cp.kv_unified = True
    ctxs.append((model, _internals.LlamaContext(model=model, params=cp, verbose=False)))
batch = L.llama_batch_init(64, 0, 4)
def step_s(ctx, b):  # CPU seconds per decode step of b sequences (different tokens each)
    c0 = time.process_time()
    for t in range(steps):
        for i in range(b):
            batch.token[i] = 100 + (t * 37 + i * 101) % 1000
            batch.pos[i], batch.n_seq_id[i], batch.logits[i] = t, 1, True
            batch.seq_id[i][0] = i
        batch.n_tokens = b
        assert L.llama_decode(ctx.ctx, batch) == 0
    dt = (time.process_time() - c0) / steps
    for i in range(4):
        L.llama_memory_seq_rm(L.llama_get_memory(ctx.ctx), i, -1, -1)
    return dt
out = [[] for _ in paths]
for rep in range(reps + 1):
    for i, (_, ctx) in enumerate(ctxs):
        one, four = step_s(ctx, 1), step_s(ctx, 4)
        if rep:
            out[i].append(four / one)
print(json.dumps(out))
"""


def _run_on_shapes(child: str, *args: str) -> tuple[list[Any], list[Any]]:
    """Write each of :data:`SHAPES` as a Q4_K_M GGUF with random weights, run ``child`` on
    them in one process, and return the architectures and its JSON answer."""
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    from llmatlas.artifacts.synth import fill_random, synth_gguf
    from llmatlas.catalog._schema import Architecture
    from llmatlas.sizing import get_format

    fmt = get_format("Q4_K_M", "llama.cpp")
    with tempfile.TemporaryDirectory(prefix="speed-moe-") as d:
        archs, paths = [], []
        for i, shape in enumerate(SHAPES.values()):
            a = Architecture(**{**_BASE, **shape})
            path = Path(d) / f"m{i}.gguf"
            synth_gguf(a, fmt, path)
            fill_random(path, seed=i)
            archs.append(a)
            paths.append(str(path))
        proc = subprocess.run(
            [sys.executable, "-c", child, ",".join(paths), *args],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if proc.returncode != 0:
            raise RuntimeError((proc.stderr.strip().splitlines() or ["no output"])[-1])
        return archs, json.loads(proc.stdout.strip().splitlines()[-1])


def dense_vs_moe_here(reps: int = 3, tokens: int = 16) -> list[MoeRow]:
    """Per shape: predicted tok/s (uncalibrated, this machine's probed bandwidth), the measured
    tok/s of each rep, and how much the llama.cpp expert-matrix term adds to the step's
    weight bytes (1 for dense)."""
    from llmatlas.hardware import detect
    from llmatlas.sizing import estimate_speed, get_format
    from llmatlas.sizing.speed import bytes_read_per_token, step_weight_bytes

    machine = detect()
    fmt = get_format("Q4_K_M", "llama.cpp")
    archs, measured = _run_on_shapes(DECODE_CHILD, str(reps), str(tokens))
    out = []
    for label, a, tps in zip(SHAPES, archs, measured, strict=True):
        # the bytes model alone (FLOP/s unbounded): what MoE changes is the bytes and their
        # cost; this machine's probed FLOP/s, taken under load, would make every row
        # compute-bound, and the FLOP count treats dense and MoE weights alike anyway
        e = estimate_speed(a, fmt, machine.cpu_bandwidth_gbs, float("inf"), "cpu", 16)
        term = step_weight_bytes(a, fmt, 1, "cpu") / bytes_read_per_token(a, fmt)
        out.append((label, e.decode_tps, tps, term))
    return out


def batch_growth_here(reps: int = 3, steps: int = 8) -> None:
    """A step of 4 sequences over a step of 1, measured (CPU time, 1 thread) against the
    weight bytes the model says each step reads: for MoE, every expert any of the 4 is
    routed to.  At one thread the dense model's own ratio shows what compute adds."""
    from llmatlas.sizing import get_format
    from llmatlas.sizing.speed import step_weight_bytes

    fmt = get_format("Q4_K_M", "llama.cpp")
    archs, measured = _run_on_shapes(BATCH_CHILD, str(reps), str(steps))
    print(
        "\n| synthetic Q4_K_M here, 1 thread | step of 4 / step of 1, measured | weight bytes, model |"
    )
    print("|---|---:|---:|")
    for label, a, ratios in zip(SHAPES, archs, measured, strict=True):
        bytes_ratio = step_weight_bytes(a, fmt, 4, "cpu") / step_weight_bytes(a, fmt, 1, "cpu")
        print(f"| {label} | {', '.join(f'{r:.2f}' for r in ratios)} | {bytes_ratio:.2f} |")


def print_dense_vs_moe(rows: list[MoeRow]) -> None:
    print(
        "\n| synthetic Q4_K_M here, 1 thread | predicted tok/s | measured tok/s (reps) | predicted/measured |"
    )
    print("|---|---:|---:|---:|")
    for label, pred, tps, _ in rows:
        ratios = ", ".join(f"{pred / t:.2f}" for t in tps)
        print(f"| {label} | {pred:.2f} | {', '.join(f'{t:.2f}' for t in tps)} | {ratios} |")
    dense_pred, dense_tps = rows[0][1], rows[0][2]
    for label, pred, tps, extra in rows[1:]:
        rel = [(pred / t) / (dense_pred / d) for t, d in zip(tps, dense_tps, strict=True)]
        print(
            f"{label}: predicted/measured over dense's, per rep: "
            + ", ".join(f"{r:.2f}" for r in rel)
            + f" (median {statistics.median(rel):.2f}, spread {max(rel) - min(rel):.2f});"
            f" from bytes alone, without the expert-matrix term: {statistics.median(rel) * extra:.2f}"
        )


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
    ap.add_argument("--no-local", action="store_true", help="skip the runs on this machine")
    ap.add_argument(
        "--moe-only", action="store_true", help="only the dense-vs-MoE run on this machine"
    )
    ap.add_argument("--reps", type=int, default=3, help="interleaved reps of the MoE run")
    ap.add_argument(
        "--batch", action="store_true", help="with --moe-only: also a step of 4 against 1"
    )
    args = ap.parse_args(argv)
    if args.moe_only:
        print_dense_vs_moe(dense_vs_moe_here(args.reps))
        if args.batch:
            batch_growth_here(args.reps)
        return 0
    cat = Catalog()
    rows = published_rows(cat) + same_device_rows(cat)
    moe_here: list[MoeRow] = []
    if not args.no_local:
        try:
            rows += local_rows(cat)
            moe_here = dense_vs_moe_here(args.reps)
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
    print(f"Ryzen AI Max+ 395 bandwidth: {STRIX_GBS:g} GB/s ({STRIX_SPEC})")
    if moe_here:
        print_dense_vs_moe(moe_here)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
