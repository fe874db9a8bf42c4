"""The `table` object a schema shows (§7 `{"id", "name", "columns", "row_count"}`): a warehouse schema's after
its first simulated sync, and a direct-query schema's live table, which exists from the moment the schema is
enabled (PostHog's live-query table: named like the schema, no rows copied, so no row count).

Pure functions of rows and column lists; no HTTP, no storage.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.emulator.store import SchemaRow, SourceRow

__all__ = ["SIMULATED_ROWS", "live_table", "synced_table"]

#: Rows every simulated sync reports (deterministic on purpose).
SIMULATED_ROWS = 100


def _columns(
    available: Iterable[Mapping[str, Any]], enabled: Sequence[str] | None, always: Iterable[str | None] = ()
) -> list[dict[str, Any]]:
    """The table's columns: every available one, or the enabled ones plus those always kept (key, cursor)."""
    kept = None if enabled is None else {*enabled, *(c for c in always if c)}
    return [
        {"key": c.get("name"), "name": c.get("name"), "type": c.get("data_type"), "schema_valid": True}
        for c in available
        if isinstance(c, Mapping) and (kept is None or c.get("name") in kept)
    ]


def synced_table(source: SourceRow, schema: SchemaRow) -> dict[str, Any]:
    """The warehouse table after the first sync, named as PostHog names warehouse tables: prefix + source type
    + "_" + schema name, lower-cased, non-alphanumerics → "_"."""
    name = re.sub(r"[^a-z0-9_]", "_", f"{source.prefix or ''}{source.source_type}_{schema.name}".lower())
    columns = _columns(schema.available_columns, schema.enabled_columns)
    return {"id": str(uuid.uuid4()), "name": name, "columns": columns, "row_count": SIMULATED_ROWS}


def live_table(
    name: str,
    available: Iterable[Mapping[str, Any]],
    enabled: Sequence[str] | None,
    *,
    primary_key: Sequence[str] | None = None,
    incremental_field: str | None = None,
    existing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A direct-query schema's table: named like the schema (with a blank `schema` setting discovery names it
    `<physical schema>.<table>`), columns projected by `enabled_columns` (the primary key and the cursor are
    always kept), no row count. An existing table keeps its id (PostHog updates it in place)."""
    table_id = str(existing["id"]) if existing and existing.get("id") else str(uuid.uuid4())
    columns = _columns(available, enabled, (*(primary_key or ()), incremental_field))
    return {"id": table_id, "name": name, "columns": columns, "row_count": None}
