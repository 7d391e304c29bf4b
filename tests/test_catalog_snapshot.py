"""The compiled catalog snapshot, the user's own catalog overlay, `catalog check`, `--since`,
`--version`, the command-group table and the cached hardware measurement."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from llmatlas.catalog import Catalog, _load
from llmatlas.catalog._load import _data_dir, load, load_from
from llmatlas.catalog.check import check_catalog
from llmatlas.cli import GROUPS, app, build_app, groups_for
from llmatlas.errors import CatalogError

runner = CliRunner()

USER_FAMILY = """
family: my-finetunes
name: My fine-tunes
developer: Example Lab
description: Our own fine-tune of Llama 3 8B.
models:
  - id: my-llama-3-8b-support
    name: My Llama 3 8B Support
    released: 2026-10-01
    params_b: 8.03
    instruct: true
    languages: [en, zh-Hant]
    tasks: [chat]
    license: llama3
    base_model: llama-3-8b-instruct
    relation: finetune
    openness:
      weights: closed
      training_data: closed
      training_code: closed
      evaluation_code: closed
      finetuning_code: closed
      training_logs: closed
      source: https://example.com/card
    availability: gated-application
    sources:
      card: https://example.com/card
"""


def _snapshots(cache: Path) -> list[Path]:
    return sorted(cache.glob("catalog-*.pickle"))


@pytest.fixture()
def data_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped YAML to edit."""
    return Path(shutil.copytree(_data_dir(), tmp_path / "data"))


@pytest.fixture(autouse=True)
def fresh_memo() -> None:
    """Each test starts as a new process would: nothing loaded in memory."""
    _load._loaded.clear()


