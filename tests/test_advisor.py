"""Advisor on imaginary machines: fit, ranking rules, inverse questions, recommend."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from llmatlas.advisor import (
    Need,
    Target,
    best_quant_choice,
    best_quant_for,
    estimate,
    fit,
    gpu_layers_that_fit,
    max_context_for,
    recommend,
)
from llmatlas.catalog import Catalog
from llmatlas.cli import app
from llmatlas.errors import BadInputError
from llmatlas.hardware import find_device
from llmatlas.sizing import GiB, get_format


def test_estimate_json_keys() -> None:
    r = CliRunner().invoke(
        app, ["estimate", "llama-3-8b-instruct", "--device", "rtx-4090", "--ctx", "8192", "--json"]
    )
    d = json.loads(r.stdout)
    keys = {
        "model",
        "quant",
        "context",
        "batch",
        "engine",
        "weights_bytes",
        "kv_cache_bytes",
        "overhead_bytes",
        "total_bytes",
        "file_bytes",
        "device",
        "fits",
        "gpus_needed",
        "decode_tps",
        "prefill_tps",
    }
    assert r.exit_code == 0 and keys <= d.keys()
    assert d["fits"] and d["gpus_needed"] == 1 and d["kv_cache_bytes"] == GiB
    assert (
        d["total_bytes"]
        == d["weights_bytes"] + d["kv_cache_bytes"] + d["buffers_bytes"] + d["overhead_bytes"]
    )


def test_estimate_bad_input() -> None:
    cli = CliRunner()
    for args, msg in [
        (["estimate", "llama-3-8b", "--quant", "Q9_X"], "unknown quantization"),
        (["estimate", "llama-2-7b", "--ctx", "100000"], "maximum context"),
        (["estimate", "llama-2-7b", "--ctx", "-4"], "positive"),
        (["estimate", "llama-2-7b", "--device", "rtx-9999"], "unknown device"),
        (["estimate", "llama-2-7b", "--vram", "-3G"], "size"),
        (["estimate", "mistral-large-2402"], "cannot size"),
    ]:
        r = cli.invoke(app, args)
        assert r.exit_code == 1 and msg in r.stderr, (args, r.stderr)


def test_405b_fp16_on_4_h100_does_not_fit_but_8x2_does(catalog: Catalog) -> None:
    m = catalog.get("llama-3.1-405b-instruct")
    e = estimate(m, Target.from_device(find_device("h100-sxm"), 4), "BF16", 8192, engine="vllm")
    assert not e.fits and e.gpus_needed == 16


def test_moe_sized_by_total_not_active(catalog: Catalog) -> None:
    m = catalog.get("mixtral-8x7b-instruct-v0.1")
    target = Target.from_device(find_device("rtx-4090"))  # 24 GB
    e = estimate(m, target, "Q4_K_M")
    assert (
        e.weights_bytes > 24 * GiB and not e.fits
    )  # 12.9B active would "fit"; 46.7B total does not
    assert e.gpu_layers is not None and 0 < e.gpu_layers < 32


def test_inverse_questions(catalog: Catalog) -> None:
    m = catalog.get("llama-3-8b-instruct")
    t = Target.from_device(find_device("rtx-3060"))  # 12 GB
    assert max_context_for(m, t, "Q4_K_M") == 8192  # the model maximum fits
    # 6 GiB: the GPU's weights 4.30 (the token embeddings stay in host RAM) + CUDA context
    # leave too little for 8192 tokens of KV cache (1 GiB) plus the GPU's compute buffer
    small = Target("budget", "gpu", 1, 6 * GiB, 6 * GiB, 400, 50, "6 GiB")
    n = max_context_for(m, small, "Q4_K_M")
    assert 0 < n < 8192 and n % 256 == 0
    t8 = Target.from_device(find_device("rtx-4060-ti-8gb"))
    c = best_quant_choice(m, t8)
    q = c.quant
    assert q == best_quant_for(m, t8)
    assert c.meets_speed and c.quality and "Q4_K_M" not in (c.next_up or "")
    ladder = ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_K_S", "IQ4_XS", "Q3_K_M", "Q2_K"]
    assert q is not None and q != "Q8_0"
    assert estimate(m, t8, q).fits and not estimate(m, t8, ladder[ladder.index(q) - 1]).fits
    layers = gpu_layers_that_fit(
        catalog.get("llama-3-70b-instruct"),
        get_format("Q4_K_M"),
        4096,
        1,
        "f16",
        Target.from_device(find_device("rtx-4090")),
    )
    assert 20 < layers < 80


def test_fit_filters_and_reasons(catalog: Catalog) -> None:
    t = Target.from_budget(ram_bytes=16 * GiB)
    rows = fit(t, Need(task="code", commercial=True), catalog=catalog)
    assert rows
    for r in rows:
        assert "code" in catalog.get(r.model).tasks
        assert r.commercial_use != "no" and r.total_bytes <= t.budget_bytes
        assert any("needs" in w for w in r.why)


def test_rows_reaching_the_speed_come_first(catalog: Catalog) -> None:
    t = Target.from_budget(ram_bytes=32 * GiB)
    rows = fit(t, Need(), catalog=catalog)
    # ranking is by speed first: a model under the needed tok/s never precedes one that
    # reaches it, however large or well scored
    met = [r.meets_speed for r in rows]
    assert met == sorted(met, reverse=True) and True in met and False in met
    for r in rows:
        assert r.meets_speed == (r.decode_tps >= r.required_tps)
        if r.grade == "good":
            assert r.decode_tps >= 15
        if r.grade == "too slow":
            assert r.decode_tps < 5


@pytest.mark.parametrize("script", ["zh-Hant", "zh-Hans"])
def test_a_card_naming_the_script_ranks_before_one_saying_only_chinese(
    catalog: Catalog, script: str
) -> None:
    """Among rows the ranking otherwise ties on (speed met, year, the script's benchmark,
    size class), a card that names the script comes before one that only says "zh"."""
    rows = fit(Target.from_device(find_device("rtx-4060")), Need(language=script), catalog=catalog)
    named = [script in catalog.get(r.model).languages for r in rows]
    assert True in named and False in named  # both kinds are candidates
    groups: dict[tuple[object, ...], list[bool]] = {}
    for r, n in zip(rows, named, strict=True):
        m = catalog.get(r.model)
        group = (r.meets_speed, m.released.year, r.scores.get("TMMLU+"), r.scores.get("C-Eval"))
        group += (int(math.log2(m.params_b / 1.5)) if m.params_b >= 1.5 else -1,)
        groups.setdefault(group, []).append(n)
    mixed = [g for g in groups.values() if len(set(g)) == 2]
    assert mixed, "no tie between the two kinds of card to rank"
    assert all(g == sorted(g, reverse=True) for g in mixed)


def test_below_the_speed_a_usable_row_comes_before_one_too_slow(catalog: Catalog) -> None:
    """On a slow CPU (5 GB/s) few models reach a chat's 10 tok/s; of the rest, those still
    usable (>= 5 tok/s) rank before large ones crawling at under 1 tok/s."""
    t = replace(Target.from_budget(ram_bytes=64 * GiB), cpu_bandwidth_gbs=5.0)
    rows = fit(t, Need(), catalog=catalog)
    tiers = [0 if r.meets_speed else 1 + (r.grade == "too slow") for r in rows]
    assert tiers == sorted(tiers) and {1, 2} <= set(tiers)
    slow = next(i for i, r in enumerate(rows) if r.grade == "too slow")
    assert all(r.decode_tps >= 5 for r in rows[:slow])


def test_fit_min_tps_and_language(catalog: Catalog) -> None:
    t = Target.from_device(find_device("rtx-4090"))
    rows = fit(t, Need(language="zh-Hant", min_tps=20), catalog=catalog)
    assert rows and all(r.decode_tps >= 20 for r in rows)
    # Traditional Chinese, or "Chinese" with no script named on the card.
    assert all({"zh-Hant", "zh"} & set(catalog.get(r.model).languages) for r in rows)
    with pytest.raises(BadInputError):
        fit(t, Need(task="juggling"), catalog=catalog)


def test_recommend_is_computed(catalog: Catalog) -> None:
    recs = recommend(catalog)
    tiers = {r.tier for r in recs}
    assert len(tiers) == 7 and len(recs) == 7 * 8
    by = {(r.tier, r.need): r for r in recs}
    small = by[("8 GB GPU", "general chat")]
    big = by[("multi-GPU (8 x 80 GB)", "general chat")]
    assert (
        small.model and big.model and small.engine.startswith("llama.cpp") and big.engine == "vllm"
    )
    tw = by[("24 GB GPU", "Traditional Chinese")]
    assert tw.model and {"zh-Hant", "zh"} & set(catalog.get(tw.model).languages)


def test_fit_cli_on_this_machine() -> None:
    r = CliRunner().invoke(app, ["fit", "--limit", "5", "--json"])
    d = json.loads(r.stdout)
    assert r.exit_code == 0 and len(d["rows"]) == 5 and d["budget_bytes"] > 0
    r = CliRunner().invoke(app, ["fit", "--device", "rtx-4090", "--vram", "12G"])
    assert r.exit_code == 1 and "not both" in r.stderr


def test_hw_detects_this_machine() -> None:
    r = CliRunner().invoke(app, ["hw", "--json"])
    d = json.loads(r.stdout)
    assert r.exit_code == 0 and d["ram_bytes"] > 0 and d["cpu_bandwidth_gbs"] > 0
    r = CliRunner().invoke(app, ["hw", "--devices", "--json"])
    assert r.exit_code == 0 and any(x["id"] == "h100-sxm" for x in json.loads(r.stdout))


def test_quant_rule_q4_k_m_on_a_laptop_never_below_4bit_silently(catalog: Catalog) -> None:
    from llmatlas.advisor import choose_quant, quality_cost

    laptop = Target.from_budget(ram_bytes=16 * GiB)
    m = catalog.get("llama-3.1-8b-instruct")
    c = choose_quant(m, laptop, 4096)
    # Q8_0 fits 16 GB but crawls; speed pushes the choice down to Q4_K_M and no further
    assert c.quant == "Q4_K_M" and not c.meets_speed and 4 < c.decode_tps < 10
    assert c.quality and "+2.82% perplexity" in c.quality and "llama-3-8b" in c.quality
    assert c.next_up and "Q5_K_M" in c.next_up and "tok/s" in c.next_up
    # a 70B on the same laptop: only sub-4-bit types would fit -> refused unless asked
    big = catalog.get("llama-3.1-70b-instruct")
    assert choose_quant(big, laptop, 4096).quant is None
    q = quality_cost("Q2_K", 70.6)
    assert q is not None and q.measured_on == "llama-2-70b" and q.ppl_delta_pct == 8.82


def test_strict_needs_commercial_and_open(catalog: Catalog) -> None:
    t = Target.from_device(find_device("l4"))
    strict = fit(t, Need(commercial=True), catalog=catalog)
    assert strict and all(r.commercial_use == "yes" for r in strict)
    loose = fit(t, Need(commercial=True, allow_conditional=True), catalog=catalog)
    assert any(r.commercial_use == "conditional" for r in loose)
    assert all(any(n.startswith("commercial use:") for n in r.needs) for r in loose)
    rows = fit(Target.from_device(find_device("rtx-4090")), Need(fully_open=True), catalog=catalog)
    assert rows[0].model.startswith("olmo-2") and all(r.openness in "AB" for r in rows)


def test_speed_never_sums_gpus_for_one_stream(catalog: Catalog) -> None:
    from llmatlas.sizing import get_format
    from llmatlas.sizing.speed import decode_bound_tps

    m = catalog.get("mixtral-8x7b-instruct-v0.1")
    assert m.architecture is not None
    two = Target.from_device(find_device("rtx-4090"), 2)
    e = estimate(m, two, "Q4_K_M")
    one_card_bound = decode_bound_tps(m.architecture, get_format("Q4_K_M"), 1008)
    assert e.fits and e.decode_tps < one_card_bound  # layers run in sequence
    assert any("in sequence" in n for n in e.notes)
    r1 = catalog.get("deepseek-r1")
    h200 = Target.from_device(find_device("h200"), 8)
    v = estimate(r1, h200, "FP8", engine="vllm")
    assert r1.architecture is not None
    assert v.decode_tps < decode_bound_tps(r1.architecture, get_format("FP8"), 4800, 8) / 4
    assert 20 < v.decode_tps < 150  # published single-stream figures are 30-80 tok/s


def test_a_checkpoint_published_quantized_is_not_requantized(catalog: Catalog) -> None:
    """gpt-oss ships in MXFP4: the advisor offers that file, not an IQ4_XS requantization of
    it (nor an upcast to Q8_0 that would hold the same 4-bit weights in twice the bytes)."""
    from llmatlas.advisor._quant import choose_quant

    m = catalog.get("gpt-oss-20b")
    for target in (
        Target.from_budget(ram_bytes=16 * GiB),
        Target.from_device(find_device("rtx-4090")),
    ):
        choice = choose_quant(m, target, 4096)
        assert choice.quant == "MXFP4", (target.name, choice)
