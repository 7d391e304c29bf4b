"""The curated catalog of open LLMs: schema, data, queries, lineage."""

from llmatlas.catalog._facts import describe, describe_group, freshness, lineage_tree, summarize
from llmatlas.catalog._load import CatalogData, load, load_from
from llmatlas.catalog._query import (
    SORT_KEYS,
    Catalog,
    ModelFilter,
    ModelGroup,
    Resolved,
    language_matches,
    normalize_language,
    sort_models,
)
from llmatlas.catalog._schema import (
    Architecture,
    Benchmark,
    Erratum,
    Family,
    License,
    ModelEntry,
    Openness,
)

__all__ = [
    "SORT_KEYS",
    "Architecture",
    "Benchmark",
    "Catalog",
    "CatalogData",
    "Erratum",
    "Family",
    "License",
    "ModelEntry",
    "ModelFilter",
    "ModelGroup",
    "Openness",
    "Resolved",
    "describe",
    "describe_group",
    "freshness",
    "language_matches",
    "lineage_tree",
    "load",
    "load_from",
    "normalize_language",
    "sort_models",
    "summarize",
]
