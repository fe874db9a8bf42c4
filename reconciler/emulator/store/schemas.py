"""The `schemas` table: insert, read, list, batch update (§8.13: all or none), soft delete, and the refresh
reconciliation of §8.7. No HTTP; the PATCH rules live in `rules/schema_patch.py`.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.catalog import SCHEMA_WRITABLE_FIELDS
from reconciler.emulator.store.database import Database, page_window
from reconciler.emulator.store.rows import NewSchema, SchemaRow, dumps_or_none, now_iso, schema_row

__all__ = ["SCHEMA_UPDATABLE", "SchemaTable", "insert_schema"]

#: Schema columns `update_schemas` may set; the JSON-encoded ones among them.
SCHEMA_UPDATABLE = frozenset({*SCHEMA_WRITABLE_FIELDS, "status", "latest_error", "synced_table"})
_JSON_SCHEMA_COLUMNS = frozenset({"primary_key_columns", "enabled_columns", "synced_table"})


def insert_schema(db: sqlite3.Connection, source_id: str, team_id: int, s: NewSchema) -> str:
    """Insert one schema row inside the caller's transaction; returns its id."""
    schema_id = str(uuid.uuid4())
    db.execute(
        "INSERT INTO schemas (id, source_id, team_id, name, label, description, should_sync, sync_type,"
        " incremental_field, incremental_field_type, sync_frequency, sync_time_of_day, primary_key_columns,"
        " cdc_table_mode, enabled_columns, available_columns, webhook_only, synced_table, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            dumps_or_none(s.primary_key_columns),
            s.cdc_table_mode,
            dumps_or_none(s.enabled_columns),
            json.dumps(s.available_columns),
            int(s.webhook_only),
            dumps_or_none(s.synced_table),
            now_iso(),
        ),
    )
    return schema_id


class SchemaTable(Database):
    def schemas_of(self, source_ids: Sequence[str]) -> dict[str, list[SchemaRow]]:
        """Live schemas per source, ordered by name (§5: embedded schemas are name-ordered)."""
        out: dict[str, list[SchemaRow]] = {sid: [] for sid in source_ids}
        if not source_ids:
            return out
        marks = ", ".join("?" for _ in source_ids)
        for r in self._query(
            f"SELECT * FROM schemas WHERE source_id IN ({marks}) AND deleted = 0 ORDER BY name, rowid", source_ids
        ):
            out[r["source_id"]].append(schema_row(r))
        return out

    def get_schema(self, team_id: int, schema_id: str) -> SchemaRow | None:
        """A live schema of a live source."""
        rows = self._query(
            "SELECT s.* FROM schemas s JOIN sources src ON src.id = s.source_id"
            " WHERE s.id = ? AND s.team_id = ? AND s.deleted = 0 AND src.deleted = 0",
            (schema_id, team_id),
        )
        return schema_row(rows[0]) if rows else None

    def get_schema_any_team(self, schema_id: str) -> SchemaRow | None:
        """A live schema by id alone (the control API is not team-scoped)."""
        rows = self._query("SELECT * FROM schemas WHERE id = ? AND deleted = 0", (schema_id,))
        return schema_row(rows[0]) if rows else None

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
            window = page_window(count, limit, offset)
            rows = [] if window is None else self._db.execute(
                f"SELECT s.* {base} ORDER BY s.created_at DESC, s.rowid DESC LIMIT ? OFFSET ?", (*params, *window)
            ).fetchall()  # fmt: skip
        return count, [schema_row(r) for r in rows]

    def update_schemas(self, updates: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Apply `(schema_id, {column: value})` updates in one transaction (§8.13's all-or-nothing batch).
        Columns: the writable settings of §9.3 plus `status` and `latest_error`."""
        with self._tx() as db:
            for schema_id, changes in updates:
                unknown = set(changes) - SCHEMA_UPDATABLE
                if unknown:
                    raise ValueError(f"not updatable: {sorted(unknown)}")
                if not changes:
                    continue
                values = [dumps_or_none(v) if k in _JSON_SCHEMA_COLUMNS else v for k, v in changes.items()]
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

    def reconcile_schemas(
        self,
        source_id: str,
        team_id: int,
        discovered: Sequence[NewSchema],
        *,
        fill_primary_keys: bool = False,
        keep_synced_missing: bool = True,
    ) -> tuple[int, int]:
        """§8.7 refresh semantics. New names → rows with should_sync false; a soft-deleted row of the same
        name is restored instead (old config kept); live names gone upstream → soft-deleted if they never
        synced a table (or always, without `keep_synced_missing`: direct-query sources), else kept disabled
        with status Completed. With `fill_primary_keys` (SQL sources), a row without a primary key takes the
        discovered one. Returns (added, deleted)."""
        seen = {d.name: d for d in discovered}
        with self._tx() as db:
            rows = [
                schema_row(r)
                for r in db.execute(
                    "SELECT * FROM schemas WHERE source_id = ? ORDER BY deleted, rowid DESC", (source_id,)
                )
            ]
            live = {r.name: r for r in rows if not r.deleted}
            dead: dict[str, SchemaRow] = {}
            for r in rows:
                if r.deleted:
                    dead.setdefault(r.name, r)
            added = 0
            for name, d in seen.items():
                existing = live.get(name) or dead.get(name)
                if existing is None:
                    insert_schema(db, source_id, team_id, d)
                else:
                    _refresh_row(db, existing, d, fill_primary_keys)
                added += name not in live
            gone = [r for name, r in live.items() if name not in seen]
            deleted = _retire_rows(db, gone, keep_synced_missing)
        return added, deleted

    def schemas_by_id(self, schema_ids: Sequence[str]) -> dict[str, SchemaRow]:
        if not schema_ids:
            return {}
        marks = ", ".join("?" for _ in schema_ids)
        return {r["id"]: schema_row(r) for r in self._query(f"SELECT * FROM schemas WHERE id IN ({marks})", schema_ids)}


def _refresh_row(db: sqlite3.Connection, row: SchemaRow, found: NewSchema, fill_primary_keys: bool) -> None:
    """A discovered table's facts onto its row (restoring a soft-deleted one, whose settings are kept)."""
    primary_key = row.primary_key_columns
    if fill_primary_keys and not primary_key:
        primary_key = found.primary_key_columns
    db.execute(
        "UPDATE schemas SET deleted = 0, deleted_at = NULL, label = ?, description = ?, available_columns = ?,"
        " webhook_only = ?, primary_key_columns = ? WHERE id = ?",
        (found.label, found.description, json.dumps(found.available_columns), int(found.webhook_only),
         dumps_or_none(primary_key), row.id),
    )  # fmt: skip


def _retire_rows(db: sqlite3.Connection, rows: Sequence[SchemaRow], keep_synced: bool) -> int:
    """Rows whose table vanished upstream: soft-deleted (table too), or kept disabled if they synced a table
    and `keep_synced`. Returns how many were soft-deleted."""
    stamp = now_iso()
    deleted = 0
    for r in rows:
        if keep_synced and (r.synced_table is not None or r.last_synced_at is not None):
            db.execute("UPDATE schemas SET should_sync = 0, status = 'Completed' WHERE id = ?", (r.id,))
        else:
            db.execute(
                "UPDATE schemas SET deleted = 1, deleted_at = ?, synced_table = NULL WHERE id = ?", (stamp, r.id)
            )
            deleted += 1
    return deleted
