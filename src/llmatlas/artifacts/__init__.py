"""Any artifact in: a catalog name, a local GGUF (split too) or a Hugging Face Hub repo.

:func:`resolve_artifact` turns what a user typed into an :class:`Artifact`: an
architecture to size, and, where a file is known, the exact bytes of its weights.

* ``./model.gguf``, ``/abs/x-00001-of-00003.gguf``: the file's header (``gguf``).
* ``hf:org/repo``, ``org/repo:Q4_K_M``, ``org/repo/file.gguf``: the Hub repo's config.json
  and file list (``huggingface_hub``, cached under ``LLMATLAS_HOME``).
* anything else: the catalog's own name resolution (ids, aliases, Ollama-style tags).
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from llmatlas._record import Value, value
from llmatlas.catalog._schema import Architecture, ModelEntry
from llmatlas.errors import BadInputError, UnknownModelError

if TYPE_CHECKING:  # sizing is imported where an artifact is sized, not by `show`
    from llmatlas.artifacts._gguf import GGUFHeader
    from llmatlas.catalog import Catalog
    from llmatlas.sizing.quant import WeightBytes

Kind = Literal["catalog", "gguf", "hub"]


@value
class Artifact(Value):
    """Something to size.  ``weights`` are exact when a file was read, else ``None``."""

    id: str
    kind: Kind
    architecture: Architecture | None
    entry: ModelEntry | None = None
    quant: str | None = None  # the artifact's own quantization (a file's type), if fixed
    weights: WeightBytes | None = None
    file_bytes: int | None = None
    paths: tuple[Path, ...] = ()
    source: str = ""
    architecture_from: str | None = None  # base model id when the architecture is inherited
    notes: tuple[str, ...] = field(default_factory=tuple)
    header: GGUFHeader | None = None

    @property
    def availability(self) -> str:
        return self.entry.availability if self.entry else "open-weights"


def from_entry(m: ModelEntry, cat: Catalog) -> Artifact:
    """A catalog entry (its architecture possibly inherited from its base: catalog/_inherit.py)."""
    notes: tuple[str, ...] = ()
    base = m.architecture_from
    if base:
        b = cat.data.models[base]
        src = b.source_for("architecture") or "the catalog"
        notes = (
            f"architecture inherited from {base} ({m.relation} of it; source: {src}); "
            "a changed vocabulary or context is not reflected",
        )
    return Artifact(m.id, "catalog", m.architecture, entry=m, architecture_from=base, notes=notes)


def from_gguf(path: str | Path, cat: Catalog | None = None) -> Artifact:
    from llmatlas.artifacts._gguf import architecture, read_header

    h = read_header(path)
    a = architecture(h)
    entry = None
    if cat is not None and h.name:
        try:
            entry = cat.get(h.name)
        except UnknownModelError:
            entry = None
    notes = [f"sized from the file's header: {len(h.tensors)} tensors, {h.arch} architecture"]
    if len(h.paths) > 1:
        notes.append(f"split GGUF: {len(h.paths)} parts")
    return Artifact(
        id=h.paths[0].name,
        kind="gguf",
        architecture=a,
        entry=entry,
        quant=h.file_type,
        weights=h.weight_bytes,
        file_bytes=h.file_bytes,
        paths=h.paths,
        source=str(h.paths[0]),
        notes=tuple(notes),
        header=h,
    )


def looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", "./", "../", "~")) or Path(spec).expanduser().exists()


def is_artifact_spec(spec: str) -> bool:
    """Whether ``spec`` names a file or a Hub repo rather than a catalog name."""
    s = spec.strip()
    return (
        looks_like_path(s)
        or s.startswith("hf:")
        or s.lower().endswith(".gguf")
        or (s.count("/") >= 1 and ":" in s)
    )


def resolve_artifact(spec: str, cat: Catalog | None = None) -> Artifact:
    """What ``spec`` names: a local GGUF, a Hub repo (``hf:``, ``org/repo[:QUANT|/file]``) or a
    catalog model.  One clear :class:`BadInputError`/:class:`UnknownModelError` otherwise."""
    spec = spec.strip()
    if not spec:
        raise BadInputError.translatable("give a model: a catalog name, a .gguf path or a Hub repo")
    if cat is None:
        from llmatlas.catalog import Catalog

        cat = Catalog()
    if looks_like_path(spec) or (spec.lower().endswith(".gguf") and spec.count("/") != 2):
        p = Path(spec).expanduser()
        if p.is_dir():
            ggufs = sorted(p.glob("*.gguf"))
            if len(ggufs) != 1:
                raise BadInputError.translatable(
                    "{path} is a folder with {n} .gguf files; name the file", path=p, n=len(ggufs)
                )
            p = ggufs[0]
        if not p.exists():
            raise BadInputError.translatable("no such file: {path}", path=p)
        return from_gguf(p, cat)
    if spec.startswith("hf:"):
        from llmatlas.artifacts._hub import from_hub

        return from_hub(spec[3:], cat)
    repo_like = spec.count("/") >= 1 and not spec.startswith("/")
    if repo_like and (":" in spec or spec.lower().endswith(".gguf")):
        from llmatlas.artifacts._hub import from_hub

        return from_hub(spec, cat)
    try:
        # the catalog's own name resolution (aliases, Chinese names, Ollama-style tags, families)
        return from_entry(cat.resolve(spec).entry, cat)
    except UnknownModelError:
        if repo_like and spec.count("/") == 1:
            from llmatlas.artifacts._hub import from_hub

            return from_hub(spec, cat)
        raise


__all__ = ["Artifact", "from_entry", "from_gguf", "resolve_artifact"]
