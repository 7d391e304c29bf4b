"""Look-ups over the catalog: names (of checkpoints, series, families, developers, in any
spelling the data records), filters, and lineage.

One function answers "what does this name mean": :meth:`Catalog.resolve`. In order:
an exact checkpoint id, alias, display name or Hub repo; a family or its other names
(通義千問, FFM...); a series (``Llama 2``, ``Mistral Large``, ``phi-3-small``); a
developer's name when it has one family (聯發科 -> Breeze); a size-qualified short name
Ollama-style (``llama3:70b``, ``breeze 7b``, ``qwen2.5:7b-base``); then the same ignoring
separators and case. Anything else raises :class:`UnknownModelError` with suggestions.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from llmatlas._record import Value, value
from llmatlas.catalog._load import CatalogData, load
from llmatlas.catalog._schema import TASKS, Erratum, Family, License, ModelEntry, Name
from llmatlas.errors import BadInputError, UnknownModelError
from llmatlas.i18n import N_


def _norm(name: str) -> str:
    return name.strip().lower()


def _loose(name: str) -> str:
    """Compare names ignoring separators and an owner prefix: 'Meta-Llama-3_8B' ~ 'llama-3-8b'."""
    name = _norm(name).split("/")[-1]
    return re.sub(r"[^a-z0-9.]", "", name)


# Tokens of a checkpoint id that end its series name: a size (7b, 270m, 8x7b, a14b), a
# context (128k), a date (2407), a version (v0.1), or a variant word.
_SIZE = r"\d+(?:\.\d+)?[bm]|\d+x\d+(?:\.\d+)?b"
_STOP = re.compile(rf"^(?:{_SIZE}|a\d+(?:\.\d+)?b|\d+k|\d{{4}}|v\d[\w.]*)$")
_VARIANTS = {"instruct", "chat", "it", "base", "pt", "text", "hf"}
_INSTRUCT_WORDS = {"instruct", "chat", "it"}
_BASE_WORDS = {"base", "pt", "text"}
_SPECIALISED = {"code", "math", "medical", "safety-classifier", "embedding", "vision", "reasoning"}
_QUALIFIED = re.compile(rf"^(?P<base>.+?)[\s:_-]+(?P<size>{_SIZE})(?:[\s:_-]+(?P<rest>.+))?$", re.I)


def series_key(model_id: str) -> str:
    """'llama-2-7b-chat' -> 'llama-2'; 'phi-3-small-8k-instruct' -> 'phi-3-small';
    'mistral-large-instruct-2407' -> 'mistral-large'."""
    out: list[str] = []
    for part in model_id.split("-"):
        if _STOP.match(part) or part in _VARIANTS:
            break
        out.append(part)
    return "-".join(out) or model_id


def _sizes(m: ModelEntry) -> set[str]:
    return {p for p in m.id.split("-") if re.fullmatch(_SIZE, p)}


def _size_matches(m: ModelEntry, size: str) -> bool:
    size = size.lower()
    named = _sizes(m)
    if named:
        return any(_same_size(n, size) for n in named)
    if m.params_b is None or "x" in size:
        return False
    want = float(size[:-1]) / (1000 if size.endswith("m") else 1)
    return abs(m.params_b - want) <= 0.12 * want


def _same_size(a: str, b: str) -> bool:
    if "x" in a or "x" in b:
        return a == b
    return a[-1] == b[-1] and float(a[:-1]) == float(b[:-1])


@value
class ModelGroup(Value):
    """A family, or a series within one (all Llama 2 checkpoints), as one answer."""

    kind: Literal["family", "series"]
    id: str
    name: str
    family: str
    members: tuple[ModelEntry, ...]
    default: ModelEntry
    names: tuple[Name, ...] = ()


@value
class Resolved(Value):
    """What a name means: one checkpoint, or a family/series (with its default member)."""

    query: str
    model: ModelEntry | None = None
    group: ModelGroup | None = None
    via: Name | None = None  # the recorded name that matched, with its source

    @property
    def entry(self) -> ModelEntry:
        """The checkpoint to act on: the model itself, or the group's default member."""
        if self.model is not None:
            return self.model
        assert self.group is not None
        return self.group.default


