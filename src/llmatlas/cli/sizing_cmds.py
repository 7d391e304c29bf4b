"""`hw`, `estimate`, `fit`, `recommend`: what a model needs and what runs here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer

from llmatlas import advisor, hardware
from llmatlas.advisor import (
    SCORE_NAMES,
    SORT_KEYS,
    Target,
    estimate,
    gpu_layers_that_fit,
    max_context_for,
)
from llmatlas.artifacts import resolve_artifact
from llmatlas.catalog import Catalog
from llmatlas.cli._common import (
    JSON_OPT,
    console,
    emit_json,
    fit_columns,
    gib,
    handle_errors,
    hanging,
    parse_size,
    say_hidden,
)
from llmatlas.errors import BadInputError
from llmatlas.hardware import find_device
from llmatlas.i18n import N_, _
from llmatlas.sizing import ENGINES, GiB, get_format

P = ParamSpec("P")
R = TypeVar("R")

# The advisor's speed grades, shown translated (JSON keeps them as they are).
SPEED_GRADES = {"good": N_("good"), "usable": N_("usable"), "too slow": N_("too slow")}


def _remembering(fn: Callable[P, R]) -> Callable[P, R]:
    """Keep the llama.cpp compute buffers a command replayed for the next run: a replay costs
    about 10 ms, and ``fit`` needs one per architecture (see ``graph_memo.KNOWN``)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from llmatlas._snapshot import remembered
        from llmatlas.sizing import graph_memo

        root = Path(graph_memo.__file__).parents[1]
        code = [root / source for source in graph_memo.SOURCES]
        with (
            remembered("compute-buffers", graph_memo.KNOWN, code),
            remembered("work-buffers", graph_memo.WORK, code),
            remembered("device-buffers", graph_memo.DEVICES, code),
        ):
            return fn(*args, **kwargs)

    return wrapper


