"""This machine (detected) and the table of devices and cloud instances (data)."""

from typing import TYPE_CHECKING

from llmatlas._lazy import attach

if TYPE_CHECKING:
    from llmatlas.hardware._detect import (
        GPU,
        Machine,
        MeasuredSpeed,
        calibrated_bandwidth,
        detect,
        measure_bandwidth_gbs,
        probe_nvidia,
    )
    from llmatlas.hardware._table import (
        DeviceSpec,
        Instance,
        devices,
        find_device,
        find_instance,
        instances,
        match_gpu_name,
    )

__all__ = [
    "GPU",
    "DeviceSpec",
    "Instance",
    "Machine",
    "MeasuredSpeed",
    "calibrated_bandwidth",
    "detect",
    "devices",
    "find_device",
    "find_instance",
    "instances",
    "match_gpu_name",
    "measure_bandwidth_gbs",
    "probe_nvidia",
]

__getattr__, __dir__ = attach(
    __name__,
    {
        "_detect": (
            "GPU",
            "Machine",
            "MeasuredSpeed",
            "calibrated_bandwidth",
            "detect",
            "measure_bandwidth_gbs",
            "probe_nvidia",
        ),
        "_table": (
            "DeviceSpec",
            "Instance",
            "devices",
            "find_device",
            "find_instance",
            "instances",
            "match_gpu_name",
        ),
    },
)
