"""llama.cpp's own answer: a dry run that reserves nothing and reports what it would.

``no_alloc`` with load mode ``none`` in ``llama_model_params`` (what llama.cpp's
``--fit`` uses) loads only the header, then building a context sizes the KV cache
and reserves the worst-case compute graph without allocating it.  The figures come
from llama.cpp's log (``llama_kv_cache: size = ...``, ``compute buffer size = ...``)
and ``llama_model_size``.  Each run happens in a child process, so a model llama.cpp
cannot load costs one clear error, never this process.

    python -m llmatlas.artifacts.dryrun FILE.gguf --ctx 8192 [--ctx 32768] [--kv-type q8_0]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmatlas.errors import BadInputError

MiB = 1024**2

_KV = re.compile(r"llama_kv_cache: size =\s+([\d.]+) MiB \(\s*(\d+) cells,\s*(\d+) layers")
_RS = re.compile(r"llama_memory_recurrent: size =\s+([\d.]+) MiB")
_COMPUTE = re.compile(r"compute buffer size =\s+([\d.]+) MiB")
_COMPUTE_DEV = re.compile(r"(\S+) compute buffer size =\s+([\d.]+) MiB")
_OUTPUT = re.compile(r"(\S+)\s+output buffer size =\s+([\d.]+) MiB")
_FA = re.compile(r"flash_attn\s+= (\w+)")
_FA_AUTO = re.compile(r"Flash Attention was auto, set to (\w+)|Flash Attention (enabled|disabled)")

KV_GGML = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "bf16": 30}


@dataclass(frozen=True)
class RunSettings:
    """One context to dry-run.  Defaults are llama-cpp-python's (flash attention off,
    full-size SWA caches); ``flash_attn=None`` is the bundled llama.cpp's ``auto``."""

    n_ctx: int
    kv_type: str = "f16"
    n_ubatch: int = 512
    n_batch: int = 2048
    n_seq: int = 1
    flash_attn: bool | None = False
    swa_full: bool = True
    n_gpu_layers: int = 0
    kv_unified: bool = False
    """One KV stream shared by the ``n_seq`` sequences (llama-server's default slots,
    llmatlas's server)."""
    allocate: bool = False
    """Load the weights and allocate for real instead of ``no_alloc`` (small files only):
    a dry run reports the first worst-case reserve, a real context the largest of its
    reserves (they differ for MiniMax-01 with several sequences)."""


@dataclass
class DryRun:
    """What llama.cpp would reserve, in bytes (log figures are rounded to 0.01 MiB)."""

    settings: RunSettings
    model_bytes: int
    kv_bytes: int
    kv_cells: list[int]
    recurrent_bytes: int
    compute_bytes: dict[str, int]  # per device/buffer type, e.g. {"CPU": ...}
    output_bytes: int
    flash_attn: str
    error: str | None = None
    log_tail: list[str] = field(default_factory=list)

    @property
    def compute_total(self) -> int:
        return sum(self.compute_bytes.values())


def _mib(s: str) -> int:
    return round(float(s) * MiB)


def parse_log(text: str) -> dict[str, Any]:
    kv = [(_mib(m[1]), int(m[2])) for m in _KV.finditer(text)]
    comp: dict[str, int] = {}
    for m in _COMPUTE_DEV.finditer(text):
        comp[m[1]] = comp.get(m[1], 0) + _mib(m[2])
    out = sum(_mib(m[2]) for m in _OUTPUT.finditer(text))
    fa = "disabled"
    for m in _FA_AUTO.finditer(text):
        fa = (m[1] or m[2]).lower()
    fa_set = _FA.findall(text)
    if fa_set and fa_set[-1] in ("enabled", "disabled"):
        fa = fa_set[-1]
    return {
        "kv_bytes": sum(b for b, _ in kv),
        "kv_cells": [c for _, c in kv],
        "recurrent_bytes": sum(_mib(m[1]) for m in _RS.finditer(text)),
        "compute_bytes": comp,
        "output_bytes": out,
        "flash_attn": fa,
    }


