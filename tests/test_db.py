"""The registry database opened by several connections at once on a fresh home."""

from __future__ import annotations

import threading
from pathlib import Path

from llmatlas.runtime.db import MIGRATIONS, connect


def test_concurrent_first_opens_apply_each_migration_once(tmp_path: Path) -> None:
    # concurrent pulls into a fresh LLMATLAS_HOME each open the database; before, one of them
    # failed with "table ... already exists" or "database is locked"
    for trial in range(15):
        path = tmp_path / f"home{trial}" / "llmatlas.sqlite"
        errors: list[BaseException] = []

        def open_it(path: Path = path, errors: list[BaseException] = errors) -> None:
            try:
                connect(path).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        conn = connect(path)
        names = [r[0] for r in conn.execute("SELECT name FROM migrations ORDER BY name")]
        assert names == sorted(name for name, _ in MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
