"""`pull` against a local Hub on 127.0.0.1: verified, resumable, atomic, policy-checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmatlas.errors import StoreError
from llmatlas.runtime.pull import pull_model
from llmatlas.runtime.store import ModelStore
from tests.hubserver import FakeHub, HubServer, tiny_gguf

REPO = "bartowski/SmolLM2-135M-Instruct-GGUF"
FILE = "SmolLM2-135M-Instruct-Q8_0.gguf"


@pytest.fixture()
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeHub, bytes]]:
    data = tiny_gguf(tmp_path / "t.gguf", n=256 * 1024)
    fake = FakeHub()
    fake.add(REPO, FILE, data)
    fake.add(REPO, "SmolLM2-135M-Instruct-Q4_K_M.gguf", data)
    with HubServer(fake) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.url)
        monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "5")
        monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "5")
        # write in 64 KiB chunks (default 10 MB) so a small file leaves partial data to resume
        monkeypatch.setattr("huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE", 64 * 1024)
        yield fake, data


def test_pull_catalog_model_verifies_and_registers(hub: tuple[FakeHub, bytes]) -> None:
    _, data = hub
    m = pull_model("smollm2-135m-instruct:Q8_0", say=lambda s: None)
    assert m.name == "smollm2-135m-instruct" and m.catalog_id == "smollm2-135m-instruct"
    assert m.repo == REPO and m.quant == "Q8_0"
    assert m.path.read_bytes() == data
    assert [x.name for x in ModelStore().list()] == ["smollm2-135m-instruct"]


def test_pull_raw_repo(hub: tuple[FakeHub, bytes]) -> None:
    m = pull_model(f"{REPO}:Q4_K_M", say=lambda s: None)
    assert m.filename == "SmolLM2-135M-Instruct-Q4_K_M.gguf" and m.quant == "Q4_K_M"


def test_wrong_hash_registers_nothing(hub: tuple[FakeHub, bytes]) -> None:
    fake, _ = hub
    fake.lie_sha = True
    with pytest.raises(StoreError, match="sha256 mismatch"):
        pull_model("smollm2-135m-instruct:Q8_0", say=lambda s: None)
    assert ModelStore().list() == []


def test_dropped_connection_resumes(hub: tuple[FakeHub, bytes]) -> None:
    fake, data = hub
    fake.drop_after, fake.drops = 100_000, 1  # one drop mid-file: the client resumes with Range
    m = pull_model("smollm2-135m-instruct:Q8_0", say=lambda s: None)
    assert m.path.read_bytes() == data
    assert fake.range_requests and fake.range_requests[0].startswith("bytes=")


def test_failed_pull_leaves_no_entry_and_resumes_next_time(
    hub: tuple[FakeHub, bytes], isolated_home: Path
) -> None:
    fake, data = hub
    fake.cut_at = 300_000  # like a pull killed mid-file: no retry gets further
    with pytest.raises(StoreError, match="run the same pull again"):
        pull_model("smollm2-135m-instruct:Q8_0", say=lambda s: None)
    assert ModelStore().list() == []
    partial = list((isolated_home / "models" / ".partial").glob("*.part"))
    assert partial and 0 < partial[0].stat().st_size < len(data)
    fake.cut_at = None
    fake.range_requests.clear()
    m = pull_model("smollm2-135m-instruct:Q8_0", say=lambda s: None)
    assert m.path.read_bytes() == data
    assert fake.range_requests, "the second pull continued the partial file"


def test_license_policy_refuses_before_download(
    hub: tuple[FakeHub, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, _ = hub
    monkeypatch.setenv("LLMATLAS_LICENSE_ALLOW", "apache-2.0,mit")
    said: list[str] = []
    with pytest.raises(StoreError, match="license policy"):
        pull_model("llama-3.2-1b-instruct:Q8_0", say=said.append)
    assert "commercial use" in said[0]
    assert fake.gets == 0


def test_too_big_is_refused_with_figures(hub: tuple[FakeHub, bytes]) -> None:
    from llmatlas.errors import DoesNotFitError

    with pytest.raises(DoesNotFitError, match="GiB"):
        pull_model("llama-3.1-405b-instruct:Q4_K_M", say=lambda s: None)


def test_missing_quant_says_where_it_looked(hub: tuple[FakeHub, bytes]) -> None:
    with pytest.raises(StoreError, match="no Q2_K GGUF"):
        pull_model("smollm2-135m-instruct:Q2_K", say=lambda s: None)


def test_embedded_pull_needs_no_network(home_with_model: Path) -> None:
    m = pull_model("gemma-3-270m", say=lambda s: None)
    assert m.source == "embedded"


def test_ollama_pull_progress_says_digest_and_total(hub: tuple[FakeHub, bytes]) -> None:
    """/api/pull's progress (server/ollama/routes.pull_work) names the file's full digest and
    its size before the bytes arrive, as Ollama's does."""
    import hashlib
    import json
    from types import SimpleNamespace

    from llmatlas.server.ollama.routes import pull_work

    _, data = hub
    store = ModelStore()
    lines: list[str] = []
    pull_work(
        SimpleNamespace(store=store, cfg=SimpleNamespace(settings=store.settings)),
        "smollm2-135m-instruct:Q8_0",
        lines.append,
    )
    progress = [json.loads(x) for x in lines if x.startswith("{")]
    sha = hashlib.sha256(data).hexdigest()
    assert progress[0] == {
        "status": f"pulling {sha[:12]}",
        "digest": f"sha256:{sha}",
        "total": len(data),
        "completed": 0,
    }
    assert progress[-1]["completed"] == progress[-1]["total"] == len(data)
    assert lines[0] == "pulling manifest" and lines[-1] == "writing manifest"
