"""Rank (model, quantization, engine) for a target machine and a need, with the reasons shown."""

from llmatlas.advisor._estimate import (
    DEFAULT_CONTEXT,
    Estimate,
    Target,
    estimate,
    gpu_layers_that_fit,
    max_context_for,
    ram_headroom_bytes,
)
from llmatlas.advisor._fit import (
    NEEDS,
    SCORE_NAMES,
    SORT_KEYS,
    TIERS,
    FitRow,
    Need,
    Recommendation,
    fit,
    need_reasons,
    recommend,
)
from llmatlas.advisor._quant import (
    REQUIRED_TPS,
    QualityCost,
    QuantChoice,
    best_quant_choice,
    best_quant_for,
    choose_quant,
    quality_cost,
)

__all__ = [
    "DEFAULT_CONTEXT",
    "NEEDS",
    "REQUIRED_TPS",
    "SCORE_NAMES",
    "SORT_KEYS",
    "TIERS",
    "Estimate",
    "FitRow",
    "Need",
    "QualityCost",
    "QuantChoice",
    "Recommendation",
    "Target",
    "best_quant_choice",
    "best_quant_for",
    "choose_quant",
    "estimate",
    "fit",
    "gpu_layers_that_fit",
    "max_context_for",
    "need_reasons",
    "quality_cost",
    "ram_headroom_bytes",
    "recommend",
]
