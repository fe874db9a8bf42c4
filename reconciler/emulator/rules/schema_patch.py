"""The schema PATCH rules of reference/posthog-api.md §9.3, as one pure function: a stored schema row and a
request body in, the column changes out, or the DRF-family ApiProblem PostHog would answer.

Used by `PATCH external_data_schemas/{id}/` and by each item of `bulk_update_schemas` (§8.13). No HTTP, no
storage: the caller loads the row and writes the changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from reconciler.catalog import (
    CDC_TABLE_MODES,
    INCREMENTAL_FIELD_TYPES,
    SCHEMA_WRITABLE_FIELDS,
    SYNC_FREQUENCIES,
    SYNC_TYPES,
)
from reconciler.emulator.problems import ApiProblem
from reconciler.emulator.rules.drf_fields import char_field, choice_field, parse_bool
from reconciler.emulator.rules.tables import live_table
from reconciler.emulator.store import SchemaRow

__all__ = [
    "WRITABLE_FIELDS",
    "PatchContext",
    "parse_time_field",
    "schema_changes",
    "validate_list_field",
]

#: §9.3: the writable keys, in the serializer's field order (the first failing field is the one reported).
WRITABLE_FIELDS = SCHEMA_WRITABLE_FIELDS
_CURSOR_SYNC_TYPES = ("incremental", "append", "webhook")
#: Sync frequencies only CDC schemas may use (§9.3).
_CDC_ONLY_FREQUENCIES = frozenset({"1min"})
#: Django's fallback time pattern (after `time.fromisoformat`), as DRF's TimeField parses ISO-8601 input.
_DJANGO_TIME = re.compile(r"^(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,6})\d{0,6})?)?$")
_TIME_FORMAT_ERROR = "Time has wrong format. Use one of these formats instead: hh:mm[:ss[.uuuuuu]]."


@dataclass(frozen=True)
class PatchContext:
    """What the rules need beyond the row: the team's CDC feature flag, whether the team is billing-paused,
    and whether the source schedules syncs (warehouse sources do; direct-query ones do not, and their
    enabled schemas have a live table instead)."""

    cdc_enabled_for_team: bool = False
    supports_scheduled_sync: bool = True
    billing_paused: bool = False


def parse_time_field(value: Any, attr: str) -> time | None:
    """DRF TimeField (ISO-8601 input): `time.fromisoformat`, then Django's `H:M[:S[.f]]` pattern."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
        m = _DJANGO_TIME.match(value)
        if m:
            hour, minute, second, micro = m.groups()
            try:
                return time(int(hour), int(minute), int(second or 0), int((micro or "0").ljust(6, "0")))
            except ValueError:
                pass
    raise ApiProblem.drf(400, _TIME_FORMAT_ERROR, attr=attr)


def validate_list_field(value: Any, attr: str) -> list[str] | None:
    """DRF ListField(child=CharField(), allow_null=True): a list of strings (numbers become strings)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ApiProblem.drf(
            400, f'Expected a list of items but got type "{type(value).__name__}".', code="not_a_list", attr=attr
        )
    out: list[str] = []
    for i, item in enumerate(value):
        text = char_field(item, f"{attr}__{i}", allow_null=False)
        assert text is not None
        out.append(text)
    return out


def _bool_field(value: Any, attr: str) -> bool:
    if value is None:
        raise ApiProblem.drf(400, "This field may not be null.", code="null", attr=attr)
    return parse_bool(value, attr)


def _validate_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The serializer's field validation (DRF family, `attr` = the field), in field order."""
    clean: dict[str, Any] = {}
    for name in WRITABLE_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name == "should_sync":
            clean[name] = _bool_field(value, name)
        elif name == "sync_type":
            clean[name] = choice_field(value, name, SYNC_TYPES, allow_null=True)
        elif name == "incremental_field":
            clean[name] = char_field(value, name)
        elif name == "incremental_field_type":
            clean[name] = choice_field(value, name, INCREMENTAL_FIELD_TYPES, allow_null=True)
        elif name == "sync_frequency":
            clean[name] = choice_field(value, name, tuple(SYNC_FREQUENCIES), allow_null=True)
        elif name == "sync_time_of_day":
            clean[name] = parse_time_field(value, name)
        elif name == "cdc_table_mode":
            clean[name] = choice_field(value, name, CDC_TABLE_MODES, allow_null=True)
        else:
            clean[name] = validate_list_field(value, name)
    return clean


