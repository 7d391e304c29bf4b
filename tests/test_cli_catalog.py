"""Each catalog CLI command on real data, including bad input."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llmatlas.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_models_filters_json() -> None:
    code, out, _ = run("models", "--family", "llama-3", "--task", "code", "--json")
    assert code == 0
    code, out, _ = run("models", "--developer", "Meta", "--min-params", "60", "--json")
    rows = json.loads(out)
    assert rows and all(r["params_b"] >= 60 and "Meta" in r["developer"] for r in rows)
    code, out, _ = run("models", "--language", "zh-Hant", "--commercial", "--json")
    rows = json.loads(out)
    assert rows and all(
        {"zh-Hant", "zh"} & set(r["languages"]) and r["commercial_use"] == "yes" for r in rows
    )
    # --commercial means what it means for `fit`: an unconditional yes; conditional licences
    # (Llama's 700M-user cap, Gemma's terms) only when asked for.
    code, out, _ = run(
        "models", "--language", "zh-Hant", "--commercial", "--allow-conditional", "--json"
    )
    loose = json.loads(out)
    assert {r["commercial_use"] for r in loose} == {"yes", "conditional"}
    assert {r["id"] for r in rows} < {r["id"] for r in loose}


def test_models_sort_and_search() -> None:
    code, out, _ = run("models", "--search", "mixtral", "--sort", "-params", "--json")
    rows = json.loads(out)
    assert code == 0 and rows[0]["params_b"] >= rows[-1]["params_b"]
    ids = {r["id"] for r in rows}
    assert {"mixtral-8x7b-v0.1", "mixtral-8x22b-v0.1"} <= ids


def test_models_contradictory_filters() -> None:
    code, _, err = run("models", "--min-params", "70", "--max-params", "7")
    assert code == 1 and "swap them" in err and "Traceback" not in err


def test_models_bad_sort_and_task() -> None:
    assert run("models", "--sort", "weight")[0] == 1
    code, _, err = run("models", "--task", "cooking")
    assert code == 1 and "unknown task" in err


def test_show_json_keys() -> None:
    code, out, _ = run("show", "Meta-Llama-3-8B-Instruct", "--json")
    d = json.loads(out)
    required = {
        "id",
        "name",
        "family",
        "developer",
        "released",
        "hf_repos",
        "aliases",
        "params_b",
        "active_params_b",
        "context_length",
        "architecture",
        "languages",
        "tasks",
        "license",
        "commercial_use",
        "license_conditions",
        "openness",
        "base_model",
        "relation",
        "derivatives",
        "benchmarks",
        "errata",
        "sources",
    }
    assert code == 0 and required <= d.keys()
    assert d["id"] == "llama-3-8b-instruct" and d["base_model"] == "llama-3-8b"
    assert d["context_length"] == 8192 and d["architecture"]["num_key_value_heads"] == 8


def test_show_by_alias_case_insensitive() -> None:
    code, out, _ = run("show", "LLAMA3:8B", "--json")
    assert code == 0 and json.loads(out)["family"] == "llama-3"


def test_show_unknown_model_did_you_mean() -> None:
    code, _, err = run("show", "lama-2-7b")
    assert code == 1 and "did you mean" in err and "llama-2-7b" in err


def test_show_seed_mistake_redirects() -> None:
    code, _, err = run("show", "phi-neox")
    assert code == 1 and "gpt-neox-20b" in err


def test_show_lists_errata_and_lineage_text() -> None:
    code, out, _ = run("show", "falcon-40b")
    flat = " ".join(out.split())  # values wrap at the terminal width
    assert code == 0 and "common claim" in out and "contradicted by primary sources" in flat
    assert "apache-2.0" in out and "seed" not in out.lower()


def test_compare_table_and_json() -> None:
    code, out, _ = run("compare", "llama-3-8b-instruct", "gemma-7b-it", "--json")
    d = json.loads(out)
    assert code == 0 and len(d["models"]) == 2
    lic = next(r for r in d["rows"] if r["field"] == "license")
    assert lic["differ"] is True
    code, out, _ = run("compare", "llama-3-8b-instruct", "gemma-7b-it")
    assert code == 0 and "license" in out
    assert run("compare", "llama-3-8b")[0] == 1


def test_tree_text_and_formats(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run("tree", "llama-7b")
    assert code == 0 and "alpaca-7b" in out and "vicuna" in out
    code, out, _ = run("tree", "mistral-7b-v0.1", "--format", "mermaid")
    assert code == 0 and out.startswith("graph LR") and "breeze" in out
    code, out, _ = run("tree", "llama-2-7b", "--format", "dot")
    assert code == 0 and "digraph" in out and "codellama-7b" in out
    svg = tmp_path / "t.svg"
    code, _, _ = run("tree", "llama-2-7b", "--format", "svg", "--out", str(svg))
    assert code == 0 and svg.read_text().startswith("<svg")
    png = tmp_path / "t.png"
    code, _, _ = run("tree", "--format", "png", "--out", str(png))
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run("tree", "--format", "gif")[0] == 1
    code, out, _ = run("tree", "llama-2-7b", "--json")
    assert json.loads(out)[0]["children"]
