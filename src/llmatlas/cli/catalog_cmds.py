"""`models`, `show`, `compare`, `tree`: the catalog from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from llmatlas.catalog import (
    SORT_KEYS,
    Catalog,
    ModelFilter,
    ModelGroup,
    describe,
    describe_group,
    lineage_tree,
)
from llmatlas.catalog._query import parse_since
from llmatlas.cli._common import (
    JSON_OPT,
    console,
    emit_json,
    fit_columns,
    fmt_params,
    handle_errors,
    key_values,
    say_hidden,
)
from llmatlas.errors import BadInputError
from llmatlas.i18n import N_, _, catalog_summary, format_date, format_number

if TYPE_CHECKING:
    from rich.tree import Tree

catalog_app = typer.Typer(
    help=_(
        "The catalog's data itself: check it (shipped and your own entries in "
        "LLMATLAS_HOME/catalog/*.yaml)."
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("models", help=_("List catalog models, filtered and sorted."))(models)
    app.command(
        "show", help=_("Everything the catalog knows about one model or one family, with sources.")
    )(show)
    app.command(
        "compare",
        help=_("Side by side: checkpoints, or families when every name is a family or series."),
    )(compare)
    app.command(
        "tree",
        help=_("The derivative family tree: what was fine-tuned, distilled or extended from what."),
    )(tree)
    app.add_typer(catalog_app, name="catalog")


@catalog_app.command(
    "check",
    help=_(
        "Validate the shipped catalog and your own entries: one line per problem, exit 1 if any."
    ),
)
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


# Words the data uses as values, shown translated (JSON keeps them as they are).
VALUE_WORDS = {
    "yes": N_("yes"),
    "no": N_("no"),
    "conditional": N_("conditional"),
    "open": N_("open"),
    "partial": N_("partial"),
    "closed": N_("closed"),
    "unknown": N_("unknown"),
    "open-weights": N_("open weights"),
    "api-only": N_("API only (no weights to download)"),
    "gated-application": N_("weights on application"),
    "finetune": N_("fine-tune"),
    "continued-pretraining": N_("continued pretraining"),
    "distillation": N_("distillation"),
    "merge": N_("merge"),
    "quantized": N_("quantized"),
    "vocabulary-extension": N_("vocabulary extension"),
    "pruning": N_("pruning"),
    "delta-weights": N_("fine-tune released as delta weights"),
    "upcycling": N_("upcycling"),
}


def escape(text: str) -> str:
    """rich markup escaped (rich is imported by the commands that draw, not by ``--json``)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def word(value: str | None) -> str:
    if value is None:
        return "-"
    return _(VALUE_WORDS[value]) if value in VALUE_WORDS else value


LANGUAGE_WORDS = {
    "zh": N_("zh (script not stated)"),
    "multi": N_("many languages (see the card)"),
    "code": N_("programming languages"),
}


def _languages(langs: list[str]) -> str:
    """Language codes as the card claims them; a bare 'zh' says its script is not stated,
    'multi' and 'code' (the schema's words for "many, see card" and programming languages)
    are spelled out."""
    return ", ".join(_(LANGUAGE_WORDS[x]) if x in LANGUAGE_WORDS else x for x in langs)


