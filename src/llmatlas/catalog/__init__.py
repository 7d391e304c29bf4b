"""The curated catalog of open LLMs: schema, data, queries, lineage."""

from llmatlas.catalog._facts import describe, freshness, lineage_tree
from llmatlas.catalog._load import CatalogData, load, load_from
from llmatlas.catalog._query import SORT_KEYS, Catalog, ModelFilter, sort_models
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
    "Openness",
    "describe",
    "freshness",
    "lineage_tree",
    "load",
    "load_from",
    "sort_models",
]
