"""Known pre-quantized checkpoints: data integrity, 4-bit plans that go through, cost."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llmatlas.catalog import Catalog
from llmatlas.cli import app
from llmatlas.deploy import plan
from llmatlas.deploy._checkpoints import checkpoints_for, quantized_checkpoints
from llmatlas.hardware import find_device


def test_every_checkpoint_names_a_catalog_model_and_its_own_page(catalog: Catalog) -> None:
    rows = quantized_checkpoints()
    assert len(rows) >= 30
    for r in rows:
        m = catalog.get(r.model)
        assert m.id == r.model
        assert str(r.source).rstrip("/").endswith(r.repo)  # the repository's own page
    # the developer's own repository is offered first
    assert checkpoints_for("qwen3-32b")[0].publisher == "official"


def test_4bit_vllm_plan_uses_a_known_checkpoint(catalog: Catalog) -> None:
    m = catalog.get("llama-3.1-70b-instruct")
    p = plan(m, "vllm", find_device("rtx-4090"), gpus=2, quant="AWQ")
    assert p.hf_repo == "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4"
    assert any(n.startswith("checkpoint: hugging-quants/") for n in p.notes)
    r = CliRunner().invoke(
        app, ["deploy", "gemma-2-9b-it", "--target", "vllm", "--device", "l4", "--quant", "AWQ"]
    )
    assert r.exit_code == 1 and "none is known for gemma-2-9b-it" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cost_without_compare_and_with_hf_repo() -> None:
    cli = CliRunner()
    r = cli.invoke(app, ["cost", "llama-3.1-8b-instruct", "--json"])
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert rows and all(x["usd_per_million_output_tokens"] > 0 for x in rows)
    args = ["cost", "llama-3.1-8b-instruct", "--device", "l4", "--price-per-hour", "0.8"]
    r = cli.invoke(app, [*args, "--quant", "AWQ", "--hf-repo", "me/my-awq", "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["checkpoint"] == "me/my-awq"
    r = cli.invoke(app, [*args, "--quant", "AWQ", "--json"])
    assert json.loads(r.stdout)["checkpoint"].startswith("hugging-quants/")
