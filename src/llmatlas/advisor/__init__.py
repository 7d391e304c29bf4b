"""Rank (model, quantization, engine) for a target machine and a need, with the reasons shown."""

from llmatlas.advisor._estimate import (
    DEFAULT_CONTEXT,
    Estimate,
    Target,
    best_quant_for,
    estimate,
    gpu_layers_that_fit,
    max_context_for,
    ram_headroom_bytes,
)
from llmatlas.advisor._fit import NEEDS, TIERS, FitRow, Need, Recommendation, fit, recommend

__all__ = [
    "DEFAULT_CONTEXT",
    "NEEDS",
    "TIERS",
    "Estimate",
    "FitRow",
    "Need",
    "Recommendation",
    "Target",
    "best_quant_for",
    "estimate",
    "fit",
    "gpu_layers_that_fit",
    "max_context_for",
    "ram_headroom_bytes",
    "recommend",
]