def _invalid(detail: str) -> ApiProblem:
    """A `ValidationError("...")` raised in the serializer's update: non-field, `invalid_input` (§3)."""
    return ApiProblem.drf(400, detail)


def _check_enabled_columns(row: SchemaRow, columns: list[str] | None) -> None:
    known = {c.get("name") for c in row.available_columns if isinstance(c, dict)}
    if columns is None or not known:  # no discovered metadata: anything goes
        return
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise _invalid(
            f"Unknown columns in enabled_columns: {sorted(unknown)}. "
            "Run `Pull new schemas` to refresh available columns."
        )


_PK_LOCKED = (
    "Primary key cannot be changed after data has been synced. "
    "Delete the synced data first, then change the primary key."
)


def schema_changes(row: SchemaRow, data: Mapping[str, Any], ctx: PatchContext) -> dict[str, Any]:
    """Apply §9.3 to `data` against `row`; returns `{column: value}` for `Store.update_schemas`.

    Read-only keys are ignored. The order of the checks is PostHog's: field validation, the billing gate on
    a CDC table mode change, enabled_columns, CDC flag, webhook-only, the per-sync-type cursor/primary-key
    rules, the 1-minute floor, the time of day, "Sync type must be set up first", CDC primary key on enable;
    then a direct-query schema's live table follows. Each step returns its own changes."""
    clean = _validate_fields(data)
    _check_table_mode_billing(row, data, ctx)
    if "enabled_columns" in clean:
        _check_enabled_columns(row, clean["enabled_columns"])
    changes = _sync_type_change(row, clean, ctx)
    changes |= _sync_config_changes(row, clean)
    changes |= _frequency_change(row, clean)
    changes |= _time_of_day_change(clean, data)
    changes |= _should_sync_change(row, clean, ctx, changes.get("primary_key_columns", row.primary_key_columns))
    if "enabled_columns" in clean:
        changes["enabled_columns"] = clean["enabled_columns"]
    if not ctx.supports_scheduled_sync:
        changes |= _live_table_change(row, changes)
    return changes


#: The physical tables each CDC table mode writes to (PostHog's `_CDC_WRITE_TARGETS_BY_TABLE_MODE`).
_CDC_WRITE_TARGETS = {
    "consolidated": frozenset({"consolidated"}),
    "cdc_only": frozenset({"cdc_history"}),
    "both": frozenset({"consolidated", "cdc_history"}),
}


def _check_table_mode_billing(row: SchemaRow, data: Mapping[str, Any], ctx: PatchContext) -> None:
    """A CDC table mode that adds a write target needs a full re-snapshot, which a billing-paused team may
    not start (§16)."""
    if row.sync_type != "cdc" or "cdc_table_mode" not in data or not ctx.billing_paused:
        return
    new_mode = data.get("cdc_table_mode")
    added = _CDC_WRITE_TARGETS.get(new_mode or "", frozenset()) - _CDC_WRITE_TARGETS.get(
        row.cdc_table_mode, frozenset()
    )
    if new_mode != row.cdc_table_mode and added:
        raise _invalid(
            "Monthly sync limit reached. Please increase your billing limit before changing the CDC table mode "
            "— a full re-snapshot would be required."
        )


