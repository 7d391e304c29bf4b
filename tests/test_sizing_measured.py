"""The estimator against real llama.cpp runs of the embedded model (peak RSS of a child process;
bench/sizing_accuracy.py runs more cases and other architectures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmatlas.catalog import Catalog
from llmatlas.runtime._llama_log import has_amx
from llmatlas.runtime.bench import measure_once
from llmatlas.sizing import estimate_memory, get_format

CASES = [(512, 256), (2048, 1024), (8192, 1024), (32768, 1024)]


@pytest.mark.parametrize("n_ctx,n_prompt", CASES)
def test_estimate_within_5_percent_of_peak_rss(
    catalog: Catalog, embedded_gguf: Path, n_ctx: int, n_prompt: int
) -> None:
    n_gen = 8
    measured = measure_once(str(embedded_gguf), n_ctx, 2, n_prompt, n_gen)["peak_rss_bytes"]
    a = catalog.get("gemma-3-270m").architecture
    assert a is not None
    est = estimate_memory(
        a, get_format("Q4_K_M"), n_ctx, filled=n_prompt + n_gen, cpu_repack=not has_amx()
    ).peak_rss_bytes
    assert est == pytest.approx(measured, rel=0.05), (
        f"ctx {n_ctx}: estimate {est}, measured {measured}"
    )