def _preference(m: ModelEntry) -> tuple[object, ...]:
    """Sort key for 'which member does a bare name mean': downloadable, instruct, general
    (first strength not code/math/vision...), newest, nearest 8B parameters, plainest id."""
    return (
        m.availability != "open-weights",
        not m.instruct,
        m.tasks[0] in _SPECIALISED,
        -m.released.toordinal(),
        abs((m.params_b or 8.0) - 8.0),
        len(m.id),
        m.id,
    )


class Catalog:
    """Query facade over :class:`CatalogData`."""

    def __init__(self, data: CatalogData | None = None) -> None:
        self.data = data or load()
        self._by_name, self._wrong = self.data.derived("names", self._name_index)

    def _name_index(self) -> tuple[dict[str, str], dict[str, Erratum]]:
        """Checkpoint names (ids, display names, aliases, Hub repos), and names errata
        call wrong."""
        by_name: dict[str, str] = {}
        for m in self.data.models.values():
            for n in self._names(m):
                by_name.setdefault(_norm(n), m.id)
        wrong: dict[str, Erratum] = {}
        for e in self.data.errata:
            for n in e.wrong_names:
                wrong[_norm(n)] = e
        return by_name, wrong

    @staticmethod
    def _names(m: ModelEntry) -> list[str]:
        return [m.id, m.name, *m.aliases, *m.hf_repos, *(r.split("/")[-1] for r in m.hf_repos)]

    @property
    def _by_loose(self) -> dict[str, str]:
        """Checkpoint names ignoring separators and case (built when an exact name misses)."""
        return self.data.derived("loose names", self._loose_index)

    def _loose_index(self) -> dict[str, str]:
        by_loose: dict[str, str] = {}
        for m in self.data.models.values():
            for n in self._names(m):
                by_loose.setdefault(_loose(n), m.id)
        return by_loose

    # -- single model -------------------------------------------------------------
    @property
    def models(self) -> list[ModelEntry]:
        return list(self.data.models.values())

    def get(self, name: str) -> ModelEntry:
        """A checkpoint by any name :meth:`resolve` knows; a family or series name means
        its default member (as ``ollama run llama3`` does)."""
        return self.resolve(name).entry

    def resolve(self, name: str) -> Resolved:
        """What ``name`` means (see the module docstring for the order).

        Raises :class:`UnknownModelError` with did-you-mean suggestions, and with the
        correction when the name is a known mistake in circulation.
        """
        key = _norm(name)
        if not key:
            raise UnknownModelError(name, [])
        mid = self._by_name.get(key)
        if mid:
            return Resolved(name, model=self.data.models[mid])
        hit = self._group_names.get(key)
        if hit is None:
            member = self._qualified(name)
            if member is not None:
                return member
            mid = self._by_loose.get(_loose(name))
            if mid:
                return Resolved(name, model=self.data.models[mid])
            hit = self._group_loose.get(_loose(name))
        if hit is not None:
            gid, via = hit
            return Resolved(name, group=self.groups[gid], via=via)
        if key in self._wrong:
            e = self._wrong[key]
            raise UnknownModelError(name, e.models[:3], hint=e.correction)
        dev = self._developer_families.get(key) or self._developer_families.get(_loose(name))
        if dev:
            raise UnknownModelError(
                name,
                dev,
                hint=N_("{developer} is a developer with {n} families"),
                developer=name,
                n=len(dev),
            )
        raise UnknownModelError(name, self.suggest(name))

    def _qualified(self, name: str) -> Resolved | None:
        """'llama3:70b', 'breeze 7b', 'qwen2.5:7b-base' -> the member of that size."""
        m = _QUALIFIED.match(name.strip())
        if not m:
            return None
        base = m.group("base")
        hit = self._group_names.get(_norm(base)) or self._group_loose.get(_loose(base))
        if hit is None:
            return None
        group = self.groups[hit[0]]
        words = [w for w in re.split(r"[\s:_-]+", (m.group("rest") or "").lower()) if w]
        members = [x for x in group.members if _size_matches(x, m.group("size"))]
        for w in words:
            if w in _INSTRUCT_WORDS:
                members = [x for x in members if x.instruct]
            elif w in _BASE_WORDS:
                members = [x for x in members if not x.instruct]
            else:
                members = [x for x in members if w in x.id.split("-") or w in x.id]
        if not members:
            sizes = sorted({s for x in group.members for s in _sizes(x)}, key=_size_value)
            raise UnknownModelError(
                name,
                [f"{group.id}:{s}" for s in sizes][:6],
                hint=N_("{family} has no {size} checkpoint"),
                family=group.name,
                size=" ".join([m.group("size"), *words]),
            )
        return Resolved(name, model=min(members, key=_preference), group=group)

    @property
    def groups(self) -> dict[str, ModelGroup]:
        """Every family, and every series of two or more checkpoints inside one."""
        return self.data.derived("groups", self._groups)

    def _groups(self) -> dict[str, ModelGroup]:
        out: dict[str, ModelGroup] = {}
        by_family: dict[str, list[ModelEntry]] = {}
        for m in self.data.models.values():
            by_family.setdefault(m.family, []).append(m)
        for fam in self.data.families.values():
            members = sorted(by_family.get(fam.family, []), key=_member_order)
            if not members:
                continue
            default = (
                self.data.models[fam.default] if fam.default else min(members, key=_preference)
            )
            out[fam.family] = ModelGroup(
                "family",
                fam.family,
                fam.name,
                fam.family,
                tuple(members),
                default,
                tuple(fam.names),
            )
        taken = set(out) | {
            _loose(f.name) for f in self.data.families.values() if "/" not in f.name
        }
        series: dict[tuple[str, str], list[ModelEntry]] = {}
        for fam_id, members in by_family.items():
            for m in members:
                # The series itself ('phi-3-small'), each shorter generation that ends in a
                # version ('phi-3') or comes before one ('mistral-small' of
                # 'mistral-small-3.1'), never a bare first word ('gpt', 'open').
                parts = series_key(m.id).split("-")
                for i in range(1, len(parts) + 1):
                    last, after = parts[i - 1], parts[i] if i < len(parts) else ""
                    if i == len(parts) or any(c.isdigit() for c in last) or after[:1].isdigit():
                        series.setdefault(("-".join(parts[:i]), fam_id), []).append(m)
        for (key, fam_id), members in sorted(series.items()):
            if len(members) < 2 or key in out or key in taken or _loose(key) in taken:
                continue
            members.sort(key=_member_order)
            out[key] = ModelGroup(
                "series",
                key,
                _series_name(members, key),
                fam_id,
                tuple(members),
                min(members, key=_preference),
            )
        return out

    @property
    def _group_index(self) -> tuple[dict[str, _GroupHit], dict[str, _GroupHit]]:
        """Names of groups, exact and loose. First come, first kept: ids, display names and
        recorded names; then the parts of a family's display name ('Qwen (Tongyi Qianwen)',
        'Mistral / Mixtral'); then a developer's names where it has one family."""
        return self.data.derived("group names", self._group_names_index)

    def _group_names_index(self) -> tuple[dict[str, _GroupHit], dict[str, _GroupHit]]:
        tiers: list[list[tuple[str, _GroupHit]]] = [[], [], []]
        for g in self.groups.values():
            tiers[0] += [(g.id, (g.id, None)), (g.name, (g.id, None))]
            tiers[0] += [(n.name, (g.id, n)) for n in g.names]
            if g.kind != "family":
                continue
            fam = self.data.families[g.id]
            tiers[1] += [(part, (g.id, None)) for part in _name_parts(fam.name)]
            if len(self._families_of_developer(fam)) == 1:
                tiers[2] += [(n.name, (g.id, n)) for n in fam.developer_names]
                tiers[2] += [
                    (part, (g.id, None)) for part in [fam.developer, *_name_parts(fam.developer)]
                ]
        exact: dict[str, _GroupHit] = {}
        loose: dict[str, _GroupHit] = {}
        for text, hit in (e for tier in tiers for e in tier):
            if _norm(text) in self._by_name:
                continue  # a checkpoint's own name wins
            exact.setdefault(_norm(text), hit)
            if _loose(text):
                loose.setdefault(_loose(text), hit)
        return exact, loose

    @property
    def _group_names(self) -> dict[str, _GroupHit]:
        return self._group_index[0]

    @property
    def _group_loose(self) -> dict[str, _GroupHit]:
        return self._group_index[1]

    def _families_of_developer(self, fam: Family) -> list[str]:
        return [f.family for f in self.data.families.values() if f.developer == fam.developer]

    def sibling_families(self, family: str) -> list[Family]:
        """The developer's other families (Llama 3 and Llama 4 beside Llama 1-2)."""
        fam = self.data.families[family]
        return [self.data.families[f] for f in self._families_of_developer(fam) if f != family]

    @property
    def _developer_families(self) -> dict[str, list[str]]:
        """Developer names (and their recorded other names) -> their families."""
        return self.data.derived("developers", self._developer_index)

    def _developer_index(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for fam in self.data.families.values():
            names = [fam.developer, *_name_parts(fam.developer)]
            names += [n.name for n in fam.developer_names]
            for n in names:
                for k in (_norm(n), _loose(n)):
                    if k and fam.family not in out.setdefault(k, []):
                        out[k].append(fam.family)
        return out

    def names_of(self, m: ModelEntry) -> list[str]:
        """The recorded other names of a checkpoint's family and developer (for search)."""
        fam = self.data.families[m.family]
        return [n.name for n in (*fam.names, *fam.developer_names)]

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one Catalog per process or request
    def members_of(self, name: str) -> frozenset[str]:
        """Checkpoint ids of the family or series ``name`` means (a checkpoint's name: its
        family), for ``--family`` filters: 'qwen', 'Qwen (Tongyi Qianwen)', '通義千問',
        'Llama 2'."""
        r = self.resolve(name)
        group = r.group if r.group is not None else self.groups[r.entry.family]
        return frozenset(m.id for m in group.members)

    def developer_names_of(self, m: ModelEntry) -> list[str]:
        """A checkpoint's developer and the developer's other recorded names."""
        return [m.developer, *(n.name for n in self.data.families[m.family].developer_names)]

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Close checkpoint ids, family and series names for a name that matched nothing."""
        # Group names are short (NSTC, Yi), so a near miss must be nearer to count.
        pools: list[tuple[dict[str, str], str, float]] = [
            (self._by_name, _norm(name), 0.6),
            ({k: v[0] for k, v in self._group_names.items()}, _norm(name), 0.75),
            (self._by_loose, _loose(name), 0.6),
            ({k: v[0] for k, v in self._group_loose.items()}, _loose(name), 0.75),
        ]
        scored: list[tuple[float, str]] = []
        for pool, key, cutoff in pools:
            if not key:
                continue
            for k in difflib.get_close_matches(key, list(pool), n=n * 3, cutoff=cutoff):
                scored.append((difflib.SequenceMatcher(None, key, k).ratio(), pool[k]))
        key = _norm(name)
        if len(key) >= 2 and not key.isascii():  # part of a Chinese name: 通義 -> 通義千問
            scored += [(0.7, gid) for text, (gid, _) in self._group_names.items() if key in text]
        out: list[str] = []
        for _, i in sorted(scored, key=lambda x: -x[0]):
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
        return list(self._children().get(m.id, ()))

    def _children(self) -> dict[str, list[ModelEntry]]:
        """Base id -> its direct derivatives (released, size, id order), built once: `models --json`
        asks for every entry's derivatives, which one scan each made quadratic."""
        return self.data.derived("children", self._child_index)

    def _child_index(self) -> dict[str, list[ModelEntry]]:
        index: dict[str, list[ModelEntry]] = {}
        for c in self.data.models.values():
            if c.base_model is not None:
                index.setdefault(c.base_model, []).append(c)
        for kids in index.values():
            kids.sort(key=_member_order)
        return index

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
            key=lambda m: (m.family, *_member_order(m)),
        )

    # -- filtering -----------------------------------------------------------------
    def filter(self, f: ModelFilter) -> list[ModelEntry]:
        f.validate()
        rows = [m for m in self.data.models.values() if f.matches(m, self)]
        return sort_models(rows, f.sort)


