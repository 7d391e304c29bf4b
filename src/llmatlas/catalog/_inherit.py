"""Derivatives inherit their base model's architecture when their own card gives none.

A fine-tune or continued pre-training keeps the base's layers, heads and widths
(TAIDE-LX-7B and Bailong are Llama-2-7B underneath), so an entry without its own
``architecture`` takes its nearest ancestor's, marked ``architecture_from`` with that
base's id; the base's config source stays the source of the figures.
"""

from __future__ import annotations

from llmatlas.catalog._schema import ModelEntry

# Relations that keep the base's tensor shapes (a vocabulary extension changes only the
# embedding rows, noted on the entry; pruning, distillation, upcycling change the shapes).
KEEPS_SHAPES = frozenset(
    {"finetune", "continued-pretraining", "quantized", "delta-weights", "vocabulary-extension"}
)


def inherit_architectures(models: dict[str, ModelEntry]) -> dict[str, ModelEntry]:
    """``models`` with each architecture-less derivative given its nearest ancestor's."""
    out = dict(models)
    for mid, m in models.items():
        if m.architecture is not None or m.availability == "api-only":
            continue
        cur = m
        seen = {mid}
        while cur.base_model and cur.relation in KEEPS_SHAPES and cur.base_model in models:
            cur = models[cur.base_model]
            if cur.id in seen:
                break
            seen.add(cur.id)
            if cur.architecture is not None:
                sources = dict(m.sources)
                src = cur.source_for("architecture")
                if src and "config" not in sources:
                    sources["config"] = cur.sources["config"]  # the base's config.json
                out[mid] = m.model_copy(
                    update={
                        "architecture": cur.architecture,
                        "architecture_from": cur.id,
                        "sources": sources,
                    }
                )
                break
    return out
