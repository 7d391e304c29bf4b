"""The SQLite database under LLMATLAS_HOME; its schema evolves by numbered migrations."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from llmatlas.errors import StoreError

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_models",
        """
        CREATE TABLE models (
            name TEXT PRIMARY KEY,
            catalog_id TEXT,
            source TEXT NOT NULL,          -- 'embedded', 'hub', 'import'
            repo TEXT,
            revision TEXT,
            filename TEXT NOT NULL,
            path TEXT NOT NULL,
            quant TEXT,
            size_bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            pulled_at TEXT NOT NULL DEFAULT (datetime('now'))
        );
        """,
    ),
    (
        "002_bench",
        """
        CREATE TABLE bench_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL,
            catalog_id TEXT,
            quant TEXT,
            engine TEXT NOT NULL,
            machine TEXT NOT NULL,
            n_ctx INTEGER NOT NULL,
            threads INTEGER,
            prompt_tokens INTEGER NOT NULL,
            gen_tokens INTEGER NOT NULL,
            runs INTEGER NOT NULL,
            pp_tps REAL NOT NULL,
            pp_tps_spread REAL,
            tg_tps REAL NOT NULL,
            tg_tps_spread REAL,
            ttft_s REAL NOT NULL,
            peak_rss_bytes INTEGER,
            gpu_bytes INTEGER,
            est_tg_tps REAL,
            est_pp_tps REAL,
            est_total_bytes INTEGER,
            created_at TEXT NOT NULL DEFAULT (datetime('now'))
        );
        CREATE TABLE calibration (
            machine TEXT PRIMARY KEY,
            decode_efficiency REAL NOT NULL,
            prefill_efficiency REAL NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (datetime('now'))
        );
        """,
    ),
    (
        "003_modelfiles",
        """
        CREATE TABLE modelfiles (
            name TEXT PRIMARY KEY,         -- a models.name made by create/copy
            parent TEXT,                   -- the model it was derived from
            system TEXT,
            template TEXT,
            parameters TEXT NOT NULL DEFAULT '{}',  -- JSON: Ollama parameter name -> value
            messages TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL DEFAULT (datetime('now'))
        );
        CREATE TRIGGER modelfiles_follow_models AFTER DELETE ON models
        BEGIN DELETE FROM modelfiles WHERE name = OLD.name; END;
        """,
    ),
]


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating and migrating) the database; a clear error if the home is unwritable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, timeout=30, check_same_thread=False
        )  # the server uses it from worker threads
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(
            f"cannot open the llmatlas database at {path}: {exc}; "
            "set LLMATLAS_HOME to a writable directory"
        ) from exc
    conn.row_factory = sqlite3.Row
    try:
        _wal(conn)
        migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(
            f"cannot use the llmatlas database at {path}: {exc}; "
            "set LLMATLAS_HOME to a writable directory"
        ) from exc
    return conn


def _wal(conn: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """Switch to WAL once.  SQLite answers "database is locked" at once (no busy wait) while
    another connection is creating the same fresh database, so retry until ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in order; returns the names applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, "
        "applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    done = {r[0] for r in conn.execute("SELECT name FROM migrations")}
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        # BEGIN IMMEDIATE makes writers take turns; recording the migration first means a
        # second connection opening the same fresh home (concurrent pulls, two processes)
        # fails on the primary key instead of applying the migration twice.
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;INSERT INTO migrations(name) VALUES ('{name}');" + sql + "COMMIT;"
            )
        except sqlite3.IntegrityError:
            conn.rollback()  # another connection applied it first
            continue
        except sqlite3.Error:
            conn.rollback()
            raise
        applied.append(name)
    return applied
