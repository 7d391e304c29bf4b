"""Detect this machine: CPU, RAM, measured memory bandwidth, NVIDIA GPUs, Apple unified memory.

The probe is the only I/O of the sizing stack; the advisor takes its result (a
:class:`Machine`) as a value, so tests pass imaginary machines instead.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil


@dataclass(frozen=True)
class GPU:
    index: int
    name: str
    memory_bytes: int
    free_bytes: int
    bandwidth_gbs: float | None = None
    fp16_tflops: float | None = None
    table_id: str | None = None


@dataclass(frozen=True)
class Machine:
    """What the advisor needs to know about where a model will run."""

    cpu_model: str
    physical_cores: int
    logical_cores: int
    ram_bytes: int
    ram_available_bytes: int
    cpu_bandwidth_gbs: float
    cpu_gflops: float
    gpus: list[GPU] = field(default_factory=list)
    apple_unified: bool = False
    os: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
            )
            return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def measure_bandwidth_gbs(size_mb: int = 256, repeats: int = 3) -> float:
    """Sustained copy bandwidth in GB/s (bytes read + written), best of ``repeats``."""
    import numpy as np

    n = size_mb * 1024 * 1024 // 8
    src = np.ones(n, dtype=np.float64)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def measure_gflops(n: int = 768, repeats: int = 3) -> float:
    """float32 matrix-multiply GFLOP/s (an upper bound on what quantized kernels reach)."""
    import numpy as np

    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def probe_nvidia() -> list[GPU]:
    """NVIDIA GPUs through NVML; an empty list where there is no driver."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:
        return []
    from llmatlas.hardware._table import match_gpu_name

    gpus = []
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            name = name.decode() if isinstance(name, bytes) else name
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            spec = match_gpu_name(name, int(mem.total))
            gpus.append(
                GPU(
                    i,
                    name,
                    int(mem.total),
                    int(mem.free),
                    spec.bandwidth_gbs if spec else None,
                    spec.fp16_tflops if spec else None,
                    spec.id if spec else None,
                )
            )
    finally:
        pynvml.nvmlShutdown()
    return gpus


def detect(measure: bool = True, gpu_probe: Any = probe_nvidia) -> Machine:
    """Probe this machine.  ``measure=False`` skips the ~0.5 s bandwidth/FLOP/s measurement."""
    vm = psutil.virtual_memory()
    apple = platform.system() == "Darwin" and platform.machine() == "arm64"
    return Machine(
        cpu_model=_cpu_model(),
        physical_cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        logical_cores=psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        ram_bytes=int(vm.total),
        ram_available_bytes=int(vm.available),
        cpu_bandwidth_gbs=round(measure_bandwidth_gbs(), 1) if measure else 0.0,
        cpu_gflops=round(measure_gflops(), 1) if measure else 0.0,
        gpus=gpu_probe(),
        apple_unified=apple,
        os=f"{platform.system()} {platform.release()}",
    )
