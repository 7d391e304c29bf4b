"""llama-cpp-python's own OpenAI-compatible server, started with llmatlas's process-wide
llama.cpp setup (``_llama_log.quiet``: errors-only log, and no AMX weight repacking where
ggml's AMX kernels would crash).

``python -m llmatlas.runtime.llama_server ARGS`` takes exactly the arguments of
``python -m llama_cpp.server``. The tests use it as a real upstream engine behind
``serve --upstream`` and ``bench/serve_load.py`` as its baseline.
"""

from __future__ import annotations

import runpy
import sys

from llmatlas.runtime._llama_log import quiet

if __name__ == "__main__":
    quiet()
    sys.argv[0] = "llama_cpp.server"
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
