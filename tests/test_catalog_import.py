"""`llmatlas catalog import`: drafts from recorded Hub responses served on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from llmatlas.catalog._load import load_from
from llmatlas.catalog._schema import Family
from llmatlas.cli import app
from tests.hubserver import FakeHub, HubServer
from tests.test_from_config import LLAMA_31_8B, QWEN3_30B_A3B

runner = CliRunner()

QWEN3_8B_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen3ForCausalLM"],
    "model_type": "qwen3",
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_attention_heads": 32,
    "num_hidden_layers": 36,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 40960,
    "rope_theta": 1000000,
    "tie_word_embeddings": False,
    "vocab_size": 151936,
    "attention_bias": False,
    "use_sliding_window": False,
    "sliding_window": None,
}


def _card(**meta: Any) -> bytes:
    return ("---\n" + yaml.safe_dump(meta) + "---\n\n# Model card\n").encode()


def _qwen_card(repo: str) -> bytes:
    return _card(
        library_name="transformers",
        license="apache-2.0",
        license_link=f"https://huggingface.co/{repo}/blob/main/LICENSE",
        pipeline_tag="text-generation",
        base_model=[f"{repo}-Base"],
    )


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch) -> Any:
    fake = FakeHub()
    for repo, config, total in (
        ("Qwen/Qwen3-8B", QWEN3_8B_CONFIG, 8_190_735_360),
        ("Qwen/Qwen3-30B-A3B", QWEN3_30B_A3B, 30_532_122_624),
    ):
        fake.add(repo, "config.json", json.dumps(config).encode())
        fake.add(repo, "README.md", _qwen_card(repo))
        fake.add(repo, "LICENSE", b"Apache License Version 2.0")
        fake.add(repo, "model-00001-of-00002.safetensors", b"\0" * 8)
        fake.info[repo] = {
            "safetensors": {"parameters": {"BF16": total}, "total": total},
            "createdAt": "2025-04-27T03:40:08.000Z",
        }
    fake.add("meta-llama/Llama-3.1-8B-Instruct", "config.json", json.dumps(LLAMA_31_8B).encode())
    fake.add(
        "meta-llama/Llama-3.1-8B-Instruct",
        "README.md",
        _card(language=["en", "de"], license="llama3.1", base_model="meta-llama/Meta-Llama-3.1-8B"),
    )
    fake.info["meta-llama/Llama-3.1-8B-Instruct"] = {"gated": "manual"}
    fake.gated.add("meta-llama/Llama-3.1-8B-Instruct")
    fake.add("unsloth/Qwen3-8B-GGUF", "Qwen3-8B-Q4_K_M.gguf", b"GGUF" + b"\0" * 60)
    fake.add("unsloth/Qwen3-8B-GGUF", "README.md", _card(base_model=["Qwen/Qwen3-8B"]))
    fake.add("someone/notes", "README.md", _card(license="mit"))
    with HubServer(fake) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.url)
        yield srv


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_dense_model_drafts_a_valid_sourced_entry(hub: HubServer, isolated_home: Path) -> None:
    code, out, err = run("catalog", "import", "Qwen/Qwen3-8B", "--id", "my-qwen3-8b")
    assert code == 0, err
    path = isolated_home / "catalog" / "my-qwen3-8b.yaml"
    assert str(path) in out.replace("\n", "")
    doc = yaml.safe_load(path.read_text())
    fam = Family.model_validate(doc)  # the catalog's own schema accepts it
    m = fam.models[0]
    assert m.params_b == pytest.approx(8.191, abs=0.001)  # safetensors total
    assert m.architecture is not None and m.architecture.qk_norm  # qwen3's built-in QK-norm
    assert m.license == "apache-2.0" and not fam.licenses  # a licence the catalog knows
    assert m.base_model == "qwen3-8b-base" and m.relation == "finetune"
    assert m.released.isoformat() == "2025-04-27"
    assert m.instruct  # the card names Qwen3-8B-Base as its base: this is the tuned model
    assert set(m.drafted) >= {"architecture", "params_b", "license", "base_model", "languages"}
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert str(m.sources["config"]) == f"{hub.url}/Qwen/Qwen3-8B/blob/{commit}/config.json"
    assert m.languages == ["multi"] and "no language" in (m.notes or "")
    # it loads together with the shipped catalog (base model resolves, no duplicate ids)
    data_dir = Path(__file__).resolve().parents[1] / "src/llmatlas/catalog/data"
    merged = path.parent / "merged"
    merged.mkdir()
    for f in data_dir.glob("*.yaml"):
        (merged / f.name).write_bytes(f.read_bytes())
    (merged / path.name).write_bytes(path.read_bytes())
    assert "my-qwen3-8b" in load_from(merged).models


def test_moe_model_to_stdout_and_json(hub: HubServer, isolated_home: Path) -> None:
    code, out, err = run("catalog", "import", "Qwen/Qwen3-30B-A3B", "--stdout", "--id", "x-30b")
    assert code == 0, err
    m = Family.model_validate(yaml.safe_load(out)).models[0]
    assert m.architecture is not None and m.architecture.num_experts == 128
    assert m.active_params_b == pytest.approx(3.35, abs=0.05)
    assert not (isolated_home / "catalog").exists()  # --stdout writes nothing
    code, out, _ = run("catalog", "import", "Qwen/Qwen3-30B-A3B", "--id", "x-30b", "--json")
    assert code == 0
    assert json.loads(out)["family"]["models"][0]["params_b"] == pytest.approx(30.532)


def test_existing_id_and_existing_file_are_refused(hub: HubServer, isolated_home: Path) -> None:
    code, _, err = run("catalog", "import", "Qwen/Qwen3-8B")
    assert code != 0 and "already a catalog id" in err
    assert run("catalog", "import", "Qwen/Qwen3-8B", "--id", "mine")[0] == 0
    before = (isolated_home / "catalog" / "mine.yaml").read_bytes()
    code, _, err = run("catalog", "import", "Qwen/Qwen3-30B-A3B", "--id", "mine")
    assert code != 0 and "--force" in err
    assert (isolated_home / "catalog" / "mine.yaml").read_bytes() == before
    assert run("catalog", "import", "Qwen/Qwen3-30B-A3B", "--id", "mine", "--force")[0] == 0
    assert [p.name for p in (isolated_home / "catalog").iterdir()] == ["mine.yaml"]  # no temp left
    code, _, err = run("catalog", "import", "Qwen/Qwen3-8B", "--id", "Bad Id!")
    assert code != 0 and "models.0.id" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("repo", "message"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "is gated: accept its terms"),
        ("unsloth/Qwen3-8B-GGUF", "only GGUF files (1), no config.json"),
        ("someone/notes", "has no config.json"),
        ("nobody/nothing", "no such model repository"),
        ("not a repo", "not a Hub repository id"),
    ],
)
def test_unusable_repos_fail_with_one_line(
    hub: HubServer, isolated_home: Path, repo: str, message: str
) -> None:
    code, _, err = run("catalog", "import", repo)
    assert code != 0
    assert message in err and err.count("\n") == 1, err
    assert not (isolated_home / "catalog").exists()


def test_gguf_error_names_the_original(hub: HubServer) -> None:
    _, _, err = run("catalog", "import", "unsloth/Qwen3-8B-GGUF")
    assert "import the original (Qwen/Qwen3-8B)" in err


def test_unreachable_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    code, _, err = run("catalog", "import", "Qwen/Qwen3-8B")
    assert code != 0 and "cannot reach the Hub" in err