_GroupHit = tuple[str, Name | None]


def _member_order(m: ModelEntry) -> tuple[object, ...]:
    """Members by release, then size: LLaMA 7B before 13B (not "13b" < "7b" as text)."""
    return (m.released, m.params_b or 0.0, m.id)


def _name_parts(text: str) -> list[str]:
    """'Qwen (Tongyi Qianwen)' -> ['Qwen', 'Tongyi Qianwen']; 'Mistral / Mixtral' ->
    ['Mistral', 'Mixtral']; 'Taiwan Web Service (TWS, 台智雲)' -> [..., 'TWS', '台智雲']."""
    outer = re.sub(r"\s*\([^)]*\)", "", text)
    parts = [p.strip() for p in re.split(r"\s*(?:/|&)\s*", outer)]
    for inner in re.findall(r"\(([^)]*)\)", text):
        parts += [p.strip() for p in re.split(r"[,/;]", inner)]
    return [p for p in parts if p and p != text]


def _size_value(size: str) -> float:
    if "x" in size:
        a, b = size[:-1].split("x")
        return float(a) * float(b)
    return float(size[:-1]) / (1000 if size.endswith("m") else 1)


def _series_name(members: list[ModelEntry], key: str) -> str:
    """The developer's spelling: the longest common start of the members' display names
    that ends at a word boundary ('Llama-2-7b', 'Llama-2-70b-chat' -> 'Llama-2')."""
    names = [m.name for m in members]
    prefix = names[0]
    for n in names[1:]:
        while not n.startswith(prefix):
            prefix = prefix[:-1]
    while prefix and not all(len(n) == len(prefix) or n[len(prefix)] in " -_" for n in names):
        prefix = prefix[:-1]
    prefix = prefix.rstrip(" -_")
    return prefix if _loose(prefix) == _loose(key) else key


