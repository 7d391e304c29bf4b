"""The curated data itself: loads, is sourced, consistent, and its architectures are right."""

from __future__ import annotations

import pytest

from llmatlas.catalog import Catalog, Openness
from llmatlas.catalog._schema import FACT_SOURCES
from llmatlas.sizing import active_param_count, param_count

# Every model and variant the seeds name (issue 2), by catalog id, plus today's expected ones.
REQUIRED = [
    "llama-7b",
    "llama-13b",
    "llama-33b",
    "llama-65b",
    "llama-2-7b",
    "llama-2-7b-chat",
    "llama-2-13b",
    "llama-2-70b-chat",
    "llama-3-8b",
    "llama-3-8b-instruct",
    "llama-3-70b-instruct",
    "codellama-7b",
    "codellama-34b-instruct",
    "llamaguard-7b",
    "mistral-7b-v0.1",
    "mistral-7b-instruct-v0.2",
    "mixtral-8x7b-v0.1",
    "mixtral-8x22b-v0.1",
    "gemma-2b",
    "gemma-7b-it",
    "codegemma-7b",
    "recurrentgemma-2b",
    "phi-1",
    "phi-1.5",
    "phi-2",
    "falcon-7b",
    "falcon-40b",
    "falcon-180b",
    "qwen-7b",
    "qwen1.5-7b",
    "qwen2-7b",
    "qwen-vl",
    "internlm-7b",
    "internlm2-7b",
    "mpt-7b",
    "mpt-30b",
    "bloom",
    "bloomz",
    "gpt-neox-20b",
    "gpt-j-6b",
    "gpt-neo-2.7b",
    "opt-6.7b",
    "opt-175b",
    "grok-1",
    "chatglm-6b",
    "olmo-7b",
    "yi-34b",
    "tinyllama-1.1b-chat-v1.0",
    "gpt2",
    "alpaca-7b",
    "meditron-7b",
    "biomistral-7b",
    "gpt4all-falcon",
    # today's models
    "llama-3.1-8b-instruct",
    "llama-3.1-405b",
    "llama-3.2-1b",
    "llama-3.3-70b-instruct",
    "qwen2.5-7b-instruct",
    "gemma-2-9b",
    "gemma-3-270m",
    "gemma-3-27b-it",
    "phi-4",
    "deepseek-v3",
    "deepseek-r1",
    "olmo-2-1124-7b",
    "gpt-oss-20b",
    "gpt-oss-120b",
]


def test_loads_with_many_families(catalog: Catalog) -> None:
    assert len(catalog.models) >= 300
    assert len(catalog.data.families) >= 40


@pytest.mark.parametrize("model_id", REQUIRED)
def test_seed_models_present(catalog: Catalog, model_id: str) -> None:
    hits = [m.id for m in catalog.models if m.id == model_id or m.id.startswith(model_id)]
    assert hits, f"{model_id} missing from the catalog"


def test_every_fact_has_a_source(catalog: Catalog) -> None:
    for m in catalog.models:
        for fact in FACT_SOURCES:
            if fact == "license" or getattr(m, fact) in (None, [], ()):
                continue
            assert m.source_for(fact), f"{m.id}: {fact} has no source"
        assert str(catalog.license_of(m).url).startswith("http")
        assert str(m.openness.source).startswith("http")
        for b in m.benchmarks:
            assert str(b.source).startswith("http")


def test_base_models_exist_and_lineage_is_acyclic(catalog: Catalog) -> None:
    for m in catalog.models:
        seen = {m.id}
        cur = m
        while cur.base_model:
            assert cur.base_model in catalog.data.models, f"{cur.id} -> {cur.base_model}"
            cur = catalog.data.models[cur.base_model]
            assert cur.id not in seen, f"cycle through {cur.id}"
            seen.add(cur.id)


@pytest.mark.parametrize(
    "model_id",
    # inherited architectures are the base's; the derivative's params_b is its card's figure
    [m.id for m in Catalog().models if m.architecture and m.params_b and not m.architecture_from],
)
def test_param_count_matches_published(catalog: Catalog, model_id: str) -> None:
    m = catalog.get(model_id)
    assert m.architecture is not None and m.params_b is not None
    computed = param_count(m.architecture) / 1e9
    assert computed == pytest.approx(m.params_b, rel=0.02), f"{model_id}: {computed:.3f}B"
    if m.active_params_b:
        active = active_param_count(m.architecture) / 1e9
        assert active == pytest.approx(m.active_params_b, rel=0.02)


def test_api_only_models_are_marked_not_omitted(catalog: Catalog) -> None:
    api = [m for m in catalog.models if m.availability == "api-only"]
    assert api, "API-only models (e.g. FFM) must be present and marked"
    for m in api:
        assert catalog.license_of(m).id == "proprietary-api" or m.openness.weights == "closed"


def test_size_specific_and_changed_licenses(catalog: Catalog) -> None:
    assert catalog.license_of(catalog.get("falcon-180b")).id != "apache-2.0"
    assert catalog.license_of(catalog.get("falcon-40b")).id == "apache-2.0"
    assert catalog.get("falcon-40b").license_history, "Falcon-40B started under the TII license"
    assert catalog.license_of(catalog.get("llama-2-7b")).commercial_use == "conditional"
    assert catalog.license_of(catalog.get("llama-7b")).commercial_use == "no"
    assert catalog.license_of(catalog.get("qwen2-72b")).id != "apache-2.0"
    assert catalog.license_of(catalog.get("qwen2-7b")).id == "apache-2.0"
    assert catalog.license_of(catalog.get("mistral-7b-v0.1")).id == "apache-2.0"


def test_traditional_chinese_is_distinguished(catalog: Catalog) -> None:
    taiwan = [m for m in catalog.models if m.family in ("taide", "taiwan-llm", "breeze")]
    assert taiwan and all("zh-Hant" in m.languages for m in taiwan)
    # "zh": the card says Chinese without naming a script (Yi, Qwen2, Qwen2.5).
    for mid in ("yi-34b-chat", "qwen2-7b-instruct", "qwen2.5-7b-instruct"):
        assert "zh" in catalog.get(mid).languages


def test_openness_grades(catalog: Catalog) -> None:
    assert catalog.get("olmo-7b").openness.grade in ("A", "B")
    assert catalog.get("llama-2-7b").openness.grade in ("D", "E")
    o = Openness(
        weights="open",
        training_data="open",
        training_code="open",
        evaluation_code="open",
        finetuning_code="open",
        training_logs="open",
        source="https://example.org",
    )
    assert o.grade == "A" and o.score == 6


def test_errata_point_at_catalog_models(catalog: Catalog) -> None:
    assert len(catalog.data.errata) >= 10
    for e in catalog.data.errata:
        for mid in e.models:
            assert mid in catalog.data.models


def test_moe_total_vs_active(catalog: Catalog) -> None:
    m = catalog.get("mixtral-8x7b-v0.1")
    assert m.architecture is not None
    total, active = param_count(m.architecture), active_param_count(m.architecture)
    # Mixtral: 46.7B total, 12.9B active (Mistral AI's announcement)
    assert total == pytest.approx(46.70e9, rel=0.005)
    assert active == pytest.approx(12.88e9, rel=0.005)