def _live_table_change(row: SchemaRow, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Direct-query: enabling a schema exposes its live table at once, a new column selection re-projects an
    exposed one, disabling hides it (§16)."""
    enabling = changes.get("should_sync") is True and not row.should_sync
    enabled_columns = changes.get("enabled_columns", row.enabled_columns)
    reproject = "enabled_columns" in changes and enabled_columns != row.enabled_columns and row.should_sync
    if enabling or (reproject and row.synced_table is not None):
        table = live_table(
            row.name,
            row.available_columns,
            enabled_columns,
            primary_key=row.primary_key_columns,
            incremental_field=row.incremental_field,
            existing=row.synced_table,
        )
        return {"synced_table": table}
    if changes.get("should_sync") is False and row.should_sync:
        return {"synced_table": None}
    return {}


def _sync_type_change(row: SchemaRow, clean: Mapping[str, Any], ctx: PatchContext) -> dict[str, Any]:
    """The CDC feature flag and the webhook-only rule; absent keeps the stored type, explicit null clears it."""
    if "sync_type" not in clean:
        return {}
    sync_type = clean["sync_type"]
    if sync_type == "cdc" and not ctx.cdc_enabled_for_team:
        raise _invalid("CDC is not enabled for this team")
    # §9.3: present and not "webhook" (explicit null included) on a webhook-only table.
    if sync_type != "webhook" and row.webhook_only:
        raise _invalid(f"{row.name} can only be synced via webhooks — pick the Webhook sync method.")
    return {"sync_type": sync_type}


def _sync_config_changes(row: SchemaRow, clean: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that live in the sync-type config: written only alongside the matching sync type."""
    sync_type = clean.get("sync_type")
    if sync_type in _CURSOR_SYNC_TYPES:
        return _cursor_changes(row, clean, sync_type)
    if sync_type == "cdc":
        return _cdc_changes(row, clean)
    if row.sync_type == "cdc" and clean.get("cdc_table_mode") is not None:
        return {"cdc_table_mode": clean["cdc_table_mode"]}
    return {}


def _cursor_changes(row: SchemaRow, clean: Mapping[str, Any], sync_type: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "primary_key_columns" in clean:
        new_pk = clean["primary_key_columns"]
        if sync_type == "incremental" and new_pk != row.primary_key_columns and row.synced_table is not None:
            raise _invalid(_PK_LOCKED)
        changes["primary_key_columns"] = new_pk
    for name in ("incremental_field", "incremental_field_type"):
        if name in clean:
            changes[name] = clean[name]
    return changes


def _cdc_changes(row: SchemaRow, clean: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if clean.get("cdc_table_mode") is not None:
        changes["cdc_table_mode"] = clean["cdc_table_mode"]
    new_pk = clean.get("primary_key_columns")
    if new_pk:
        if new_pk != row.primary_key_columns and row.synced_table is not None:
            raise _invalid(_PK_LOCKED)
        changes["primary_key_columns"] = new_pk
    elif not row.primary_key_columns:
        raise _invalid(
            f"CDC requires a primary key on table '{row.name}'. "
            "Provide primary_key_columns or refresh schema discovery to pick one up."
        )
    return changes


def _frequency_change(row: SchemaRow, clean: Mapping[str, Any]) -> dict[str, Any]:
    """The 1-minute floor for non-CDC schemas; null keeps the stored interval; "never" stores none (§7)."""
    resulting_type = clean.get("sync_type", row.sync_type)
    frequency = clean.get("sync_frequency")
    if (frequency or row.sync_frequency) in _CDC_ONLY_FREQUENCIES and resulting_type != "cdc":
        raise _invalid(
            "A 1-minute sync frequency is only available for CDC schemas. "
            "The fastest frequency for other sync types is 5 minutes."
        )
    if not frequency:
        return {}
    return {"sync_frequency": None if frequency == "never" else frequency}


def _time_of_day_change(clean: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """§9.3: re-parsed from the raw input with exactly HH:MM:SS, after the field's own ISO validation."""
    if "sync_time_of_day" not in clean:
        return {}
    raw = data["sync_time_of_day"]
    if raw is None:
        return {"sync_time_of_day": None}
    try:
        parsed = datetime.strptime(str(raw), "%H:%M:%S").time()
    except ValueError:
        raise _invalid("Invalid sync time of day") from None
    return {"sync_time_of_day": parsed.isoformat()}


def _should_sync_change(
    row: SchemaRow, clean: Mapping[str, Any], ctx: PatchContext, primary_key: list[str] | None
) -> dict[str, Any]:
    """Enabling needs a sync type (scheduled sources only) and, for CDC, a primary key."""
    should_sync = clean.get("should_sync")
    sync_type = clean.get("sync_type")
    if ctx.supports_scheduled_sync and should_sync is True and sync_type is None and row.sync_type is None:
        raise _invalid("Sync type must be set up first before enabling schema")
    enabling_cdc = should_sync is True and not row.should_sync and (sync_type or row.sync_type) == "cdc"
    if enabling_cdc and not primary_key:
        raise _invalid(
            f"CDC requires a primary key on table '{row.name}'. Add a primary key on the source table and retry."
        )
    return {} if should_sync is None else {"should_sync": should_sync}
