"""Simulated syncs: `reload`/`resync` start a Running job per schema, and each job completes after the server's
`--sync-seconds` (0: at once, inside the request, so tests are deterministic). No Temporal, no threads: jobs
that are due are completed lazily, at the start of the next request (`settle`).

Completion follows reference/posthog-api.md §7, §8.6, §8.8: the job gets `rows_synced` and `finished_at`, its
schema `status: Completed`, `last_synced_at` and a `table` object; the source's `last_run_at` derives from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from reconciler.emulator.problems import ApiProblem
from reconciler.emulator.rules.tables import SIMULATED_ROWS, synced_table
from reconciler.emulator.store import JobRow, Store

__all__ = ["BILLING_PAUSED", "refuse_if_billing_paused", "settle", "start_sync"]

#: §8.6, §9.4: any live schema of the team `Paused` (billing) blocks reload and resync.
BILLING_PAUSED = "Monthly sync limit reached. Please increase your billing limit to resume syncing."


def refuse_if_billing_paused(store: Store, team_id: int) -> None:
    """§8.6, §9.4: a team with any live schema `Paused` (billing) may not start syncs."""
    if store.team_has_schema_status(team_id, "Paused"):
        raise ApiProblem.message(BILLING_PAUSED)


def _complete(store: Store, job: JobRow) -> None:
    schema = store.schemas_by_id([job.schema_id]).get(job.schema_id) if job.schema_id else None
    source = store.get_source(job.team_id, job.source_id)
    table = synced_table(source, schema) if source is not None and schema is not None else None
    store.finish_job(job.id, status="Completed", rows_synced=SIMULATED_ROWS, table=table)


def start_sync(
    store: Store,
    source_id: str,
    *,
    sync_seconds: float,
    schema_ids: Sequence[str] | None = None,
    created_by: str | None = None,
) -> list[JobRow]:
    """Start jobs (every enabled schema, or exactly `schema_ids`); with `sync_seconds` 0 they complete now."""
    jobs = store.start_jobs(source_id, created_by=created_by, schema_ids=schema_ids)
    if sync_seconds <= 0:
        for job in jobs:
            _complete(store, job)
    return jobs


def settle(store: Store, sync_seconds: float) -> None:
    """Complete every Running job started at least `sync_seconds` ago."""
    cutoff = datetime.now(UTC) - timedelta(seconds=sync_seconds)
    stamp = cutoff.isoformat(timespec="microseconds").replace("+00:00", "Z")
    for job in store.running_jobs(started_before=stamp):
        _complete(store, job)
