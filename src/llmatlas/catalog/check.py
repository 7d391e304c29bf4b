"""Validate catalog data and compare computed vs declared parameter counts.

``llmatlas catalog check``                      the shipped catalog and the user's own
                                                (``LLMATLAS_HOME/catalog``), one line per problem
``python -m llmatlas.catalog.check``            the same
``python -m llmatlas.catalog.check FILE.yaml``  one family file on its own, with
cross-references checked against whatever other files currently parse.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from llmatlas.catalog._load import (
    SPECIAL_FILES,
    CatalogData,
    SourceFile,
    _data_dir,
    parse_yaml,
    read_sources,
    user_catalog_dir,
)
from llmatlas.catalog._schema import Erratum, Family, License, ModelEntry
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


@dataclass
class CheckReport:
    """What ``catalog check`` found: one line per problem, and what it counted."""

    problems: list[str] = field(default_factory=list)
    models: int = 0
    user_models: int = 0
    files: int = 0
    user_files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _schema_lines(exc: ValidationError, where: str) -> list[str]:
    return [
        f"{where}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    ]


def _validate_list(
    src: SourceFile | None, model: type[License] | type[Erratum], report: CheckReport
) -> list[License | Erratum]:
    if src is None:
        return []
    try:
        raw = parse_yaml(src) or []
    except CatalogError as exc:
        report.problems.append(str(exc))
        return []
    if not isinstance(raw, list):
        report.problems.append(f"{src.label}: expected a list of entries")
        return []
    out: list[License | Erratum] = []
    for i, item in enumerate(raw):
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            report.problems += _schema_lines(exc, f"{src.label}: [{i}]")
    return out


def _families(sources: list[SourceFile], report: CheckReport) -> list[tuple[str, Family]]:
    out = []
    for src in sources:
        if src.path.name in SPECIAL_FILES:
            continue
        try:
            raw = parse_yaml(src)
        except CatalogError as exc:
            report.problems.append(str(exc))
            continue
        try:
            out.append((src.label, Family.model_validate(raw)))
        except ValidationError as exc:
            report.problems += _schema_lines(exc, src.label)
    return out


def _named(sources: list[SourceFile], name: str) -> SourceFile | None:
    return next((s for s in sources if s.path.name == name), None)


def check_catalog(data_dir: Path | None = None, user_dir: Path | None = None) -> CheckReport:
    """Every problem in the shipped and the user's catalog: schema, references, parameter counts.

    Unlike loading, which stops at the first problem, this reads every file and
    reports each problem on its own line, naming the file (a user file by its path).
    """
    shipped = read_sources(data_dir or _data_dir())
    user = read_sources(user_dir if user_dir is not None else user_catalog_dir(), True)
    report = CheckReport(files=len(shipped), user_files=len(user))
    licenses = [
        x
        for x in _validate_list(_named(shipped, "licenses.yaml"), License, report)
        if isinstance(x, License)
    ]
    errata = [
        x
        for x in _validate_list(_named(shipped, "errata.yaml"), Erratum, report)
        if isinstance(x, Erratum)
    ]
    user_licenses = [
        x
        for x in _validate_list(_named(user, "licenses.yaml"), License, report)
        if isinstance(x, License)
    ]
    families = [f for _, f in _families(shipped, report)]
    user_families = _families(user, report)
    data = CatalogData(
        families,
        {lic.id: lic for lic in licenses},
        errata,
        user_families,
        {lic.id: lic for lic in user_licenses},
        strict=False,
    )
    report.problems += data.problems
    report.models = len(data.models)
    report.user_models = len(data.user_models)
    for mid, declared, computed, err in param_rows(list(data.models.values())):
        if abs(err) > TOLERANCE:
            base = mid.removesuffix(" (active)")
            at = f"{data.user_models[base]}: " if base in data.user_models else ""
            report.problems.append(
                f"{at}{mid}: declares {declared:g}B parameters but its architecture gives "
                f"{computed:.3f}B ({err:+.1%}, more than {TOLERANCE:.0%})"
            )
    return report


def check_file(path: Path) -> int:
    """One family file on its own (while writing it): schema, then references and counts."""
    src = SourceFile(path, path.read_bytes(), user=True)
    report = CheckReport()
    fams = _families([src], report)
    for line in report.problems:
        print(line)
    if not fams:
        return 1
    fam = fams[0][1]
    known_licenses: set[str] = set()
    known_models: set[str] = set()
    shipped = read_sources(_data_dir())
    lic_src = _named(shipped, "licenses.yaml")
    known_licenses |= {
        x.id for x in _validate_list(lic_src, License, CheckReport()) if isinstance(x, License)
    }
    for _, f in _families(shipped, CheckReport()):
        known_licenses |= {lic.id for lic in f.licenses}
        known_models |= {m.id for m in f.models}
    known_licenses |= {lic.id for lic in fam.licenses}
    known_models |= {m.id for m in fam.models}
    for m in fam.models:
        if m.license not in known_licenses:
            print(f"WARN {m.id}: license {m.license!r} not defined anywhere yet")
        if m.base_model and m.base_model not in known_models:
            print(f"WARN {m.id}: base_model {m.base_model!r} not in any file yet")
    bad = 0
    for mid, declared, computed, err in param_rows(fam.models):
        flag = "OK " if abs(err) <= TOLERANCE else "BAD"
        bad += flag == "BAD"
        print(f"{flag} {mid:45s} declared {declared:10.3f}B computed {computed:10.3f}B {err:+.2%}")
    print(f"{path.name}: {len(fam.models)} models; {bad} bad parameter counts")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    if argv:
        return max(check_file(Path(p)) for p in argv)
    report = check_catalog()
    for line in report.problems:
        print(line)
    print(summary(report))
    return 0 if report.ok else 1


def summary(report: CheckReport) -> str:
    yours = f" ({report.user_models} yours, {report.user_files} files)" if report.user_files else ""
    return f"{report.models} models{yours}; {len(report.problems)} problem(s)"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
