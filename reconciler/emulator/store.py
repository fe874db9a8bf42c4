"""The emulator's state in SQLite: sources, their schemas (tables) and sync jobs. No HTTP here.

One connection guarded by a lock makes it threadsafe (uvicorn runs handlers in several threads) and lets
`:memory:` work. Rows come back as frozen dataclasses. Two PostHog storage quirks live here because they
are storage facts: job_inputs leaves are stored as strings (reference/posthog-api.md §6, "Value types"),
and deletes are soft (§8.5). Everything else (validation, redaction, HTTP shapes) lives elsewhere.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.catalog import SCHEMA_WRITABLE_FIELDS

__all__ = [
    "UNSET",
    "JobRow",
    "NewSchema",
    "PrefixConflict",
    "SchemaRow",
    "SourceRow",
    "Store",
    "now_iso",
    "stringify_leaves",
]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: "Not given" for update methods: distinct from None, which means "set to null".
UNSET: Any = _Unset()

#: Schema columns `update_schemas` may set; the JSON-encoded ones among them.
_SCHEMA_UPDATABLE = frozenset({*SCHEMA_WRITABLE_FIELDS, "status", "latest_error"})
_JSON_SCHEMA_COLUMNS = frozenset({"primary_key_columns", "enabled_columns"})

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


def now_iso() -> str:
    """DRF's rendering of an aware UTC datetime: isoformat with `Z` (§1)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def stringify_leaves(value: Any) -> Any:
    """PostHog's encrypted JSON field stores each leaf as `str(value)`; null stays null (§6)."""
    if isinstance(value, dict):
        return {k: stringify_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stringify_leaves(v) for v in value]
    return None if value is None else str(value)


