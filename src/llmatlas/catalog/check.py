"""Validate catalog data and compare computed vs declared parameter counts.

``python -m llmatlas.catalog.check``            whole catalog (exit 1 on any problem)
``python -m llmatlas.catalog.check FILE.yaml``  one family file on its own, with
cross-references checked against whatever other files currently parse.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from llmatlas.catalog._load import _data_dir, load_from
from llmatlas.catalog._schema import Family, License, ModelEntry
from llmatlas.errors import CatalogError
from llmatlas.sizing.params import active_param_count, param_count

TOLERANCE = 0.02


def param_rows(models: list[ModelEntry]) -> list[tuple[str, float, float, float]]:
    """(model id, declared B, computed B, relative error) for every model with architecture."""
    rows = []
    for m in models:
        if m.architecture is None or m.params_b is None or m.architecture_from:
            # inherited shapes (e.g. a vocabulary extension) are not the published count's own
            continue
        computed = param_count(m.architecture) / 1e9
        rows.append((m.id, m.params_b, computed, computed / m.params_b - 1))
        if m.active_params_b:
            act = active_param_count(m.architecture) / 1e9
            rows.append((m.id + " (active)", m.active_params_b, act, act / m.active_params_b - 1))
    return rows


def _report(models: list[ModelEntry]) -> int:
    bad = 0
    for mid, declared, computed, err in param_rows(models):
        flag = "OK " if abs(err) <= TOLERANCE else "BAD"
        bad += flag == "BAD"
        print(f"{flag} {mid:45s} declared {declared:10.3f}B computed {computed:10.3f}B {err:+.2%}")
    return bad


def check_file(path: Path) -> int:
    try:
        fam = Family.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (ValidationError, yaml.YAMLError) as exc:
        print(f"{path.name}: {exc}")
        return 1
    known_licenses = {x["id"] for x in yaml.safe_load((_data_dir() / "licenses.yaml").read_text())}
    known_models: set[str] = set()
    for other in _data_dir().glob("*.yaml"):
        if other.name in ("licenses.yaml", "errata.yaml"):
            continue
        try:
            f = Family.model_validate(yaml.safe_load(other.read_text(encoding="utf-8")))
        except Exception:
            continue
        known_licenses |= {lic.id for lic in f.licenses}
        known_models |= {m.id for m in f.models}
    known_licenses |= {lic.id for lic in fam.licenses}
    known_models |= {m.id for m in fam.models}
    problems = 0
    for m in fam.models:
        if m.license not in known_licenses:
            print(f"WARN {m.id}: license {m.license!r} not defined anywhere yet")
        if m.base_model and m.base_model not in known_models:
            print(f"WARN {m.id}: base_model {m.base_model!r} not in any file yet")
    problems += _report(fam.models)
    print(f"{path.name}: {len(fam.models)} models; {problems} bad parameter counts")
    _ = License  # schema re-exported for helpers reading this module
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    if argv:
        return max(check_file(Path(p)) for p in argv)
    try:
        data = load_from(_data_dir())
    except CatalogError as exc:
        print(f"catalog error: {exc}")
        return 1
    bad = _report(list(data.models.values()))
    print(
        f"{len(data.models)} models, {len(data.licenses)} licenses, {len(data.errata)} errata; {bad} bad"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
