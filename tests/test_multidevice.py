"""llama.cpp's layer split over several devices: which device holds what, and each device's
compute buffer as ggml's scheduler builds it.  Pure logic; the check against llama.cpp
itself (several rpc-servers) is bench/multidevice_conformance.py, run here only where a
build with GGML_RPC is present."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmatlas.artifacts import from_gguf
from llmatlas.artifacts.synth import synth_gguf
from llmatlas.catalog import Catalog
from llmatlas.errors import BadInputError
from llmatlas.sizing.ggml_alloc import ALIGNMENT, Graph
from llmatlas.sizing.ggml_sched import schedule
from llmatlas.sizing.memory import kv_cache, llama_cpp_devices, llama_cpp_layer_split
from llmatlas.sizing.quant import get_format

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> Any:
    """bench/multidevice_conformance.py as a module (its small model shapes)."""
    path = ROOT / "bench" / "multidevice_conformance.py"
    spec = importlib.util.spec_from_file_location("multidevice_conformance", path)
    assert spec is not None and spec.loader is not None
    mod = sys.modules.get(spec.name)
    if mod is None:
        mod = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # for dataclasses
        spec.loader.exec_module(mod)
    return mod


def _counts(split: tuple[list[int], int], n: int) -> list[int]:
    layers, _ = split
    return [layers.count(d) for d in range(n + 1)]


def test_even_split_gives_the_first_devices_the_extra_layer() -> None:
    # the output head counts as layer n_layer of the last device: 80 + 1 over 2 -> 41 / 39 + head
    layers, out = llama_cpp_layer_split(80, 2)
    assert _counts((layers, out), 2) == [41, 39, 0] and out == 1
    assert layers == sorted(layers)  # contiguous slices, in device order
    assert _counts(llama_cpp_layer_split(32, 3, [1, 1, 1]), 3) == [11, 11, 10, 0]


def test_split_points_are_upper_bounds_in_float32() -> None:
    # 31 layers + head over [1, 1]: layer 16 sits exactly on the point 0.5 and goes to device 1
    layers, out = llama_cpp_layer_split(31, 2, [1, 1])
    assert layers.index(1) == 16 and out == 1
    assert _counts(llama_cpp_layer_split(32, 3, [3, 1, 1]), 3) == [20, 7, 5, 0]
    # proportions from free memory; a zero proportion gets nothing
    assert _counts(llama_cpp_layer_split(32, 2, free_bytes=[3 << 30, 1 << 30]), 2) == [25, 7, 0]
    layers, out = llama_cpp_layer_split(32, 3, [1, 0, 1])
    assert 1 not in layers and out == 2


def test_split_points_equal_numpy_float32_arithmetic() -> None:
    """The split is computed in double rounded to float32 (no numpy on the CLI's path); numpy's
    float32 arithmetic, as llama.cpp's C++ floats, is the reference over random splits."""
    import random

    import numpy as np

    f32 = np.float32

    def reference(n: int, raw: list[float]) -> list[int]:
        acc, points = f32(0.0), []
        for x in raw:
            acc = f32(acc + f32(x))
            points.append(acc)
        points = [f32(p / acc) for p in points]
        return [
            next((d for d, p in enumerate(points) if p > f32(f32(il) / f32(n + 1))), len(raw) - 1)
            for il in range(n + 1)
        ]

    rng = random.Random(7)
    for _ in range(400):
        n, k = rng.randint(1, 126), rng.randint(1, 8)
        raw = [rng.choice([rng.random(), float(rng.randint(1, 80 << 30)), 1.0]) for _ in range(k)]
        layers, out = llama_cpp_layer_split(n, k, raw)
        assert [*layers, out] == reference(n, raw), (n, raw)


def test_partial_offload_keeps_the_first_layers_on_the_cpu() -> None:
    layers, out = llama_cpp_layer_split(32, 2, [1, 1], n_gpu_layers=20)
    # i_gpu_start = 33 - 20 = 13: layers 0-12 on the host (numbered 2), the rest split
    assert layers[:13] == [2] * 13 and set(layers[13:]) == {0, 1} and out == 1


def test_bad_tensor_split_is_one_clear_error() -> None:
    with pytest.raises(BadInputError, match="tensor-split"):
        llama_cpp_layer_split(32, 2, [1, 1, 1])
    with pytest.raises(BadInputError, match="tensor-split"):
        llama_cpp_layer_split(32, 2, [1, -1])


def _two_device_graph() -> Graph:
    """input (CPU) -> x W0 (device 0) -> x W1 (device 1, an output)."""
    g = Graph()
    x = g.input("f32", 16, 4)
    g.backend = 0
    w0 = g.weight(16, 8, type_="f32")
    g.backend = 1
    w1 = g.weight(8, 4, type_="f32")
    y = g.mul_mat(w1, g.mul_mat(w0, x))
    y.output = True
    g.expand(y)
    return g


def test_scheduler_copies_inputs_into_each_device_buffer() -> None:
    # one copy: device 0 holds a copy of the 256-byte input and its 128-byte product; device 1
    # a copy of that product and its own 64-byte output; the host only the input
    assert schedule(_two_device_graph(), 3, 1) == [256 + 128, 128 + 64, 256]
    # pipeline parallelism: 4 copies of every graph input and of every split input, kept
    assert schedule(_two_device_graph(), 3, 4) == [4 * 256 + 128, 4 * 128 + 64, 4 * 256]
    assert ALIGNMENT == 32  # every size above is a multiple of it


@pytest.fixture(scope="module")
def llama_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    cat = Catalog()
    a0 = _bench().small_model(cat, "llama-3-8b")  # 32 layers, hidden size 256
    path = synth_gguf(
        a0, get_format("Q8_0", "llama.cpp"), tmp_path_factory.mktemp("md") / "m.gguf"
    )[0]
    return from_gguf(path, cat), path


def test_devices_hold_every_weight_and_cell_once(llama_file: tuple[object, Path]) -> None:
    art, _ = llama_file
    a = art.architecture  # type: ignore[attr-defined]
    tensors = [(t.name, t.n_bytes) for t in art.header.tensors]  # type: ignore[attr-defined]
    rows = llama_cpp_devices(a, get_format("Q8_0"), 4096, 3, [2, 1, 1], weight_tensors=tensors)
    assert [r.layers for r in rows] == [17, 8, 7, 0] and [r.output for r in rows] == [
        False,
        False,
        True,
        False,
    ]
    assert sum(r.weights_bytes for r in rows) == sum(b for _, b in tensors)
    embd = next(b for n, b in tensors if n == "token_embd.weight")
    assert rows[-1].weights_bytes == embd  # the input layer stays on the host
    assert sum(r.kv_cache_bytes for r in rows) == kv_cache(a, 4096).bytes
    assert rows[0].kv_cache_bytes == kv_cache(a, 4096).bytes * 17 // 32
    # every device runs attention over the full cache; only the last one computes logits
    assert rows[2].compute_bytes > rows[1].compute_bytes > 0 and rows[3].compute_bytes > 0


def test_reference_run_matches_when_llama_cpp_rpc_is_built() -> None:
    bindir = os.environ.get("LLMATLAS_LLAMA_RPC_BIN", "")
    if not bindir or not (Path(bindir) / "ggml-rpc-server").exists():
        pytest.skip("no llama.cpp RPC build (set LLMATLAS_LLAMA_RPC_BIN)")
    p = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "multidevice_conformance.py"), "--cases", "1,2"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert p.returncode == 0, p.stdout + p.stderr
    found = re.search(r"worst error: model ([\d.]+)%, KV ([\d.]+)%, compute ([\d.]+)%", p.stdout)
    assert found, p.stdout
    model, kv, compute = (float(x) for x in found.groups())
    assert model == 0 and kv == 0 and compute <= 2, p.stdout


