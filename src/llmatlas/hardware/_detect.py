"""Detect this machine: CPU, RAM, measured memory bandwidth, NVIDIA GPUs, Apple unified memory.

The probe is the only I/O of the sizing stack; the advisor takes its result (a
:class:`Machine`) as a value, so tests pass imaginary machines instead.

Measuring memory bandwidth and FLOP/s takes about a second and half a GiB of RAM,
and the answer only changes with the hardware, so it is measured once and kept,
with its date, in ``LLMATLAS_HOME/cache/hardware.json`` (keyed by this machine's
CPU, thread count and RAM size); ``llmatlas hw --refresh`` measures again.  What
changes from one call to the next (available RAM, free GPU memory) is read fresh.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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
    measured_at: str | None = None  # when cpu_bandwidth_gbs/cpu_gflops were measured (UTC, ISO)

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


def _nvidia_driver_present() -> bool:
    """False where no NVIDIA driver can be loaded, checked without importing NVML (~40 ms).

    Linux with the driver has /proc/driver/nvidia (or /dev/nvidiactl); WSL exposes the
    driver's libraries under /usr/lib/wsl/lib.  Other systems: ask NVML.
    """
    if platform.system() != "Linux":
        return True
    return any(
        os.path.exists(p) for p in ("/proc/driver/nvidia", "/dev/nvidiactl", "/usr/lib/wsl/lib")
    )


def probe_nvidia() -> list[GPU]:
    """NVIDIA GPUs through NVML; an empty list where there is no driver."""
    if not _nvidia_driver_present():
        return []
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


@dataclass(frozen=True)
class MeasuredSpeed:
    """This machine's measured CPU memory bandwidth (GB/s, read + written) and fp32 GFLOP/s."""

    cpu_bandwidth_gbs: float
    cpu_gflops: float
    measured_at: dt.datetime  # UTC
    machine: str  # what the measurement is valid for (CPU, threads, RAM)


PROBE_FORMAT = 1


def _probe_path() -> Path:
    from llmatlas.settings import get_settings

    return get_settings().cache_dir / "hardware.json"


def _machine_key() -> str:
    import psutil  # imported where this machine is asked about, not by every command

    threads = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    ram_gib = round(psutil.virtual_memory().total / 2**30)
    return f"{_cpu_model()} | {threads} threads | {ram_gib} GiB | {platform.system()}"


def _read_probe(path: Path, key: str) -> MeasuredSpeed | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != PROBE_FORMAT or raw.get("machine") != key:
            return None
        return MeasuredSpeed(
            float(raw["cpu_bandwidth_gbs"]),
            float(raw["cpu_gflops"]),
            dt.datetime.fromisoformat(raw["measured_at"]),
            key,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing or unreadable: measure again


def calibrated_bandwidth(refresh: bool = False) -> MeasuredSpeed:
    """This machine's measured bandwidth and FLOP/s with their date, measured once and cached.

    The one place speed models read the measurement from.  ``refresh`` measures again
    (``llmatlas hw --refresh``); a new CPU or RAM size makes the cached one stale.
    """
    key = _machine_key()
    path = _probe_path()
    cached = None if refresh else _read_probe(path, key)
    if cached is not None:
        return cached
    measured = MeasuredSpeed(
        round(measure_bandwidth_gbs(), 1),
        round(measure_gflops(), 1),
        dt.datetime.now(dt.UTC).replace(microsecond=0),
        key,
    )
    from llmatlas.errors import StoreError
    from llmatlas.store_io import atomic_write_bytes

    record = {**asdict(measured), "measured_at": measured.measured_at.isoformat()}
    with contextlib.suppress(StoreError):  # a read-only home measures each time instead
        atomic_write_bytes(path, json.dumps({"format": PROBE_FORMAT, **record}).encode())
    return measured


def detect(measure: bool = True, gpu_probe: Any = probe_nvidia, refresh: bool = False) -> Machine:
    """Probe this machine.  ``measure=False`` leaves bandwidth/FLOP/s at 0; otherwise they come
    from :func:`calibrated_bandwidth` (measured on first use, ``refresh`` to measure again)."""
    import psutil

    vm = psutil.virtual_memory()
    apple = platform.system() == "Darwin" and platform.machine() == "arm64"
    speed = calibrated_bandwidth(refresh) if measure else None
    return Machine(
        cpu_model=_cpu_model(),
        physical_cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        logical_cores=psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        ram_bytes=int(vm.total),
        ram_available_bytes=int(vm.available),
        cpu_bandwidth_gbs=speed.cpu_bandwidth_gbs if speed else 0.0,
        cpu_gflops=speed.cpu_gflops if speed else 0.0,
        gpus=gpu_probe(),
        apple_unified=apple,
        os=f"{platform.system()} {platform.release()}",
        measured_at=speed.measured_at.isoformat() if speed else None,
    )
