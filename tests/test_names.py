"""Names that resolve: Chinese and short names, families and series, size-qualified short
names, language words, and the CLI answers built on them (in English and zh-TW)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from llmatlas.catalog import Catalog, ModelFilter, language_matches, normalize_language
from llmatlas.cli import app
from llmatlas.errors import BadInputError, UnknownModelError

runner = CliRunner()


# name -> (kind, target): a family/series id, or the checkpoint a size-qualified name means.
GROUPS = {
    # Chinese names of families and developers (with the family they lead to)
    "通義千問": ("family", "qwen"),
    "通义千问": ("family", "qwen"),
    "千問": ("family", "qwen"),
    "阿里雲": ("family", "qwen"),
    "聯發科": ("family", "breeze"),
    "聯發創新基地": ("family", "breeze"),
    "MediaTek": ("family", "breeze"),
    "國科會": ("family", "taide"),
    "NSTC": ("family", "taide"),
    "白龍": ("family", "bailong"),
    "零一萬物": ("family", "yi"),
    "零一万物": ("family", "yi"),
    "01.AI": ("family", "yi"),
    "智譜": ("family", "chatglm"),
    "智谱": ("family", "chatglm"),
    "Zhipu": ("family", "chatglm"),
    "福爾摩沙": ("family", "ffm"),
    "福爾摩沙大模型": ("family", "ffm"),
    "台智雲": ("family", "ffm"),
    "TWS": ("family", "ffm"),
    "Tongyi Qianwen": ("family", "qwen"),
    # short names of families and series
    "Breeze": ("family", "breeze"),
    "Taiwan LLM": ("family", "taiwan-llm"),
    "Bailong": ("family", "bailong"),
    "FFM": ("family", "ffm"),
    "TAIDE": ("family", "taide"),
    "Llama 3": ("family", "llama-3"),
    "llama3": ("family", "llama-3"),
    "Gemma": ("family", "gemma"),
    "Mistral Large": ("series", "mistral-large"),
    "phi-3-small": ("series", "phi-3-small"),
    "Llama 2": ("series", "llama-2"),
    "llama2": ("series", "llama-2"),
    "Mixtral": ("series", "mixtral"),
    "Qwen2.5": ("series", "qwen2.5"),
    "Code Llama": ("series", "codellama"),
}

MEMBERS = {
    "llama3:70b": "llama-3-70b-instruct",
    "llama3:70b-text": "llama-3-70b",
    "breeze 7b": "breeze-7b-instruct-v1.0",
    "breeze-7b": "breeze-7b-instruct-v1.0",
    "Breeze 7B base": "breeze-7b-base-v1.0",
    "breeze:8x7b": "breexe-8x7b-instruct-v0.1",
    "qwen2.5:7b": "qwen2.5-7b-instruct",
    "qwen2.5:7b-base": "qwen2.5-7b",
    "codellama 34b": "codellama-34b-instruct",
    "yi 34b base": "yi-1.5-34b",
    "mistral large 123b": "mistral-large-instruct-2411",
    "通義千問 72b": "qwen2.5-72b-instruct",
    "台智雲 70b": "ffm-llama2-70b",
    "taiwan llm 13b": "taiwan-llm-13b-v2.0-chat",
}


@pytest.mark.parametrize(("name", "expected"), GROUPS.items())
def test_family_and_chinese_names_resolve(catalog: Catalog, name: str, expected: tuple) -> None:
    r = catalog.resolve(name)
    assert r.model is None and r.group is not None, name
    assert (r.group.kind, r.group.id) == expected
    assert catalog.get(name).id == r.group.default.id  # a bare name means the default member


@pytest.mark.parametrize(("name", "member"), MEMBERS.items())
def test_size_qualified_names_resolve_to_members(catalog: Catalog, name: str, member: str) -> None:
    assert catalog.resolve(name).entry.id == member


def test_checkpoint_names_still_win(catalog: Catalog) -> None:
    assert catalog.resolve("phi-4").model.id == "phi-4"  # type: ignore[union-attr]
    assert catalog.resolve("Breeze-7B-Instruct-v1_0").model.id == "breeze-7b-instruct-v1.0"  # type: ignore[union-attr]
    assert catalog.get("Meta-Llama-3-8B-Instruct").id == "llama-3-8b-instruct"


def test_defaults(catalog: Catalog) -> None:
    assert catalog.get("Breeze").id == "breeze-7b-instruct-v1.0"
    assert catalog.get("Llama 2").id == "llama-2-7b-chat"
    assert catalog.get("Mistral Large").availability == "open-weights"
    assert catalog.get("phi-3-small").id == "phi-3-small-8k-instruct"


def test_names_carry_sources(catalog: Catalog) -> None:
    qwen = catalog.resolve("通义千问")
    assert qwen.via is not None and "QwenLM/Qwen" in str(qwen.via.source)
    bailong = catalog.resolve("白龍")  # the developer's Bailong-bench card names it
    assert bailong.via is not None and "INX-TEXT/Bailong-bench" in str(bailong.via.source)
    # Innolux (群創) was named as Bailong's developer only in overviews, never by a primary
    # source, so it is not recorded and does not resolve to Bailong
    with pytest.raises(UnknownModelError) as e:
        catalog.resolve("群創")
    assert "bailong" not in e.value.suggestions


def test_unknown_names_get_suggestions(catalog: Catalog) -> None:
    with pytest.raises(UnknownModelError) as e:
        catalog.resolve("Breez")
    assert "breeze" in e.value.suggestions
    with pytest.raises(UnknownModelError) as e:
        catalog.resolve("Meta")  # a developer with two families: name them
    assert {"llama", "llama-3"} <= set(e.value.suggestions)
    with pytest.raises(UnknownModelError) as e:
        catalog.resolve("通義")  # part of a Chinese name
    assert e.value.suggestions == ["qwen"]
    with pytest.raises(UnknownModelError) as e:
        catalog.resolve("nosuch")  # no far-fetched guesses from short names
    assert e.value.suggestions == []
    with pytest.raises(UnknownModelError) as e:
        catalog.resolve("breeze 70b")
    assert "breeze:7b" in e.value.suggestions and "no 70b" in str(e.value)


ZH_HANT_WORDS = [
    "繁體中文",
    "繁中",
    "zh-TW",
    "zh-Hant",
    "zh_TW",
    "Traditional Chinese",
    "zh-Hant-HK",
]
ZH_HANS_WORDS = ["简体中文", "簡體中文", "zh-CN", "zh-Hans", "zh-SG"]


def test_language_words(catalog: Catalog) -> None:
    assert {normalize_language(w) for w in ZH_HANT_WORDS} == {"zh-Hant"}
    assert {normalize_language(w) for w in ZH_HANS_WORDS} == {"zh-Hans"}
    assert normalize_language("中文") == "zh"
    assert normalize_language("pt_br") == "pt-BR"
    with pytest.raises(BadInputError):
        normalize_language("克林貢語")

    def ids(lang: str) -> set[str]:
        return {m.id for m in catalog.filter(ModelFilter(language=lang))}

    hant = ids("繁體中文")
    assert all(ids(w) == hant for w in ZH_HANT_WORDS)
    # Cards that say "Chinese" (Yi, Qwen2, Qwen2.5) match either script; Taiwan models are in.
    assert {"yi-34b-chat", "qwen2.5-7b-instruct", "qwen2-7b-instruct"} <= hant
    assert {"breeze-7b-instruct-v1.0", "taide-lx-7b-chat", "bailong-instruct-7b"} <= hant
    # GLM-4's card says Chinese and lists "zh" without a script: either script matches it
    assert "glm-4-9b-chat" in hant
    hans = ids("简体中文")
    assert "glm-4-9b-chat" in hans and "breeze-7b-instruct-v1.0" not in hans
    only_hans = {
        m.id
        for m in catalog.models
        if "zh-Hans" in m.languages and not {"zh", "zh-Hant"} & set(m.languages)
    }
    assert only_hans and only_hans <= hans and not only_hans & hant
    assert ids("中文") >= hant | hans
    assert language_matches("zh-Hant", ["zh"]) and not language_matches("zh-Hant", ["zh-Hans"])


@pytest.mark.parametrize(
    ("text", "family"),
    [("通義千問", "qwen"), ("通义千问", "qwen"), ("聯發科", "breeze"), ("國科會", "taide"),
     ("白龍", "bailong"), ("零一萬物", "yi"), ("智譜", "chatglm"),
     ("福爾摩沙", "ffm"), ("台智雲", "ffm")],
)  # fmt: skip
def test_search_matches_chinese_names(catalog: Catalog, text: str, family: str) -> None:
    rows = catalog.filter(ModelFilter(search=text))
    assert rows and {m.family for m in rows} == {family}


def _run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_show_family_and_series() -> None:
    code, out, _ = _run("show", "Breeze", "--json")
    d = json.loads(out)
    assert code == 0 and d["kind"] == "family" and d["default"] == "breeze-7b-instruct-v1.0"
    assert {m["id"] for m in d["members"]} >= {"breeze-7b-base-v0.1", "breexe-8x7b-instruct-v0.1"}
    assert d["based_on"] == ["mistral-7b-v0.1", "mixtral-8x7b-v0.1"]
    assert any(n["name"] == "聯發科" and n["source"] for n in d["developer_names"])
    code, out, _ = _run("show", "Mistral Large", "--json")
    assert json.loads(out)["kind"] == "series"
    code, out, _ = _run("show", "breeze", "7b")  # unquoted, Ollama-style
    assert code == 0 and "breeze-7b-instruct-v1.0" in out
    code, out, _ = _run("show", "Bailong")
    assert code == 0 and "bailong-instruct-7b" in out and "白龍" in out and "群創" not in out


def test_tree_and_compare_families() -> None:
    code, out, _ = _run("tree", "Llama 2", "--json")
    roots = {n["id"] for n in json.loads(out)}
    assert code == 0 and roots == {"llama-2-7b", "llama-2-13b", "llama-2-70b"}
    code, out, _ = _run("tree", "Llama 2")
    assert "Taiwan-LLM" in out  # family names where a lineage crosses into another family
    code, out, _ = _run("compare", "Llama 3", "Gemma", "--json")
    d = json.loads(out)
    assert code == 0 and [g["id"] for g in d["groups"]] == ["llama-3", "gemma"]
    code, out, _ = _run("compare", "llama3:8b", "Gemma", "--json")
    assert [m["id"] for m in json.loads(out)["models"]] == ["llama-3-8b-instruct", "gemma-3-4b-it"]


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    environ.pop("LLMATLAS_LANG", None)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", "from llmatlas.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=environ,
    )


@pytest.mark.parametrize("lang", ["en_US.UTF-8", "zh_TW.UTF-8"])
def test_models_table_never_cuts_ids_at_80_columns(catalog: Catalog, lang: str) -> None:
    r = _cli("models", "--family", "deepseek", COLUMNS="80", LANG=lang)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    for m in catalog.filter(ModelFilter(family="deepseek")):
        assert any(m.id in line for line in lines), m.id


@pytest.mark.parametrize("lang", ["en_US.UTF-8", "zh_TW.UTF-8"])
def test_recommend_reads_at_80_columns(lang: str) -> None:
    """Six columns do not fit 80 cells (the engine and hardware cells broke a word per
    line): each hardware class gets its own table, its engine whole in the heading."""
    from rich.cells import cell_len

    tiers = ("--tier", "CPU only (16 GB RAM)", "--tier", "8 GB GPU", "--tier", "48 GB GPU")
    r = _cli("recommend", *tiers, COLUMNS="80", LANG=lang)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines)
    picks = json.loads(_cli("recommend", *tiers, "--json").stdout)
    for p in picks:
        assert any(p["engine"] in line for line in lines), p["engine"]
        assert not p["model"] or any(p["model"] in line for line in lines), p["model"]
    if lang.startswith("en"):  # a class with no pick for a need says why, not only "-"
        for p in picks:
            assert p["model"] or any(p["why"][0] in line for line in lines), p


@pytest.mark.parametrize("lang", ["en_US.UTF-8", "zh_TW.UTF-8"])
def test_fit_table_never_cuts_cells_at_80_columns(lang: str) -> None:
    """Score columns that do not fit are left out whole and named (rich cut every cell:
    Q4_K_M read "Q4_"); the score the rows are sorted by stays."""
    from rich.cells import cell_len

    args = ("fit", "--device", "rtx-3060", "--language", "zh-Hant", "--sort", "tmmlu+")
    r = _cli(*args, COLUMNS="80", LANG=lang)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines)
    assert "TMMLU+" in next(line for line in lines if "tok/s" in line)
    for row in json.loads(_cli(*args, "--json").stdout)["rows"]:
        assert any(f" {row['model']} " in ln and f" {row['quant']} " in ln for ln in lines), row


def test_zh_tw_family_page_and_license_summary() -> None:
    r = _cli("show", "Breeze", LANG="zh_TW.UTF-8", COLUMNS="120")
    assert r.returncode == 0
    assert "家族" in r.stdout and "預設" in r.stdout and "聯發科" in r.stdout
    # The English licence conditions stay; a marked zh-TW summary sits beside them.
    assert "Keep the license and NOTICE" in r.stdout and "摘要（非原文）" in r.stdout
    r = _cli("show", "llama3:8b", "--json", LANG="zh_TW.UTF-8")
    assert json.loads(r.stdout)["commercial_use"] == "conditional"  # JSON stays English


def test_atlas_api_answers_families(catalog: Catalog) -> None:
    """The web UI's routes resolve the same names (the router on a bare app: no model load)."""
    from types import SimpleNamespace

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from llmatlas.server.atlas_routes import router

    api = FastAPI()
    api.include_router(router)
    api.state.atlas = SimpleNamespace(catalog=catalog)
    with TestClient(api) as c:
        d = c.get("/api/atlas/families/通義千問").json()
        assert d["kind"] == "family" and d["id"] == "qwen" and d["default"] == "qwen3-8b"
        assert c.get("/api/atlas/families/breeze-7b-base-v0.1").json()["id"] == "breeze"
        roots = {n["id"] for n in c.get("/api/atlas/tree", params={"root": "Llama 2"}).json()}
        assert roots == {"llama-2-7b", "llama-2-13b", "llama-2-70b"}
        rows = c.get("/api/atlas/models", params={"family": "聯發科"}).json()["models"]
        assert rows and {r["family"] for r in rows} == {"breeze"}
        rows = c.get("/api/atlas/models", params={"family": "Mistral Large"}).json()["models"]
        assert {r["id"] for r in rows} >= {"mistral-large-instruct-2407"}
        assert all(r["id"].startswith("mistral-large") for r in rows)
