"""`llmatlas cost` on the shipped instance table: sourced prices, $/1M tokens, compare, min-tps."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import yaml
from typer.testing import CliRunner

from llmatlas.catalog import Catalog
from llmatlas.deploy import cheapest_meeting, compare, cost
from llmatlas.errors import BadInputError
from llmatlas.hardware import devices, find_instance, instances
from llmatlas.hardware._table import _data

BIG = "llama-3.1-70b-instruct"
SMALL = "llama-3-8b-instruct"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog()


def _raw() -> list[dict]:
    return yaml.safe_load((_data() / "instances.yaml").read_text(encoding="utf-8"))


def _usd(r) -> float:
    return r.price_per_hour_usd / (r.aggregate_decode_tps * r.utilization * 3600) * 1e6


# --- the table ------------------------------------------------------------------------


def test_every_instance_loads_and_names_a_known_device():
    table = instances()
    assert len(table) >= 10
    known = devices()
    for i in table.values():
        assert i.device in known, i.id
        assert i.id == f"{i.provider}:{i.name.lower()}"
        assert known[i.device].kind == "gpu"


def test_ids_are_unique_in_the_file():
    ids = [row["id"] for row in _raw()]
    assert len(ids) == len(set(ids))
    assert len(ids) == len(instances())


def test_prices_positive_dated_and_sourced():
    today = dt.date.today()
    for i in instances().values():
        assert i.price_per_hour_usd > 0, i.id
        assert i.price_date <= today, i.id
        assert str(i.source).startswith("https://"), i.id
        assert i.region and i.note, i.id
        assert i.gpus >= 1


def test_regions_are_the_ones_the_header_promises():
    want = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}
    for i in instances().values():
        assert i.region == want[i.provider], i.id


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("p5.48xlarge", "aws:p5.48xlarge"),
        ("aws:p5.48xlarge", "aws:p5.48xlarge"),
        ("AWS:P5.48XLARGE", "aws:p5.48xlarge"),
        ("Standard_ND96isr_H100_v5", "azure:standard_nd96isr_h100_v5"),
        ("standard_nd96isr_h100_v5", "azure:standard_nd96isr_h100_v5"),
        ("azure:Standard_ND96isr_H100_v5", "azure:standard_nd96isr_h100_v5"),
        ("a2-highgpu-8g", "gcp:a2-highgpu-8g"),
    ],
)
def test_find_instance_forgives_case_and_provider(name, want):
    assert find_instance(name).id == want


def test_find_instance_unknown_suggests():
    with pytest.raises(BadInputError, match=re.escape("did you mean: aws:p5.48xlarge")):
        find_instance("p5.48xlarg")
    with pytest.raises(BadInputError, match="unknown instance 'nope'"):
        find_instance("nope")


# --- cost -----------------------------------------------------------------------------


def test_cost_on_instance_recomputes(cat):
    r = cost(cat.get(SMALL), instance="aws:g5.xlarge")
    inst = find_instance("aws:g5.xlarge")
    assert (r.where, r.device, r.gpus) == (inst.id, inst.device, inst.gpus)
    assert r.price_per_hour_usd == inst.price_per_hour_usd
    assert str(inst.source) in r.price_source and inst.region in r.price_source
    assert r.usd_per_million_output_tokens == pytest.approx(_usd(r), rel=1e-3)
    quarter = cost(cat.get(SMALL), instance="aws:g5.xlarge", utilization=0.25)
    assert quarter.usd_per_million_output_tokens == pytest.approx(
        2 * r.usd_per_million_output_tokens, rel=1e-3
    )


def test_whole_instance_is_used_by_replicas(cat):
    for r in compare(cat.get(BIG))[0]:
        per_copy = r.tensor_parallel * r.pipeline_parallel
        assert r.replicas == r.gpus // per_copy, r.where
        assert r.replicas * per_copy <= r.gpus
        assert r.usd_per_million_output_tokens == pytest.approx(_usd(r), rel=1e-3)


def test_compare_skips_too_small_with_reason(cat):
    rows, skipped = compare(cat.get(BIG))
    where = {r.where for r in rows}
    assert "aws:g5.xlarge" not in where
    reason = next(s for s in skipped if s.startswith("aws:g5.xlarge:"))
    assert "does not fit" in reason
    assert where | {s.split(": ", 1)[0] for s in skipped} == set(instances())
    assert rows == sorted(rows, key=lambda r: r.usd_per_million_output_tokens)
    assert "aws:p5.48xlarge" in where


def test_min_tps_is_the_cheapest_qualifying_row(cat):
    m = cat.get(BIG)
    rows, _ = compare(m)
    for target in (100.0, 500.0, 3000.0):
        ok = [r for r in rows if r.aggregate_decode_tps >= target]
        assert ok, target
        best = cheapest_meeting(m, target)
        assert best.aggregate_decode_tps >= target
        assert best.price_per_hour_usd == min(r.price_per_hour_usd for r in ok)
        assert best.where in {r.where for r in ok}
    with pytest.raises(BadInputError, match="no instance"):
        cheapest_meeting(m, max(r.aggregate_decode_tps for r in rows) * 10)


def test_device_without_price_uses_the_cheapest_matching_instance(cat):
    r = cost(cat.get(BIG), "h100-sxm", 8)
    h100x8 = [i for i in instances().values() if i.device == "h100-sxm" and i.gpus == 8]
    assert r.price_per_hour_usd == min(i.price_per_hour_usd for i in h100x8)
    with pytest.raises(
        BadInputError, match=re.escape("no instance in instances.yaml has 3 x h100-sxm")
    ):
        cost(cat.get(BIG), "h100-sxm", 3)


# --- CLI ------------------------------------------------------------------------------


def test_cli_instance_json(cli):
    res = CliRunner().invoke(cli, ["cost", SMALL, "--instance", "aws:g5.xlarge", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["where"] == "aws:g5.xlarge" and d["replicas"] == 1
    assert d["usd_per_million_output_tokens"] == pytest.approx(
        d["price_per_hour_usd"] / (d["aggregate_decode_tps"] * d["utilization"] * 3600) * 1e6,
        rel=1e-3,
    )


def test_cli_compare_and_min_tps(cli):
    res = CliRunner().invoke(cli, ["cost", BIG, "--compare", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["rows"] and any(s.startswith("aws:g5.xlarge:") for s in d["skipped"])
    ok = [r for r in d["rows"] if r["aggregate_decode_tps"] >= 500]
    res = CliRunner().invoke(cli, ["cost", BIG, "--min-tps", "500", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["price_per_hour_usd"] == min(r["price_per_hour_usd"] for r in ok)
    res = CliRunner().invoke(cli, ["cost", BIG, "--compare"])
    assert res.exit_code == 0 and "skipped aws:g5.xlarge" in res.output


@pytest.mark.parametrize(
    "args",
    [
        ["cost", SMALL, "--instance", "aws:nope.xlarge"],
        ["cost", SMALL, "--instance", "p5.48xlarg"],
        ["cost", BIG, "--device", "h100-sxm", "--gpus", "3"],
        ["cost", BIG, "--min-tps", "1e9"],
    ],
)
def test_cli_errors_are_one_line(cli, args):
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert res.output.startswith("error:")
