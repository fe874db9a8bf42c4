"""A discovered table as JSON and back: the body of the control API's `GET|PUT /_emulator/upstreams/{type}`.

`table_spec` writes every fact a `DiscoveredTable` holds and `parse_table_specs` reads them back, so what the
control API returns is what it accepts (a read-modify-write keeps Stripe's `created_at`/`datetime` label apart
from its `created`/`integer` field, the detected keys apart from the key constraint, and so on). Writing a spec
by hand may leave most keys out: see `parse_table_specs` for the defaults. Pure; no HTTP, no storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.emulator.upstreams.types import Column, DiscoveredTable, IncrementalField

__all__ = ["TableSpecError", "parse_table_specs", "table_spec"]

#: Keys a table spec may carry.
_TABLE_KEYS = frozenset(
    {"name", "label", "description", "columns", "primary_keys", "primary_key_constraint", "incremental_fields",
     "incremental_available", "append_available", "webhook_only", "supports_webhooks"}
)  # fmt: skip
_FIELD_KEYS = frozenset({"label", "type", "field", "field_type", "nullable", "is_indexed"})
#: Column types whose columns can be incremental cursors when a table spec does not list them.
_CURSOR_TYPES = frozenset({"integer", "numeric", "date", "datetime", "timestamp"})


class TableSpecError(Exception):
    """A spec that cannot describe a table; `attr` names the offending part (`tables__0__columns__1`)."""

    def __init__(self, detail: str, attr: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attr = attr


def table_spec(table: DiscoveredTable) -> dict[str, Any]:
    """Every fact of `table`, in the shape `parse_table_specs` reads back unchanged."""
    return {
        "name": table.name,
        "label": table.label,
        "description": table.description,
        "columns": [{"name": c.name, "type": c.data_type, "nullable": c.nullable} for c in table.columns],
        "primary_keys": None if table.primary_keys is None else list(table.primary_keys),
        "primary_key_constraint": list(table.key_constraint),
        "incremental_fields": [_cursor_spec(f) for f in table.incremental_fields],
        "incremental_available": table.incremental_available,
        "append_available": table.append_available,
        "webhook_only": table.webhook_only,
        "supports_webhooks": table.supports_webhooks,
    }


def _cursor_spec(cursor: IncrementalField) -> dict[str, Any]:
    return {
        "label": cursor.label,
        "type": cursor.type,
        "field": cursor.field,
        "field_type": cursor.field_type,
        "nullable": cursor.nullable,
        "is_indexed": cursor.is_indexed,
    }


def parse_table_specs(payload: Any) -> list[DiscoveredTable]:
    """`{"tables": [...]}` → tables, or TableSpecError naming the first bad entry.

    Defaults for keys a hand-written spec leaves out: `columns` one non-null `id` string column (a column may
    be just its name); `primary_keys` `["id"]` when there is an `id` column, else `[]`;
    `primary_key_constraint` the primary keys; `incremental_fields` every integer, numeric, date, datetime or
    timestamp column (none for a webhook-only table), each a column name or an object whose `label`, `type`
    and `field_type` default to the field and its column's type; `incremental_available` and
    `append_available` whether there is a cursor; `supports_webhooks` `webhook_only`."""
    if not isinstance(payload, Mapping):
        raise TableSpecError("Expected a JSON object.")
    tables_raw = payload.get("tables")
    if not isinstance(tables_raw, list):
        raise TableSpecError("tables must be a list.", attr="tables")
    tables = [_table(t, f"tables__{i}") for i, t in enumerate(tables_raw)]
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        raise TableSpecError("table names must be unique.", attr="tables")
    return tables


def _table(raw: Any, where: str) -> DiscoveredTable:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise TableSpecError(f"{where}: a table is an object with a non-empty name.", attr=where)
    unknown = set(raw) - _TABLE_KEYS
    if unknown:
        raise TableSpecError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}.", attr=where)
    cols_raw = raw.get("columns", [{"name": "id", "type": "string", "nullable": False}])
    if not isinstance(cols_raw, list):
        raise TableSpecError(f"{where}__columns must be a list.", attr=f"{where}__columns")
    columns = {c.name: c for c in (_column(c, f"{where}__columns__{j}") for j, c in enumerate(cols_raw))}
    webhook_only = _flag(raw, "webhook_only", False, where)
    default_keys: list[str] | None = ["id"] if "id" in columns else []
    primary_keys = _names(raw.get("primary_keys", default_keys), f"{where}__primary_keys", columns, nullable=True)
    constraint = _names(raw.get("primary_key_constraint", primary_keys or []), f"{where}__primary_key_constraint",
                        columns)  # fmt: skip
    cursors = _cursors(raw, columns, webhook_only, where)
    for key in ("label", "description"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise TableSpecError(f"{where}__{key} must be a string or null.", attr=f"{where}__{key}")
    return DiscoveredTable(
        name=raw["name"],
        columns=tuple(columns.values()),
        primary_keys=None if primary_keys is None else tuple(primary_keys),
        key_constraint=tuple(constraint or ()),
        incremental_fields=cursors,
        label=raw.get("label"),
        description=raw.get("description"),
        webhook_only=webhook_only,
        supports_webhooks=_flag(raw, "supports_webhooks", webhook_only, where),
        incremental_available=_flag(raw, "incremental_available", bool(cursors), where),
        append_available=_flag(raw, "append_available", bool(cursors), where),
    )


def _flag(raw: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise TableSpecError(f"{where}__{key} must be a boolean.", attr=f"{where}__{key}")
    return value


def _column(raw: Any, where: str) -> Column:
    if isinstance(raw, str) and raw:
        return Column(raw, "string")
    if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) and raw["name"]:
        data_type = raw.get("type", raw.get("data_type", "string"))
        nullable = raw.get("nullable", True)
        if not isinstance(data_type, str) or not isinstance(nullable, bool):
            raise TableSpecError(f"{where}: type must be a string and nullable a boolean.", attr=where)
        return Column(raw["name"], data_type, nullable)
    raise TableSpecError(f"{where}: a column is a name or {{name, type, nullable}}.", attr=where)


def _names(raw: Any, where: str, columns: Mapping[str, Column], *, nullable: bool = False) -> list[str] | None:
    if raw is None and nullable:
        return None
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise TableSpecError(f"{where} must be a list of column names.", attr=where)
    missing = [n for n in raw if columns and n not in columns]
    if missing:
        raise TableSpecError(f"{where} names unknown column(s): {', '.join(missing)}.", attr=where)
    return list(raw)


def _cursors(
    raw: Mapping[str, Any], columns: Mapping[str, Column], webhook_only: bool, where: str
) -> tuple[IncrementalField, ...]:
    default = [] if webhook_only else [n for n, c in columns.items() if c.data_type in _CURSOR_TYPES]
    items = raw.get("incremental_fields", default)
    if not isinstance(items, list):
        raise TableSpecError(f"{where}__incremental_fields must be a list.", attr=f"{where}__incremental_fields")
    return tuple(_cursor(item, columns, f"{where}__incremental_fields__{k}") for k, item in enumerate(items))


def _cursor(raw: Any, columns: Mapping[str, Column], where: str) -> IncrementalField:
    spec: Mapping[str, Any] = {"field": raw} if isinstance(raw, str) else raw
    if not isinstance(spec, Mapping) or not isinstance(spec.get("field"), str) or not spec["field"]:
        raise TableSpecError(f"{where}: a cursor is a column name or an object with a field.", attr=where)
    unknown = set(spec) - _FIELD_KEYS
    if unknown:
        raise TableSpecError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}.", attr=where)
    column = columns.get(spec["field"])
    if isinstance(raw, str) and column is None:
        raise TableSpecError(f"{where} names unknown column(s): {raw}.", attr=where)
    column_type = column.data_type if column is not None else "datetime"
    values = {
        "label": spec.get("label", spec["field"]),
        "type": spec.get("type", column_type),
        "field_type": spec.get("field_type", spec.get("type", column_type)),
    }
    flags = {"nullable": spec.get("nullable", column.nullable if column is not None else True),
             "is_indexed": spec.get("is_indexed", False)}  # fmt: skip
    if not all(isinstance(v, str) for v in values.values()) or not all(isinstance(v, bool) for v in flags.values()):
        raise TableSpecError(f"{where}: label, type and field_type are strings; nullable, is_indexed booleans.",
                             attr=where)  # fmt: skip
    return IncrementalField(field=spec["field"], **values, **flags)
