"""Offline checks of a source's table names and cursor fields against what the catalog knows of its type.

Pure: knows the catalog's table facts (`SourceType.tables`, `.is_database`), not files or HTTP. API types
whose tables PostHog lists statically get errors (with a did-you-mean); database types discover their tables
at connect time, so only a likely naming mistake is a warning; so is an unknown name when the catalog's list
may be behind PostHog's (`SourceType.tables_complete`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.catalog import SourceType, TableSpec
from reconciler.manifest.document import NodePath
from reconciler.manifest.models import TableSettings
from reconciler.manifest.problems import Report, did_you_mean

__all__ = ["check_table_names", "check_table_settings"]


def check_table_names(
    tables: Mapping[str, TableSettings],
    st: SourceType,
    config: Mapping[str, Any],
    base: NodePath,
    report: Report,
    warn: Report,
) -> None:
    known = st.tables
    if known is not None:
        unknown = report if st.tables_complete else warn
        for name, settings in tables.items():
            spec = known.get(name)
            if spec is not None:
                _check_cursor(spec, settings, st, (*base, name), report)
            elif not name.startswith(st.table_prefixes or ("\0",)):
                unknown(
                    (*base, name),
                    f"{st.name} has no table '{name}'{did_you_mean(name, known)}",
                    key=True,
                    hint=f"{st.name} tables: {', '.join(known)}",
                    reference="unknown-table",
                )
    elif st.is_database and st.field("schema") is not None:
        _check_schema_qualified(tables, config.get("schema"), base, warn)


def check_table_settings(
    tables: Mapping[str, TableSettings],
    st: SourceType | None,
    config: Mapping[str, Any],
    base: NodePath,
    report: Report,
) -> None:
    """Per-table rules that need no table list: cursor settings, 1min frequency, webhook/CDC/column support."""
    for name, t in tables.items():
        path = (*base, name)
        enabled = t.sync is not False
        if t.sync_type in ("incremental", "append") and enabled:
            # reference/posthog-api.md §8.3 step 11: incremental/append tables need a cursor field and type.
            for key in ("incremental_field", "incremental_field_type"):
                if getattr(t, key) is None:
                    report(path, f"sync_type '{t.sync_type}' needs {key}", key=True, reference="missing-field")
        if t.frequency == "1min" and t.sync_type != "cdc":
            # reference/posthog-api.md §9.3: 1-minute frequency is for CDC schemas only.
            report(
                (*path, "frequency"),
                "frequency '1min' is only available with sync_type 'cdc'; the fastest for other sync types is '5min'",
            )
        if st is None:
            continue
        if t.sync_type == "webhook" and not st.supports_webhooks:
            report((*path, "sync_type"), f"{st.name} does not support webhooks; sync_type 'webhook' is not possible")
        if t.sync_type == "cdc" and enabled and config.get("cdc_enabled") is not True:
            # reference/posthog-api.md §8.3 step 11: CDC must be enabled on the source first.
            report((*path, "sync_type"), "sync_type 'cdc' needs CDC enabled on the source (config.cdc_enabled: true)")
        if "enabled_columns" in t.given and t.enabled_columns is not None and not st.supports_column_selection:
            report((*path, "enabled_columns"), f"{st.name} does not support column selection")


def _check_cursor(spec: TableSpec, settings: TableSettings, st: SourceType, path: NodePath, report: Report) -> None:
    field = settings.incremental_field
    if field is None or settings.sync_type not in ("incremental", "append"):
        return
    fields = [c.field for c in spec.cursors]
    if not fields:
        report(
            (*path, "sync_type"),
            f"{st.name} table '{spec.name}' has no incremental field: it syncs with full_refresh only",
            reference="invalid-table",
        )
    elif field not in fields:
        report(
            (*path, "incremental_field"),
            f"'{field}' is not an incremental field of {st.name} table '{spec.name}'; expected one of: "
            f"{', '.join(fields)}{did_you_mean(field, fields)}",
            reference="invalid-table",
        )


def _check_schema_qualified(tables: Mapping[str, Any], schema: Any, base: NodePath, warn: Report) -> None:
    """Postgres-like types name tables `schema.table` when no schema is set, plain `table` when one is."""
    for name in tables:
        if schema and "." in name:
            warn(
                (*base, name),
                f"table '{name}' names a schema, but config.schema is '{schema}': PostHog lists that schema's "
                "tables without it",
                key=True,
                reference="table-name",
            )
        elif not schema and "." not in name:
            warn(
                (*base, name),
                f"table '{name}' has no schema: with config.schema empty, PostHog names tables 'schema.table'",
                key=True,
                reference="table-name",
            )
