"""Plain-data views of catalog entries, shared by the CLI's --json and the HTTP API."""

from __future__ import annotations

from typing import Any

from llmatlas.catalog._query import Catalog, ModelGroup
from llmatlas.catalog._schema import ModelEntry, Name


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
        "drafted": list(m.drafted),
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


def lineage_tree(cat: Catalog, root: ModelEntry | ModelGroup | None = None) -> list[dict[str, Any]]:
    """Nested {id, name, family, family_name, relation, children} trees: from ``root``, from
    each member of a family/series that does not derive from another member, or from every
    root that has derivatives (standalone models are left out of the whole forest)."""

    def node(m: ModelEntry) -> dict[str, Any]:
        return {
            "id": m.id,
            "name": m.name,
            "family": m.family,
            "family_name": cat.data.families[m.family].name,
            "relation": m.relation,
            "children": [node(c) for c in cat.children(m)],
        }

    if isinstance(root, ModelGroup):
        ids = {m.id for m in root.members}
        return [node(m) for m in root.members if m.base_model not in ids]
    if root is not None:
        return [node(root)]
    return [node(r) for r in cat.roots() if cat.children(r)]


def summarize(cat: Catalog, m: ModelEntry) -> dict[str, Any]:
    """One catalog row, JSON-ready: the web UI's table and a family's member list."""
    lic = cat.license_of(m)
    return {
        "id": m.id,
        "name": m.name,
        "family": m.family,
        "developer": m.developer,
        "released": m.released.isoformat(),
        "params_b": m.params_b,
        "active_params_b": m.active_params_b,
        "context_length": m.architecture.max_position_embeddings if m.architecture else None,
        "license": lic.id,
        "commercial_use": lic.commercial_use,
        "openness": m.openness.grade,
        "tasks": m.tasks,
        "languages": m.languages,
        "instruct": m.instruct,
        "availability": m.availability,
        "sizable": m.architecture is not None,
        "aliases": m.aliases,
        "hf_repos": m.hf_repos,
        "mmlu": max((b.value for b in m.benchmarks if b.name.lower() == "mmlu"), default=None),
        "open_data": m.openness.training_data,
        "base_model": m.base_model,
        "origin": cat.data.origin(m.id),
    }


def _names(names: tuple[Name, ...] | list[Name]) -> list[dict[str, Any]]:
    return [
        {"name": n.name, "source": str(n.source) if n.source else None, "note": n.note}
        for n in names
    ]


def describe_group(cat: Catalog, g: ModelGroup) -> dict[str, Any]:
    """A family or series as one answer: members, sizes, licences, lineage, default member."""
    fam = cat.data.families[g.family]
    ids = {m.id for m in g.members}
    licenses: dict[str, dict[str, Any]] = {}
    for m in g.members:
        lic = cat.license_of(m)
        entry = licenses.setdefault(
            lic.id,
            {
                "id": lic.id,
                "name": lic.name,
                "commercial_use": lic.commercial_use,
                "conditions": lic.conditions,
                "url": str(lic.url),
                "models": [],
            },
        )
        entry["models"].append(m.id)
    bases = sorted({m.base_model for m in g.members if m.base_model and m.base_model not in ids})
    derived = sorted(
        {c.id for m in g.members for c in cat.children(m) if c.id not in ids},
    )
    params = sorted({m.params_b for m in g.members if m.params_b is not None})
    contexts = [m.architecture.max_position_embeddings for m in g.members if m.architecture]
    return {
        "kind": g.kind,
        "id": g.id,
        "name": g.name,
        "family": fam.family,
        "family_name": fam.name,
        "developer": fam.developer,
        "description": fam.description if g.kind == "family" else None,
        "homepage": str(fam.homepage) if fam.homepage else None,
        "names": _names(g.names),
        "developer_names": _names(fam.developer_names) if g.kind == "family" else [],
        "default": g.default.id,
        "released": {
            "first": min(m.released for m in g.members).isoformat(),
            "last": max(m.released for m in g.members).isoformat(),
        },
        "params_b": params,
        "max_context_length": max(contexts) if contexts else None,
        "languages": sorted({lang for m in g.members for lang in m.languages}),
        "licenses": list(licenses.values()),
        "based_on": bases,
        "derivatives_elsewhere": derived,
        "same_developer": [
            {"id": f.family, "name": f.name} for f in cat.sibling_families(g.family)
        ],
        "series": sorted(
            s.id for s in cat.groups.values() if s.kind == "series" and s.family == g.family
        )
        if g.kind == "family"
        else [],
        "members": [summarize(cat, m) for m in g.members],
    }
