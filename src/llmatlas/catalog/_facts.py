"""Plain-data views of catalog entries, shared by the CLI's --json and the HTTP API."""

from __future__ import annotations

from typing import Any

from llmatlas.catalog._query import Catalog
from llmatlas.catalog._schema import ModelEntry


def describe(cat: Catalog, m: ModelEntry) -> dict[str, Any]:
    """Everything the catalog knows about one model, JSON-ready."""
    lic = cat.license_of(m)
    arch = m.architecture
    return {
        "id": m.id,
        "name": m.name,
        "family": m.family,
        "family_name": cat.data.families[m.family].name,
        "developer": m.developer,
        "released": m.released.isoformat(),
        "availability": m.availability,
        "hf_repos": list(m.hf_repos),
        "aliases": list(m.aliases),
        "params_b": m.params_b,
        "active_params_b": m.active_params_b,
        "context_length": arch.max_position_embeddings if arch else None,
        "architecture": arch.model_dump(exclude_none=True) if arch else None,
        "instruct": m.instruct,
        "languages": list(m.languages),
        "tasks": list(m.tasks),
        "training_tokens_t": m.training_tokens_t,
        "license": lic.id,
        "license_name": lic.name,
        "license_url": str(lic.url),
        "commercial_use": lic.commercial_use,
        "license_conditions": lic.conditions,
        "license_note": m.license_note,
        "license_history": [
            {"license": h.license, "since": h.since.isoformat(), "source": str(h.source)}
            for h in m.license_history
        ],
        "openness": {
            **{c: getattr(m.openness, c) for c in m.openness.COMPONENTS},
            "grade": m.openness.grade,
            "score": m.openness.score,
            "source": str(m.openness.source),
            "note": m.openness.note,
        },
        "base_model": m.base_model,
        "relation": m.relation,
        "ancestors": [a.id for a in cat.ancestors(m)],
        "derivatives": [c.id for c in cat.children(m)],
        "benchmarks": [b.model_dump(mode="json", exclude_none=True) for b in m.benchmarks],
        "errata": [
            {
                "id": e.id,
                "seed": e.seed,
                "claim": e.claim,
                "correction": e.correction,
                "source": str(e.source),
            }
            for e in cat.errata_for(m)
        ],
        "sources": {k: str(v) for k, v in m.sources.items()},
        "notes": m.notes,
        "origin": cat.data.origin(m.id),
        "origin_file": cat.data.user_models.get(m.id),
    }


def freshness(cat: Catalog) -> dict[str, Any]:
    """How current the catalog is: the shipped data's newest release or licence-change date,
    and how many entries there are (``user_models``: the user's own, LLMATLAS_HOME/catalog)."""
    date = cat.data.data_date
    return {
        "data_date": date.isoformat() if date else None,
        "models": len(cat.data.models),
        "user_models": len(cat.data.user_models),
    }


def lineage_tree(cat: Catalog, root: ModelEntry | None = None) -> list[dict[str, Any]]:
    """Nested {id, name, relation, children} trees: from ``root`` or from every root that has
    derivatives (standalone models without children are left out of the forest)."""

    def node(m: ModelEntry) -> dict[str, Any]:
        return {
            "id": m.id,
            "name": m.name,
            "family": m.family,
            "relation": m.relation,
            "children": [node(c) for c in cat.children(m)],
        }

    if root is not None:
        return [node(root)]
    return [node(r) for r in cat.roots() if cat.children(r)]
