"""Look-ups over the catalog: by name or alias, by filters, and along lineage."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from llmatlas.catalog._load import CatalogData, load
from llmatlas.catalog._schema import TASKS, Erratum, License, ModelEntry
from llmatlas.errors import BadInputError, UnknownModelError


def _norm(name: str) -> str:
    return name.strip().lower()


def _loose(name: str) -> str:
    """Compare names ignoring separators and an owner prefix: 'Meta-Llama-3_8B' ~ 'llama-3-8b'."""
    name = _norm(name).split("/")[-1]
    return re.sub(r"[^a-z0-9.]", "", name)


class Catalog:
    """Query facade over :class:`CatalogData`."""

    def __init__(self, data: CatalogData | None = None) -> None:
        self.data = data or load()
        self._by_name: dict[str, str] = {}
        self._by_loose: dict[str, str] = {}
        for m in self.data.models.values():
            names = [m.id, m.name, *m.aliases, *m.hf_repos]
            names += [r.split("/")[-1] for r in m.hf_repos]
            for n in names:
                self._by_name.setdefault(_norm(n), m.id)
                self._by_loose.setdefault(_loose(n), m.id)
        self._wrong: dict[str, Erratum] = {}
        for e in self.data.errata:
            for n in e.wrong_names:
                self._wrong[_norm(n)] = e

    # -- single model -------------------------------------------------------------
    @property
    def models(self) -> list[ModelEntry]:
        return list(self.data.models.values())

    def get(self, name: str) -> ModelEntry:
        """A model by id, alias, display name or HF repo (case-insensitive).

        Raises :class:`UnknownModelError` with did-you-mean suggestions, and with the
        correction when the name is a known mistake from the seed documents.
        """
        key = _norm(name)
        mid = self._by_name.get(key) or self._by_loose.get(_loose(name))
        if mid:
            return self.data.models[mid]
        if key in self._wrong:
            e = self._wrong[key]
            raise UnknownModelError(name, e.models[:3], hint=e.correction)
        raise UnknownModelError(name, self.suggest(name))

    def suggest(self, name: str, n: int = 3) -> list[str]:
        keys = list(self._by_name)
        close = difflib.get_close_matches(_norm(name), keys, n=n * 3, cutoff=0.6)
        if not close:
            loose = difflib.get_close_matches(
                _loose(name), list(self._by_loose), n=n * 3, cutoff=0.6
            )
            ids = [self._by_loose[k] for k in loose]
        else:
            ids = [self._by_name[k] for k in close]
        out: list[str] = []
        for i in ids:
            if i not in out:
                out.append(i)
        return out[:n]

    def license_of(self, m: ModelEntry) -> License:
        return self.data.licenses[m.license]

    def errata_for(self, m: ModelEntry) -> list[Erratum]:
        return [e for e in self.data.errata if m.id in e.models]

    # -- lineage -------------------------------------------------------------------
    def ancestors(self, m: ModelEntry) -> list[ModelEntry]:
        """Base model chain, nearest first."""
        out: list[ModelEntry] = []
        cur = m
        while cur.base_model:
            cur = self.data.models[cur.base_model]
            if cur in out:  # defensive: the data tests forbid cycles
                break
            out.append(cur)
        return out

    def children(self, m: ModelEntry) -> list[ModelEntry]:
        return sorted(
            (c for c in self.data.models.values() if c.base_model == m.id),
            key=lambda c: (c.released, c.id),
        )

    def descendants(self, m: ModelEntry) -> list[ModelEntry]:
        out: list[ModelEntry] = []
        stack = [m]
        while stack:
            for c in self.children(stack.pop()):
                out.append(c)
                stack.append(c)
        return out

    def roots(self) -> list[ModelEntry]:
        return sorted(
            (m for m in self.data.models.values() if m.base_model is None),
            key=lambda m: (m.family, m.released, m.id),
        )

    # -- filtering -----------------------------------------------------------------
    def filter(self, f: ModelFilter) -> list[ModelEntry]:
        f.validate()
        rows = [m for m in self.data.models.values() if f.matches(m, self)]
        return sort_models(rows, f.sort)


SORT_KEYS = ("params", "released", "name", "family", "context", "mmlu")


def _mmlu(m: ModelEntry) -> float:
    scores = [b.value for b in m.benchmarks if b.name.lower() == "mmlu"]
    return max(scores) if scores else -1.0


def sort_models(rows: list[ModelEntry], key: str) -> list[ModelEntry]:
    desc = key.startswith("-")
    key = key.lstrip("-")
    if key not in SORT_KEYS:
        raise BadInputError(f"unknown sort key {key!r}; use one of {', '.join(SORT_KEYS)}")
    funcs = {
        "params": lambda m: (m.params_b or 0.0, m.id),
        "released": lambda m: (m.released, m.id),
        "name": lambda m: (m.name.lower(), m.id),
        "family": lambda m: (m.family, m.released, m.params_b or 0.0, m.id),
        "context": lambda m: (
            m.architecture.max_position_embeddings if m.architecture else 0,
            m.id,
        ),
        "mmlu": lambda m: (_mmlu(m), m.id),
    }
    return sorted(rows, key=funcs[key], reverse=desc)


@dataclass
class ModelFilter:
    """Filters of ``llmatlas models`` (and the web UI's catalog page)."""

    family: str | None = None
    developer: str | None = None
    license: str | None = None
    commercial: bool = False
    task: str | None = None
    language: str | None = None
    min_params: float | None = None
    max_params: float | None = None
    open_data: bool = False
    open_weights: bool = False
    instruct: bool | None = None
    search: str | None = None
    sort: str = "family"
    extra: dict[str, str] = field(default_factory=dict)
    since: dt.date | None = None
    """Only models released on or after this date."""

    def validate(self) -> None:
        if self.min_params is not None and self.min_params < 0:
            raise BadInputError("--min-params must be >= 0 (billions of parameters)")
        if self.max_params is not None and self.max_params <= 0:
            raise BadInputError("--max-params must be > 0 (billions of parameters)")
        if (
            self.min_params is not None
            and self.max_params is not None
            and self.min_params > self.max_params
        ):
            raise BadInputError(
                f"--min-params {self.min_params:g} is above --max-params {self.max_params:g}: "
                "no model can match; swap them"
            )
        if self.task and self.task not in TASKS:
            raise BadInputError(
                f"unknown task {self.task!r}; use one of {', '.join(sorted(TASKS))}"
            )

    def matches(self, m: ModelEntry, cat: Catalog) -> bool:
        lic = cat.license_of(m)
        checks: Iterable[bool] = (
            self.family is None
            or _norm(self.family) in (m.family, _norm(cat.data.families[m.family].name)),
            self.developer is None or _norm(self.developer) in _norm(m.developer),
            self.license is None or _norm(self.license) in (_norm(lic.id), _norm(lic.spdx or "")),
            not self.commercial or lic.commercial_use in ("yes", "conditional"),
            self.task is None or self.task in m.tasks,
            self.language is None or _lang_match(self.language, m.languages),
            self.min_params is None or (m.params_b or 0.0) >= self.min_params,
            self.max_params is None or (m.params_b is not None and m.params_b <= self.max_params),
            not self.open_data or m.openness.training_data in ("open", "partial"),
            not self.open_weights or m.availability == "open-weights",
            self.instruct is None or m.instruct == self.instruct,
            self.search is None or _search_hit(self.search, m),
            self.since is None or m.released >= self.since,
        )
        return all(checks)


_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")


def parse_since(text: str) -> dt.date:
    """``--since``: 2025-06-01, 2025-06 (the 1st) or 2025 (1 January)."""
    m = _DATE.match(text.strip())
    try:
        if m is None:
            raise ValueError
        return dt.date(int(m[1]), int(m[2] or 1), int(m[3] or 1))
    except ValueError:
        raise BadInputError(
            f"--since takes a date like 2025-06-01, 2025-06 or 2025, not {text!r}"
        ) from None


def _lang_match(want: str, langs: list[str]) -> bool:
    w = want.strip()
    wl = w.lower()
    if wl in ("zh", "chinese"):
        return any(lang.startswith("zh") for lang in langs)
    if wl in ("zh-tw", "traditional-chinese", "zh-hant"):
        return "zh-Hant" in langs
    if wl in ("zh-cn", "simplified-chinese", "zh-hans"):
        return "zh-Hans" in langs
    return any(lang.lower() == wl or lang.lower().startswith(wl + "-") for lang in langs)


def _search_hit(text: str, m: ModelEntry) -> bool:
    t = _norm(text)
    hay = " ".join([m.id, m.name, m.family, m.developer, *m.aliases, *m.hf_repos, m.notes or ""])
    return t in hay.lower()
