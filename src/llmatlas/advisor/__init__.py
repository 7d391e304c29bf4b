"""Rank (model, quantization, engine) for a target machine and a need, with the reasons shown."""

from typing import TYPE_CHECKING

from llmatlas._lazy import attach

if TYPE_CHECKING:
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
        TIERS,
        FitRow,
        Need,
        Recommendation,
        fit,
        need_reasons,
        recommend,
    )
    from llmatlas.advisor._keys import SCORE_NAMES, SORT_KEYS
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

__getattr__, __dir__ = attach(
    __name__,
    {
        "_estimate": (
            "DEFAULT_CONTEXT",
            "Estimate",
            "Target",
            "estimate",
            "gpu_layers_that_fit",
            "max_context_for",
            "ram_headroom_bytes",
        ),
        "_keys": ("SCORE_NAMES", "SORT_KEYS"),
        "_fit": (
            "NEEDS",
            "TIERS",
            "FitRow",
            "Need",
            "Recommendation",
            "fit",
            "need_reasons",
            "recommend",
        ),
        "_quant": (
            "REQUIRED_TPS",
            "QualityCost",
            "QuantChoice",
            "best_quant_choice",
            "best_quant_for",
            "choose_quant",
            "quality_cost",
        ),
    },
)