def _child(path: str, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In the child process: load once with no_alloc, build each context, parse the log."""
    import ctypes

    import llama_cpp as L

    lines: list[str] = []

    @L.llama_log_callback  # type: ignore[untyped-decorator]
    def cb(level: int, text: bytes, user: Any) -> None:
        lines.append(text.decode(errors="replace"))

    L.llama_log_set(cb, ctypes.c_void_p(0))
    results: list[dict[str, Any]] = []
    by_ngl: dict[tuple[int, bool], Any] = {}
    for r in runs:
        s = RunSettings(**r)
        model = by_ngl.get((s.n_gpu_layers, s.allocate))
        if model is None:
            mp = L.llama_model_default_params()
            mp.no_alloc = not s.allocate
            # no repacked weight copies (what llmatlas's runtime does on AMX CPUs): the repack
            # buffer types cannot hold MLA's 3-D attn_k_b/attn_v_b, and with them DeepSeek's
            # graph reserve aborts (ggml-backend.cpp: GGML_ASSERT(*cur_backend_id != -1)); the
            # compute buffer and llama_model_size do not depend on them
            mp.use_extra_bufts = False
            if not s.allocate:
                mp.load_mode = L.LLAMA_LOAD_MODE_NONE
            mp.n_gpu_layers = s.n_gpu_layers
            model = L.llama_model_load_from_file(path.encode(), mp)
            if not model:
                tail = [x for x in "".join(lines).splitlines() if "error" in x.lower()][-3:]
                raise SystemExit("llama.cpp could not load the file: " + " | ".join(tail))
            by_ngl[s.n_gpu_layers, s.allocate] = model
        cp = L.llama_context_default_params()
        cp.n_ctx = s.n_ctx
        cp.n_batch = s.n_batch
        cp.n_ubatch = s.n_ubatch
        cp.n_seq_max = s.n_seq
        cp.type_k = KV_GGML[s.kv_type]
        cp.type_v = KV_GGML[s.kv_type]
        cp.flash_attn_type = -1 if s.flash_attn is None else int(s.flash_attn)
        cp.swa_full = s.swa_full
        cp.kv_unified = s.kv_unified
        lines.clear()
        ctx = L.llama_init_from_model(model, cp)
        text = "".join(lines)
        parsed = parse_log(text)
        error = None if ctx else "context creation failed"
        if ctx:
            L.llama_free(ctx)
        results.append(
            {
                "settings": asdict(s),
                "model_bytes": int(L.llama_model_size(model)),
                **parsed,
                "error": error,
                "log_tail": [x for x in text.splitlines() if "error" in x.lower()][-3:],
            }
        )
    return results


def dry_run(path: str | Path, runs: list[RunSettings], timeout: float = 120) -> list[DryRun]:
    """Dry-run ``path`` under each of ``runs`` in one child process."""
    for s in runs:
        if s.kv_type not in KV_GGML:
            raise BadInputError(f"unknown KV type {s.kv_type!r}; use one of {', '.join(KV_GGML)}")
    payload = json.dumps({"path": str(path), "runs": [asdict(s) for s in runs]})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "llmatlas.artifacts.dryrun", "--child"],
            input=payload,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise BadInputError(f"llama.cpp's dry run of {Path(path).name} timed out") from None
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["it crashed"])[-1]
        raise BadInputError(f"llama.cpp's dry run of {Path(path).name} failed: {why}")
    out = []
    for d in json.loads(proc.stdout):
        d["settings"] = RunSettings(**d["settings"])
        out.append(DryRun(**d))
    return out


PROFILES = {
    "llama-cpp-python": "flash attention off, full-size SWA caches (llama-cpp-python's Llama())",
    "llama.cpp": "flash attention auto, SWA caches trimmed to the window (llama-server/cli)",
}


def exact(
    art: Any, quant: str, context: int, batch: int = 1, kv_type: str = "f16"
) -> list[dict[str, Any]]:
    """llama.cpp's own figures for ``art`` (a GGUF file, or a catalog model written as a
    sparse GGUF of type ``quant``) under both setting profiles users actually run."""
    import tempfile

    from llmatlas.sizing.quant import get_format

    runs = [
        RunSettings(
            context * batch, kv_type, n_seq=batch, flash_attn=kv_type != "f16", kv_unified=True
        ),
        RunSettings(
            context * batch, kv_type, n_seq=batch, flash_attn=None, swa_full=False, kv_unified=True
        ),
    ]
    if getattr(art, "paths", ()):
        results = dry_run(art.paths[0], runs)
    else:
        from llmatlas.artifacts.synth import synth_gguf

        if art.architecture is None:
            raise BadInputError(f"cannot dry-run {art.id}: its architecture is unknown")
        with tempfile.TemporaryDirectory(prefix="llmatlas-exact-") as d:
            path = synth_gguf(art.architecture, get_format(quant, "llama.cpp"), Path(d) / "m.gguf")
            results = dry_run(path[0], runs)
    out = []
    for name, r in zip(PROFILES, results, strict=True):
        out.append(
            {
                "profile": name,
                "settings": PROFILES[name],
                "flash_attn": r.flash_attn,
                "model_bytes": r.model_bytes,
                "kv_bytes": r.kv_bytes + r.recurrent_bytes,
                "compute_bytes": r.compute_total,
                "output_bytes": r.output_bytes,
                "total_bytes": r.model_bytes
                + r.kv_bytes
                + r.recurrent_bytes
                + r.compute_total
                + r.output_bytes,
            }
        )
    return out


def llama_cpp_version() -> str:
    """The llama-cpp-python version and the llama.cpp build it bundles."""
    from importlib.metadata import version

    return f"llama-cpp-python {version('llama_cpp_python')}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        req = json.loads(sys.stdin.read())
        res = _child(req["path"], req["runs"])
        sys.stdout.write(json.dumps(res))
        sys.exit(0)
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--ctx", type=int, action="append", default=[])
    ap.add_argument("--kv-type", default="f16")
    args = ap.parse_args()
    res2 = dry_run(args.path, [RunSettings(c, args.kv_type) for c in args.ctx or [4096]])
    print(json.dumps([asdict(r) for r in res2], indent=2, default=str))
