"""What keeps the catalog commands quick, checked for sameness: records read from the
snapshot without pydantic, the same answers and errors as pydantic models gave, and
``--json`` made by orjson byte for byte as ``json.dumps(indent=2)`` makes it."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from llmatlas._record import Value, schema, value
from llmatlas.catalog import Architecture, Catalog, Family, License, describe
from llmatlas.catalog._load import _data_dir
from llmatlas.cli._common import dumps_json

DATA = _data_dir()
FAMILY_FILES = sorted(
    p for p in DATA.glob("*.yaml") if p.name not in ("licenses.yaml", "errata.yaml")
)


def _raw(path: Path) -> Any:
    return yaml.load(path.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.mark.parametrize("path", FAMILY_FILES[::4], ids=lambda p: p.stem)
def test_record_dumps_are_what_pydantic_dumps(path: Path) -> None:
    """The records' model_dump against pydantic's own, on the schema they generate."""
    raw = _raw(path)
    model = schema(Family).model_validate(raw)
    rec = Family.model_validate(raw)
    for mode in ("python", "json"):
        for exclude_none in (False, True):
            kw: dict[str, Any] = {"mode": mode, "exclude_none": exclude_none}
            assert rec.model_dump(**kw) == model.model_dump(**kw)
    for m_rec, m_model in zip(rec.models, model.models, strict=True):
        if m_rec.architecture is not None:
            kw = {"mode": "json", "exclude_defaults": True}
            assert m_rec.architecture.model_dump(**kw) == m_model.architecture.model_dump(**kw)


def _errors(exc: ValidationError) -> list[tuple[str, tuple[Any, ...], str]]:
    return [(e["type"], e["loc"], e["msg"]) for e in exc.errors()]


def test_record_errors_are_pydantic_errors() -> None:
    raw = _raw(DATA / "llama3.yaml")
    model = raw["models"][0]
    cases = [
        ({**model, "bogus": 1}, ("extra_forbidden", ("models", 0, "bogus"))),
        (
            {k: v for k, v in model.items() if k != "released"},
            ("missing", ("models", 0, "released")),
        ),
        ({**model, "id": "Not A Slug"}, ("value_error", ("models", 0, "id"))),
        (
            {**model, "sources": {"card": "not a url"}},
            ("url_parsing", ("models", 0, "sources", "card")),
        ),
        ({**model, "base_model": "llama-3-8b"}, ("value_error", ("models", 0))),  # no relation
    ]
    for bad, (kind, loc) in cases:
        with pytest.raises(ValidationError) as info:
            Family.model_validate({**raw, "models": [bad]})
        assert _errors(info.value)[0][:2] == (kind, loc)
        assert _errors(info.value) == _errors(_schema_errors({**raw, "models": [bad]}))
    with pytest.raises(ValidationError, match="greater than 0"):
        Architecture(**{**model["architecture"], "hidden_size": 0})


def _schema_errors(doc: Any) -> ValidationError:
    try:
        schema(Family).model_validate(doc)
    except ValidationError as exc:
        return exc
    raise AssertionError("the schema accepted it")


def test_records_are_frozen_values() -> None:
    cat = Catalog()
    m = cat.get("llama-3-8b-instruct")
    lic = License(
        id="x", name="X", url="https://example.org", commercial_use="yes", conditions="none"
    )
    assert lic.url == "https://example.org/"  # normalised as pydantic's HttpUrl prints it
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "other"  # type: ignore[misc]
    assert m.architecture is not None and hash(m.architecture) == hash(
        pickle.loads(pickle.dumps(m.architecture))
    )
    assert pickle.loads(pickle.dumps(m)) == m
    copy = m.model_copy(update={"name": "renamed"})
    assert copy.name == "renamed" and copy != m and m.name != "renamed"
    assert repr(lic).startswith("License(id='x', name='X', url='https://example.org/'")


@value
class _Point(Value):
    x: int
    y: float = 0.5
    tags: list[str] = dataclasses.field(default_factory=list)
    label: str = "p"


@dataclasses.dataclass(frozen=True)
class _RefPoint:
    x: int
    y: float = 0.5
    tags: list[str] = dataclasses.field(default_factory=list)
    label: str = "p"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((1,), {}),
        ((1, 2.0), {"label": "q"}),
        ((), {"x": 3, "tags": ["a"]}),
        ((1, 2, ["t"], "z"), {}),
    ],
)
def test_values_behave_as_frozen_dataclasses(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``Value`` is ``@dataclass(frozen=True)`` without generated code: the standard library's
    frozen dataclass is the reference for every behaviour a caller can see."""
    got, ref = _Point(*args, **kwargs), _RefPoint(*args, **kwargs)
    assert dataclasses.asdict(got) == dataclasses.asdict(ref)
    assert repr(got) == repr(ref).replace("_RefPoint", "_Point")
    assert got == _Point(*args, **kwargs)
    with pytest.raises(TypeError):  # a list field: unhashable, as the dataclass is
        hash(ref)
    with pytest.raises(TypeError):
        hash(got)
    assert hash(_Point(1, tags=())) == hash(_Point(1, tags=()))  # type: ignore[arg-type]
    assert got != _Point(99) and got != ref  # another class is never equal, as dataclasses
    assert dataclasses.replace(got, label="r").label == "r" and got.label == ref.label
    assert pickle.loads(pickle.dumps(got)) == got
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.x = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del got.y  # type: ignore[misc]
    assert _Point(1).tags is not _Point(1).tags  # a fresh default per instance


