"""The `jobs` table: start a Running job per schema, finish or cancel it, and the reads `jobs`, `last_run_at` and
the simulated syncs need (§8.6, §8.8). No HTTP; when a job completes is `rules/syncs.py`'s decision.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from reconciler.emulator.store.database import Database
from reconciler.emulator.store.rows import JobRow, dumps_or_none, job_row, now_iso

__all__ = ["JobTable"]


class JobTable(Database):
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
                    (status, latest_error, completed, stamp, completed and table is not None, dumps_or_none(table),
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

    def set_job_status(self, job_id: str, status: str) -> None:
        """Set a job's status as it stands (the control API's simulated outcomes); nothing else changes."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET status = ? WHERE id = ?", (status, job_id))

    def running_jobs(self, *, started_before: str | None = None) -> list[JobRow]:
        """Running jobs, oldest first; with `started_before`, only those created at or before it."""
        sql, params = "SELECT * FROM jobs WHERE status = 'Running'", []
        if started_before is not None:
            sql += " AND created_at <= ?"
            params.append(started_before)
        return [job_row(r) for r in self._query(sql + " ORDER BY created_at, rowid", params)]

    def latest_job_of_schema(self, schema_id: str) -> JobRow | None:
        rows = self._query("SELECT * FROM jobs WHERE schema_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                           (schema_id,))  # fmt: skip
        return job_row(rows[0]) if rows else None

    def get_job(self, job_id: str) -> JobRow | None:
        rows = self._query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return job_row(rows[0]) if rows else None

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
        return [job_row(r) for r in self._query(sql, params)]

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
