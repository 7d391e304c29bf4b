"""Load and cross-check the curated catalog data shipped in ``catalog/data``."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from llmatlas.catalog._inherit import inherit_architectures
from llmatlas.catalog._schema import Erratum, Family, License, ModelEntry
from llmatlas.errors import CatalogError


def _data_dir() -> Path:
    return Path(str(resources.files("llmatlas.catalog") / "data"))


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path.name}: not valid YAML: {exc}") from exc


def _describe(exc: ValidationError, where: str) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    return f"{where}: {loc}: {first['msg']} ({exc.error_count()} error(s))"


class CatalogData:
    """Everything in ``catalog/data``, validated and cross-referenced."""

    def __init__(
        self, families: list[Family], licenses: dict[str, License], errata: list[Erratum]
    ) -> None:
        self.families = {f.family: f for f in families}
        self.licenses = dict(licenses)
        for fam in families:
            for lic in fam.licenses:
                if lic.id in self.licenses:
                    raise CatalogError(f"license {lic.id!r} defined twice ({fam.family}.yaml)")
                self.licenses[lic.id] = lic
        self.errata = errata
        models: dict[str, ModelEntry] = {}
        for fam in families:
            for m in fam.models:
                if m.id in models:
                    raise CatalogError(f"duplicate model id {m.id!r} in {fam.family}.yaml")
                models[m.id] = m.model_copy(
                    update={"family": fam.family, "developer": m.developer or fam.developer}
                )
        self.models = inherit_architectures(models)
        self._check_references()

    def _check_references(self) -> None:
        for m in self.models.values():
            if m.license not in self.licenses:
                raise CatalogError(
                    f"{m.id}: unknown license {m.license!r} (add it to licenses.yaml)"
                )
            for change in m.license_history:
                if change.license not in self.licenses:
                    raise CatalogError(f"{m.id}: unknown license {change.license!r} in history")
            if m.base_model is not None and m.base_model not in self.models:
                raise CatalogError(f"{m.id}: base_model {m.base_model!r} is not in the catalog")
        for fam in self.families.values():
            if fam.default is not None and (
                fam.default not in self.models or self.models[fam.default].family != fam.family
            ):
                raise CatalogError(
                    f"{fam.family}: default {fam.default!r} is not one of its models"
                )
        for e in self.errata:
            for mid in e.models:
                if mid not in self.models:
                    raise CatalogError(f"erratum {e.id}: unknown model {mid!r}")
        seen: dict[str, str] = {}
        for m in self.models.values():
            for name in [m.id, *m.aliases]:
                key = name.lower()
                if key in seen and seen[key] != m.id:
                    raise CatalogError(f"alias {name!r} names both {seen[key]} and {m.id}")
                seen[key] = m.id


def load_from(directory: Path) -> CatalogData:
    """Load a catalog from a directory (tests point this at temporary copies)."""
    licenses_raw = _read_yaml(directory / "licenses.yaml") or []
    try:
        licenses = {lic.id: lic for lic in (License.model_validate(x) for x in licenses_raw)}
    except ValidationError as exc:
        raise CatalogError(_describe(exc, "licenses.yaml")) from exc
    errata_path = directory / "errata.yaml"
    errata_raw = _read_yaml(errata_path) if errata_path.exists() else []
    try:
        errata = [Erratum.model_validate(x) for x in errata_raw or []]
    except ValidationError as exc:
        raise CatalogError(_describe(exc, "errata.yaml")) from exc
    families = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name in ("licenses.yaml", "errata.yaml"):
            continue
        try:
            families.append(Family.model_validate(_read_yaml(path)))
        except ValidationError as exc:
            raise CatalogError(_describe(exc, path.name)) from exc
    return CatalogData(families, licenses, errata)


@functools.cache
def load() -> CatalogData:
    """The shipped catalog, loaded once per process."""
    return load_from(_data_dir())
