"""Keep llama.cpp's log quiet unless something is wrong.

llama-cpp-python maps ggml log levels with an old table (current ggml: DEBUG=1, INFO=2,
WARN=3, ERROR=4, CONT=5), so warnings such as "using full-size SWA cache" reach the
terminal of `llmatlas run`.  We install our own callback that prints errors only.
"""

from __future__ import annotations

import ctypes
import sys

import llama_cpp

GGML_LOG_LEVEL_ERROR = 4
_installed = False


@llama_cpp.llama_log_callback
def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    if level == GGML_LOG_LEVEL_ERROR:
        sys.stderr.write(text.decode("utf-8", errors="replace"))


def quiet() -> None:
    """Install the errors-only callback (idempotent; the module keeps the ctypes object alive)."""
    global _installed
    if not _installed:
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
        _installed = True