SORT_KEYS = ("params", "released", "name", "family", "context", "mmlu")


def _mmlu(m: ModelEntry) -> float:
    scores = [b.value for b in m.benchmarks if b.name.lower() == "mmlu"]
    return max(scores) if scores else -1.0


def sort_models(rows: list[ModelEntry], key: str) -> list[ModelEntry]:
    desc = key.startswith("-")
    key = key.lstrip("-")
    if key not in SORT_KEYS:
        raise BadInputError.translatable(
            "unknown sort key {key!r}; use one of {keys}", key=key, keys=", ".join(SORT_KEYS)
        )
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
    allow_conditional: bool = False
    """With ``commercial``: also licences that allow it on conditions (Llama, Gemma...);
    ``commercial`` alone means an unconditional yes, as in ``fit``."""

    def validate(self) -> None:
        if self.min_params is not None and self.min_params < 0:
            raise BadInputError.translatable("--min-params must be >= 0 (billions of parameters)")
        if self.max_params is not None and self.max_params <= 0:
            raise BadInputError.translatable("--max-params must be > 0 (billions of parameters)")
        if (
            self.min_params is not None
            and self.max_params is not None
            and self.min_params > self.max_params
        ):
            raise BadInputError.translatable(
                "--min-params {low} is above --max-params {high}: no model can match; swap them",
                low=f"{self.min_params:g}",
                high=f"{self.max_params:g}",
            )
        if self.language is not None:
            normalize_language(self.language)  # one clear line for a language we cannot read
        if self.task and self.task not in TASKS:
            raise BadInputError.translatable(
                "unknown task {task!r}; use one of {tasks}",
                task=self.task,
                tasks=", ".join(sorted(TASKS)),
            )

    def matches(self, m: ModelEntry, cat: Catalog) -> bool:
        lic = cat.license_of(m)
        checks: Iterable[bool] = (
            self.family is None or m.id in cat.members_of(self.family),
            self.developer is None
            or any(_norm(self.developer) in _norm(n) for n in cat.developer_names_of(m)),
            self.license is None or _norm(self.license) in (_norm(lic.id), _norm(lic.spdx or "")),
            not self.commercial
            or lic.commercial_use
            in (("yes", "conditional") if self.allow_conditional else ("yes",)),
            self.task is None or self.task in m.tasks,
            self.language is None or language_matches(self.language, m.languages),
            self.min_params is None or (m.params_b or 0.0) >= self.min_params,
            self.max_params is None or (m.params_b is not None and m.params_b <= self.max_params),
            not self.open_data or m.openness.training_data in ("open", "partial"),
            not self.open_weights or m.availability == "open-weights",
            self.instruct is None or m.instruct == self.instruct,
            self.search is None or _search_hit(self.search, m, cat),
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
        raise BadInputError.translatable(
            "--since takes a date like 2025-06-01, 2025-06 or 2025, not {text!r}", text=text
        ) from None


# Language words a user may type -> the catalog's codes. Chinese: "zh-Hant" (Traditional),
# "zh-Hans" (Simplified), "zh" (the card says Chinese without naming a script).
_LANGUAGE_WORDS: dict[str, tuple[str, ...]] = {
    "zh-Hant": (
        "zh-hant",
        "zh-tw",
        "zh-hk",
        "zh-mo",
        "zh_tw",
        "zh-hant-tw",
        "繁體中文",
        "繁体中文",
        "繁中",
        "正體中文",
        "正体中文",
        "繁體",
        "繁体",
        "traditional chinese",
        "traditional-chinese",
        "chinese (traditional)",
    ),
    "zh-Hans": (
        "zh-hans",
        "zh-cn",
        "zh-sg",
        "zh_cn",
        "zh-hans-cn",
        "简体中文",
        "簡體中文",
        "简中",
        "簡中",
        "简体",
        "簡體",
        "simplified chinese",
        "simplified-chinese",
        "chinese (simplified)",
    ),
    "zh": ("zh", "chinese", "中文", "漢語", "汉语", "華語", "华语", "國語", "普通话"),
    "en": ("english", "英文", "英語", "英语"),
    "ja": ("japanese", "日文", "日語", "日语", "日本語"),
    "ko": ("korean", "韓文", "韩文", "韓語", "韩语", "한국어"),
}
_LANGUAGE_INDEX = {w: code for code, words in _LANGUAGE_WORDS.items() for w in words}
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z]{4})?(-[a-z]{2})?$|^(multi|code)$")


