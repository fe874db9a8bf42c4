"""The `sources` table: create (with its schema rows, atomically), read, list, update, soft delete, and the
(type, prefix) uniqueness rule (§8.3 step 3, §8.10). No HTTP; no validation beyond uniqueness.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.emulator.store.database import Database, page_window
from reconciler.emulator.store.rows import (
    UNSET,
    NewSchema,
    PrefixConflict,
    SourceRow,
    now_iso,
    source_row,
    stringify_leaves,
)
from reconciler.emulator.store.schemas import insert_schema

__all__ = ["SourceTable"]


class SourceTable(Database):
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
                insert_schema(db, source_id, team_id, schema)
        source = self.get_source(team_id, source_id)
        assert source is not None
        return source

    def get_source(self, team_id: int, source_id: str) -> SourceRow | None:
        rows = self._query("SELECT * FROM sources WHERE id = ? AND team_id = ? AND deleted = 0", (source_id, team_id))
        return source_row(rows[0]) if rows else None

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
            window = page_window(count, limit, offset)
            rows = [] if window is None else self._db.execute(
                f"SELECT * FROM sources WHERE {where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (*params, *window),
            ).fetchall()  # fmt: skip
        return count, [source_row(r) for r in rows]

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
