"""`deploy` and `cost`: runnable serving recipes planned from sizing, and what they cost."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from llmatlas.catalog import Catalog
from llmatlas.cli._common import JSON_OPT, console, emit_json, handle_errors, hanging
from llmatlas.deploy import TARGETS, CostEstimate, cheapest_meeting, compare, cost, deploy
from llmatlas.errors import BadInputError
from llmatlas.hardware import find_device
from llmatlas.i18n import _, ngettext


def register(app: typer.Typer) -> None:
    app.command(
        "deploy",
        help=_("Plan a deployment from sizing and print the exact commands/files for a target."),
    )(deploy_cmd)
    app.command(
        "cost",
        help=_("Hourly price, expected decode throughput (vLLM) and $ per 1M output tokens."),
    )(cost_cmd)


@handle_errors
def deploy_cmd(
    model: str = typer.Argument(..., help=_("Model id or alias.")),
    target: str = typer.Option(..., "--target", "-t", help=f"One of: {', '.join(TARGETS)}."),
    device: str = typer.Option(None, "--device", help=_("GPU from the table, e.g. h100-sxm.")),
    gpus: int = typer.Option(None, "--gpus", help=_("GPUs per node (default: as many as needed).")),
    nodes: int = typer.Option(None, "--nodes", help=_("Most nodes to use (vllm, kubernetes).")),
    ctx: int = typer.Option(None, "--ctx", help=_("Context per sequence (default 8192).")),
    quant: str = typer.Option(None, "--quant", "-q", help=_("Q4_K_M, BF16, FP8, AWQ-4BIT, ...")),
    concurrency: int = typer.Option(
        None, "--concurrency", help=_("Concurrent sequences the plan must hold at --ctx.")
    ),
    kv_type: str = typer.Option(None, "--kv-type", help=_("KV cache: f16/q8_0/q4_0 or bf16/fp8.")),
    hf_repo: str = typer.Option(None, "--hf-repo", help=_("Checkpoint to serve (AWQ/GPTQ repos).")),
    gguf_repo: str = typer.Option(None, "--gguf-repo", help=_("GGUF repository, owner/name.")),
    out: Path = typer.Option(None, "--out", help=_("Write the files and a run.sh here.")),
    json_out: bool = JSON_OPT,
) -> None:
    """Plan a deployment from sizing and print the exact commands/files for a target."""
    m = Catalog().get(model)
    d = find_device(device) if device else None
    r = deploy(
        m,
        target,
        d,
        gpus=gpus,
        nodes=nodes,
        context=ctx,
        quant=quant,
        concurrency=concurrency,
        kv_type=kv_type,
        hf_repo=hf_repo,
        gguf_repo=gguf_repo,
    )
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name, text in r.files.items():
                (out / name).write_text(text, encoding="utf-8")
            (out / "run.sh").write_text("#!/bin/sh\nset -e\n" + r.shell(), encoding="utf-8")
        except OSError as exc:
            raise BadInputError.translatable(
                "cannot write to {path}: {reason}", path=out, reason=exc.strerror
            ) from None
    if json_out:
        emit_json(r.to_dict())
        return
    console.print(f"[bold]{m.id}[/] -> {r.target}", highlight=False)
    for line in r.plan.summary():
        console.print(hanging("  ", line))
    note = "  " + _("note: {text}").format(text="")
    for text in dict.fromkeys([*r.plan.notes, *r.notes]):  # recipes repeat the plan's notes
        console.print(hanging(note, text))
    console.print()
    console.print(r.shell(), highlight=False, markup=False, soft_wrap=True)
    for name, text in r.files.items():
        console.print(f"--- {name} ---", highlight=False, markup=False)
        console.print(text, highlight=False, markup=False, soft_wrap=True)
    if out is not None:
        console.print(
            _("wrote {files} to {path}").format(files=", ".join([*r.files, "run.sh"]), path=out),
            highlight=False,
        )


def _table(rows: list[CostEstimate]) -> Table:
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column(_("where"), overflow="fold")
    t.add_column("GPUs", overflow="fold")
    t.add_column("TPxPP xN", no_wrap=True)
    for c in ("tok/s", "$/hour", "$/1M out"):
        t.add_column(c, justify="right", no_wrap=True)
    for r in rows:
        t.add_row(
            r.where,
            f"{r.gpus} x {r.device}",
            f"{r.tensor_parallel}x{r.pipeline_parallel} x{r.replicas}",
            f"{r.aggregate_decode_tps:,.0f}",
            f"{r.price_per_hour_usd:.2f}",
            f"{r.usd_per_million_output_tokens:.3f}",
        )
    return t


@handle_errors
def cost_cmd(
    model: str = typer.Argument(..., help=_("Model id or alias.")),
    device: str = typer.Option(None, "--device", help=_("GPU from the table.")),
    gpus: int = typer.Option(1, "--gpus", help=_("How many of --device.")),
    instance: str = typer.Option(
        None, "--instance", help=_("Cloud instance, e.g. aws:p5.48xlarge.")
    ),
    price_per_hour: float = typer.Option(
        None, "--price-per-hour", help=_("Your price in USD/hour for --device x --gpus.")
    ),
    utilization: float = typer.Option(
        0.5, "--utilization", help=_("Fraction of each hour spent generating (0-1].")
    ),
    quant: str = typer.Option(None, "--quant", "-q", help=_("BF16 (default), FP8, ...")),
    ctx: int = typer.Option(None, "--ctx", help=_("Context per sequence (default 8192).")),
    compare_all: bool = typer.Option(
        False, "--compare", help=_("Every instance in the table (the default with no target).")
    ),
    min_tps: float = typer.Option(None, "--min-tps", help=_("Cheapest instance reaching this.")),
    hf_repo: str = typer.Option(
        None,
        "--hf-repo",
        help=_("Checkpoint to serve (default: the model's, or a known AWQ/GPTQ)."),
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """Hourly price, expected decode throughput (vLLM) and $ per 1M output tokens."""
    m = Catalog().get(model)
    kw = {"quant": quant, "context": ctx, "utilization": utilization, "hf_repo": hf_repo}
    no_target = not (device or instance or price_per_hour is not None or min_tps is not None)
    if compare_all or no_target:
        rows, skipped = compare(m, **kw)  # type: ignore[arg-type]
        if json_out:
            emit_json({"rows": [r.to_dict() for r in rows], "skipped": skipped})
            return
        console.print(_table(rows))
        console.print(
            "  "
            + _(
                "on-demand list prices from instances.yaml (region, date and source per row: "
                "--json); xN = copies of the model on the instance; tok/s = all copies together"
            ),
            highlight=False,
            soft_wrap=True,
        )
        for s in skipped:
            console.print(
                "  " + _("skipped {what}").format(what=s), highlight=False, soft_wrap=True
            )
        return
    if min_tps is not None:
        r = cheapest_meeting(m, min_tps, **kw)  # type: ignore[arg-type]
    else:
        r = cost(m, device, gpus, instance, price_per_hour, **kw)  # type: ignore[arg-type]
    if json_out:
        emit_json(r.to_dict())
        return
    console.print(_table([r]))
    line = ngettext(
        "{n} copy of the model, batch {batch} sequences each (what the plan holds at {ctx} "
        "tokens, capped), {tps} tok/s per sequence; utilization {util}; price: {price}",
        "{n} copies of the model, batch {batch} sequences each (what the plan holds at {ctx} "
        "tokens, capped), {tps} tok/s per sequence; utilization {util}; price: {price}",
        r.replicas,
    )
    console.print(
        "  "
        + line.format(
            n=r.replicas,
            batch=r.batch,
            ctx=f"{r.context:,}",
            tps=f"{r.decode_tps_per_sequence:g}",
            util=f"{r.utilization:.0%}",
            price=r.price_source,
        ),
        highlight=False,
        soft_wrap=True,
    )