def test_layer_counts_as_tensor_split_give_exactly_those_counts() -> None:
    # llama.cpp's --fit writes layers per device into tensor_split (the head counted last)
    for counts in ([43, 38], [34, 28], [1, 80], [27, 27, 27], [30, 0, 51]):
        layers, out = llama_cpp_layer_split(
            sum(counts) - 1, len(counts), [float(c) for c in counts]
        )
        got = [layers.count(d) for d in range(len(counts))]
        got[out] += 1
        assert got == counts


def test_fit_moves_layers_when_the_even_split_leaves_a_card_short() -> None:
    from llmatlas.advisor import Target, estimate
    from llmatlas.sizing import GiB

    m = Catalog().get("gemma-2-9b-it")
    e = estimate(m, Target.from_budget(vram_bytes=int(5.6 * GiB), count=2), "Q4_K_M", 4096)
    cards = e.devices[:2]
    # an even split (22 / 20 + head) puts Gemma's 256k-token head on an overfull GPU 1;
    # llama.cpp's --fit fills GPU 1 first, then gives GPU 0 the rest
    assert e.fits and [c["layers"] for c in cards] == [23, 19] and cards[1]["output"]
    assert all(c["total_bytes"] <= c["budget_bytes"] for c in cards)
    assert any("moves layers: 23 / 19" in n for n in e.notes)
    # smaller cards: no split holds every layer; the verdict and -ngl say so, per card
    e = estimate(m, Target.from_budget(vram_bytes=5 * GiB, count=2), "Q4_K_M", 4096)
    assert not e.fits and e.gpu_layers is not None and e.gpu_layers < 42
    assert max(c["total_bytes"] for c in e.devices[:2]) > e.devices[0]["budget_bytes"]


