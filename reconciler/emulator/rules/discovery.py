"""`refresh_schemas` (reference §8.7), and `reload` on a direct-query source, which is the same thing (§16):
re-discover the upstream's tables and reconcile the source's schema rows with them; never syncs.

Rows follow `store.reconcile_schemas` (add disabled, restore soft-deleted, retire vanished); SQL sources keep
the detected primary key on rows that have none. On a direct-query source the live tables follow the rows: an
enabled schema (a restored one included) has its table, a disabled one none, and a schema whose table vanished
upstream is soft-deleted even if it was in use. No HTTP: the caller turns `UpstreamError` into its response.
"""

from __future__ import annotations

from typing import Any

from reconciler.catalog import SourceType
from reconciler.emulator.rules.schema_rows import RowContext, discovered_row
from reconciler.emulator.rules.tables import live_table
from reconciler.emulator.store import SourceRow, Store
from reconciler.emulator.upstreams.types import DiscoveredTable, Upstream

__all__ = ["refresh_source"]

_SQL_TYPES = ("Postgres", "MySQL")


def refresh_source(store: Store, source: SourceRow, st: SourceType, upstream: Upstream) -> dict[str, int]:
    """Discover and reconcile; `{"added", "deleted", "total_tables_seen"}`. Raises UpstreamError."""
    tables = upstream.discover(source.source_type, source.job_inputs)
    direct = source.access_method == "direct"
    ctx = RowContext(direct=direct, column_selection=st.supports_column_selection, sql=source.source_type in _SQL_TYPES)
    added, deleted = store.reconcile_schemas(
        source.id,
        source.team_id,
        [discovered_row(t, ctx) for t in tables],
        fill_primary_keys=ctx.sql,
        keep_synced_missing=not direct,
    )
    if direct:
        _follow_rows_with_tables(store, source, {t.name: t for t in tables})
    return {"added": added, "deleted": deleted, "total_tables_seen": len(tables)}


def _follow_rows_with_tables(store: Store, source: SourceRow, tables: dict[str, DiscoveredTable]) -> None:
    """Direct-query: every enabled schema gets (or keeps, re-projected) its live table; others have none."""
    updates: list[tuple[str, dict[str, Any]]] = []
    for row in store.schemas_of([source.id])[source.id]:
        table = tables.get(row.name)
        if not row.should_sync or table is None:
            updates.append((row.id, {"synced_table": None}))
            continue
        columns = [{"name": c.name, "data_type": c.data_type} for c in table.columns]
        fresh = live_table(
            row.name,
            columns,
            row.enabled_columns,
            primary_key=table.primary_keys,
            incremental_field=row.incremental_field,
            existing=row.synced_table,
        )
        updates.append((row.id, {"synced_table": fresh}))
    store.update_schemas(updates)
