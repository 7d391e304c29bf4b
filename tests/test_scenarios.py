"""Real questions through the CLI (tests/scenarios/questions.yaml), each answer checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from llmatlas.catalog import Catalog
from llmatlas.catalog._query import _lang_match
from llmatlas.cli import app
from llmatlas.hardware import find_device
from llmatlas.sizing import get_format
from llmatlas.sizing.speed import decode_bound_tps

SCENARIOS = yaml.safe_load(
    (Path(__file__).parent / "scenarios" / "questions.yaml").read_text(encoding="utf-8")
)
BELOW_4BIT = ("Q3_K_M", "Q2_K")


def test_there_are_forty_real_questions() -> None:
    assert len(SCENARIOS) >= 40
    assert len({s["id"] for s in SCENARIOS}) == len(SCENARIOS)
    assert all(s.get("question") and s.get("args") for s in SCENARIOS)


def _get(d: Any, path: str) -> Any:
    for part in path.split("."):
        d = d[int(part)] if isinstance(d, list) else d[part]
    return d


def _ids(d: Any) -> set[str]:
    """Every model id in an answer: list items, tree nodes and their children."""
    if isinstance(d, list):
        return set().union(*map(_ids, d)) if d else set()
    if not isinstance(d, dict):
        return set()
    own = {d["id"]} if isinstance(d.get("id"), str) else set()
    return own.union(*(_ids(d[k]) for k in ("children", "groups", "rows") if k in d))


def _check_row(r: dict[str, Any], spec: dict[str, Any], cat: Catalog) -> None:
    m = cat.get(r["model"])
    where = r["model"]
    if "min_tps" in spec:
        assert r["decode_tps"] >= spec["min_tps"], where
    if "task" in spec:
        assert spec["task"] in m.tasks, where
    if "task_first" in spec:
        assert m.tasks[0] == spec["task_first"], where
    if "language" in spec:
        assert _lang_match(spec["language"], m.languages), where
    if "commercial" in spec:
        assert r["commercial_use"] in spec["commercial"], where
    if "openness" in spec:
        assert r["openness"] in spec["openness"], where
    if "max_pool_of_budget" in spec:
        assert r["pool_bytes"] <= spec["max_pool_of_budget"] * r["budget_bytes"], where
    if spec.get("not_below_4bit"):
        assert r["quant"] not in BELOW_4BIT, where
    if "min_params" in spec:
        assert r["params_b"] >= spec["min_params"], where
    if "why_contains" in spec:
        assert any(spec["why_contains"] in w for w in r["why"]), (where, r["why"])
    if "model_prefix" in spec:
        assert r["model"].startswith(spec["model_prefix"]), where


def _check_rows(d: dict[str, Any], e: dict[str, Any], cat: Catalog) -> None:
    rows = d["rows"]
    assert rows, "no rows"
    if "rows" in e:
        spec = dict(e["rows"])
        top = spec.pop("top", None)
        top_in = spec.pop("top_in", None)
        for r in rows[:top] if top else rows:
            _check_row(r, spec, cat)
        if top_in:
            assert rows[0]["model"] in top_in, rows[0]["model"]
    if "top_row" in e:
        _check_row(rows[0], e["top_row"], cat)
    if "any_row" in e:
        errors = 0
        for r in rows:
            try:
                _check_row(r, e["any_row"], cat)
            except AssertionError:
                errors += 1
        assert errors < len(rows), "no row has the property"
    if "row" in e:
        want = e["row"]
        hit = [r for r in rows if r["model"] == want["model"]]
        assert hit, f"{want['model']} missing"
        if "quant" in want:
            assert hit[0]["quant"] == want["quant"]
        if "tps" in want:
            lo, hi = want["tps"]
            assert lo <= hit[0]["decode_tps"] <= hi, hit[0]["decode_tps"]
    if "sorted_by" in e:
        vals = [r["scores"].get(e["sorted_by"]) for r in rows]
        scored = [v for v in vals if v is not None]
        assert scored and scored == sorted(scored, reverse=True)
        assert vals[: len(scored)] == scored  # unscored rows come last


def _check_recommend(recs: list[dict[str, Any]], e: dict[str, Any], cat: Catalog) -> None:
    by_need = {r["need"]: r for r in recs}
    for need, spec in e.items():
        r = by_need[need]
        assert r["model"], f"{need}: no pick ({r['why']})"
        m = cat.get(r["model"])
        if "pick_task" in spec:
            assert spec["pick_task"] in m.tasks, (need, m.id)
        if "pick_task_first" in spec:
            assert m.tasks[0] == spec["pick_task_first"], (need, m.id)
        if "pick_min_params" in spec:
            assert (m.params_b or 0) >= spec["pick_min_params"], (need, m.id)
        if "pick_commercial" in spec:
            assert cat.license_of(m).commercial_use in spec["pick_commercial"], (need, m.id)
        if "pick_openness" in spec:
            assert m.openness.grade in spec["pick_openness"], (need, m.id)
        if "pick_language" in spec:
            assert _lang_match(spec["pick_language"], m.languages), (need, m.id)
        if "max_tps" in spec:
            assert r["decode_tps"] <= spec["max_tps"], (need, r["decode_tps"])
        if "min_tps" in spec:
            assert r["decode_tps"] >= spec["min_tps"], (need, r["decode_tps"])


@pytest.mark.parametrize("s", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_scenario(s: dict[str, Any], catalog: Catalog) -> None:
    e = s.get("expect") or {}
    r = CliRunner().invoke(app, [*map(str, s["args"]), "--json"])
    if e.get("exit", 0):
        assert r.exit_code == e["exit"], (r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and e["error"] in lines[0], r.stderr
        return
    assert r.exit_code == 0, r.stderr or r.stdout
    d = json.loads(r.stdout)
    if "ids_include" in e:
        assert set(e["ids_include"]) <= _ids(d), set(e["ids_include"]) - _ids(d)
    if "ids_exclude" in e:
        assert not set(e["ids_exclude"]) & _ids(d), set(e["ids_exclude"]) & _ids(d)
    if s["args"][0] == "fit":
        _check_rows(d, e, catalog)
    if s["args"][0] == "recommend":
        _check_recommend(d, e["recommend"], catalog)
    for path, want in (e.get("fields") or {}).items():
        assert _get(d, path) == want, (path, _get(d, path))
    for path, (lo, hi) in (e.get("ranges") or {}).items():
        v = _get(d, path)
        assert v is not None and (lo is None or v >= lo) and (hi is None or v <= hi), (path, v)
    for path, allowed in (e.get("in") or {}).items():
        assert _get(d, path) in allowed, (path, _get(d, path))
    for path, text in (e.get("contains") or {}).items():
        assert text in (_get(d, path) or ""), (path, _get(d, path))
    for path, text in (e.get("not_contains") or {}).items():
        assert text not in (_get(d, path) or ""), (path, _get(d, path))
    for path in e.get("not_null") or []:
        assert _get(d, path) is not None, path
    if "notes_contain" in e:
        assert any(e["notes_contain"] in n for n in d["notes"]), d["notes"]
    if "checkpoint_prefix" in e:
        assert d["plan"]["hf_repo"].startswith(e["checkpoint_prefix"]), d["plan"]["hf_repo"]
    if "cost_rows" in e:
        assert len(d["rows"]) >= e["cost_rows"]
        assert all(x["usd_per_million_output_tokens"] > 0 for x in d["rows"])
    if "bound" in e:
        b = e["bound"]
        m = catalog.get(b["model"])
        assert m.architecture is not None
        dev = find_device(b["device"])
        limit = decode_bound_tps(
            m.architecture, get_format(b["quant"]), dev.bandwidth_gbs, b["gpus"]
        )
        assert 0 < d["decode_tps"] <= limit, (d["decode_tps"], limit)
