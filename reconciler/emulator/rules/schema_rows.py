"""The schema row a discovered table gets: at create, from its `payload.schemas` item (reference §8.3 step 12,
§16), and on discovery (`refresh_schemas`, §8.7). Which settings PostHog keeps depends on the sync type and the
source, and what it does not keep reads back null:

* the cursor (`incremental_field[_type]`) only for incremental/append schemas;
* `primary_key_columns` only for incremental/append (the item's, else the detected keys) and CDC (the table's
  primary-key constraint); a `webhook` or full-refresh schema has none;
* a CDC item that is not enabled is not set up: no sync type, the 6-hour default;
* a direct-query source schedules nothing: no sync type, time of day, cursor or key, and an enabled schema
  gets its live table at once;
* `available_columns` only for source types with column selection (`[]` for the others).

Pure; no HTTP, no storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.rules.tables import live_table
from reconciler.emulator.store import NewSchema
from reconciler.emulator.upstreams.types import DiscoveredTable

__all__ = ["RowContext", "created_row", "discovered_row"]

_CURSOR_SYNC_TYPES = ("incremental", "append")


@dataclass(frozen=True)
class RowContext:
    """What the source contributes: `direct` (a direct-query source), `column_selection` (the type keeps the
    discovered columns), `sql` (Postgres/MySQL: discovery stores the detected key on every row)."""

    direct: bool = False
    column_selection: bool = False
    sql: bool = False


def _available(table: DiscoveredTable, ctx: RowContext) -> list[dict[str, Any]]:
    if not ctx.column_selection:
        return []
    return [{"name": c.name, "data_type": c.data_type, "is_nullable": c.nullable} for c in table.columns]


def _enabled_columns(raw: Any) -> list[str] | None:
    """`[]` and null differ: null syncs every column, `[]` only the key and the cursor."""
    return [c for c in raw if isinstance(c, str)] if isinstance(raw, list) else None


def created_row(item: Mapping[str, Any], table: DiscoveredTable, ctx: RowContext) -> NewSchema:
    """The row one `payload.schemas` item creates. `sync_frequency` is not read at create: 6 hours, 5 minutes
    for a CDC schema that is set up."""
    sync_type = item.get("sync_type")
    should_sync = bool(item.get("should_sync", False))
    cdc_set_up = sync_type == "cdc" and should_sync and not ctx.direct
    cursor = sync_type in _CURSOR_SYNC_TYPES and not ctx.direct
    if cursor:
        primary_key = item.get("primary_key_columns") or table.primary_keys or None
    elif cdc_set_up:
        primary_key = table.key_constraint
    else:
        primary_key = None
    enabled = _enabled_columns(item.get("enabled_columns"))
    available = _available(table, ctx)
    keep_type = not ctx.direct and (sync_type != "cdc" or cdc_set_up)
    return NewSchema(
        name=table.name,
        label=table.label,
        description=table.description,
        should_sync=should_sync,
        sync_type=sync_type if keep_type else None,
        incremental_field=item.get("incremental_field") if cursor else None,
        incremental_field_type=item.get("incremental_field_type") if cursor else None,
        sync_frequency="5min" if cdc_set_up else "6hour",
        sync_time_of_day=None if ctx.direct else item.get("sync_time_of_day"),
        primary_key_columns=list(primary_key) if primary_key else None,
        cdc_table_mode=(item.get("cdc_table_mode") or "consolidated") if cdc_set_up else "consolidated",
        enabled_columns=enabled,
        available_columns=available,
        webhook_only=table.webhook_only,
        synced_table=(
            live_table(
                table.name,
                [{"name": c.name, "data_type": c.data_type} for c in table.columns],
                enabled,
                primary_key=table.primary_keys,
                incremental_field=item.get("incremental_field"),
            )
            if ctx.direct and should_sync
            else None
        ),
    )


def discovered_row(table: DiscoveredTable, ctx: RowContext) -> NewSchema:
    """The row discovery adds for a new table (disabled); SQL sources keep the detected key on it."""
    return NewSchema(
        name=table.name,
        label=table.label,
        description=table.description,
        primary_key_columns=list(table.primary_keys) if ctx.sql and table.primary_keys else None,
        available_columns=_available(table, ctx),
        webhook_only=table.webhook_only,
    )
