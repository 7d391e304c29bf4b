"""Hub repos as artifacts, against the local Hub test server (real huggingface_hub client)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmatlas.advisor import Target, estimate
from llmatlas.artifacts import resolve_artifact
from llmatlas.artifacts.synth import synth_gguf
from llmatlas.catalog import Architecture, Catalog
from llmatlas.errors import BadInputError, UnknownModelError
from llmatlas.sizing.quant import get_format
from tests.hubserver import FakeHub, HubServer

CPU = Target.from_budget(ram_bytes=64 * 2**30)
CONFIG = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "num_hidden_layers": 2,
    "hidden_size": 256,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 512,
    "vocab_size": 1024,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}


def _tiny_gguf(tmp: Path) -> bytes:
    a = Architecture(
        model_type="llama",
        num_hidden_layers=2,
        hidden_size=256,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=512,
        vocab_size=1024,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )
    path = synth_gguf(a, get_format("Q8_0", "llama.cpp"), tmp / "mini-Q8_0.gguf")[0]
    return path.read_bytes()  # a hole reads as zeros: a complete, valid file


@pytest.fixture()
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    fake = FakeHub()
    fake.add("acme/mini", "config.json", json.dumps(CONFIG).encode())
    fake.add("acme/mini", "model.safetensors", b"\0" * 5_000_000)
    fake.info["acme/mini"] = {
        "safetensors": {"parameters": {"BF16": 2_500_000}, "total": 2_500_000}
    }
    fake.add("acme/mini-GGUF", "README.md", b"# mini")
    fake.add("acme/mini-GGUF", "mini-Q8_0.gguf", _tiny_gguf(tmp_path))
    fake.add("acme/no-config", "model.safetensors", b"\0" * 1000)
    fake.add("acme/no-weights", "config.json", json.dumps(CONFIG).encode())
    with HubServer(fake) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.url)
        yield fake


def test_safetensors_repo_sized_from_config_and_file_sizes(hub: FakeHub, catalog: Catalog) -> None:
    art = resolve_artifact("hf:acme/mini", catalog)
    assert art.kind == "hub" and art.architecture is not None
    assert art.architecture.num_hidden_layers == 2 and art.quant == "BF16"
    assert art.weights is not None and art.weights.total == 5_000_000
    e = estimate(art, Target.from_budget(vram_bytes=8 * 2**30), engine="vllm")
    assert e.weights_bytes == 5_000_000 and e.quant == "BF16"


def test_gguf_repo_header_read_by_range(hub: FakeHub, catalog: Catalog, tmp_path: Path) -> None:
    art = resolve_artifact("acme/mini-GGUF:Q8_0", catalog)
    local = resolve_artifact(str(tmp_path / "mini-Q8_0.gguf"), catalog)
    assert art.quant == "Q8_0" and art.weights == local.weights
    assert art.architecture == local.architecture
    same = resolve_artifact("acme/mini-GGUF/mini-Q8_0.gguf", catalog)
    assert same.weights == art.weights
    assert estimate(art, CPU, context=2048).weights_bytes == local.weights.total  # type: ignore[union-attr]


def test_bad_repos_are_one_line(hub: FakeHub, catalog: Catalog) -> None:
    with pytest.raises(BadInputError, match=r"no readable config\.json"):
        resolve_artifact("hf:acme/no-config", catalog)
    with pytest.raises(BadInputError, match="no weights"):
        resolve_artifact("hf:acme/no-weights", catalog)
    with pytest.raises(UnknownModelError):
        resolve_artifact("hf:acme/absent", catalog)
    with pytest.raises(BadInputError, match="no Q4_K_M GGUF"):
        resolve_artifact("acme/mini-GGUF:Q4_K_M", catalog)


def test_offline_uses_the_cache_or_says_what_is_missing(
    hub: FakeHub, catalog: Catalog, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    first = resolve_artifact("hf:acme/mini", catalog)
    assert (isolated_home / "hub" / "acme--mini" / "metadata.json").is_file()
    assert not list((isolated_home / "hub").rglob("*.tmp"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    again = resolve_artifact("hf:acme/mini", catalog)
    assert again.weights == first.weights and any("offline" in n for n in again.notes)
    with pytest.raises(BadInputError, match="cannot reach the Hub"):
        resolve_artifact("hf:acme/never-seen", catalog)