@value
class _Point3(_Point):
    z: int = 0


def test_a_value_subclass_gets_its_own_init() -> None:
    """Made after its parent (whose first instance compiled the parent's __init__), a
    subclass still takes its own fields."""
    assert _Point(1).x == 1
    p = _Point3(1, z=3)
    assert (p.x, p.z) == (1, 3) and repr(p) == "_Point3(x=1, y=0.5, tags=[], label='p', z=3)"
    assert _Point(2).x == 2


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((1, 2, [], "a", 5), {}), ((1,), {"x": 2}), ((1,), {"nope": 1})],
)
def test_values_refuse_what_dataclasses_refuse(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        _RefPoint(*args, **kwargs)
    with pytest.raises(TypeError):
        _Point(*args, **kwargs)


def test_estimate_imports_only_the_estimate_path(isolated_home: Path) -> None:
    """``estimate`` loads neither the fit/recommend ranking, nor hardware detection, nor
    fine-tuning sizing, nor pydantic or YAML (the catalog comes from its snapshot)."""
    env = {**os.environ, "LLMATLAS_HOME": str(isolated_home)}
    args = ["estimate", "llama-3-8b-instruct", "--device", "rtx-4090"]
    subprocess.run(
        [sys.executable, "-m", "llmatlas", *args], env=env, check=True, capture_output=True
    )
    code = (
        "import sys, runpy; sys.argv = ['llmatlas', *sys.argv[1:]]; import atexit;"
        "atexit.register(lambda: print(' '.join(sys.modules), file=sys.stderr));"
        "runpy.run_module('llmatlas', run_name='__main__')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    mods = set(out.stderr.split())
    assert {"llmatlas.advisor._estimate", "llmatlas.sizing.memory"} <= mods
    unwanted = {
        "llmatlas.advisor._fit",
        "llmatlas.advisor._quant",
        "llmatlas.hardware._detect",
        "llmatlas.sizing.finetune",
        "pydantic",
        "yaml",
    }
    assert not mods & unwanted


def _imports(args: list[str], env: dict[str, str]) -> set[str]:
    """Modules a real ``llmatlas`` process imports (from ``-X importtime``)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llmatlas", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        line.rsplit("|", 1)[1].strip()
        for line in out.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_catalog_answers_import_neither_pydantic_nor_yaml_nor_rich(isolated_home: Path) -> None:
    env = {**os.environ, "LLMATLAS_HOME": str(isolated_home)}
    subprocess.run(
        [sys.executable, "-m", "llmatlas", "models", "--json"],
        env=env,
        check=True,
        capture_output=True,
    )  # builds the snapshot
    mods = _imports(["models", "--json"], env)
    assert "llmatlas.catalog._load" in mods
    assert not {m for m in mods if m.split(".")[0] in ("pydantic", "yaml", "rich")}
    shown = _imports(["show", "llama-3-8b-instruct"], env)
    assert "rich.console" in shown and "pydantic" not in shown


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(12 if depth < 4 else 8)
    if kind == 0:
        return rng.choice([0.0, -0.0, 1e-05, 2.7e-05, 7.4e-07, -1.5e-12, 1e16, 1.5e300, 5e-324])
    if kind == 1:
        return 10.0 ** rng.randint(-12, 20) * rng.random()
    if kind == 2:
        return rng.choice(["", "x: 1e-7", "0.00001", 'a "q" \n\t é 中文 \u2028 1e-07,', "\x00\x1f"])
    if kind == 3:
        return rng.randint(-(2**63), 2**63 - 1)
    if kind == 4:
        return rng.choice([None, True, False])
    if kind == 5:
        import datetime as dt

        return rng.choice([dt.date(2025, 1, 2), dt.datetime(2025, 1, 2, 3, 4, 5)])
    if kind in (6, 7):
        return rng.random() * rng.choice([1, 1e-6, 1e6])
    if kind in (8, 9):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["k", "1e-7", 'a": 1e-7', "0.00001", "中"]
    return {
        f"{rng.choice(keys)}{i}": _random_value(rng, depth + 1) for i in range(rng.randrange(4))
    }


def test_json_is_byte_for_byte_the_standard_librarys() -> None:
    rng = random.Random(12)
    for _ in range(3000):
        value = _random_value(rng)
        assert dumps_json(value) == json.dumps(value, indent=2, ensure_ascii=False, default=str)
    # what orjson refuses goes to the standard library
    for value in ({1: "a", 2.5: None}, 2**70, {"x": [2**64]}):
        assert dumps_json(value) == json.dumps(value, indent=2, ensure_ascii=False, default=str)
    cat = Catalog()
    answer = [describe(cat, m) for m in cat.models]
    assert dumps_json(answer) == json.dumps(answer, indent=2, ensure_ascii=False, default=str)


def test_compute_buffers_are_remembered_between_runs(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`estimate` keeps the buffers it replayed; the next run (a fresh memo, as a new process
    has) reads them back instead of replaying, and answers the same; an edit of the code that
    computes them is a new key, never a stale answer."""
    from typer.testing import CliRunner

    from llmatlas._snapshot import remembered
    from llmatlas.cli import app
    from llmatlas.sizing import graph_memo, llama_graph

    args = ["estimate", "llama-3-8b-instruct", "--device", "rtx-4090", "--json"]
    monkeypatch.setattr(graph_memo, "KNOWN", {})
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert graph_memo.KNOWN  # something was replayed
    saved = sorted((isolated_home / "cache").glob("compute-buffers-*.pickle"))
    assert len(saved) == 1

    def no_replay(*_: object) -> int:
        raise AssertionError("replayed although the result was saved")

    monkeypatch.setattr(graph_memo, "KNOWN", {})
    monkeypatch.setattr(llama_graph, "replay", no_replay)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and again.stdout == first.stdout

    edited = isolated_home / "llama_graph.py"  # stands for an edited source file
    edited.write_text("# edited\n")
    table: dict[object, object] = {}
    with remembered("compute-buffers", table, [edited]):
        assert table == {}  # another key: nothing saved under it


def test_weight_sizes_are_remembered_between_runs(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fit` keeps every (architecture, format)'s weight sizes and per-layer weights; the next
    run reads them back without building a single tensor, and answers the same."""
    from typer.testing import CliRunner

    from llmatlas.cli import app
    from llmatlas.sizing import quant

    args = ["fit", "--device", "rtx-4060", "--task", "code", "--json"]
    monkeypatch.setattr(quant, "WEIGHTS", {})
    monkeypatch.setattr(quant, "LAYER_WEIGHTS", {})
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert quant.WEIGHTS and quant.LAYER_WEIGHTS
    assert len(list((isolated_home / "cache").glob("weight-sizes-*.pickle"))) == 1

    def no_pricing(*_: object) -> object:
        raise AssertionError("weights priced again although they were saved")

    monkeypatch.setattr(quant, "WEIGHTS", {})
    monkeypatch.setattr(quant, "LAYER_WEIGHTS", {})
    monkeypatch.setattr(quant, "priced_groups", no_pricing)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert again.stdout == first.stdout


def test_records_nest_in_what_is_validated() -> None:
    """A record given where a nested one is expected is validated again, as pydantic does
    with a model instance; an invalid one still fails."""
    cat = Catalog()
    m = cat.get("llama-3-8b-instruct")
    raw = _raw(DATA / "llama3.yaml")
    fam = Family.model_validate({**raw, "models": [m]})
    assert fam.models[0] == m and fam.models[0] is not m
    broken = m.model_copy(update={"params_b": -1.0})  # model_copy does not validate
    with pytest.raises(ValidationError, match="greater than 0"):
        Family.model_validate({**raw, "models": [broken]})


def test_gguf_quant_types_from_the_compiled_copy_are_ggufs(isolated_home: Path) -> None:
    """The rebuilt enum and block sizes (cold: compiled now; warm: read back) are gguf's own."""
    code = (
        "import sys\n"
        "from llmatlas._gguf_constants import quant_types\n"
        "types, sizes = quant_types()\n"
        "assert 'gguf.constants' not in sys.modules\n"
        "import gguf.constants as g\n"
        "assert types.__name__ == 'GGMLQuantizationType'\n"
        "assert [(m.name, int(m)) for m in types] == [(m.name, int(m)) for m in g.GGMLQuantizationType]\n"
        "assert {int(t): b for t, b in sizes.items()} == {int(t): tuple(b) for t, b in g.GGML_QUANT_SIZES.items()}\n"
        "assert sizes[g.GGMLQuantizationType.Q4_K] == g.GGML_QUANT_SIZES[g.GGMLQuantizationType.Q4_K]\n"
    )
    env = {**os.environ, "LLMATLAS_HOME": str(isolated_home)}
    for _ in ("cold", "warm"):
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    assert len(list((isolated_home / "cache").glob("gguf-types-*.pickle"))) == 1