def normalize_language(text: str) -> str:
    """'繁體中文', '繁中', 'zh-TW', 'zh_TW', 'Traditional Chinese' -> 'zh-Hant'; '中文' -> 'zh';
    other BCP 47 codes pass through in the catalog's case ('ja', 'pt-BR')."""
    key = text.strip().lower()
    if key in _LANGUAGE_INDEX:
        return _LANGUAGE_INDEX[key]
    if _LANGUAGE_CODE.match(key.replace("_", "-")):
        parts = key.replace("_", "-").split("-")
        if parts[0] == "zh":  # zh-Hant-HK, zh-MO -> zh-Hant; zh-Hans-SG, zh-MY -> zh-Hans
            rest = set(parts[1:])
            if rest & {"hant", "tw", "hk", "mo"}:
                return "zh-Hant"
            if rest & {"hans", "cn", "sg", "my"}:
                return "zh-Hans"
        return "-".join([parts[0]] + [p.title() if len(p) == 4 else p.upper() for p in parts[1:]])
    raise BadInputError.translatable(
        "unknown language {text!r}; use a code like en, ja, zh-Hant (繁體中文), zh-Hans "
        "(简体中文) or zh (中文, any script)",
        text=text,
    )


def language_matches(want: str, langs: list[str]) -> bool:
    """Whether a model whose card claims ``langs`` serves the language ``want``.

    Traditional or Simplified Chinese also match a card that says "Chinese" without a
    script ("zh"): the card claims Chinese and does not exclude either script.
    """
    code = normalize_language(want)
    if code == "zh":
        return any(lang == "zh" or lang.startswith("zh-") for lang in langs)
    if code in ("zh-Hant", "zh-Hans"):
        return code in langs or "zh" in langs
    low = code.lower()
    return any(lang.lower() == low or lang.lower().startswith(low + "-") for lang in langs)


_lang_match = language_matches  # the advisor's name for it


def _search_hit(text: str, m: ModelEntry, cat: Catalog) -> bool:
    t = _norm(text)
    fields = [m.id, m.name, m.family, m.developer, *m.aliases, *m.hf_repos, m.notes or ""]
    hay = " ".join([*fields, *cat.names_of(m)])
    return t in hay.lower()
