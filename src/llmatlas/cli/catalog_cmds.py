"""`models`, `show`, `compare`, `tree`: the catalog from the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.tree import Tree

from llmatlas.catalog import SORT_KEYS, Catalog, ModelFilter, describe, lineage_tree
from llmatlas.catalog._query import parse_since
from llmatlas.cli._common import JSON_OPT, console, emit_json, fmt_params, handle_errors
from llmatlas.errors import BadInputError

catalog_app = typer.Typer(
    help="The catalog's data itself: check it (shipped and your own entries in "
    "LLMATLAS_HOME/catalog/*.yaml).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("show")(show)
    app.command("compare")(compare)
    app.command("tree")(tree)
    app.add_typer(catalog_app, name="catalog")


@catalog_app.command("check")
@handle_errors
def catalog_check(json_out: bool = JSON_OPT) -> None:
    """Validate the shipped catalog and your own entries: one line per problem, exit 1 if any."""
    from llmatlas.catalog.check import check_catalog, summary

    report = check_catalog()
    if json_out:
        emit_json({**report.__dict__, "ok": report.ok})
    else:
        for line in report.problems:
            typer.echo(line)
        typer.echo(summary(report))
    if not report.ok:
        raise typer.Exit(1)


@handle_errors
def models(
    family: str = typer.Option(None, help="Family id or name, e.g. llama, qwen."),
    developer: str = typer.Option(None, help="Developer (substring), e.g. Meta, Alibaba."),
    license: str = typer.Option(None, "--license", help="License id, e.g. apache-2.0, llama3.1."),
    commercial: bool = typer.Option(
        False, help="Only licenses that allow commercial use (incl. conditional)."
    ),
    task: str = typer.Option(None, help="Strength, e.g. code, math, chat, reasoning, vision."),
    language: str = typer.Option(None, help="Language: en, zh, zh-Hant, zh-Hans, ja..."),
    min_params: float = typer.Option(None, help="Minimum total parameters, billions."),
    max_params: float = typer.Option(None, help="Maximum total parameters, billions."),
    open_data: bool = typer.Option(False, help="Only models whose training data is (partly) open."),
    open_weights: bool = typer.Option(False, help="Only models with downloadable weights."),
    instruct: bool = typer.Option(
        None, "--instruct/--base", help="Only chat/instruct, or only base models."
    ),
    search: str = typer.Option(None, help="Text to find in id, name, aliases, repo."),
    sort: str = typer.Option(
        "family",
        help=f"Sort by {', '.join(SORT_KEYS)} (prefix - for descending, e.g. -released).",
    ),
    since: str = typer.Option(
        None, "--since", help="Only models released on or after DATE (2025-06-01, 2025-06, 2025)."
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """List catalog models, filtered and sorted."""
    since_date = parse_since(since) if since else None
    cat = Catalog()
    f = ModelFilter(
        family,
        developer,
        license,
        commercial,
        task,
        language,
        min_params,
        max_params,
        open_data,
        open_weights,
        instruct,
        search,
        sort,
        since=since_date,
    )
    rows = cat.filter(f)
    if json_out:
        emit_json([describe(cat, m) for m in rows])
        return
    if not rows:
        console.print("no model matches these filters")
        return
    t = Table(title=f"{len(rows)} models", show_lines=False)
    for col in (
        "id",
        "developer",
        "params",
        "ctx",
        "released",
        "license",
        "commercial",
        "open",
        "tasks",
    ):
        t.add_column(col)
    for m in rows:
        lic = cat.license_of(m)
        params = fmt_params(m.params_b)
        if m.active_params_b:
            params += f" ({fmt_params(m.active_params_b)} act.)"
        ctx = f"{m.architecture.max_position_embeddings:,}" if m.architecture else "-"
        t.add_row(
            m.id,
            m.developer,
            params,
            ctx,
            m.released.isoformat(),
            lic.id,
            lic.commercial_use,
            m.openness.grade,
            ",".join(m.tasks),
        )
    console.print(t)


@handle_errors
def show(
    model: str = typer.Argument(..., help="Model id, alias or HF repo."), json_out: bool = JSON_OPT
) -> None:
    """Everything the catalog knows about one model, with sources."""
    cat = Catalog()
    m = cat.get(model)
    d = describe(cat, m)
    if json_out:
        emit_json(d)
        return
    console.print(f"[bold]{m.name}[/]  ({m.id})  {d['family_name']} family, by {m.developer}")
    if d["origin"] == "user":
        replaced = " (replaces the shipped entry)" if m.id in cat.data.shipped_ids else ""
        console.print(
            f"[magenta]your own entry: {d['origin_file']}{replaced}[/]",
            highlight=False,
            soft_wrap=True,
        )
    if m.availability != "open-weights":
        console.print(f"[yellow]availability: {m.availability}[/]")
    params = fmt_params(m.params_b) + (
        f", {fmt_params(m.active_params_b)} active" if m.active_params_b else ""
    )
    lines = [
        ("released", d["released"]),
        ("parameters", params),
        ("context", f"{d['context_length']:,} tokens" if d["context_length"] else "-"),
        ("instruct", "yes" if m.instruct else "no (base model)"),
        ("languages", ", ".join(m.languages)),
        ("tasks", ", ".join(m.tasks)),
        ("training tokens", f"{m.training_tokens_t:g}T" if m.training_tokens_t else "-"),
        ("hf repos", ", ".join(m.hf_repos) or "-"),
        ("aliases", ", ".join(m.aliases) or "-"),
        (
            "license",
            f"{d['license_name']} ({d['license']}) — commercial use: {d['commercial_use']}",
        ),
        ("conditions", d["license_conditions"]),
    ]
    if m.license_note:
        lines.append(("license note", m.license_note))
    for h in d["license_history"]:
        lines.append(("license since", f"{h['since']}: {h['license']}"))
    o = d["openness"]
    lines.append(
        (
            "openness",
            f"grade {o['grade']} ({o['score']:g}/6): "
            + ", ".join(f"{c.replace('_', ' ')} {o[c]}" for c in m.openness.COMPONENTS),
        )
    )
    if m.base_model:
        chain = " <- ".join([m.id, *d["ancestors"]])
        lines.append(("lineage", f"{m.relation} of {m.base_model}   ({chain})"))
    if d["derivatives"]:
        lines.append(("derivatives", ", ".join(d["derivatives"])))
    for k, v in lines:
        console.print(f"  [cyan]{k:>16}[/]  {v}", highlight=False)
    if m.architecture:
        a = m.architecture
        arch = (
            f"{a.model_type}: {a.num_hidden_layers} layers, hidden {a.hidden_size}, "
            f"{a.num_attention_heads} heads / {a.num_key_value_heads} KV heads x {a.resolved_head_dim}, "
            f"FFN {a.intermediate_size}, vocab {a.vocab_size:,}, {a.position_embedding}"
        )
        if a.is_moe:
            arch += f", MoE {a.num_experts} experts ({a.num_experts_per_tok} per token)"
        if a.sliding_window:
            arch += f", sliding window {a.sliding_window} on {a.sliding_window_layers} layers"
        console.print(f"  [cyan]{'architecture':>16}[/]  {arch}", highlight=False)
    if m.benchmarks:
        console.print(f"  [cyan]{'benchmarks':>16}[/]")
        for b in m.benchmarks:
            shots = f"{b.shots}-shot" if b.shots is not None else "shots n/a"
            console.print(
                f"{'':20}{b.name} {b.value:g} ({shots}, by {b.evaluator}) {b.source}",
                highlight=False,
            )
    for e in d["errata"]:
        console.print(
            f"  [yellow]{'seed erratum':>16}[/]  {e['claim']} -> {e['correction']} ({e['source']})",
            highlight=False,
        )
    if m.notes:
        console.print(f"  [cyan]{'notes':>16}[/]  {m.notes}", highlight=False)
    console.print(f"  [cyan]{'sources':>16}[/]")
    for k, v in d["sources"].items():
        console.print(f"{'':20}{k}: {v}", highlight=False)


COMPARE_ROWS = (
    ("developer", lambda d: d["developer"]),
    ("released", lambda d: d["released"]),
    (
        "parameters",
        lambda d: (
            fmt_params(d["params_b"])
            + (f" ({fmt_params(d['active_params_b'])} active)" if d["active_params_b"] else "")
        ),
    ),
    ("context", lambda d: f"{d['context_length']:,}" if d["context_length"] else "-"),
    (
        "training tokens",
        lambda d: f"{d['training_tokens_t']:g}T" if d["training_tokens_t"] else "-",
    ),
    ("languages", lambda d: ", ".join(d["languages"])),
    ("strengths", lambda d: ", ".join(d["tasks"])),
    ("license", lambda d: d["license"]),
    ("commercial use", lambda d: d["commercial_use"]),
    ("openness", lambda d: f"{d['openness']['grade']} ({d['openness']['score']:g}/6)"),
    ("open data", lambda d: d["openness"]["training_data"]),
    ("base model", lambda d: d["base_model"] or "-"),
    ("architecture", lambda d: (d["architecture"] or {}).get("model_type", "-")),
    ("KV heads", lambda d: str((d["architecture"] or {}).get("num_key_value_heads", "-"))),
)


def _score_rows(descs: list[dict]) -> list[tuple[str, list[str]]]:
    names = []
    for d in descs:
        for b in d["benchmarks"]:
            key = f"{b['name']}" + (f" ({b['shots']}-shot)" if b.get("shots") is not None else "")
            if key not in names:
                names.append(key)
    out = []
    for key in names:
        cells = []
        for d in descs:
            vals = [
                b
                for b in d["benchmarks"]
                if f"{b['name']}" + (f" ({b['shots']}-shot)" if b.get("shots") is not None else "")
                == key
            ]
            cells.append(", ".join(f"{b['value']:g} [{b['evaluator']}]" for b in vals) or "-")
        out.append((key, cells))
    return out


@handle_errors
def compare(
    models: list[str] = typer.Argument(..., help="Two to four model ids or aliases."),
    json_out: bool = JSON_OPT,
) -> None:
    """Side-by-side comparison (like the seeds' Llama vs Gemma table)."""
    if len(models) < 2:
        raise BadInputError("compare needs at least two models")
    if len(models) > 6:
        raise BadInputError("compare takes at most six models")
    cat = Catalog()
    descs = [describe(cat, cat.get(x)) for x in models]
    rows = [(label, [f(d) for d in descs]) for label, f in COMPARE_ROWS] + _score_rows(descs)
    if json_out:
        emit_json(
            {
                "models": descs,
                "rows": [{"field": k, "values": v, "differ": len(set(v)) > 1} for k, v in rows],
            }
        )
        return
    t = Table(show_lines=True)
    t.add_column("")
    for d in descs:
        t.add_column(d["name"])
    for label, cells in rows:
        differ = len(set(cells)) > 1
        t.add_row(label, *[f"[bold]{c}[/]" if differ else c for c in cells])
    console.print(t)


@handle_errors
def tree(
    root: str = typer.Argument(
        None, help="Start from this model (default: every lineage in the catalog)."
    ),
    format: str = typer.Option("text", "--format", help="text, mermaid, dot, svg or png."),
    out: Path = typer.Option(
        None, "--out", help="Write the picture here (default: stdout for text formats)."
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """The derivative family tree: what was fine-tuned, distilled or extended from what."""
    cat = Catalog()
    start = cat.get(root) if root else None
    forest = lineage_tree(cat, start)
    if json_out:
        emit_json(forest)
        return
    if format == "text":
        for node in forest:
            rt = Tree(f"[bold]{node['id']}[/]")
            _add(rt, node["children"])
            console.print(rt)
        return
    if format not in ("mermaid", "dot", "svg", "png"):
        raise BadInputError(f"unknown format {format!r}; use text, mermaid, dot, svg or png")
    from llmatlas.catalog._render import render_tree

    data = render_tree(forest, format)
    if out is None:
        if isinstance(data, bytes):
            raise BadInputError("png is binary: give --out FILE.png")
        typer.echo(data)
        return
    from llmatlas.store_io import atomic_write_bytes

    atomic_write_bytes(out, data if isinstance(data, bytes) else data.encode())
    console.print(f"wrote {out}")


def _add(parent: Tree, children: list[dict]) -> None:
    for c in children:
        node = parent.add(f"{c['id']}  [dim]({c['relation']})[/]")
        _add(node, c["children"])


@catalog_app.command("import")
@handle_errors
def catalog_import(
    repo: str = typer.Argument(..., help="Hub repository, owner/name (HF_ENDPOINT is honoured)."),
    stdout: bool = typer.Option(False, "--stdout", help="Print the draft instead of saving it."),
    model_id: str = typer.Option(
        None, "--id", help="Catalog id for the entry (default: repo name)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a draft file of the same id."),
    json_out: bool = JSON_OPT,
) -> None:
    """Draft a catalog entry from a Hub repo into LLMATLAS_HOME/catalog/ (facts marked drafted)."""
    import os

    from llmatlas.catalog import _import
    from llmatlas.settings import get_settings

    cat = Catalog()
    known_repos = {r.lower(): m.id for m in cat.models for r in m.hf_repos}
    hub = _import.fetch(repo, token=os.environ.get("HF_TOKEN"))
    doc = _import.draft(hub, known_repos, set(cat.data.licenses), model_id)
    new_id = doc["models"][0]["id"]
    folder = get_settings().catalog_dir
    # The user's catalog is overlaid, so an earlier draft of the same file is "in the catalog"
    # too: that one is for write_draft's --force rule; any other entry of that id is refused.
    own_draft = cat.data.user_models.get(new_id) == str(folder / f"{doc['family']}.yaml")
    if new_id in cat.data.models and not stdout and not own_draft:
        raise BadInputError(
            f"{new_id!r} is already a catalog id; pass --id to name the draft differently"
        )
    path = None
    if not stdout:
        path = _import.write_draft(doc, folder, force=force)
    if json_out:
        emit_json({"path": str(path) if path else None, "family": doc})
    elif stdout:
        typer.echo(_import.to_yaml(doc), nl=False)
    else:
        drafted = ", ".join(doc["models"][0]["drafted"])
        console.print(f"drafted {new_id} -> {path}", highlight=False)
        console.print(f"confirm against the sources, then remove from `drafted`: {drafted}")
