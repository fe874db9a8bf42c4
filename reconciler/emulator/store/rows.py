"""The store's vocabulary: frozen row dataclasses, the row to insert (`NewSchema`), "not given" (`UNSET`), and
the two PostHog storage facts that shape values (job_inputs leaves as strings, DRF timestamps).

Decodes SQLite rows; runs no query (see `database.py` and the table modules).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "UNSET",
    "JobRow",
    "NewSchema",
    "PrefixConflict",
    "SchemaRow",
    "SourceRow",
    "dumps_or_none",
    "job_row",
    "loads_or_none",
    "now_iso",
    "schema_row",
    "source_row",
    "stringify_leaves",
]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: "Not given" for update methods: distinct from None, which means "set to null".
UNSET: Any = _Unset()


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
    #: A direct-query schema's live table exists from the moment the schema is enabled (§16).
    synced_table: dict[str, Any] | None = None


def loads_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@functools.lru_cache(maxsize=4096)
def _columns(text: str) -> list[dict[str, Any]]:
    """Decoded `available_columns`, shared between rows with the same text (tables of one upstream often
    have identical column lists; a list of 50,000 tables would otherwise decode them 50,000 times).
    Read-only: callers never mutate it."""
    return list(json.loads(text))


def dumps_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def source_row(r: sqlite3.Row) -> SourceRow:
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


def schema_row(r: sqlite3.Row) -> SchemaRow:
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
        primary_key_columns=loads_or_none(r["primary_key_columns"]),
        cdc_table_mode=r["cdc_table_mode"],
        enabled_columns=loads_or_none(r["enabled_columns"]),
        available_columns=_columns(r["available_columns"]),
        webhook_only=bool(r["webhook_only"]),
        status=r["status"],
        latest_error=r["latest_error"],
        last_synced_at=r["last_synced_at"],
        synced_table=loads_or_none(r["synced_table"]),
        created_at=r["created_at"],
        deleted=bool(r["deleted"]),
    )


def job_row(r: sqlite3.Row) -> JobRow:
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
