"""Load and cross-check the catalog: the shipped data plus the user's own entries.

The YAML under ``catalog/data`` is the source of truth.  Parsing and validating it
takes most of a second, so :func:`load` keeps a compiled snapshot (the validated
objects, pickled) under ``LLMATLAS_HOME/cache`` and reads that instead.  The
snapshot's name is a hash of everything it was built from: the package version,
the snapshot format, and the bytes of every shipped and user YAML file.  Editing
any of them, or upgrading llmatlas, gives a new key and so a rebuild; a snapshot
that cannot be read (truncated, corrupt, from another Python) is ignored and
rebuilt.  The cache holds only what this process would have computed from the
user's own files; it lives in the user's own home directory.

A user's own entries live in ``LLMATLAS_HOME/catalog/*.yaml`` (``llmatlas catalog
import`` writes there too).  Each file is a family file, validated by the same
schema as the shipped ones; ``licenses.yaml`` there may add licenses.  A user
entry whose id is already shipped replaces the shipped one: that is the point of
an overlay (correcting or extending a fact before the next release).  Every user
entry is marked with the file it came from (:attr:`CatalogData.user_models`).
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from llmatlas import _snapshot
from llmatlas.catalog._inherit import inherit_architectures
from llmatlas.catalog._schema import Erratum, Family, License, ModelEntry
from llmatlas.errors import CatalogError

if TYPE_CHECKING:
    from pydantic import ValidationError

T = TypeVar("T")
SPECIAL_FILES = ("licenses.yaml", "errata.yaml")


def _data_dir() -> Path:
    return Path(__file__).with_name("data")


def user_catalog_dir() -> Path:
    """Where a user's own entries live: ``LLMATLAS_HOME/catalog``."""
    from llmatlas.settings import get_settings

    return get_settings().catalog_dir


@dataclass(frozen=True)
class SourceFile:
    """One YAML file the catalog is built from, with its bytes (read once: hashed and parsed)."""

    path: Path
    text: bytes
    user: bool

    @property
    def label(self) -> str:
        """How problems name this file: shipped files by name, the user's by full path."""
        return str(self.path) if self.user else self.path.name


def _yaml_loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it


def parse_yaml(src: SourceFile) -> Any:
    """The file's YAML document (libyaml's loader when available), or one clear error."""
    import yaml

    try:
        return yaml.load(src.text, Loader=_yaml_loader())
    except yaml.YAMLError as exc:
        raise CatalogError(f"{src.label}: not valid YAML: {exc}") from exc


def _describe(exc: ValidationError, where: str) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    return f"{where}: {loc}: {first['msg']} ({exc.error_count()} error(s))"


def read_sources(directory: Path, user: bool = False) -> list[SourceFile]:
    """Every ``*.yaml`` in ``directory`` (sorted; none when it does not exist)."""
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            out.append(SourceFile(path, path.read_bytes(), user))
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return out


class CatalogData:
    """The shipped catalog and the user's entries, validated and cross-referenced.

    Problems across files (a duplicate id, an unknown licence or base model) are
    collected in :attr:`problems`, one line each; ``strict`` raises on the first.
    """

    def __init__(
        self,
        families: list[Family],
        licenses: dict[str, License],
        errata: list[Erratum],
        user_families: list[tuple[str, Family]] | None = None,
        user_licenses: dict[str, License] | None = None,
        strict: bool = True,
    ) -> None:
        """``user_families`` pairs each user family with the file it came from."""
        self.problems: list[str] = []
        self._derived: dict[str, Any] = {}
        self.families = {f.family: f for f in families}
        self.licenses = dict(licenses)
        for fam in families:
            for lic in fam.licenses:
                if lic.id in self.licenses:
                    self.problems.append(f"license {lic.id!r} defined twice ({fam.family}.yaml)")
                self.licenses[lic.id] = lic
        self.errata = errata
        models: dict[str, ModelEntry] = {}
        for fam in families:
            for m in fam.models:
                if m.id in models:
                    self.problems.append(f"duplicate model id {m.id!r} in {fam.family}.yaml")
                models[m.id] = _placed(m, fam)
        self.shipped_ids = frozenset(models)
        self.user_models: dict[str, str] = {}
        """User entry id -> the file that defines it."""
        for lic in (user_licenses or {}).values():
            self._add_user_license(lic, "licenses.yaml")
        for where, fam in user_families or []:
            for lic in fam.licenses:
                self._add_user_license(lic, where)
            self.families.setdefault(fam.family, fam)
            for m in fam.models:
                if m.id in self.user_models:
                    self.problems.append(
                        f"{where}: model id {m.id!r} already defined in {self.user_models[m.id]}"
                    )
                models[m.id] = _placed(m, fam)
                self.user_models[m.id] = where
        self.models = inherit_architectures(models)
        self._check_references()
        if strict and self.problems:
            more = len(self.problems) - 1
            raise CatalogError(
                self.problems[0]
                + (f" (and {more} more: see `llmatlas catalog check`)" if more else "")
            )

    def _add_user_license(self, lic: License, where: str) -> None:
        if lic.id in self.licenses and self.licenses[lic.id] != lic:
            self.problems.append(
                f"{where}: license {lic.id!r} is already defined differently; use another id"
            )
            return
        self.licenses[lic.id] = lic

    def _where(self, mid: str) -> str:
        return f"{self.user_models[mid]}: " if mid in self.user_models else ""

    def _check_references(self) -> None:
        bad = self.problems.append
        for m in self.models.values():
            at = self._where(m.id)
            if m.license not in self.licenses:
                bad(f"{at}{m.id}: unknown license {m.license!r} (add it to licenses.yaml)")
            for change in m.license_history:
                if change.license not in self.licenses:
                    bad(f"{at}{m.id}: unknown license {change.license!r} in history")
            if m.base_model is not None and m.base_model not in self.models:
                bad(f"{at}{m.id}: base_model {m.base_model!r} is not in the catalog")
        for fam in self.families.values():
            if fam.default is not None and (
                fam.default not in self.models or self.models[fam.default].family != fam.family
            ):
                bad(f"{fam.family}: default {fam.default!r} is not one of its models")
        for e in self.errata:
            for mid in e.models:
                if mid not in self.models:
                    bad(f"erratum {e.id}: unknown model {mid!r}")
        seen: dict[str, str] = {}
        for m in self.models.values():
            for name in [m.id, *m.aliases]:
                key = name.lower()
                if key in seen and seen[key] != m.id:
                    bad(f"{self._where(m.id)}alias {name!r} names both {seen[key]} and {m.id}")
                seen[key] = m.id

    def derived(self, name: str, compute: Callable[[], T]) -> T:
        """An index the query layer computes from this data (names, groups, lineage), built
        once per process: every ``Catalog`` over this data shares it.  Not in the snapshot:
        computing one costs less than unpickling it."""
        if name not in self._derived:
            self._derived[name] = compute()
        return typing.cast(T, self._derived[name])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_derived": {}}

    def origin(self, model_id: str) -> str:
        """``user`` for the user's own entries (also when they replace a shipped one), else ``shipped``."""
        return "user" if model_id in self.user_models else "shipped"

    @property
    def data_date(self) -> dt.date | None:
        """How current the shipped data is: its newest release or licence-change date.

        The user's own entries do not count: they say nothing about the curated catalog.
        """
        dates = [
            d
            for m in self.models.values()
            if m.id in self.shipped_ids and m.id not in self.user_models
            for d in (m.released, *(c.since for c in m.license_history))
        ]
        return max(dates, default=None)


