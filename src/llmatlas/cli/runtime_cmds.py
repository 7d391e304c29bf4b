"""`pull`, `import`, `list`, `rm`, `info`, `run`, `bench`: get models and run them."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from llmatlas.cli._common import JSON_OPT, console, emit_json, err_console, gib, handle_errors
from llmatlas.errors import BadInputError
from llmatlas.i18n import _
from llmatlas.runtime.engines import SamplingOptions
from llmatlas.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command(
        "pull", help=_("Download a GGUF from the Hugging Face Hub (resumable, sha256-verified).")
    )(pull)
    app.command("import", help=_("Add a local GGUF file to the store (validated first)."))(
        import_cmd
    )
    app.command("list", help=_("Models in the local store."))(list_cmd)
    app.command(
        "rm", help=_("Remove a model from the store (and its file, if the store owns it).")
    )(rm)
    app.command("info", help=_("GGUF metadata of a local model and the catalog entry it matches."))(
        info
    )
    app.command(
        "run",
        help=_("Run a model: one-shot with a prompt or piped stdin, interactive chat otherwise."),
    )(run)
    app.command(
        "bench", help=_("Measure prefill tok/s, decode tok/s, time to first token and peak memory.")
    )(bench)


@handle_errors
def pull(
    spec: str = typer.Argument(
        ..., help=_("Catalog id or alias, or a Hub repo owner/name, optionally :QUANT.")
    ),
    force: bool = typer.Option(
        False, "--force", help=_("Download even if it will not fit this machine.")
    ),
    name: str = typer.Option(None, "--name", help=_("Local name (default: the catalog id).")),
    json_out: bool = JSON_OPT,
) -> None:
    """Download a GGUF from the Hugging Face Hub (resumable, sha256-verified)."""
    from llmatlas.runtime.pull import pull_model

    stored = pull_model(
        spec, force=force, name=name, say=lambda s: err_console.print(s, highlight=False)
    )
    if json_out:
        emit_json(stored.to_dict())
    else:
        console.print(
            _("pulled {name}: {file} ({size}, sha256 {sha}...)").format(
                name=stored.name,
                file=stored.filename,
                size=gib(stored.size_bytes),
                sha=stored.sha256[:12],
            )
        )


@handle_errors
def import_cmd(
    path: Path = typer.Argument(..., help=_("A local .gguf file.")),
    name: str = typer.Option(None, "--name", help=_("Local name (default: the file name).")),
    json_out: bool = JSON_OPT,
) -> None:
    """Add a local GGUF file to the store (validated first)."""
    from llmatlas.runtime.store import ModelStore

    stored = ModelStore().import_gguf(path, name)
    if json_out:
        emit_json(stored.to_dict())
    else:
        console.print(
            _("imported {name} -> {path}").format(name=stored.name, path=stored.path)
            + (" " + _("(catalog: {id})").format(id=stored.catalog_id) if stored.catalog_id else "")
        )


@handle_errors
def list_cmd(json_out: bool = JSON_OPT) -> None:
    """Models in the local store."""
    from llmatlas.runtime.store import ModelStore

    store = ModelStore()
    store.ensure_embedded()
    rows = store.list()
    if json_out:
        emit_json([m.to_dict() for m in rows])
        return
    t = Table()
    for c in (_("name"), _("catalog id"), _("quant"), _("size"), _("source"), _("pulled")):
        t.add_column(c)
    for m in rows:
        t.add_row(
            m.name, m.catalog_id or "-", m.quant or "-", gib(m.size_bytes), m.source, m.pulled_at
        )
    console.print(t)


@handle_errors
def rm(
    name: str = typer.Argument(..., help=_("Local model name.")), json_out: bool = JSON_OPT
) -> None:
    """Remove a model from the store (and its file, if the store owns it)."""
    from llmatlas.runtime.store import ModelStore

    m = ModelStore().remove(name)
    if json_out:
        emit_json({"removed": m.name})
    else:
        console.print(_("removed {name}").format(name=m.name))


@handle_errors
def info(
    name: str = typer.Argument(None, help=_("Local model name (default: the embedded model).")),
    json_out: bool = JSON_OPT,
) -> None:
    """GGUF metadata of a local model and the catalog entry it matches."""
    from llmatlas.runtime.store import ModelStore, check_gguf

    store = ModelStore()
    m = store.resolve(name)
    meta = check_gguf(m.path)
    meta["has_chat_template"] = bool(meta.pop("chat_template", None))
    out = {
        "name": m.name,
        "path": str(m.path),
        "quant": m.quant,
        "size_bytes": m.size_bytes,
        "sha256": m.sha256,
        "catalog_id": m.catalog_id,
        "gguf": meta,
    }
    if json_out:
        emit_json(out)
        return
    console.print(f"[bold]{m.name}[/]  {m.path}")
    console.print(
        "  "
        + _("catalog: {id}   quant: {quant}   size: {size}").format(
            id=m.catalog_id or _("(no match)"), quant=m.quant, size=gib(m.size_bytes)
        )
    )
    for k in (
        "architecture",
        "name",
        "context_length",
        "block_count",
        "embedding_length",
        "head_count",
        "head_count_kv",
        "sliding_window",
        "parameters",
        "license",
    ):
        console.print(f"  {k}: {meta.get(k)}")
    console.print("  " + _("tensor types: {types}").format(types=meta["tensor_types"]))
    console.print(
        "  "
        + _("chat template: {answer}").format(
            answer=_("yes (from GGUF)")
            if meta["has_chat_template"]
            else _("none: runs in completion mode")
        )
    )


def _sampling(
    temperature: float,
    top_p: float,
    top_k: int,
    min_p: float,
    repeat_penalty: float,
    seed: int | None,
    stop: list[str],
    max_tokens: int,
) -> SamplingOptions:
    from pydantic import ValidationError

    try:
        return SamplingOptions(
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            min_p=min_p,
            repeat_penalty=repeat_penalty,
            seed=seed,
            stop=stop or [],
            max_tokens=max_tokens,
        )
    except ValidationError as exc:
        e = exc.errors()[0]
        raise BadInputError(f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}") from None


@handle_errors
def run(
    model: str = typer.Argument(None, help=_("Model (default: the embedded gemma-3-270m).")),
    prompt: str = typer.Argument(
        None, help=_("One-shot prompt; omit for an interactive chat (or pipe stdin).")
    ),
    ctx: int = typer.Option(None, "--ctx", help=_("Context length (default 4096).")),
    threads: int = typer.Option(
        None, "--threads", help=_("CPU threads (default: physical cores).")
    ),
    gpu_layers: int = typer.Option(
        0, "--gpu-layers", "-ngl", help=_("Layers to offload to a GPU.")
    ),
    temperature: float = typer.Option(0.8, "--temperature", "-t"),
    top_p: float = typer.Option(0.95, "--top-p"),
    top_k: int = typer.Option(40, "--top-k"),
    min_p: float = typer.Option(0.05, "--min-p"),
    repeat_penalty: float = typer.Option(1.1, "--repeat-penalty"),
    seed: int = typer.Option(None, "--seed"),
    stop: list[str] = typer.Option(None, "--stop", help=_("Stop sequence (repeatable).")),
    max_tokens: int = typer.Option(256, "--max-tokens", "-n"),
    system: str = typer.Option(None, "--system", help=_("System prompt (chat models).")),
    force: bool = typer.Option(
        False, "--force", help=_("Run even if sizing says it will not fit.")
    ),
    verbose: bool = typer.Option(False, "--verbose", help=_("Print speed after each answer.")),
) -> None:
    """Run a model: one-shot with a prompt or piped stdin, interactive chat otherwise."""
    from llmatlas.runtime.chat import interactive, one_shot
    from llmatlas.runtime.runner import open_model

    s = get_settings()
    sampling = _sampling(temperature, top_p, top_k, min_p, repeat_penalty, seed, stop, max_tokens)
    if ctx is not None and ctx <= 0:
        raise BadInputError.translatable("--ctx must be a positive number of tokens")
    piped = prompt is None and not sys.stdin.isatty()
    if piped:
        prompt = sys.stdin.read()
    runner = open_model(
        model,
        ctx or s.context,
        threads if threads is not None else s.threads,
        gpu_layers,
        force=force,
    )
    try:
        if prompt is not None:
            one_shot(runner, prompt, sampling, system, verbose)
        else:
            interactive(runner, sampling, system)
    finally:
        runner.close()


@handle_errors
def bench(
    model: str = typer.Argument(None, help=_("Model (default: the embedded gemma-3-270m).")),
    runs: int = typer.Option(3, "--runs", help=_("Repetitions (median and spread are reported).")),
    prompt_tokens: int = typer.Option(
        256, "--prompt-tokens", help=_("Prompt length for prefill speed.")
    ),
    gen_tokens: int = typer.Option(
        64, "--gen-tokens", help=_("Tokens to generate for decode speed.")
    ),
    ctx: int = typer.Option(2048, "--ctx"),
    threads: int = typer.Option(None, "--threads"),
    compare_estimate: bool = typer.Option(
        False,
        "--compare-estimate",
        help=_("Print measured vs sizing estimate and save a calibration."),
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """Measure prefill tok/s, decode tok/s, time to first token and peak memory."""
    from llmatlas.runtime.bench import run_bench

    if runs < 1 or prompt_tokens < 1 or gen_tokens < 2:
        raise BadInputError.translatable("--runs >= 1, --prompt-tokens >= 1 and --gen-tokens >= 2")
    res = run_bench(model, runs, prompt_tokens, gen_tokens, ctx, threads or 0, compare_estimate)
    if json_out:
        emit_json(res)
        return
    console.print(
        f"[bold]{res['model']}[/] ({res['quant']}) "
        + _("on {machine}, ctx {ctx}, {runs} runs").format(
            machine=res["machine"], ctx=res["n_ctx"], runs=res["runs"]
        )
    )
    spread = _("{tps} tok/s  (spread {spread})")
    console.print(
        "  "
        + _("prefill")
        + "  "
        + spread.format(tps=f"{res['pp_tps']:.1f}", spread=f"{res['pp_tps_spread']:.1f}")
    )
    console.print(
        "  "
        + _("decode")
        + "   "
        + spread.format(tps=f"{res['tg_tps']:.1f}", spread=f"{res['tg_tps_spread']:.1f}")
    )
    console.print("  " + _("time to first token {ms} ms").format(ms=f"{res['ttft_s'] * 1000:.0f}"))
    console.print("  " + _("peak memory {size}").format(size=gib(res["peak_rss_bytes"])))
    if compare_estimate:
        console.print(
            f"  estimate: decode {res['est_tg_tps']:.1f} tok/s, prefill {res['est_pp_tps']:.1f} tok/s, "
            f"memory {gib(res['est_total_bytes'])}"
        )
        console.print(
            f"  calibration saved: decode efficiency {res['calibration']['decode_efficiency']:.3f}, "
            f"prefill efficiency {res['calibration']['prefill_efficiency']:.3f}"
        )
