"""Conformance: GGUF tensor types and weight bytes against llama.cpp's own quantizer.

For each catalog architecture an F16 GGUF is synthesised at its real shapes (sparse: no
weights on disk), then ``llama-quantize --dry-run`` picks each tensor's type for every
quantization of the ladder (it reads no data).  Its per-tensor choice is compared with
what llmatlas predicts for the same tensor (``sizing.quant.gguf_tensor_type`` through
``artifacts.synth.tensor_type``), and its total with ``sizing.quant.weight_bytes``.

    LLMATLAS_LLAMA_QUANTIZE=/path/llama-quantize .venv/bin/python bench/quant_conformance.py \
        [--ids mixtral-8x7b-v0.1,...] [--quants Q4_K_M,...] [--show 5]

llama-quantize is a llama.cpp tool (``cmake --build BUILD --target llama-quantize``);
without it the script says so and exits 0.  Prints, per (model, quant), how many tensors
differ (with the first few), and the byte error of llmatlas's tensor total against
llama-quantize's.  Target: no tensor differs, bytes exact.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from sizing_conformance import MODELS as ALLOCATOR_MODELS

from llmatlas.artifacts.synth import layout, synth_gguf, tensor_type
from llmatlas.catalog import Catalog
from llmatlas.errors import AtlasError
from llmatlas.sizing.quant import GGUF_LADDER, get_format, weight_bytes

# every architecture of the allocator conformance run (bench/ is on sys.path when run as a script)
MODELS = [mid for mid, _ in ALLOCATOR_MODELS]
_LINE = re.compile(
    r"^\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[([^\]]*)\], type =\s*(\S+), size =[^(]*(?:\((\S+)\))?\s*$"
)


def quantizer() -> str | None:
    p = os.environ.get("LLMATLAS_LLAMA_QUANTIZE") or shutil.which("llama-quantize")
    return p if p and Path(p).is_file() else None


def dry_run(binary: str, f16: Path, quant: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    """llama-quantize's choice per tensor: name -> (ggml type name, shape)."""
    proc = subprocess.run(
        [binary, "--dry-run", str(f16), quant, "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        m = _LINE.match(line.strip())
        if m:
            name, shape, cur, new = m.groups()
            ne = tuple(int(x) for x in shape.split(",") if x.strip())
            out[name] = ((new or cur).upper(), ne)
    return out


def nbytes(type_name: str, ne: tuple[int, ...]) -> int:
    block, size = GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]
    n = 1
    for d in ne:
        n *= d
    return n // block * size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=None, help="llama-quantize (default $LLMATLAS_LLAMA_QUANTIZE)")
    ap.add_argument("--ids", default=",".join(MODELS))
    ap.add_argument("--quants", default=",".join(GGUF_LADDER))
    ap.add_argument("--show", type=int, default=4, help="differing tensors shown per row")
    args = ap.parse_args()
    binary = args.bin or quantizer()
    if not binary:
        print(
            "skipped: llama-quantize not found; build it (cmake --build BUILD --target "
            "llama-quantize) and pass --bin or set LLMATLAS_LLAMA_QUANTIZE"
        )
        return 0
    cat = Catalog()
    f16 = get_format("F16", "llama.cpp")
    try:  # bad names: one line, before any work
        archs = {mid: cat.get(mid).architecture for mid in args.ids.split(",")}
        fmts = {q: get_format(q, "llama.cpp") for q in args.quants.split(",")}
    except AtlasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    worst = 0.0
    print(
        f"{'model':36} {'quant':7} {'tensors':>7} {'differ':>6} {'llama.cpp MiB':>13} "
        f"{'synth err':>9} {'sizing err':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for mid, a in archs.items():
            if a is None:
                print(f"{mid:36} no architecture in the catalog")
                continue
            path = synth_gguf(a, f16, Path(tmp) / f"{mid}.gguf")[0]
            specs = {s.name: s for s in layout(a)}
            for q, fmt in fmts.items():
                try:
                    real = dry_run(binary, path, q)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    print(f"{mid:36} {q:7} llama-quantize failed: {e}")
                    continue
                diffs = []
                actual = synth = 0
                for name, (rt, ne) in real.items():
                    actual += nbytes(rt, ne)
                    s = specs.get(name)
                    if s is None:
                        diffs.append(f"{name}: not in llmatlas's layout ({rt})")
                        continue
                    pt = tensor_type(fmt, s, a).name
                    synth += nbytes(pt, ne)
                    if pt != rt:
                        diffs.append(f"{name}: llmatlas {pt}, llama.cpp {rt}")
                wb = weight_bytes(a, fmt)  # less the vision/audio towers: a separate file
                sizing = wb.total - wb.by_type.get("F16 (extra)", 0)
                e_synth, e_size = synth / actual - 1, sizing / actual - 1
                worst = max(worst, abs(e_size))
                print(
                    f"{mid:36} {q:7} {len(real):7d} {len(diffs):6d} {actual / 2**20:13.1f} "
                    f"{e_synth:+9.4%} {e_size:+10.4%}"
                )
                for d in diffs[: args.show]:
                    print(f"    {d}")
            path.unlink()
    print(f"worst weight_bytes error: {worst:.4%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