@handle_errors
def models(
    family: str = typer.Option(None, help=_("Family id or name, e.g. llama, qwen, 通義千問.")),
    developer: str = typer.Option(
        None, help=_("Developer (any part of a name it goes by), e.g. Meta, 聯發科.")
    ),
    license: str = typer.Option(
        None, "--license", help=_("License id, e.g. apache-2.0, llama3.1.")
    ),
    commercial: bool = typer.Option(False, help=_("Only licenses that allow commercial use.")),
    allow_conditional: bool = typer.Option(
        False,
        "--allow-conditional",
        help=_("With --commercial: also licenses that allow it on conditions (Llama, Gemma...)."),
    ),
    task: str = typer.Option(None, help=_("Strength, e.g. code, math, chat, reasoning, vision.")),
    language: str = typer.Option(
        None,
        help=_(
            "Language: en, ja, zh-Hant/zh-TW/繁體中文/繁中, zh-Hans/zh-CN/简体中文, zh/中文 "
            "(either script). A card that says only 'Chinese' matches both scripts."
        ),
    ),
    min_params: float = typer.Option(None, help=_("Minimum total parameters, billions.")),
    max_params: float = typer.Option(None, help=_("Maximum total parameters, billions.")),
    open_data: bool = typer.Option(
        False, help=_("Only models whose training data is (partly) open.")
    ),
    open_weights: bool = typer.Option(False, help=_("Only models with downloadable weights.")),
    instruct: bool = typer.Option(
        None, "--instruct/--base", help=_("Only chat/instruct, or only base models.")
    ),
    search: str = typer.Option(
        None,
        help=_("Text to find in ids, names, aliases, repos and family or developer names."),
    ),
    sort: str = typer.Option(
        "family",
        help=_("Sort by {keys} (prefix - for descending).").format(keys=", ".join(SORT_KEYS)),
    ),
    since: str = typer.Option(
        None,
        "--since",
        help=_("Only models released on or after DATE (2025-06-01, 2025-06, 2025)."),
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
        allow_conditional=allow_conditional,
    )
    rows = cat.filter(f)
    if json_out:
        emit_json([describe(cat, m) for m in rows])
        return
    if not rows:
        console.print(_("no model matches these filters"))
        return
    cells: dict[str, list[str]] = {
        "id": [m.id for m in rows],
        "params": [],
        "license": [],
        "commercial": [],
        "ctx": [],
        "released": [],
        "developer": [m.developer for m in rows],
        "open": [m.openness.grade for m in rows],
        "tasks": [", ".join(m.tasks) for m in rows],
    }
    for m in rows:
        lic = cat.license_of(m)
        params = fmt_params(m.params_b)
        if m.active_params_b:
            params += " " + _("({active} active)").format(active=fmt_params(m.active_params_b))
        cells["params"].append(params)
        cells["license"].append(lic.id)
        cells["commercial"].append(word(lic.commercial_use))
        ctx = m.architecture.max_position_embeddings if m.architecture else None
        cells["ctx"].append(format_number(ctx) if ctx else "-")
        cells["released"].append(m.released.isoformat())
    # The id is the one column a user must copy: never cut. Others go, lowest first.
    priority = ["id", "params", "license", "commercial", "ctx", "released", "open", "developer"]
    _table(
        _("{n} models").format(n=format_number(len(rows))), cells, priority, console.width, "tasks"
    )


HEADERS = {
    "id": N_("id"),
    "params": N_("params"),
    "license": N_("license"),
    "commercial": N_("commercial"),
    "ctx": N_("context"),
    "released": N_("released"),
    "developer": N_("developer"),
    "open": N_("openness"),
    "tasks": N_("strengths"),
    "instruct": N_("instruct"),
}


def _table(
    title: str,
    cells: dict[str, list[str]],
    priority: list[str],
    width: int,
    wrap: str | None = None,
) -> None:
    """Print columns in their given order, those that fit by ``priority``; say which went."""
    from rich.table import Table

    heads = {k: _(HEADERS[k]) for k in cells}
    shown, wrapped = fit_columns(
        {k: [heads[k], *v] for k, v in cells.items()}, priority, width, wrap
    )
    t = Table(title=title)
    for k in cells:
        if k in shown:
            t.add_column(heads[k], no_wrap=k != wrapped, overflow="fold")
    for i in range(len(cells["id"])):
        t.add_row(*(escape(cells[k][i]) for k in cells if k in shown))
    console.print(t)
    hidden = [heads[k] for k in cells if k not in shown]
    say_hidden(hidden)


@handle_errors
def show(
    model: list[str] = typer.Argument(
        ...,
        help=_(
            "Model id, alias, Hub repo, family or series name (Breeze, 通義千問, Llama 2), "
            "a size-qualified short name (llama3:70b, breeze 7b), or a .gguf path."
        ),
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """Everything the catalog knows about one model or one family, with sources (or what a
    .gguf file or Hub repo holds)."""
    cat = Catalog()
    from llmatlas.artifacts import is_artifact_spec

    if len(model) == 1 and is_artifact_spec(model[0]):
        _show_artifact(model[0], cat, json_out)
        return
    r = cat.resolve(" ".join(model))  # `show breeze 7b` works unquoted
    if r.model is None and r.group is not None:
        _show_group(cat, r.group, json_out)
        return
    m = r.entry
    d = describe(cat, m)
    if json_out:
        emit_json(d)
        return
    console.print(
        f"[bold]{escape(m.name)}[/]  ({m.id})  "
        + escape(
            _("{family} family, by {developer}").format(
                family=d["family_name"], developer=m.developer
            )
        ),
        highlight=False,
    )
    if d["origin"] == "user":
        mine = _("your own entry: {file}").format(file=d["origin_file"])
        if m.id in cat.data.shipped_ids:
            mine += " " + _("(replaces the shipped entry)")
        console.print(f"[magenta]{escape(mine)}[/]", highlight=False, soft_wrap=True)
    if m.availability != "open-weights":
        label = _("availability")
        console.print(f"[yellow]{label}: {word(m.availability)}[/]")
    params = fmt_params(m.params_b)
    if m.active_params_b:
        params += ", " + _("{active} active").format(active=fmt_params(m.active_params_b))
    ctx = d["context_length"]
    lines: list[tuple[str, str]] = [
        (_("released"), format_date(m.released)),
        (_("parameters"), params),
        (_("context"), _("{n} tokens").format(n=format_number(ctx)) if ctx else "-"),
        (_("instruct"), _("yes") if m.instruct else _("no (base model)")),
        (_("languages"), _languages(m.languages)),
        (_("strengths"), ", ".join(m.tasks)),
        (
            _("training tokens"),
            _("{n} trillion").format(n=format_number(m.training_tokens_t))
            if m.training_tokens_t
            else "-",
        ),
        (_("Hub repos"), ", ".join(m.hf_repos) or "-"),
        (_("aliases"), ", ".join(m.aliases) or "-"),
        (
            _("license"),
            _("{name} ({id}); commercial use: {verdict}").format(
                name=d["license_name"], id=d["license"], verdict=word(d["commercial_use"])
            ),
        ),
        (_("conditions"), d["license_conditions"]),
    ]
    summary = catalog_summary(d["license_conditions"])
    if summary:
        lines.append((_("summary"), summary))
    if m.license_note:
        lines.append((_("license note"), m.license_note))
    for h in d["license_history"]:
        lines.append((_("license since"), f"{h['since']}: {h['license']}"))
    o = d["openness"]
    lines.append(
        (
            _("openness"),
            _("grade {grade} ({score}/6): ").format(grade=o["grade"], score=f"{o['score']:g}")
            + ", ".join(f"{_(COMPONENT_WORDS[c])} {word(o[c])}" for c in m.openness.COMPONENTS),
        )
    )
    if m.base_model:
        chain = " <- ".join([m.id, *d["ancestors"]])
        lines.append(
            (
                _("lineage"),
                _("{relation} of {base}   ({chain})").format(
                    relation=word(m.relation), base=m.base_model, chain=chain
                ),
            )
        )
    if d["derivatives"]:
        lines.append((_("derivatives"), ", ".join(d["derivatives"])))
    if m.architecture:
        lines.append((_("architecture"), _architecture(m)))
    for b in m.benchmarks:
        shots = _("{n}-shot").format(n=b.shots) if b.shots is not None else _("shots not stated")
        lines.append(
            (
                _("benchmark"),
                _("{name} {value} ({shots}, by {evaluator}) {source}").format(
                    name=b.name,
                    value=f"{b.value:g}",
                    shots=shots,
                    evaluator=b.evaluator,
                    source=b.source,
                ),
            )
        )
    for e in d["errata"]:
        lines.append(
            (
                _("common claim"),
                _("“{claim}” is contradicted by primary sources: {correction} ({source})").format(
                    claim=e["claim"], correction=e["correction"], source=e["source"]
                ),
            )
        )
    if m.notes:
        lines.append((_("notes"), m.notes))
    if m.drafted:
        lines.append(
            (
                _("drafted"),
                _("not yet confirmed by a person: {facts}").format(facts=", ".join(m.drafted)),
            )
        )
    for k, v in d["sources"].items():
        lines.append((_("source: {fact}").format(fact=k), v))
    console.print(key_values(lines))


COMPONENT_WORDS = {
    "weights": N_("weights"),
    "training_data": N_("training data"),
    "training_code": N_("training code"),
    "evaluation_code": N_("evaluation code"),
    "finetuning_code": N_("fine-tuning code"),
    "training_logs": N_("training logs"),
}


def _architecture(m: Any) -> str:
    a = m.architecture
    text = _(
        "{type}: {layers} layers, hidden {hidden}, {heads} heads / {kv} KV heads x {dim}, "
        "FFN {ffn}, vocabulary {vocab}, {pos}"
    ).format(
        type=a.model_type,
        layers=a.num_hidden_layers,
        hidden=a.hidden_size,
        heads=a.num_attention_heads,
        kv=a.num_key_value_heads,
        dim=a.resolved_head_dim,
        ffn=a.intermediate_size,
        vocab=format_number(a.vocab_size),
        pos=a.position_embedding,
    )
    if a.is_moe:
        text += ", " + _("MoE {n} experts ({k} per token)").format(
            n=a.num_experts, k=a.num_experts_per_tok
        )
    if a.sliding_window:
        text += ", " + _("sliding window {w} on {n} layers").format(
            w=a.sliding_window, n=a.sliding_window_layers
        )
    if getattr(m, "architecture_from", None):
        text += " " + _("(inherited from {base}; its own card gives none)").format(
            base=m.architecture_from
        )
    return text


def _show_group(cat: Catalog, g: ModelGroup, json_out: bool) -> None:
    d = describe_group(cat, g)
    if json_out:
        emit_json(d)
        return
    title = (
        _("{name}: a family of {n} checkpoints by {developer}")
        if g.kind == "family"
        else _("{name}: a series of {n} checkpoints in the {family} family, by {developer}")
    )
    console.print(
        "[bold]"
        + escape(
            title.format(
                name=g.name, n=len(g.members), family=d["family_name"], developer=d["developer"]
            )
        )
        + "[/]",
        highlight=False,
    )
    lines: list[tuple[str, str]] = []
    if d["description"]:
        lines.append((_("about"), d["description"]))
        summary = catalog_summary(d["description"])
        if summary:
            lines.append((_("summary"), summary))
    lines += [(_("also called"), text) for text in _name_lines(d["names"])]
    lines += [(_("developer also"), text) for text in _name_lines(d["developer_names"])]
    first, last = d["released"]["first"], d["released"]["last"]
    lines.append(
        (
            _("released"),
            format_date(_date(first))
            if first == last
            else _("{first} to {last}").format(
                first=format_date(_date(first)), last=format_date(_date(last))
            ),
        )
    )
    lines.append((_("sizes"), ", ".join(fmt_params(p) for p in d["params_b"]) or "-"))
    if d["max_context_length"]:
        lines.append(
            (
                _("context"),
                _("up to {n} tokens").format(n=format_number(d["max_context_length"])),
            )
        )
    lines.append((_("languages"), _languages(d["languages"])))
    lines.append((_("default"), _("{id} (what the bare name means)").format(id=d["default"])))
    for lic in d["licenses"]:
        lines.append(
            (
                _("license"),
                _("{name} ({id}); commercial use: {verdict}; {n} of {total} checkpoints").format(
                    name=lic["name"],
                    id=lic["id"],
                    verdict=word(lic["commercial_use"]),
                    n=len(lic["models"]),
                    total=len(g.members),
                ),
            )
        )
        summary = catalog_summary(lic["conditions"])
        lines.append((_("conditions"), lic["conditions"]))
        if summary:
            lines.append((_("summary"), summary))
    if d["based_on"]:
        lines.append((_("built on"), ", ".join(d["based_on"])))
    if d["derivatives_elsewhere"]:
        lines.append((_("built upon by"), ", ".join(d["derivatives_elsewhere"])))
    if d["series"]:
        lines.append((_("series"), ", ".join(d["series"])))
    if d["same_developer"]:
        lines.append(
            (
                _("same developer"),
                ", ".join(f"{f['name']} ({f['id']})" for f in d["same_developer"]),
            )
        )
    if d["homepage"]:
        lines.append((_("homepage"), d["homepage"]))
    console.print(key_values(lines))
    cells: dict[str, list[str]] = {
        "id": [],
        "params": [],
        "license": [],
        "commercial": [],
        "released": [],
        "instruct": [],
    }
    for mm in d["members"]:
        cells["id"].append(mm["id"] + (" *" if mm["id"] == d["default"] else ""))
        cells["params"].append(fmt_params(mm["params_b"]))
        cells["license"].append(mm["license"])
        cells["commercial"].append(word(mm["commercial_use"]))
        cells["released"].append(mm["released"])
        cells["instruct"].append(_("yes") if mm["instruct"] else _("no"))
    _table(_("members"), cells, list(cells), console.width)
    console.print("[dim]" + _("* the default member") + "[/]")


def _date(iso: str) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(iso)


def _name_lines(names: list[dict[str, Any]]) -> list[str]:
    """One line per source: the names it confirms, the source once, then their notes (six
    spellings of one developer from two pages are two lines, not six repeated URLs)."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    lines: list[str] = []
    for n in names:
        if n["source"]:
            by_source.setdefault(n["source"], []).append(n)
        else:
            lines.append(
                _("{name}  (not confirmed by a primary source: {note})").format(
                    name=n["name"], note=n["note"]
                )
            )
    for source, group in by_source.items():
        notes = [n["note"] for n in group if n["note"]]
        text = ", ".join(n["name"] for n in group) + f"  ({source})"
        lines.append("; ".join([text, *notes]))
    return lines


COMPARE_ROWS = (
    (N_("developer"), lambda d: d["developer"]),
    (N_("released"), lambda d: d["released"]),
    (
        N_("parameters"),
        lambda d: (
            fmt_params(d["params_b"])
            + (
                " " + _("({active} active)").format(active=fmt_params(d["active_params_b"]))
                if d["active_params_b"]
                else ""
            )
        ),
    ),
    (N_("context"), lambda d: format_number(d["context_length"]) if d["context_length"] else "-"),
    (
        N_("training tokens"),
        lambda d: f"{d['training_tokens_t']:g}T" if d["training_tokens_t"] else "-",
    ),
    (N_("languages"), lambda d: _languages(d["languages"])),
    (N_("strengths"), lambda d: ", ".join(d["tasks"])),
    (N_("license"), lambda d: d["license"]),
    (N_("commercial use"), lambda d: word(d["commercial_use"])),
    (N_("openness"), lambda d: f"{d['openness']['grade']} ({d['openness']['score']:g}/6)"),
    (N_("open data"), lambda d: word(d["openness"]["training_data"])),
    (N_("base model"), lambda d: d["base_model"] or "-"),
    (N_("architecture"), lambda d: (d["architecture"] or {}).get("model_type", "-")),
    (N_("KV heads"), lambda d: str((d["architecture"] or {}).get("num_key_value_heads", "-"))),
)

GROUP_ROWS = (
    (N_("kind"), lambda d: _("family") if d["kind"] == "family" else _("series")),
    (N_("developer"), lambda d: d["developer"]),
    (N_("checkpoints"), lambda d: str(len(d["members"]))),
    (N_("sizes"), lambda d: ", ".join(fmt_params(p) for p in d["params_b"]) or "-"),
    (N_("released"), lambda d: f"{d['released']['first']} – {d['released']['last']}"),
    (
        N_("max context"),
        lambda d: format_number(d["max_context_length"]) if d["max_context_length"] else "-",
    ),
    (N_("languages"), lambda d: _languages(d["languages"])),
    (N_("licenses"), lambda d: ", ".join(lic["id"] for lic in d["licenses"])),
    (
        N_("commercial use"),
        lambda d: ", ".join(sorted({word(lic["commercial_use"]) for lic in d["licenses"]})),
    ),
    (N_("built on"), lambda d: ", ".join(d["based_on"]) or "-"),
    (N_("default"), lambda d: d["default"]),
)


def _score_rows(descs: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    def key_of(b: dict[str, Any]) -> str:
        if b.get("shots") is None:
            return str(b["name"])
        shots = _("{n}-shot").format(n=b["shots"])
        return f"{b['name']} ({shots})"

    names: list[str] = []
    for d in descs:
        for b in d["benchmarks"]:
            if key_of(b) not in names:
                names.append(key_of(b))
    out = []
    for key in names:
        cells = []
        for d in descs:
            vals = [b for b in d["benchmarks"] if key_of(b) == key]
            cells.append(", ".join(f"{b['value']:g} [{b['evaluator']}]" for b in vals) or "-")
        out.append((key, cells))
    return out


@handle_errors
def compare(
    models: list[str] = typer.Argument(
        ...,
        help=_(
            "Two to six model ids, aliases, or family/series names "
            '(compare "Llama 3" Gemma compares the families).'
        ),
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """Side by side: checkpoints, or families when every name is a family or series."""
    if len(models) < 2:
        raise BadInputError.translatable("compare needs at least two models")
    if len(models) > 6:
        raise BadInputError.translatable("compare takes at most six models")
    cat = Catalog()
    resolved = [cat.resolve(x) for x in models]
    groups = [r.group for r in resolved if r.model is None and r.group is not None]
    if len(groups) == len(resolved):
        descs = [describe_group(cat, g) for g in groups]
        rows = [(label, [f(d) for d in descs]) for label, f in GROUP_ROWS]
        heads = [d["name"] for d in descs]
        key = "groups"
    else:
        descs = [describe(cat, r.entry) for r in resolved]
        rows = [(label, [f(d) for d in descs]) for label, f in COMPARE_ROWS]
        rows += _score_rows(descs)
        heads = [
            d["name"] if r.model is not None else f"{r.group.name} → {d['id']}"  # type: ignore[union-attr]
            for r, d in zip(resolved, descs, strict=True)
        ]
        key = "models"
    if json_out:
        emit_json(
            {
                key: descs,
                "rows": [{"field": k, "values": v, "differ": len(set(v)) > 1} for k, v in rows],
            }
        )
        return
    from rich.table import Table

    t = Table(show_lines=True)
    t.add_column("")
    for h in heads:
        t.add_column(escape(h))
    for label, cells in rows:
        differ = len(set(cells)) > 1
        t.add_row(_(label), *[f"[bold]{escape(c)}[/]" if differ else escape(c) for c in cells])
    console.print(t)


@handle_errors
def tree(
    root: str = typer.Argument(
        None,
        help=_("Start from this model, family or series (default: every lineage in the catalog)."),
    ),
    format: str = typer.Option("text", "--format", help=_("text, mermaid, dot, svg or png.")),
    out: Path = typer.Option(
        None, "--out", help=_("Write the picture here (default: stdout for text formats).")
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """The derivative family tree: what was fine-tuned, distilled or extended from what."""
    cat = Catalog()
    start = None
    if root:
        r = cat.resolve(root)
        start = r.model if r.model is not None else r.group
    forest = lineage_tree(cat, start)
    if json_out:
        emit_json(forest)
        return
    if format == "text":
        from rich.tree import Tree

        if isinstance(start, ModelGroup):
            console.print(
                "[dim]"
                + escape(
                    _("{name}: {n} checkpoints and what was built on them").format(
                        name=start.name, n=len(start.members)
                    )
                )
                + "[/]"
            )
        for node in forest:
            rt = Tree(f"[bold]{node['id']}[/]  [cyan]{escape(node['family_name'])}[/]")
            _add(rt, node["children"], node["family"])
            console.print(rt)
        return
    if format not in ("mermaid", "dot", "svg", "png"):
        raise BadInputError.translatable(
            "unknown format {format!r}; use text, mermaid, dot, svg or png", format=format
        )
    from llmatlas.catalog._render import render_tree

    data = render_tree(forest, format)
    if out is None:
        if isinstance(data, bytes):
            raise BadInputError.translatable("png is binary: give --out FILE.png")
        typer.echo(data)
        return
    from llmatlas.store_io import atomic_write_bytes

    atomic_write_bytes(out, data if isinstance(data, bytes) else data.encode())
    console.print(_("wrote {path}").format(path=out))


def _add(parent: Tree, children: list[dict[str, Any]], family: str) -> None:
    for c in children:
        label = f"{c['id']}  [dim]({word(c['relation'])})[/]"
        if c["family"] != family:
            label += f"  [cyan]{escape(c['family_name'])}[/]"
        node = parent.add(label)
        _add(node, c["children"], c["family"])


def _show_artifact(spec: str, cat: Catalog, json_out: bool) -> None:
    """A file or Hub repo: its architecture, quantization, tensors by type, catalog match."""
    from llmatlas.artifacts import resolve_artifact

    art = resolve_artifact(spec, cat)
    a = art.architecture
    d = {
        "id": art.id,
        "kind": art.kind,
        "source": art.source,
        "quant": art.quant,
        "file_bytes": art.file_bytes,
        "files": [str(p) for p in art.paths],
        "catalog_model": art.entry.id if art.entry else None,
        "architecture": a.model_dump(exclude_none=True) if a else None,
        "weights_by_type": dict(art.weights.by_type) if art.weights else None,
        "params": art.weights.params if art.weights else None,
        "notes": list(art.notes),
    }
    if json_out:
        emit_json(d)
        return
    console.print(f"[bold]{art.id}[/]  ({art.kind}: {art.source})", highlight=False)
    rows = [(_("quantization"), art.quant or "-")]
    if art.file_bytes:
        rows.append(
            (
                _("size"),
                _("{size} GiB in {n} file(s)").format(
                    size=f"{art.file_bytes / 2**30:.2f}", n=len(art.paths)
                ),
            )
        )
    if art.weights:
        rows.append((_("parameters"), f"{art.weights.params / 1e9:.3f}B"))
        by = sorted(art.weights.by_type.items(), key=lambda kv: -kv[1])
        rows.append((_("tensor types"), ", ".join(f"{k} {v / 2**20:,.1f} MiB" for k, v in by)))
    if a:
        rows.append(
            (
                _("architecture"),
                _(
                    "{type}: {layers} layers, hidden {hidden}, {heads} heads / {kv_heads} KV "
                    "heads, vocab {vocab}, context {ctx}"
                ).format(
                    type=a.model_type,
                    layers=a.num_hidden_layers,
                    hidden=a.hidden_size,
                    heads=a.num_attention_heads,
                    kv_heads=a.num_key_value_heads,
                    vocab=f"{a.vocab_size:,}",
                    ctx=f"{a.max_position_embeddings:,}",
                ),
            )
        )
    rows.append((_("catalog"), art.entry.id if art.entry else _("no catalog match")))
    console.print(key_values(rows))


@catalog_app.command(
    "import",
    help=_(
        "Draft a catalog entry from a Hub repo into LLMATLAS_HOME/catalog/ (facts marked drafted)."
    ),
)
@handle_errors
def catalog_import(
    repo: str = typer.Argument(
        ..., help=_("Hub repository, owner/name (HF_ENDPOINT is honoured).")
    ),
    stdout: bool = typer.Option(False, "--stdout", help=_("Print the draft instead of saving it.")),
    model_id: str = typer.Option(
        None, "--id", help=_("Catalog id for the entry (default: repo name).")
    ),
    force: bool = typer.Option(False, "--force", help=_("Replace a draft file of the same id.")),
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
        raise BadInputError.translatable(
            "{id!r} is already a catalog id; pass --id to name the draft differently", id=new_id
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
        console.print(_("drafted {id} -> {path}").format(id=new_id, path=path), highlight=False)
        console.print(
            _("confirm against the sources, then remove from `drafted`: {fields}").format(
                fields=drafted
            )
        )
