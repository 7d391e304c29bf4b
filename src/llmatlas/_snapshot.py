"""Compiled snapshots of data files: validated once per edit, then unpickled.

Shipped data (the catalog, the device table) is YAML, the source of truth, checked by a
schema.  Parsing and validating it costs far more than reading back the objects it gave,
so those objects are pickled under ``LLMATLAS_HOME/cache`` in ``NAME-KEY.pickle``, where
KEY hashes the package version, :data:`FORMAT` and every source file's name and bytes:
an edited file or a new release gives a new key, and so a rebuild.  A snapshot that
cannot be read (truncated, corrupt, from another Python) is ignored and rebuilt; a home
that cannot be written still works, only slower.  A snapshot holds only what this process
would compute from the same files.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from llmatlas import __version__

try:  # BLAKE2 without importing hashlib, which loads OpenSSL: about 3 ms of every command
    from _blake2 import blake2b
except ImportError:  # not CPython
    from hashlib import blake2b

T = TypeVar("T")

FORMAT = 2
"""Bump when a pickled layout changes (records, :class:`~llmatlas.catalog.CatalogData`)."""


def snapshot_key(files: Iterable[tuple[str, bytes, bool]]) -> str:
    """Hash of version, format and each (file name, bytes, whether it is the user's)."""
    h = blake2b(f"llmatlas {__version__} snapshot {FORMAT}\n".encode(), digest_size=16)
    for name, text, user in files:
        h.update(b"user:" if user else b"shipped:")
        h.update(name.encode() + b"\0" + str(len(text)).encode() + b"\0")
        h.update(text)
    return h.hexdigest()[:24]


def read_snapshot(path: Path, key: str) -> Any | None:
    """What ``path`` holds if it was written under ``key``; None when absent or unreadable."""
    try:
        stored_key, data = pickle.loads(path.read_bytes())
    except Exception:  # missing, truncated, corrupt, another Python's pickle: rebuild it
        return None
    return data if stored_key == key else None


def write_snapshot(path: Path, key: str, data: object) -> None:
    """Write ``data`` atomically, and delete the stale snapshots of the same name."""
    from llmatlas.errors import StoreError
    from llmatlas.store_io import atomic_write_bytes

    with contextlib.suppress(StoreError):  # a read-only home still gets the data, just slower
        atomic_write_bytes(path, pickle.dumps((key, data), protocol=pickle.HIGHEST_PROTOCOL))
    name = path.name.rsplit("-", 1)[0]
    for old in path.parent.glob(f"{name}-*.pickle"):
        if old != path:
            old.unlink(missing_ok=True)


_memo: dict[tuple[str, str], Any] = {}


def compiled(name: str, paths: list[Path], build: Callable[[dict[str, bytes]], T]) -> T:
    """``build({file name: bytes})`` for these files, from the snapshot while they are unchanged
    (and once per process)."""
    texts = {p.name: p.read_bytes() for p in paths}
    key = snapshot_key((n, t, False) for n, t in texts.items())
    if (name, key) in _memo:
        return cast(T, _memo[name, key])
    from llmatlas.settings import get_settings

    path = get_settings().cache_dir / f"{name}-{key}.pickle"
    data = read_snapshot(path, key)
    if data is None:
        data = build(texts)
        write_snapshot(path, key, data)
    _memo[name, key] = data
    return cast(T, data)


@contextlib.contextmanager
def remembered(name: str, table: dict[Any, Any], sources: Iterable[Path]) -> Iterator[None]:
    """Fill ``table``, the memo of a pure function, from its copy saved by an earlier run; run
    the block; save the table again when the block added to it.  The copy is keyed by the
    version and the bytes of the ``sources`` computing it, so an edit never reads a stale one.
    """
    from llmatlas.settings import get_settings

    key = snapshot_key((p.name, p.read_bytes(), False) for p in sources)
    path = get_settings().cache_dir / f"{name}-{key}.pickle"
    saved = read_snapshot(path, key)
    if isinstance(saved, dict):
        for k, v in saved.items():
            table.setdefault(k, v)
    size = len(table)
    try:
        yield
    finally:
        if len(table) > size:
            write_snapshot(path, key, dict(table))
