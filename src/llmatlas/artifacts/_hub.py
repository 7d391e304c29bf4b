"""Hugging Face Hub repos as artifacts: config.json, the file list with sizes, GGUF headers.

* ``org/repo`` (safetensors): the architecture from config.json (``catalog/_from_config``),
  the weights' bytes from the safetensors files' sizes, the format from its
  ``quantization_config`` or ``torch_dtype``.
* ``org/repo:Q4_K_M`` / ``org/repo/file.gguf``: the GGUF file's header, read with HTTP
  range requests (no weights downloaded), exact per tensor like a local file.

What the Hub said is cached under ``LLMATLAS_HOME/hub`` (atomic writes); offline, the
cache answers, and without a cache one line says what is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmatlas.errors import BadInputError, UnknownModelError
from llmatlas.i18n import N_
from llmatlas.sizing.quant import WeightBytes

if TYPE_CHECKING:
    from llmatlas.artifacts import Artifact
    from llmatlas.artifacts._gguf import GGUFHeader
    from llmatlas.catalog import Catalog

HUB = "https://huggingface.co"
_REPO = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")
HEADER_FIRST_READ = 4 * 2**20
_DTYPE_FORMAT = {"bfloat16": "BF16", "float16": "FP16", "float32": "FP32"}


def _home() -> Path:
    from llmatlas.settings import get_settings

    return get_settings().home / "hub"


def _endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or HUB).rstrip("/")


def _cache_path(repo: str, name: str) -> Path:
    return _home() / repo.replace("/", "--") / name


def _save(path: Path, data: bytes) -> None:
    from llmatlas.store_io import atomic_write_bytes

    atomic_write_bytes(path, data)


def _offline(repo: str, exc: Exception) -> BadInputError:
    return BadInputError.translatable(
        "cannot reach the Hub at {endpoint} ({error}) and {repo} is not cached under "
        "LLMATLAS_HOME/hub; sizing it needs its config.json and file list once",
        endpoint=_endpoint(),
        error=type(exc).__name__,
        repo=repo,
    )


def repo_metadata(repo: str) -> dict[str, Any]:
    """``{sha, files: {name: size}, config, params, fetched}`` for ``repo`` (cached)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, RepositoryNotFoundError

    if not _REPO.match(repo):
        raise BadInputError.translatable(
            "{repo!r} is not a Hub repository id (owner/name)", repo=repo
        )
    cache = _cache_path(repo, "metadata.json")
    api = HfApi(endpoint=_endpoint(), token=os.environ.get("HF_TOKEN"))
    try:
        info = api.model_info(repo, files_metadata=True)
        files = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
        config = None
        if "config.json" in files:
            try:
                path = api.hf_hub_download(
                    repo, "config.json", revision=info.sha, cache_dir=str(_home() / "_hf")
                )
                config = json.loads(Path(path).read_text(encoding="utf-8"))
            except (GatedRepoError, EntryNotFoundError):
                config = None
            except ValueError:
                raise BadInputError.translatable(
                    "{repo}: config.json is not valid JSON", repo=repo
                ) from None
        params = None
        if info.safetensors is not None:
            params = int(info.safetensors.total or 0) or None
        meta = {
            "repo": repo,
            "sha": info.sha or "main",
            "files": files,
            "config": config if isinstance(config, dict) else None,
            "params": params,
            "fetched": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    except RepositoryNotFoundError:
        raise UnknownModelError(
            repo, [], hint=N_("no such model repository on {endpoint}"), endpoint=_endpoint()
        ) from None
    except BadInputError:
        raise
    except Exception as exc:  # HTTP errors, httpx transport errors (DNS, refused), offline mode
        if cache.is_file():
            cached: dict[str, Any] = json.loads(cache.read_text(encoding="utf-8"))
            cached["offline"] = True
            return cached
        raise _offline(repo, exc) from None
    _save(cache, json.dumps(meta).encode())
    return meta


def _range(repo: str, sha: str, filename: str, end: int) -> bytes:
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session  # type: ignore[attr-defined]

    url = hf_hub_url(repo, filename, revision=sha, endpoint=_endpoint())
    headers = build_hf_headers(token=os.environ.get("HF_TOKEN"))
    headers["Range"] = f"bytes=0-{end - 1}"
    r = get_session().get(url, headers=headers, follow_redirects=True)
    if r.status_code not in (200, 206):
        raise BadInputError.translatable(
            "{repo}/{filename}: the Hub answered HTTP {status}",
            repo=repo,
            filename=filename,
            status=r.status_code,
        )
    return bytes(r.content[:end])


def remote_header(repo: str, meta: dict[str, Any], filename: str) -> GGUFHeader:
    """A GGUF file's header read with range requests (every part of a split file)."""
    from llmatlas.artifacts._gguf import (
        GGUFTensor,
        HeaderTooShort,
        _Skipped,
        assemble,
        parse_header,
    )

    files: dict[str, int] = meta["files"]
    m = _SPLIT.search(filename)
    names = [filename]
    if m:
        stem = filename[: m.start()]
        n = int(m[2])
        names = [f"{stem}-{i:05d}-of-{n:05d}.gguf" for i in range(1, n + 1)]
        missing = [x for x in names if x not in files]
        if missing:
            raise BadInputError.translatable(
                "{repo}: split GGUF is missing {files}", repo=repo, files=", ".join(missing[:3])
            )
    tensors: list[GGUFTensor] = []
    metadata: dict[str, Any] = {}
    vocab = 0
    for i, name in enumerate(names):
        size = files[name]
        cache = _cache_path(repo, "headers") / f"{meta['sha']}--{name.replace('/', '--')}"
        want = min(size, HEADER_FIRST_READ)
        buf = cache.read_bytes() if cache.is_file() else b""
        while True:
            if len(buf) < want:
                try:
                    buf = _range(repo, meta["sha"], name, want)
                except BadInputError:
                    raise
                except Exception as exc:
                    raise _offline(repo, exc) from None
            try:
                part_meta, part_tensors = parse_header(buf, name, size)
                break
            except HeaderTooShort:
                if want >= size:
                    raise BadInputError.translatable(
                        "{repo}/{name} is truncated inside its header", repo=repo, name=name
                    ) from None
                want = min(size, want * 4)
        _save(cache, buf)
        tensors += part_tensors
        if i == 0:
            metadata = {k: v for k, v in part_meta.items() if not isinstance(v, _Skipped)}
            tok = part_meta.get("tokenizer.ggml.tokens")
            vocab = tok.n if isinstance(tok, _Skipped) else len(tok or [])
    paths = tuple(Path(f"{repo}/{x}") for x in names)
    return assemble(paths, metadata, vocab, tensors, sum(files[x] for x in names))


def _pick_gguf(repo: str, files: dict[str, int], quant: str | None, filename: str | None) -> str:
    ggufs = [f for f in files if f.lower().endswith(".gguf")]
    if filename:
        if filename not in files:
            raise BadInputError.translatable(
                "{repo} has no file {filename}; GGUF files: {files}",
                repo=repo,
                filename=filename,
                files=", ".join(ggufs[:6]),
            )
        return filename
    if not ggufs:
        raise BadInputError.translatable(
            "{repo} has no GGUF files; drop :{quant} to size its safetensors",
            repo=repo,
            quant=quant,
        )
    assert quant is not None
    q = quant.lower().replace("-", "_")
    hits = [f for f in ggufs if re.search(rf"(^|[^a-z0-9]){re.escape(q)}([^a-z0-9]|$)", f.lower())]
    firsts = [f for f in hits if not _SPLIT.search(f) or "-00001-of-" in f]
    if not firsts:
        raise BadInputError.translatable(
            "{repo} has no {quant} GGUF; it has: {files}",
            repo=repo,
            quant=quant,
            files=", ".join(ggufs[:8]),
        )
    return sorted(firsts, key=len)[0]


def from_hub(spec: str, cat: Catalog) -> Artifact:
    """``org/repo``, ``org/repo:QUANT`` or ``org/repo/file.gguf`` as an :class:`Artifact`."""
    from llmatlas.artifacts import Artifact
    from llmatlas.artifacts._gguf import architecture

    spec = spec.strip()
    quant = filename = None
    if ":" in spec:
        spec, quant = spec.rsplit(":", 1)
    parts = spec.split("/")
    repo = "/".join(parts[:2])
    if len(parts) > 2:
        filename = "/".join(parts[2:])
    meta = repo_metadata(repo)
    files: dict[str, int] = meta["files"]
    entry = None
    try:
        entry = cat.resolve(repo).model
    except UnknownModelError:
        entry = None
    notes: list[str] = []
    if meta.get("offline"):
        notes.append(f"offline: Hub metadata cached on {meta.get('fetched')}")
    safetensors = {f: s for f, s in files.items() if f.endswith(".safetensors")}
    if quant or filename or (not safetensors and any(f.endswith(".gguf") for f in files)):
        name = _pick_gguf(repo, files, quant, filename)
        h = remote_header(repo, meta, name)
        notes.append(f"sized from {name}'s header on the Hub ({len(h.tensors)} tensors)")
        return Artifact(
            id=f"{repo}/{name}",
            kind="hub",
            architecture=architecture(h),
            entry=entry,
            quant=h.file_type,
            weights=h.weight_bytes,
            file_bytes=h.file_bytes,
            source=f"{_endpoint()}/{repo}/blob/{meta['sha']}/{name}",
            notes=tuple(notes),
            header=h,
        )
    config = meta.get("config")
    if config is None:
        raise BadInputError(f"{repo} has no readable config.json; cannot size it")
    if not safetensors:
        raise BadInputError(f"{repo} has no weights (no .safetensors or .gguf files)")
    from llmatlas.catalog._from_config import architecture_from_config

    a = architecture_from_config(config, meta.get("params"))
    qc = config.get("quantization_config") or {}
    method = str(qc.get("quant_method") or "").upper()
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "bfloat16")
    fmt = {"AWQ": "AWQ-4BIT", "GPTQ": "GPTQ-4BIT"}.get(method, method) or _DTYPE_FORMAT.get(
        dtype, "BF16"
    )
    total = sum(safetensors.values())
    params = int(meta.get("params") or 0)
    weights = WeightBytes(total=total, active=total, by_type={fmt: total}, params=params)
    notes.append(
        f"sized from config.json and {len(safetensors)} safetensors file(s) "
        f"({total / 2**30:.2f} GiB) on the Hub"
    )
    return Artifact(
        id=repo,
        kind="hub",
        architecture=a,
        entry=entry,
        quant=fmt,
        weights=weights,
        file_bytes=total,
        source=f"{_endpoint()}/{repo}/tree/{meta['sha']}",
        notes=tuple(notes),
    )