def test_snapshot_is_built_then_read_instead_of_the_yaml(
    data_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, user = tmp_path / "cache", tmp_path / "none"
    first = load(data_copy, user, cache)
    assert len(_snapshots(cache)) == 1
    _load._loaded.clear()

    def no_yaml(*_: object) -> None:
        raise AssertionError("parsed the YAML although a valid snapshot exists")

    monkeypatch.setattr(_load, "build", no_yaml)
    again = load(data_copy, user, cache)
    assert again is not first and again.models == first.models
    assert again.licenses == first.licenses and again.data_date == first.data_date


def test_snapshot_rebuilt_when_the_data_changes(data_copy: Path, tmp_path: Path) -> None:
    cache, user = tmp_path / "cache", tmp_path / "none"
    load(data_copy, user, cache)
    [old] = _snapshots(cache)
    llama3 = data_copy / "llama3.yaml"
    llama3.write_text(
        llama3.read_text().replace(
            "name: Llama 3 8B Instruct", "name: Llama 3 8B Instruct (edited)"
        )
    )
    _load._loaded.clear()
    data = load(data_copy, user, cache)
    assert data.models["llama-3-8b-instruct"].name == "Llama 3 8B Instruct (edited)"
    [new] = _snapshots(cache)
    assert new != old  # a new key, and the stale snapshot is gone


def test_corrupt_snapshot_is_ignored_and_rebuilt(data_copy: Path, tmp_path: Path) -> None:
    cache, user = tmp_path / "cache", tmp_path / "none"
    good = load(data_copy, user, cache)
    [path] = _snapshots(cache)
    path.write_bytes(path.read_bytes()[:1000])  # truncated, as by a crash mid-copy
    _load._loaded.clear()
    assert load(data_copy, user, cache).models == good.models
    key, rebuilt = pickle.loads(path.read_bytes())
    assert path.name == f"catalog-{key}.pickle" and rebuilt.models == good.models


def test_snapshot_equals_the_yaml() -> None:
    """The default path (snapshot) answers exactly what validating the YAML answers."""
    assert load().models == load_from(_data_dir()).models


def test_user_entry_is_overlaid_and_marked(isolated_home: Path) -> None:
    (isolated_home / "catalog").mkdir(parents=True)
    mine = isolated_home / "catalog" / "mine.yaml"
    mine.write_text(USER_FAMILY)
    cat = Catalog()
    m = cat.get("my-llama-3-8b-support")
    assert m.family == "my-finetunes" and cat.data.origin(m.id) == "user"
    assert cat.data.origin("llama-3-8b-instruct") == "shipped"
    assert "my-llama-3-8b-support" in [c.id for c in cat.children(cat.get("llama-3-8b-instruct"))]
    r = runner.invoke(app, ["show", "my-llama-3-8b-support", "--json"])
    d = json.loads(r.stdout)
    assert d["origin"] == "user" and d["origin_file"] == str(mine)
    r = runner.invoke(app, ["show", "my-llama-3-8b-support"])
    assert r.exit_code == 0 and f"your own entry: {mine}" in r.stdout
    # the user's entries do not make the shipped data look newer than it is
    assert cat.data.data_date is not None and cat.data.data_date < m.released


def test_user_entry_replaces_a_shipped_one(isolated_home: Path) -> None:
    shipped = Catalog().get("llama-3-8b-instruct")
    _load._loaded.clear()
    doc = USER_FAMILY.replace("my-llama-3-8b-support", "llama-3-8b-instruct")
    doc = doc.replace("base_model: llama-3-8b-instruct", "base_model: llama-3-8b")
    (isolated_home / "catalog").mkdir(parents=True)
    (isolated_home / "catalog" / "fix.yaml").write_text(doc)
    cat = Catalog()
    m = cat.get("llama-3-8b-instruct")
    assert m.name != shipped.name and cat.data.origin(m.id) == "user"
    r = runner.invoke(app, ["show", "llama-3-8b-instruct"])
    assert "(replaces the shipped entry)" in r.stdout


def test_bad_user_file_one_line_and_check_lists_each_problem(isolated_home: Path) -> None:
    (isolated_home / "catalog").mkdir(parents=True)
    bad = isolated_home / "catalog" / "bad.yaml"
    bad.write_text(
        USER_FAMILY.replace("tasks: [chat]", "tasks: [cooking]").replace(
            "params_b: 8.03", "params_b: -1"
        )
    )
    with pytest.raises(CatalogError, match=str(bad)):
        Catalog()
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 3 and str(bad) in r.stderr and "Traceback" not in r.stderr
    report = check_catalog()
    assert len(report.problems) == 2 and all(p.startswith(str(bad)) for p in report.problems)
    r = runner.invoke(app, ["catalog", "check"])
    lines = r.stdout.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 3
    assert "models.0.params_b" in lines[0] + lines[1] and "models.0.tasks" in lines[0] + lines[1]
    # a reference to a model that is nowhere is reported too, naming the file
    bad.write_text(USER_FAMILY.replace("base_model: llama-3-8b-instruct", "base_model: nope-7b"))
    report = check_catalog()
    assert report.problems == [
        f"{bad}: my-llama-3-8b-support: base_model 'nope-7b' is not in the catalog"
    ]


def test_catalog_check_passes_on_the_shipped_data() -> None:
    r = runner.invoke(app, ["catalog", "check", "--json"])
    d = json.loads(r.stdout)
    assert r.exit_code == 0 and d["ok"] and d["problems"] == [] and d["models"] > 300


def test_models_since_and_sort_by_release() -> None:
    r = runner.invoke(app, ["models", "--since", "2025-04", "--sort", "-released", "--json"])
    rows = json.loads(r.stdout)
    dates = [row["released"] for row in rows]
    assert r.exit_code == 0 and rows and all(d >= "2025-04-01" for d in dates)
    assert dates == sorted(dates, reverse=True)
    everything = json.loads(runner.invoke(app, ["models", "--json"]).stdout)
    assert len(rows) == sum(1 for row in everything if row["released"] >= "2025-04-01")
    r = runner.invoke(app, ["models", "--since", "last spring"])
    assert r.exit_code == 1 and "--since takes a date" in r.stderr


def test_version_shows_the_data_date() -> None:
    newest = max(
        d for m in Catalog().models for d in [m.released, *(c.since for c in m.license_history)]
    )
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and f"catalog data to {newest.isoformat()}" in r.stdout


def test_command_group_table_matches_the_modules() -> None:
    for module, commands in GROUPS.items():
        sub = build_app([module])
        names = {c.name for c in sub.registered_commands} | {g.name for g in sub.registered_groups}
        assert names == set(commands), module
    assert groups_for(["models", "--json"]) == ["catalog_cmds"]
    assert groups_for(["--lang", "zh-TW", "show", "x"]) is None  # unsure: every group
    assert groups_for(["--version"]) == []


def test_one_group_app_runs_its_command() -> None:
    r = runner.invoke(build_app(groups_for(["show"])), ["show", "llama-3-8b", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["id"] == "llama-3-8b"
    assert isinstance(app, typer.Typer)


def test_measurement_cached_with_its_date(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmatlas.hardware import _detect

    calls: list[str] = []
    monkeypatch.setattr(_detect, "measure_bandwidth_gbs", lambda: calls.append("bw") or 12.34)
    monkeypatch.setattr(_detect, "measure_gflops", lambda: calls.append("fl") or 56.78)
    first = _detect.calibrated_bandwidth()
    assert (first.cpu_bandwidth_gbs, first.cpu_gflops) == (12.3, 56.8) and len(calls) == 2
    again = _detect.calibrated_bandwidth()
    assert again == first and len(calls) == 2  # read back, not measured
    m = _detect.detect(gpu_probe=list)
    assert m.cpu_bandwidth_gbs == 12.3 and m.measured_at == first.measured_at.isoformat()
    _detect._probe_path().write_text("{not json")
    _detect.calibrated_bandwidth()
    assert len(calls) == 4  # unreadable cache: measured again
    _detect.calibrated_bandwidth(refresh=True)
    assert len(calls) == 6
