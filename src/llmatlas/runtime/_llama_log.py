"""Process-wide llama.cpp setup: a quiet log, and no AMX weight repacking.

Quiet log:
llama-cpp-python maps ggml log levels with an old table (current ggml: DEBUG=1, INFO=2,
WARN=3, ERROR=4, CONT=5), so warnings such as "using full-size SWA cache" reach the
terminal of `llmatlas run`.  We install our own callback that prints errors only.

AMX: on CPUs with Intel AMX (``amx_tile`` in /proc/cpuinfo, Sapphire Rapids and later), a
build with GGML_NATIVE repacks weights into ggml's AMX buffer type, and its matrix multiply
crashed the process (SIGSEGV in ``ggml_backend_amx_mul_mat``, llama-cpp-python 0.3.36,
Gemma 3 Q4_K_M, seen 2026-11-30).  There, models load with ``use_extra_bufts = False``
(no repacked copy: plain CPU buffers).
"""

from __future__ import annotations

import ctypes
import functools
import sys
from pathlib import Path

import llama_cpp

GGML_LOG_LEVEL_ERROR = 4
_installed = False


@llama_cpp.llama_log_callback
def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    if level == GGML_LOG_LEVEL_ERROR:
        sys.stderr.write(text.decode("utf-8", errors="replace"))


def quiet() -> None:
    """Install the errors-only callback and the AMX guard (idempotent; the module keeps the
    ctypes object alive)."""
    global _installed
    if not _installed:
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
        if has_amx():
            _no_extra_buffers()
        _installed = True


@functools.cache
def has_amx() -> bool:
    """True when this CPU has AMX *and* the loaded ggml CPU backend was built with its
    kernels (a build without AMX keeps the ordinary repacked buffers, which are safe)."""
    try:
        if " amx_tile" not in Path("/proc/cpuinfo").read_text():
            return False
    except OSError:
        return False
    try:
        lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-cpu.so"))
        return bool(lib.ggml_cpu_has_amx_int8())
    except (OSError, AttributeError):
        return True  # cannot tell: stay on the safe side


def _no_extra_buffers() -> None:
    """Every later model load (the scheduler's and ``llama_cpp.Llama``'s) skips extra buffer
    types: both read ``llama_model_default_params`` at load time, from the package and from
    its ``llama_cpp.llama_cpp`` module respectively."""
    import llama_cpp.llama_cpp as low

    original = low.llama_model_default_params

    def params() -> llama_cpp.llama_model_params:
        p = original()
        p.use_extra_bufts = False
        return p

    low.llama_model_default_params = params
    llama_cpp.llama_model_default_params = params