def test_predicted_cards_hold_the_whole_model_once_plus_a_tied_head() -> None:
    from llmatlas.sizing.quant import weight_bytes

    cat = Catalog()
    for mid in ("llama-3-70b-instruct", "gemma-3-27b-it", "qwen3-30b-a3b"):
        a = cat.get(mid).architecture
        assert a is not None
        fmt = get_format("Q4_K_M")
        rows = llama_cpp_devices(a, fmt, 4096, 2)
        embd = rows[-1].weights_bytes  # the input layer, in host RAM
        head = embd if a.tie_word_embeddings else 0  # tied: a copy as the last card's head
        assert sum(r.weights_bytes for r in rows) == weight_bytes(a, fmt).total + head


def test_sliding_window_layers_follow_llama_cpps_pattern() -> None:
    """For every catalog model with sliding-window layers that llama.cpp loads, the layers
    laid out as sliding are as many as the card says (Gemma 3 4B: 29 of 34, full attention
    at 5, 11, 17, 23, 29 as llama.cpp's pattern of 6), and the per-layer KV split over cards
    adds up to the whole cache."""
    from llmatlas.catalog import Catalog
    from llmatlas.sizing.graph_memo import swa_layers
    from llmatlas.sizing.memory import _layer_kv_bytes

    cat = Catalog()
    g34 = cat.get("gemma-3-4b-it").architecture
    assert g34 is not None
    assert set(range(34)) - swa_layers(g34) == {5, 11, 17, 23, 29}
    checked = 0
    for m in cat.data.models.values():
        a = m.architecture
        if a is None or not a.sliding_window_layers or a.model_type == "recurrent_gemma":
            continue
        if a.sliding_window_layers < a.num_hidden_layers:
            assert len(swa_layers(a)) == a.sliding_window_layers, m.id
        for swa_full in (True, False):
            per_layer = _layer_kv_bytes(a, 4096, 1, "f16", swa_full)
            assert sum(per_layer) == kv_cache(a, 4096, 1, "f16", "llama.cpp", swa_full).bytes, m.id
        checked += 1
    assert checked > 20