class PrefixConflict(Exception):
    """Another live warehouse source of this type holds the prefix. `kind`: "required" or "exists" (§8.3)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class SourceRow:
    id: str
    team_id: int
    source_type: str
    prefix: str | None
    description: str | None
    access_method: str
    created_via: str | None
    created_by: str | None
    created_at: str
    status: str
    job_inputs: dict[str, Any]
    revenue_enabled: bool
    revenue_include_invoiceless: bool
    deleted: bool


@dataclass(frozen=True)
class SchemaRow:
    id: str
    source_id: str
    team_id: int
    name: str
    label: str | None
    description: str | None
    should_sync: bool
    sync_type: str | None
    incremental_field: str | None
    incremental_field_type: str | None
    sync_frequency: str | None
    sync_time_of_day: str | None
    primary_key_columns: list[str] | None
    cdc_table_mode: str
    enabled_columns: list[str] | None
    available_columns: list[dict[str, Any]]
    webhook_only: bool
    status: str | None
    latest_error: str | None
    last_synced_at: str | None
    synced_table: dict[str, Any] | None
    created_at: str
    deleted: bool


@dataclass(frozen=True)
class JobRow:
    id: str
    source_id: str
    schema_id: str | None
    team_id: int
    created_at: str
    finished_at: str | None
    status: str
    rows_synced: int | None
    latest_error: str | None
    workflow_run_id: str | None
    billable: bool
    created_by: str | None


@dataclass(frozen=True)
class NewSchema:
    """A schema row to insert (at create, or discovered by refresh_schemas)."""

    name: str
    label: str | None = None
    description: str | None = None
    should_sync: bool = False
    sync_type: str | None = None
    incremental_field: str | None = None
    incremental_field_type: str | None = None
    sync_frequency: str | None = "6hour"
    sync_time_of_day: str | None = None
    primary_key_columns: list[str] | None = None
    cdc_table_mode: str = "consolidated"
    enabled_columns: list[str] | None = None
    available_columns: list[dict[str, Any]] = field(default_factory=list)
    webhook_only: bool = False


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@functools.lru_cache(maxsize=4096)
def _columns(text: str) -> list[dict[str, Any]]:
    """Decoded `available_columns`, shared between rows with the same text (tables of one upstream often
    have identical column lists; a list of 50,000 tables would otherwise decode them 50,000 times).
    Read-only: callers never mutate it."""
    return list(json.loads(text))


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _source(r: sqlite3.Row) -> SourceRow:
    return SourceRow(
        id=r["id"],
        team_id=r["team_id"],
        source_type=r["source_type"],
        prefix=r["prefix"],
        description=r["description"],
        access_method=r["access_method"],
        created_via=r["created_via"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        status=r["status"],
        job_inputs=json.loads(r["job_inputs"]),
        revenue_enabled=bool(r["revenue_enabled"]),
        revenue_include_invoiceless=bool(r["revenue_include_invoiceless"]),
        deleted=bool(r["deleted"]),
    )


def _schema(r: sqlite3.Row) -> SchemaRow:
    return SchemaRow(
        id=r["id"],
        source_id=r["source_id"],
        team_id=r["team_id"],
        name=r["name"],
        label=r["label"],
        description=r["description"],
        should_sync=bool(r["should_sync"]),
        sync_type=r["sync_type"],
        incremental_field=r["incremental_field"],
        incremental_field_type=r["incremental_field_type"],
        sync_frequency=r["sync_frequency"],
        sync_time_of_day=r["sync_time_of_day"],
        primary_key_columns=_loads(r["primary_key_columns"]),
        cdc_table_mode=r["cdc_table_mode"],
        enabled_columns=_loads(r["enabled_columns"]),
        available_columns=_columns(r["available_columns"]),
        webhook_only=bool(r["webhook_only"]),
        status=r["status"],
        latest_error=r["latest_error"],
        last_synced_at=r["last_synced_at"],
        synced_table=_loads(r["synced_table"]),
        created_at=r["created_at"],
        deleted=bool(r["deleted"]),
    )


def _job(r: sqlite3.Row) -> JobRow:
    return JobRow(
        id=r["id"],
        source_id=r["source_id"],
        schema_id=r["schema_id"],
        team_id=r["team_id"],
        created_at=r["created_at"],
        finished_at=r["finished_at"],
        status=r["status"],
        rows_synced=r["rows_synced"],
        latest_error=r["latest_error"],
        workflow_run_id=r["workflow_run_id"],
        billable=bool(r["billable"]),
        created_by=r["created_by"],
    )


class Store:
    """SQLite-backed state. `path=None` keeps everything in memory (lost on close)."""

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

    # ---- sources -------------------------------------------------------------------------------

    def prefix_conflict(self, team_id: int, source_type: str, prefix: str | None) -> str | None:
        """§8.3 step 3 / §8.10: "required" if prefix is blank and a blank-prefixed source of the type
        exists; "exists" if that exact prefix is taken; else None. Soft-deleted sources never block."""
        with self._lock:
            return self._prefix_conflict(self._db, team_id, source_type, prefix)

    @staticmethod
    def _prefix_conflict(db: sqlite3.Connection, team_id: int, source_type: str, prefix: str | None) -> str | None:
        base = "SELECT 1 FROM sources WHERE team_id = ? AND source_type = ? AND deleted = 0 AND "
        if not prefix:
            row = db.execute(base + "(prefix IS NULL OR prefix = '')", (team_id, source_type)).fetchone()
            return "required" if row else None
        row = db.execute(base + "prefix = ?", (team_id, source_type, prefix)).fetchone()
        return "exists" if row else None

    def create_source(
        self,
        *,
        team_id: int,
        source_type: str,
        prefix: str | None,
        description: str | None,
        access_method: str,
        created_via: str | None,
        created_by: str | None,
        job_inputs: Mapping[str, Any],
        revenue_enabled: bool,
        schemas: Sequence[NewSchema],
        check_prefix: bool = True,
    ) -> SourceRow:
        """Insert a source and its schema rows atomically. With `check_prefix`, the (type, prefix)
        uniqueness rule is re-checked inside the transaction and raises PrefixConflict."""
        source_id = str(uuid.uuid4())
        created_at = now_iso()
        with self._tx() as db:
            if check_prefix:
                conflict = self._prefix_conflict(db, team_id, source_type, prefix)
                if conflict:
                    raise PrefixConflict(conflict)
            db.execute(
                "INSERT INTO sources (id, team_id, source_type, prefix, description, access_method, created_via,"
                " created_by, created_at, status, job_inputs, revenue_enabled, revenue_include_invoiceless,"
                " internal_source_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'Running', ?, ?, 1, ?)",
                (
                    source_id,
                    team_id,
                    source_type,
                    prefix,
                    description,
                    access_method,
                    created_via,
                    created_by,
                    created_at,
                    json.dumps(stringify_leaves(dict(job_inputs))),
                    int(revenue_enabled),
                    str(uuid.uuid4()),  # PostHog's internal `source_id`: never returned, only searched (§5)
                ),
            )
            for schema in schemas:
                self._insert_schema(db, source_id, team_id, schema)
        source = self.get_source(team_id, source_id)
        assert source is not None
        return source

    def get_source(self, team_id: int, source_id: str) -> SourceRow | None:
        rows = self._query("SELECT * FROM sources WHERE id = ? AND team_id = ? AND deleted = 0", (source_id, team_id))
        return _source(rows[0]) if rows else None

    def list_sources(
        self, team_id: int, *, limit: int, offset: int, search_terms: Sequence[str] = ()
    ) -> tuple[int, list[SourceRow]]:
        """(count, page) of live sources, newest first (§5). Every search term must occur (case-insensitive)
        in the internal `source_id`, PostHog's only search field at the reference commit (§5)."""
        where = "team_id = ? AND deleted = 0"
        params: list[Any] = [team_id]
        for term in search_terms:
            where += " AND instr(lower(internal_source_id), lower(?)) > 0"
            params.append(term)
        with self._lock:
            count = self._db.execute(f"SELECT COUNT(*) FROM sources WHERE {where}", params).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM sources WHERE {where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return count, [_source(r) for r in rows]

    def update_source(
        self,
        source_id: str,
        *,
        description: Any = UNSET,
        prefix: Any = UNSET,
        job_inputs: Any = UNSET,
        status: Any = UNSET,
        revenue_enabled: Any = UNSET,
        revenue_include_invoiceless: Any = UNSET,
    ) -> None:
        """Set the given columns; UNSET ones are left alone. job_inputs are stored stringified (§6)."""
        changes: dict[str, Any] = {}
        if description is not UNSET:
            changes["description"] = description
        if prefix is not UNSET:
            changes["prefix"] = prefix
        if job_inputs is not UNSET:
            changes["job_inputs"] = json.dumps(stringify_leaves(dict(job_inputs)))
        if status is not UNSET:
            changes["status"] = status
        if revenue_enabled is not UNSET:
            changes["revenue_enabled"] = int(revenue_enabled)
        if revenue_include_invoiceless is not UNSET:
            changes["revenue_include_invoiceless"] = int(revenue_include_invoiceless)
        if not changes:
            return
        assignments = ", ".join(f"{column} = ?" for column in changes)
        with self._tx() as db:
            db.execute(f"UPDATE sources SET {assignments} WHERE id = ?", (*changes.values(), source_id))

    def soft_delete_source(self, source_id: str) -> None:
        """§8.5: the source and all its schemas are marked deleted; the prefix becomes free."""
        stamp = now_iso()
        with self._tx() as db:
            db.execute("UPDATE sources SET deleted = 1, deleted_at = ? WHERE id = ?", (stamp, source_id))
            db.execute(
                "UPDATE schemas SET deleted = 1, deleted_at = ? WHERE source_id = ? AND deleted = 0", (stamp, source_id)
            )

    # ---- schemas -------------------------------------------------------------------------------

    @staticmethod
    def _insert_schema(db: sqlite3.Connection, source_id: str, team_id: int, s: NewSchema) -> str:
        schema_id = str(uuid.uuid4())
        db.execute(
            "INSERT INTO schemas (id, source_id, team_id, name, label, description, should_sync, sync_type,"
            " incremental_field, incremental_field_type, sync_frequency, sync_time_of_day, primary_key_columns,"
            " cdc_table_mode, enabled_columns, available_columns, webhook_only, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                schema_id,
                source_id,
                team_id,
                s.name,
                s.label,
                s.description,
                int(s.should_sync),
                s.sync_type,
                s.incremental_field,
                s.incremental_field_type,
                s.sync_frequency,
                s.sync_time_of_day,
                _dumps(s.primary_key_columns),
                s.cdc_table_mode,
                _dumps(s.enabled_columns),
                json.dumps(s.available_columns),
                int(s.webhook_only),
                now_iso(),
            ),
        )
        return schema_id

    def schemas_of(self, source_ids: Sequence[str]) -> dict[str, list[SchemaRow]]:
        """Live schemas per source, ordered by name (§5: embedded schemas are name-ordered)."""
        out: dict[str, list[SchemaRow]] = {sid: [] for sid in source_ids}
        if not source_ids:
            return out
        marks = ", ".join("?" for _ in source_ids)
        for r in self._query(
            f"SELECT * FROM schemas WHERE source_id IN ({marks}) AND deleted = 0 ORDER BY name, rowid", source_ids
        ):
            out[r["source_id"]].append(_schema(r))
        return out

    def get_schema(self, team_id: int, schema_id: str) -> SchemaRow | None:
        """A live schema of a live source."""
        rows = self._query(
            "SELECT s.* FROM schemas s JOIN sources src ON src.id = s.source_id"
            " WHERE s.id = ? AND s.team_id = ? AND s.deleted = 0 AND src.deleted = 0",
            (schema_id, team_id),
        )
        return _schema(rows[0]) if rows else None

    def get_schema_any_team(self, schema_id: str) -> SchemaRow | None:
        """A live schema by id alone (the control API is not team-scoped)."""
        rows = self._query("SELECT * FROM schemas WHERE id = ? AND deleted = 0", (schema_id,))
        return _schema(rows[0]) if rows else None

    def list_schemas(
        self, team_id: int, *, limit: int, offset: int, search_terms: Sequence[str] = ()
    ) -> tuple[int, list[SchemaRow]]:
        """(count, page) of the team's live schemas across sources, newest first; every search term must
        occur in the name, case-insensitively (§9.1)."""
        where = "s.team_id = ? AND s.deleted = 0 AND src.deleted = 0"
        params: list[Any] = [team_id]
        for term in search_terms:
            where += " AND instr(lower(s.name), lower(?)) > 0"
            params.append(term)
        base = f"FROM schemas s JOIN sources src ON src.id = s.source_id WHERE {where}"
        with self._lock:
            count = self._db.execute(f"SELECT COUNT(*) {base}", params).fetchone()[0]
            rows = self._db.execute(
                f"SELECT s.* {base} ORDER BY s.created_at DESC, s.rowid DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return count, [_schema(r) for r in rows]

    def update_schemas(self, updates: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Apply `(schema_id, {column: value})` updates in one transaction (§8.13's all-or-nothing batch).
        Columns: the writable settings of §9.3 plus `status` and `latest_error`."""
        with self._tx() as db:
            for schema_id, changes in updates:
                unknown = set(changes) - _SCHEMA_UPDATABLE
                if unknown:
                    raise ValueError(f"not updatable: {sorted(unknown)}")
                if not changes:
                    continue
                values = [_dumps(v) if k in _JSON_SCHEMA_COLUMNS else v for k, v in changes.items()]
                values = [int(v) if isinstance(v, bool) else v for v in values]
                assignments = ", ".join(f"{column} = ?" for column in changes)
                db.execute(f"UPDATE schemas SET {assignments} WHERE id = ?", (*values, schema_id))

    def soft_delete_schema(self, schema_id: str) -> None:
        """§9.4: the row and its synced table are soft-deleted (`table` reads null even once restored)."""
        with self._tx() as db:
            db.execute(
                "UPDATE schemas SET deleted = 1, deleted_at = ?, synced_table = NULL WHERE id = ?",
                (now_iso(), schema_id),
            )

    def team_has_schema_status(self, team_id: int, status: str) -> bool:
        rows = self._query(
            "SELECT 1 FROM schemas WHERE team_id = ? AND deleted = 0 AND status = ? LIMIT 1", (team_id, status)
        )
        return bool(rows)

    def reconcile_schemas(self, source_id: str, team_id: int, discovered: Sequence[NewSchema]) -> tuple[int, int]:
        """§8.7 refresh semantics. New names → rows with should_sync false; a soft-deleted row of the same
        name is restored instead (old config kept); live names gone upstream → soft-deleted if they never
        synced a table, else kept disabled with status Completed. Returns (added, deleted)."""
        added = deleted = 0
        seen = {d.name: d for d in discovered}
        stamp = now_iso()
        with self._tx() as db:
            rows = [
                _schema(r)
                for r in db.execute(
                    "SELECT * FROM schemas WHERE source_id = ? ORDER BY deleted, rowid DESC", (source_id,)
                )
            ]
            live = {r.name: r for r in rows if not r.deleted}
            dead: dict[str, SchemaRow] = {}
            for r in rows:
                if r.deleted:
                    dead.setdefault(r.name, r)
            for name, d in seen.items():
                if name in live:
                    db.execute(
                        "UPDATE schemas SET label = ?, description = ?, available_columns = ?, webhook_only = ?"
                        " WHERE id = ?",
                        (d.label, d.description, json.dumps(d.available_columns), int(d.webhook_only), live[name].id),
                    )
                elif name in dead:
                    db.execute(
                        "UPDATE schemas SET deleted = 0, deleted_at = NULL, label = ?, description = ?,"
                        " available_columns = ?, webhook_only = ? WHERE id = ?",
                        (d.label, d.description, json.dumps(d.available_columns), int(d.webhook_only), dead[name].id),
                    )
                    added += 1
                else:
                    self._insert_schema(db, source_id, team_id, d)
                    added += 1
            for name, r in live.items():
                if name in seen:
                    continue
                if r.synced_table is None and r.last_synced_at is None:
                    db.execute("UPDATE schemas SET deleted = 1, deleted_at = ? WHERE id = ?", (stamp, r.id))
                    deleted += 1
                else:
                    db.execute("UPDATE schemas SET should_sync = 0, status = 'Completed' WHERE id = ?", (r.id,))
        return added, deleted

    # ---- jobs ----------------------------------------------------------------------------------

    def start_jobs(
        self, source_id: str, created_by: str | None = None, schema_ids: Sequence[str] | None = None
    ) -> list[JobRow]:
        """`reload` (§8.6): a Running job per enabled schema (or per schema in `schema_ids`, enabled or not,
        for the schema-level reload/resync of §9.4); those schemas and the source become Running.
        Completing jobs is left to the caller (see `finish_job`)."""
        started: list[str] = []
        with self._tx() as db:
            source = db.execute("SELECT team_id FROM sources WHERE id = ?", (source_id,)).fetchone()
            if schema_ids is None:
                targets = db.execute(
                    "SELECT id FROM schemas WHERE source_id = ? AND deleted = 0 AND should_sync = 1 ORDER BY name",
                    (source_id,),
                ).fetchall()
            else:
                marks = ", ".join("?" for _ in schema_ids)
                targets = db.execute(
                    f"SELECT id FROM schemas WHERE source_id = ? AND deleted = 0 AND id IN ({marks}) ORDER BY name",
                    (source_id, *schema_ids),
                ).fetchall()
            for row in targets:
                job_id = str(uuid.uuid4())
                db.execute(
                    "INSERT INTO jobs (id, source_id, schema_id, team_id, created_at, status, rows_synced,"
                    " workflow_run_id, created_by) VALUES (?, ?, ?, ?, ?, 'Running', 0, ?, ?)",
                    (
                        job_id,
                        source_id,
                        row["id"],
                        source["team_id"],
                        now_iso(),
                        f"{row['id']}-{job_id[:8]}",
                        created_by,
                    ),
                )
                db.execute("UPDATE schemas SET status = 'Running' WHERE id = ?", (row["id"],))
                started.append(job_id)
            if schema_ids is None:
                db.execute("UPDATE sources SET status = 'Running' WHERE id = ?", (source_id,))
        return [j for j in (self.get_job(i) for i in started) if j is not None]

    def finish_job(
        self,
        job_id: str,
        *,
        status: str,
        rows_synced: int = 0,
        latest_error: str | None = None,
        table: dict[str, Any] | None = None,
    ) -> None:
        """End a Running job; a Completed one marks its schema synced (status, last_synced_at and, when
        given, the synced `table` object if the schema has none yet). Ended jobs are left alone."""
        stamp = now_iso()
        with self._tx() as db:
            job = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if job is None or job["status"] != "Running":
                return
            db.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, rows_synced = ?, latest_error = ? WHERE id = ?",
                (status, stamp, rows_synced, latest_error, job_id),
            )
            if job["schema_id"] is not None:
                completed = status == "Completed"
                db.execute(
                    "UPDATE schemas SET status = ?, latest_error = ?,"
                    " last_synced_at = CASE WHEN ? THEN ? ELSE last_synced_at END,"
                    " synced_table = CASE WHEN ? AND synced_table IS NULL THEN ? ELSE synced_table END WHERE id = ?",
                    (status, latest_error, completed, stamp, completed and table is not None, _dumps(table),
                     job["schema_id"]),
                )  # fmt: skip

    def cancel_job(self, job_id: str) -> None:
        """A cancelled Running job ends `Failed` (PostHog's job statuses have no "Cancelled", §8.8); its
        schema goes back to `Completed` if it synced before, else to no status."""
        stamp = now_iso()
        with self._tx() as db:
            job = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if job is None or job["status"] != "Running":
                return
            db.execute("UPDATE jobs SET status = 'Failed', finished_at = ? WHERE id = ?", (stamp, job_id))
            if job["schema_id"] is not None:
                db.execute(
                    "UPDATE schemas SET status = CASE WHEN last_synced_at IS NULL THEN NULL ELSE 'Completed' END"
                    " WHERE id = ? AND status = 'Running'",
                    (job["schema_id"],),
                )

    def running_jobs(self, *, started_before: str | None = None) -> list[JobRow]:
        """Running jobs, oldest first; with `started_before`, only those created at or before it."""
        sql, params = "SELECT * FROM jobs WHERE status = 'Running'", []
        if started_before is not None:
            sql += " AND created_at <= ?"
            params.append(started_before)
        return [_job(r) for r in self._query(sql + " ORDER BY created_at, rowid", params)]

    def latest_job_of_schema(self, schema_id: str) -> JobRow | None:
        rows = self._query("SELECT * FROM jobs WHERE schema_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                           (schema_id,))  # fmt: skip
        return _job(rows[0]) if rows else None

    def get_job(self, job_id: str) -> JobRow | None:
        rows = self._query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def list_jobs(
        self,
        source_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        schema_names: Sequence[str] = (),
        limit: int = 50,
    ) -> list[JobRow]:
        """§8.8: billable jobs, newest first, exclusive `after`/`before` bounds on created_at, name filter."""
        sql = (
            "SELECT j.* FROM jobs j LEFT JOIN schemas s ON s.id = j.schema_id WHERE j.source_id = ? AND j.billable = 1"
        )
        params: list[Any] = [source_id]
        if after is not None:
            sql += " AND j.created_at > ?"
            params.append(after)
        if before is not None:
            sql += " AND j.created_at < ?"
            params.append(before)
        if schema_names:
            sql += f" AND s.name IN ({', '.join('?' for _ in schema_names)})"
            params.extend(schema_names)
        sql += " ORDER BY j.created_at DESC, j.rowid DESC LIMIT ?"
        params.append(limit)
        return [_job(r) for r in self._query(sql, params)]

    def schemas_by_id(self, schema_ids: Sequence[str]) -> dict[str, SchemaRow]:
        if not schema_ids:
            return {}
        marks = ", ".join("?" for _ in schema_ids)
        return {r["id"]: _schema(r) for r in self._query(f"SELECT * FROM schemas WHERE id IN ({marks})", schema_ids)}

    def last_completed_job_at(self, source_ids: Sequence[str]) -> dict[str, str]:
        """`created_at` of each source's newest Completed job (for `last_run_at`, §6)."""
        if not source_ids:
            return {}
        marks = ", ".join("?" for _ in source_ids)
        rows = self._query(
            f"SELECT source_id, MAX(created_at) AS at FROM jobs WHERE source_id IN ({marks}) AND status = 'Completed'"
            " GROUP BY source_id",
            source_ids,
        )
        return {r["source_id"]: r["at"] for r in rows}