def _placed(m: ModelEntry, fam: Family) -> ModelEntry:
    return m.model_copy(update={"family": fam.family, "developer": m.developer or fam.developer})


def _licenses(src: SourceFile | None) -> dict[str, License]:
    from pydantic import ValidationError

    if src is None:
        return {}
    try:
        return {lic.id: lic for lic in (License.model_validate(x) for x in parse_yaml(src) or [])}
    except ValidationError as exc:
        raise CatalogError(_describe(exc, src.label)) from exc


def validate_family(src: SourceFile) -> Family:
    """One family file through the schema (one-line error naming the file)."""
    from pydantic import ValidationError

    raw = parse_yaml(src)
    try:
        return Family.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(_describe(exc, src.label)) from exc


def build(shipped: list[SourceFile], user: list[SourceFile] | None = None) -> CatalogData:
    """Parse and validate the YAML (the slow path the snapshot avoids)."""
    from pydantic import ValidationError

    by_name = {s.path.name: s for s in shipped}
    licenses = _licenses(by_name.get("licenses.yaml"))
    errata_src = by_name.get("errata.yaml")
    try:
        errata = [Erratum.model_validate(x) for x in (parse_yaml(errata_src) if errata_src else [])]
    except ValidationError as exc:
        raise CatalogError(_describe(exc, "errata.yaml")) from exc
    families = [validate_family(s) for s in shipped if s.path.name not in SPECIAL_FILES]
    user = user or []
    user_lic = _licenses(next((s for s in user if s.path.name == "licenses.yaml"), None))
    user_families = [
        (s.label, validate_family(s)) for s in user if s.path.name not in SPECIAL_FILES
    ]
    return CatalogData(families, licenses, errata, user_families, user_lic)


def load_from(directory: Path, user_dir: Path | None = None) -> CatalogData:
    """Validate a catalog straight from YAML, no snapshot (tests, ``catalog check``)."""
    return build(read_sources(directory), read_sources(user_dir, True) if user_dir else [])


def snapshot_key(shipped: list[SourceFile], user: list[SourceFile]) -> str:
    """Hash of what a snapshot was built from: version, format, every file's name and bytes."""
    return _snapshot.snapshot_key((s.path.name, s.text, s.user) for s in [*shipped, *user])


_loaded: dict[str, CatalogData] = {}


def load(
    data_dir: Path | None = None, user_dir: Path | None = None, cache_dir: Path | None = None
) -> CatalogData:
    """The catalog (shipped + the user's), from the snapshot when its key still matches.

    Once per process per key: a second call costs reading and hashing the YAML bytes (a
    few milliseconds), which is what notices an edit or a user file added meanwhile.
    """
    shipped = read_sources(data_dir or _data_dir())
    user = read_sources(user_dir if user_dir is not None else user_catalog_dir(), True)
    key = snapshot_key(shipped, user)
    if key in _loaded:
        return _loaded[key]
    if cache_dir is None:
        from llmatlas.settings import get_settings

        cache_dir = get_settings().cache_dir
    path = cache_dir / f"catalog-{key}.pickle"
    data = _snapshot.read_snapshot(path, key)
    if not isinstance(data, CatalogData):
        data = build(shipped, user)
        _snapshot.write_snapshot(path, key, data)
    _loaded[key] = data
    return data