def _remembering_weights(fn: Callable[P, R]) -> Callable[P, R]:
    """For the commands over the whole catalog: also keep the weight sizes of every
    (architecture, format) for the next run (``quant.WEIGHTS``; reading the copy back costs
    more than the one model ``estimate`` prices)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from llmatlas._gguf_constants import constants_path
        from llmatlas._snapshot import remembered
        from llmatlas.sizing import quant

        root = Path(quant.__file__).parents[1]
        code = [root / source for source in quant.WEIGHT_SOURCES] + [constants_path()]
        with (
            remembered("weight-sizes", quant.WEIGHTS, code),
            remembered("layer-weights", quant.LAYER_WEIGHTS, code),
        ):
            return fn(*args, **kwargs)

    return wrapper


def register(app: typer.Typer) -> None:
    app.command("hw", help=_("Detect this machine: CPU, RAM, measured memory bandwidth, GPUs."))(hw)
    app.command(
        "estimate", help=_("Memory breakdown, fit, GPUs needed and expected speed for one model.")
    )(estimate_cmd)
    app.command(
        "fit",
        help=_(
            "Which models run well on this machine (or a given one), ranked for the need, with reasons."
        ),
    )(fit_cmd)
    app.command(
        "recommend",
        help=_(
            "Common hardware classes (CPU only to several GPUs) x needs, each computed from the catalog."
        ),
    )(recommend_cmd)


def _calibration(target: Target) -> dict[str, float] | None:
    """`llmatlas bench` results for this machine; only a target that is this machine uses them."""
    if not target.local:
        return None
    try:
        from llmatlas.runtime.bench import load_calibration
    except ImportError:
        return None
    return load_calibration()


def resolve_target(device: str | None, gpus: int, vram: str | None, ram: str | None) -> Target:
    """--device/--gpus, or --vram/--ram, or this machine."""
    if device and (vram or ram):
        raise BadInputError.translatable("give either --device or --vram/--ram, not both")
    if device:
        return Target.from_device(find_device(device), gpus)
    if vram or ram:
        if gpus != 1 and not vram:
            raise BadInputError.translatable(
                "--gpus needs --vram (the memory of each GPU) or --device"
            )
        vram_b, ram_b = parse_size(vram) if vram else 0, parse_size(ram) if ram else 0
        return Target.from_budget(vram_b, ram_b, count=gpus)
    if gpus != 1:
        raise BadInputError.translatable("--gpus needs --device (which GPU?)")
    return Target.from_machine(hardware.detect())


@handle_errors
def hw(
    devices_table: bool = typer.Option(
        False, "--devices", help=_("List the known GPU/accelerator table.")
    ),
    refresh: bool = typer.Option(
        False, "--refresh", help="Measure memory bandwidth and FLOP/s again (else the cached ones)."
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """Detect this machine: CPU, RAM, measured memory bandwidth, GPUs."""
    if devices_table:
        table = hardware.devices()
        if json_out:
            emit_json([d.model_dump(mode="json") for d in table.values()])
            return
        from rich.table import Table

        t = Table(title=_("devices"))
        for c in (_("id"), _("name"), _("memory"), _("bandwidth"), "FP16 TFLOPS"):
            t.add_column(c)
        for d in table.values():
            t.add_row(
                d.id,
                d.name,
                d.memory_label,
                f"{d.bandwidth_gbs:g} GB/s",
                f"{d.fp16_tflops:g}",
            )
        console.print(t)
        return
    m = hardware.detect(refresh=refresh)
    if json_out:
        emit_json(m.to_dict())
        return
    lines = [
        (
            "CPU",
            _("{model} ({cores} cores / {threads} threads)").format(
                model=m.cpu_model, cores=m.physical_cores, threads=m.logical_cores
            ),
        ),
        (
            "RAM",
            _("{total} total, {free} available").format(
                total=gib(m.ram_bytes), free=gib(m.ram_available_bytes)
            ),
        ),
        (
            _("memory"),
            _(
                "{gbs} GB/s measured copy bandwidth; {gflops} GFLOP/s fp32 matmul "
                "(measured {when}; --refresh to re-measure)"
            ).format(
                gbs=f"{m.cpu_bandwidth_gbs:g}", gflops=f"{m.cpu_gflops:g}", when=m.measured_at
            ),
        ),
    ]
    if m.apple_unified:
        lines.append((_("unified"), _("Apple unified memory: the GPU shares RAM")))
    if not m.gpus:
        lines.append(("GPU", _("none detected (NVIDIA via NVML); models run on the CPU")))
    for g in m.gpus:
        spec = (
            f", {g.bandwidth_gbs:g} GB/s"
            if g.bandwidth_gbs
            else " " + _("(not in the device table)")
        )
        lines.append(
            (
                f"GPU {g.index}",
                _("{name}: {total} ({free} free)").format(
                    name=g.name, total=gib(g.memory_bytes), free=gib(g.free_bytes)
                )
                + spec,
            )
        )
    from rich.cells import cell_len

    for k, v in lines:  # pad by terminal cells: a CJK label is twice as wide as it is long
        console.print(k + " " * max(1, 10 - cell_len(k)) + v, highlight=False)


@handle_errors
@_remembering
def estimate_cmd(
    model: str = typer.Argument(
        ..., help=_("Catalog name, a .gguf path (split files too), or a Hub repo (hf:org/repo).")
    ),
    quant: str = typer.Option(
        None,
        "--quant",
        "-q",
        help=_(
            "Any GGUF type (Q4_K_M, Q4_1, MXFP4, IQ3_XXS...), BF16, FP8, AWQ, 8bit, 4bit...; "
            "default: the file's own type, else the model's native format."
        ),
    ),
    ctx: int = typer.Option(
        None, "--ctx", help=_("Context you will run (default 4096, capped at the model's).")
    ),
    batch: int = typer.Option(1, "--batch", help=_("Concurrent sequences.")),
    engine: str = typer.Option("llama.cpp", "--engine", help=_("llama.cpp, vllm or transformers.")),
    kv_type: str = typer.Option("f16", "--kv-type", help=_("KV cache type: f16, q8_0, q4_0, fp8.")),
    device: str = typer.Option(
        None, "--device", help=_("GPU from the table, e.g. rtx-4090, h100-sxm.")
    ),
    gpus: int = typer.Option(1, "--gpus", help=_("How many of --device.")),
    vram: str = typer.Option(None, "--vram", help=_("Imaginary GPU memory, e.g. 12G.")),
    ram: str = typer.Option(None, "--ram", help=_("Imaginary RAM, e.g. 32G.")),
    max_context_for: str = typer.Option(
        None, "--max-context-for", help=_("Largest context that fits a DEVICE or a size like 24G.")
    ),
    best_quant: bool = typer.Option(
        False,
        "--best-quant",
        help=_("Highest-quality GGUF type that fits and reaches --min-tps (fit's rule)."),
    ),
    min_tps: float = typer.Option(
        0.0, "--min-tps", help=_("With --best-quant: speed needed (default 10 tok/s).")
    ),
    allow_low_bit: bool = typer.Option(
        False, "--allow-low-bit", help=_("With --best-quant: allow Q3_K_M/Q2_K (large loss).")
    ),
    exact: bool = typer.Option(
        False,
        "--exact",
        help="Also ask llama.cpp itself: a dry run (no_alloc) of the file, or of a sparse "
        "GGUF written from the catalog's architecture, reports what it would reserve.",
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """Memory breakdown, fit, GPUs needed and expected speed for one model."""
    if engine not in ENGINES:
        raise BadInputError.translatable(
            "unknown engine {engine!r}; use one of {engines}",
            engine=engine,
            engines=", ".join(ENGINES),
        )
    if quant:
        get_format(quant, engine)  # validate early: one clear line for a typo
    m = resolve_artifact(model, Catalog())
    if max_context_for:
        target = _budget_target(max_context_for)
        n = max_context_for_fn(m, target, quant, batch, engine, kv_type)
        if json_out:
            emit_json(
                {
                    "model": m.id,
                    "target": target.name,
                    "budget_bytes": target.budget_bytes,
                    "max_context": n,
                }
            )
        else:
            console.print(
                _("{model}: largest context that fits {target} ({size} usable): {n} tokens").format(
                    model=m.id, target=target.name, size=gib(target.budget_bytes), n=f"{n:,}"
                )
            )
        return
    target = resolve_target(device, gpus, vram, ram)
    if best_quant:
        c = advisor.best_quant_choice(
            m, target, ctx, batch, kv_type, max(min_tps, advisor.REQUIRED_TPS), allow_low_bit
        )
        if c.quant is None:
            raise BadInputError.translatable(
                "{model} on {target}: {reason}", model=m.id, target=target.name, reason=c.reason
            )
        if json_out:
            emit_json({"model": m.id, "target": target.name, "best_quant": c.quant, **c.__dict__})
            return
        console.print(
            _(
                "{model} on {target}: {quant} ({reason}); ~{tps} tok/s, {need} of {budget} usable"
            ).format(
                model=m.id,
                target=target.name,
                quant=c.quant,
                reason=c.reason,
                tps=f"{c.decode_tps:.1f}",
                need=gib(c.pool_bytes),
                budget=gib(target.budget_bytes),
            )
        )
        for line in (c.quality, c.next_up):
            if line:
                console.print(f"[dim]{line}[/]")
        return
    e = estimate(m, target, quant, ctx, batch, engine, kv_type, _calibration(target))
    engine_says = None
    if exact:
        if engine != "llama.cpp":
            raise BadInputError.translatable(
                "--exact asks llama.cpp; use it with --engine llama.cpp"
            )
        from llmatlas.artifacts.dryrun import exact as dry

        engine_says = dry(m, e.quant, e.context, e.batch, kv_type)
    if json_out:
        emit_json({**e.to_dict(), **({"exact": engine_says} if exact else {})})
        return
    console.print(
        f"[bold]{m.id}[/] "
        + _("{quant} on {engine}, context {ctx}, batch {batch}").format(
            quant=e.quant, engine=e.engine, ctx=f"{e.context:,}", batch=e.batch
        )
    )
    from rich.table import Table

    t = Table(show_header=False, box=None)
    t.add_row(_("weights"), gib(e.weights_bytes))
    t.add_row(_("KV cache"), f"{gib(e.kv_cache_bytes)} ({e.kv_type})")
    if e.reserved_buffers_bytes != e.buffers_bytes:
        t.add_row(
            _("buffers"),
            _(
                "{resident} resident ({reserved} reserved; on a CPU only touched pages count)"
            ).format(resident=gib(e.buffers_bytes), reserved=gib(e.reserved_buffers_bytes)),
        )
    else:
        t.add_row(_("buffers"), gib(e.buffers_bytes))
    t.add_row(_("overhead"), gib(e.overhead_bytes))
    total = _("total")
    t.add_row(f"[bold]{total}[/]", f"[bold]{gib(e.total_bytes)}[/]")
    if e.file_bytes:
        t.add_row(_("GGUF file"), gib(e.file_bytes))
    t.add_row(
        _("at max context ({ctx})").format(ctx=f"{e.max_context:,}"),
        gib(e.total_bytes_at_max_context),
    )
    console.print(t)
    if e.devices:
        _print_cards(e.devices)
    verdict = "[green]" + _("fits") + "[/]" if e.fits else "[red]" + _("does not fit") + "[/]"
    console.print(
        _("{verdict} {device}: {size} usable ({pool})").format(
            verdict=verdict, device=e.device, size=gib(e.budget_bytes), pool=e.pool
        )
    )
    if e.gpus_needed:
        console.print(_("GPUs needed: {n}").format(n=e.gpus_needed))
    if e.gpu_layers is not None:
        console.print(_("GPU layers that fit (-ngl): {n}").format(n=e.gpu_layers))
    console.print(
        _("speed: ~{decode} tok/s decode ({grade}), ~{prefill} tok/s prefill").format(
            decode=f"{e.decode_tps:g}",
            grade=_(SPEED_GRADES.get(e.speed, e.speed)),
            prefill=f"{e.prefill_tps:g}",
        )
    )
    for n in e.notes:
        console.print("[dim]" + _("note: {text}").format(text=n) + "[/]")
    for r in engine_says or []:
        console.print(
            _(
                "llama.cpp dry run ({profile}: {settings}): model {model}, KV {kv}, "
                "compute {compute}, output {output}; reserved {total}"
            ).format(
                profile=r["profile"],
                settings=r["settings"],
                model=gib(r["model_bytes"]),
                kv=gib(r["kv_bytes"]),
                compute=gib(r["compute_bytes"]),
                output=gib(r["output_bytes"]),
                total=gib(r["total_bytes"]),
            ),
            highlight=False,
        )


def _print_cards(rows: list[dict[str, Any]]) -> None:
    """The per-card rows of a llama.cpp layer split (``Estimate.devices``)."""
    from rich.table import Table

    console.print(
        _("per card, GiB (llama.cpp splits by layers; token embeddings stay in host RAM):")
    )
    t = Table(box=None)
    for head in (
        "",  # the rows name themselves: GPU 0, GPU 1, ..., host RAM
        _("layers"),
        _("weights"),
        _("KV cache"),
        _("compute buffer"),
        _("CUDA context"),
        _("total"),
        _("usable"),
    ):
        t.add_column(head, justify="right")
    for r in rows:
        host = r["budget_bytes"] is None
        name = _("host RAM") if host else f"GPU {r['device']}"
        layers = _("{n} + head").format(n=r["layers"]) if r["output"] else str(r["layers"])
        total = f"{r['total_bytes'] / GiB:.2f}"
        if not host:
            total = f"[{'green' if r['fits'] else 'red'}]{total}[/]"
        t.add_row(
            name,
            layers,
            f"{r['weights_bytes'] / GiB:.2f}",
            f"{r['kv_cache_bytes'] / GiB:.2f}",
            f"{r['compute_bytes'] / GiB:.2f}",
            f"{r['overhead_bytes'] / GiB:.2f}",
            total,
            "" if host else f"{r['budget_bytes'] / GiB:.2f}",
        )
    console.print(t)


def _fit_one(model: str, target: Target, ctx: int | None, engine: str, json_out: bool) -> None:
    """`fit MODEL`: does this one artifact fit the target, and up to what context."""
    m = resolve_artifact(model, Catalog())
    e = estimate(m, target, None, ctx, 1, engine, "f16", _calibration(target))
    largest = max_context_for(m, target, e.quant, 1, engine, "f16")
    if json_out:
        emit_json({**e.to_dict(), "largest_context_that_fits": largest})
        return
    verdict = "[green]" + _("fits") + "[/]" if e.fits else "[red]" + _("does not fit") + "[/]"
    console.print(
        _(
            "{model} ({quant}) {verdict} {device} at context {ctx}: needs {need}, {budget} "
            "usable ({pool}); largest context that fits: {largest} tokens; ~{tps} tok/s"
        ).format(
            model=m.id,
            quant=e.quant,
            verdict=verdict,
            device=e.device,
            ctx=f"{e.context:,}",
            need=gib(e.total_bytes),
            budget=gib(e.budget_bytes),
            pool=e.pool,
            largest=f"{largest:,}",
            tps=f"{e.decode_tps:g}",
        ),
        highlight=False,
    )
    for n in e.notes:
        console.print("[dim]" + _("note: {text}").format(text=n) + "[/]")


def max_context_for_fn(m, target, quant, batch, engine, kv_type):  # type: ignore[no-untyped-def]
    return max_context_for(m, target, quant, batch, engine, kv_type)


def _budget_target(spec: str) -> Target:
    try:
        return Target.from_device(find_device(spec))
    except BadInputError:
        pass
    try:
        size = parse_size(spec)
    except BadInputError:
        raise BadInputError.translatable(
            "--max-context-for takes a device (e.g. rtx-4090) or a size (e.g. 24G), not {spec!r}",
            spec=spec,
        ) from None
    return Target(
        "budget", "gpu", 1, size, size, 500.0, 50.0, _("{size} as given").format(size=gib(size))
    )


@handle_errors
@_remembering
@_remembering_weights
def fit_cmd(
    model: str = typer.Argument(
        None,
        help=_("Optional: one model, .gguf path or Hub repo to check against the target."),
    ),
    device: str = typer.Option(
        None, "--device", help=_("GPU from the table (default: this machine).")
    ),
    gpus: int = typer.Option(1, "--gpus", help=_("How many of --device.")),
    vram: str = typer.Option(None, "--vram", help=_("Imaginary GPU memory, e.g. 12G.")),
    ram: str = typer.Option(None, "--ram", help=_("Imaginary RAM, e.g. 16G.")),
    task: str = typer.Option(
        None, "--task", help=_("chat, code, math, reasoning, vision, medical...")
    ),
    language: str = typer.Option(None, "--language", help=_("en, zh, zh-Hant, ja...")),
    commercial: bool = typer.Option(
        False, "--commercial", help=_("Only licenses that allow commercial use.")
    ),
    allow_conditional: bool = typer.Option(
        False,
        "--allow-conditional",
        help=_("With --commercial: also licenses that allow it on conditions (Llama, Gemma...)."),
    ),
    fully_open: bool = typer.Option(
        False, "--fully-open", help=_("Only openness grade A/B (data and code open).")
    ),
    min_tps: float = typer.Option(
        0.0, "--min-tps", help=_("Decode tokens/s needed (default 10; slower rows rank last).")
    ),
    allow_low_bit: bool = typer.Option(
        False, "--allow-low-bit", help=_("Allow Q3_K_M/Q2_K when 4-bit does not fit.")
    ),
    sort: str = typer.Option("rank", "--sort", help=f"Order rows by: {', '.join(SORT_KEYS)}."),
    ctx: int = typer.Option(None, "--ctx", help=_("Context you will run (default 4096).")),
    engine: str = typer.Option("llama.cpp", "--engine", help=_("llama.cpp or vllm.")),
    include_base: bool = typer.Option(
        False, "--include-base", help=_("Also list base (non-chat) models.")
    ),
    limit: int = typer.Option(20, "--limit", help=_("Rows to show (0: all).")),
    json_out: bool = JSON_OPT,
) -> None:
    """Which models run well on this machine (or a given one), ranked for the need, with reasons."""
    if ctx is not None and ctx <= 0:
        raise BadInputError.translatable("--ctx must be a positive number of tokens")
    target = resolve_target(device, gpus, vram, ram)
    if engine not in ("llama.cpp", "vllm"):
        raise BadInputError.translatable(
            "unknown engine {engine!r} for fit; use llama.cpp or vllm", engine=engine
        )
    if model:
        _fit_one(model, target, ctx, engine, json_out)
        return
    need = advisor.Need(
        task,
        language,
        commercial,
        fully_open,
        min_tps,
        include_base,
        allow_conditional=allow_conditional,
        allow_below_4bit=allow_low_bit,
    )
    rows = advisor.fit(
        target,
        need,
        ctx,
        engine=engine,
        calibration=_calibration(target),
        limit=limit or None,
        sort=sort,
    )
    target = target.for_engine(engine)
    if json_out:
        emit_json(
            {
                "target": target.name,
                "budget_bytes": target.budget_bytes,
                "pool": target.headroom_note,
                "rows": [r.to_dict() for r in rows],
            }
        )
        return
    console.print(
        _("target: {name}; budget {size} ({note})").format(
            name=target.name, size=gib(target.budget_bytes), note=target.headroom_note
        )
    )
    if not rows:
        console.print(_("nothing in the catalog fits this need here"))
        return
    score_cols = [
        n for n in ("MMLU", "TMMLU+", "C-Eval", "CMMLU") if any(n in r.scores for r in rows)
    ]
    from rich.table import Table

    # On a narrow terminal the reasons do not get a column (it would wrap a word per line):
    # they follow the table, one numbered paragraph per row.
    narrow = console.width < 110 + 8 * len(score_cols)
    heads = ("#", _("model"), _("quant"), _("memory"), "tok/s", _("grade"), *score_cols)
    grades = [_(SPEED_GRADES.get(r.grade, r.grade)) for r in rows]
    cells = [
        [
            str(i),
            r.model,
            r.quant,
            gib(r.total_bytes),
            f"{r.decode_tps:.1f}" + ("" if r.meets_speed else " " + _("(slow)")),
            grade,
            *[f"{r.scores[n]:g}" if n in r.scores else "-" for n in score_cols],
        ]
        for i, (r, grade) in enumerate(zip(rows, grades, strict=True), 1)
    ]
    # Columns that do not fit are left out whole (rich cut every column instead: Q4_K_M
    # read "Q4_", ids lost their tails); the score rows are sorted by goes before the grade.
    sorted_by = [n for n in score_cols if n == SCORE_NAMES.get(sort.lower())]
    shown, _wrap = fit_columns(
        {h: [h, *(c[j] for c in cells)] for j, h in enumerate(heads)},
        [*heads[:5], *sorted_by, heads[5], *(n for n in score_cols if n not in sorted_by)],
        console.width,
    )
    keep = [j for j, h in enumerate(heads) if h in shown or not narrow]
    t = Table()
    for c in (*(heads[j] for j in keep), *(() if narrow else (_("why"),))):
        # the id is what a user copies: never cut or folded; the reasons wrap instead
        t.add_column(c, overflow="fold", no_wrap=c != _("why"))
    for r, row in zip(rows, cells, strict=True):
        style = {"good": "green", "usable": "yellow", "too slow": "red"}[r.grade]
        row[5] = f"[{style}]{row[5]}[/]"
        t.add_row(
            *(row[j] for j in keep),
            *(() if narrow else (_("; ").join(r.why[2:]),)),
        )
    console.print(t)
    hidden = [h for j, h in enumerate(heads) if j not in keep]
    say_hidden(hidden)
    if narrow:
        from rich.text import Text

        console.print(f"[bold]{_('why')}[/]")
        for i, r in enumerate(rows, 1):
            console.print(Text(f"{i}. {r.model}: ") + Text(_("; ").join(r.why[2:])))


@handle_errors
@_remembering
@_remembering_weights
def recommend_cmd(
    tier: list[str] = typer.Option(
        None, "--tier", help=_("Only these hardware classes (repeatable), e.g. '8 GB GPU'.")
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """Common hardware classes (CPU only to several GPUs) x needs, each computed from the catalog."""
    # a class by its English name (the API's value) or by its name in the output's language
    known = {n: t[0] for t in advisor.TIERS for n in (t[0], _(t[0]))}
    for name in tier or []:
        if name not in known:
            raise BadInputError.translatable(
                "unknown hardware class {name!r}; use one of: {known}",
                name=name,
                known=", ".join(dict.fromkeys(_(t[0]) for t in advisor.TIERS)),
            )
    recs = advisor.recommend(tiers=[known[n] for n in tier] if tier else None)
    if json_out:
        emit_json([r.__dict__ for r in recs])
        return
    from rich.cells import cell_len
    from rich.table import Table

    headers = (_("hardware"), _("need"), _("pick"), _("quant"), "tok/s", _("engine"))
    rows = [
        (
            _(r.tier),
            _(r.need),
            r.model or "-",
            r.quant or "-",
            f"{r.decode_tps:.0f}" if r.decode_tps else "-",
            r.engine,
        )
        for r in recs
    ]
    natural = 1 + sum(max(cell_len(x[i]) for x in [headers, *rows]) + 3 for i in range(6))
    if natural <= console.width:
        t = Table(show_lines=False)
        for c in headers:
            t.add_column(c, no_wrap=c == _("pick"), overflow="fold")  # an id a user copies
        last = None
        for row in rows:
            t.add_row(row[0] if row[0] != last else "", *row[1:])
            last = row[0]
        console.print(t)
    else:
        _recommend_by_tier(headers, rows)
    for r in recs:  # a "-" says nothing by itself: why this class has no pick for this need
        if not r.model:
            console.print(hanging(f"- {_(r.tier)} · {_(r.need)}: ", _("; ").join(r.why)))


def _recommend_by_tier(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    from rich.table import Table

    # Too narrow for six columns (80 cells: the engine and hardware cells broke a word per
    # line): one table per hardware class, its engine in the heading.
    tiers: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for row in rows:
        tiers.setdefault((row[0], row[5]), []).append(row[1:5])
    for (tier_name, engine), tier_rows in tiers.items():
        t = Table(title=f"{tier_name} · {engine}", title_justify="left", show_lines=False)
        for c in headers[1:5]:
            t.add_column(c, no_wrap=c == _("pick"), overflow="fold")
        for tier_row in tier_rows:
            t.add_row(*tier_row)
        console.print(t)


__all__ = ["gpu_layers_that_fit", "register"]
