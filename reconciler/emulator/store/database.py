"""The SQLite connection under the store: schema (DDL), one lock, write transactions and reads.

One connection guarded by a lock makes the store threadsafe (uvicorn runs handlers in several threads) and lets
`:memory:` work. Knows no table's rules: the table modules (`sources.py`, `schemas.py`, `jobs.py`) do.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Database", "page_window"]

_SCHEMA_VERSION = 1
_DDL = """
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,
    team_id INTEGER NOT NULL,
    source_type TEXT NOT NULL,
    prefix TEXT,
    description TEXT,
    access_method TEXT NOT NULL,
    created_via TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    job_inputs TEXT NOT NULL,
    revenue_enabled INTEGER NOT NULL,
    revenue_include_invoiceless INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT,
    internal_source_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_team ON sources (team_id, deleted, source_type);
CREATE TABLE IF NOT EXISTS schemas (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources (id),
    team_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    label TEXT,
    description TEXT,
    should_sync INTEGER NOT NULL,
    sync_type TEXT,
    incremental_field TEXT,
    incremental_field_type TEXT,
    sync_frequency TEXT,
    sync_time_of_day TEXT,
    primary_key_columns TEXT,
    cdc_table_mode TEXT NOT NULL,
    enabled_columns TEXT,
    available_columns TEXT NOT NULL,
    webhook_only INTEGER NOT NULL,
    status TEXT,
    latest_error TEXT,
    last_synced_at TEXT,
    synced_table TEXT,
    created_at TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT
);
CREATE INDEX IF NOT EXISTS schemas_source ON schemas (source_id, deleted, name);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources (id),
    schema_id TEXT REFERENCES schemas (id),
    team_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    rows_synced INTEGER,
    latest_error TEXT,
    workflow_run_id TEXT,
    billable INTEGER NOT NULL DEFAULT 1,
    created_by TEXT
);
CREATE INDEX IF NOT EXISTS jobs_source ON jobs (source_id, created_at);
"""


def page_window(count: int, limit: int, offset: int) -> tuple[int, int] | None:
    """(LIMIT, OFFSET) for a page of `count` rows, or None when the page is empty (offset past the end):
    DRF's LimitOffsetPagination answers such a page without a query, so a huge `offset` is an empty 200,
    and a huge `limit` means "the rest" (SQLite integers stop at 2**63 - 1; reference §5, §16)."""
    if offset >= count:
        return None
    return min(limit, count), offset


class Database:
    """The connection. `path=None` keeps everything in memory (lost on close)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA foreign_keys = ON")
            if path is not None:
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.executescript(_DDL)
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back on any exception (so a failed create leaves no row)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()
