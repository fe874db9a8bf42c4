"""Field-level comparison of one desired source with its live counterpart. Pure: no HTTP, no environment.

Both sides go through `reconciler.posthog.normalise.normalise_config`, so `5432` equals `"5432"` and
`true` equals `"True"` (reference/posthog-api.md §6). Only what the manifest wrote is compared: an omitted
key is "not managed" (STYLE.md house style). Secret values are never compared (PostHog never returns them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.catalog import (
    DEFAULT_SYNC_FREQUENCY,
    SSH_TUNNEL_TARGET_KEYS,
    SYNC_TYPES_NEEDING_CURSOR,
    SYNC_TYPES_WITH_PRIMARY_KEY,
    SourceType,
)
from reconciler.manifest.models import TABLE_API_NAMES, DesiredSource, TableSettings
from reconciler.plan.model import FieldDiff, Impact
from reconciler.posthog.models import LiveSchema, LiveSource
from reconciler.posthog.normalise import normalise_config
from reconciler.records import record
from reconciler.secret import Secret, has_secret, without_secrets

__all__ = [
    "CREATE_SCHEMA_KEYS",
    "ConfigDiff",
    "TableDiff",
    "against_live",
    "api_table_settings",
    "diff_config",
    "diff_tables",
    "revenue_changes",
]

#: Keys PostHog reads from `payload.schemas[]` at create; `sync_frequency` is not among them (§8.3).
CREATE_SCHEMA_KEYS = (
    "should_sync",
    "sync_type",
    "incremental_field",
    "incremental_field_type",
    "primary_key_columns",
    "sync_time_of_day",
    "enabled_columns",
    "cdc_table_mode",
)


@record
class ConfigDiff:
    """What changes in `job_inputs`. `patch` holds the top-level keys to send (Secrets inside)."""

    diffs: tuple[FieldDiff, ...] = ()
    patch: Mapping[str, Any] = field(default_factory=dict)
    target_changed: bool = False  # host / SSH tunnel / source-specific target: PostHog demands secrets (§8.4)
    selection_changed: tuple[str, ...] = ()  # auth containers switching option: replaced wholesale (§8.4 step 6)


def _leaf_diffs(path: str, desired: Any, live: Any) -> list[FieldDiff]:
    """Differences of non-secret leaves; nested mappings compared key by key (desired keys only)."""
    if isinstance(desired, Secret):
        return []
    if isinstance(desired, Mapping):
        live_map = live if isinstance(live, Mapping) else {}
        if not isinstance(live, Mapping) and live is not None:
            return [FieldDiff(path, live, without_secrets(desired))]
        out: list[FieldDiff] = []
        for key, value in desired.items():
            out.extend(_leaf_diffs(f"{path}.{key}", value, live_map.get(key)))
        return out
    return [] if desired == live else [FieldDiff(path, live, desired)]


def _selection_switched(desired: Any, live: Any) -> bool:
    """An auth container changing option: PostHog replaces it wholesale (§8.4 step 6)."""
    if not (isinstance(desired, Mapping) and isinstance(live, Mapping) and "selection" in desired):
        return False
    return bool(desired["selection"] != live.get("selection"))


def _target_changed(st: SourceType, desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    for key in st.connection_targets:
        if key in desired and str(desired[key]) != str(live.get(key)):
            return True
    if "ssh_tunnel" in desired:
        want_raw, have_raw = desired["ssh_tunnel"], live.get("ssh_tunnel")
        want: Mapping[str, Any] = want_raw if isinstance(want_raw, Mapping) else {}
        have: Mapping[str, Any] = have_raw if isinstance(have_raw, Mapping) else {}
        # Compared as strings, like PostHog: stored "False" equals JSON false (§8.4 step 4).
        for key in SSH_TUNNEL_TARGET_KEYS:
            if key in want and str(want.get(key)) != str(have.get(key)):
                return True
    return False


def diff_config(st: SourceType | None, desired: DesiredSource, live: LiveSource) -> ConfigDiff:
    """Compare the manifest's `config` with the live `job_inputs` (non-secret fields only)."""
    want = normalise_config(st, desired.config)
    have = live.config
    diffs: list[FieldDiff] = []
    patch: dict[str, Any] = {}
    selections: list[str] = []
    for key, value in want.items():
        key_diffs = _leaf_diffs(f"config.{key}", value, have.get(key))
        if key_diffs:
            diffs.extend(key_diffs)
            patch[key] = value
            old = have.get(key)
            if _selection_switched(value, old):
                selections.append(key)
    target = st is not None and _target_changed(st, want, have)
    return ConfigDiff(tuple(diffs), patch, target, tuple(selections))


def secret_patch(desired: DesiredSource, st: SourceType | None) -> dict[str, Any]:
    """Every top-level config key that holds a secret, with its whole value (to re-send secrets)."""
    want = normalise_config(st, desired.config)
    return {k: v for k, v in want.items() if has_secret(v)}


# ---- tables ------------------------------------------------------------------------------------------


def revenue_changes(desired: DesiredSource, have: Mapping[str, Any]) -> dict[str, Any]:
    """The `revenue_analytics` keys the manifest writes whose value differs from `have`, in key order."""
    if desired.revenue_analytics is None:
        return {}
    want = {k: getattr(desired.revenue_analytics, k) for k in desired.revenue_analytics.given}
    return {k: v for k, v in sorted(want.items()) if have.get(k) != v}


def api_table_settings(settings: TableSettings) -> dict[str, Any]:
    """The settings the manifest wrote, under PostHog's names, in PATCH form (lists, not tuples).

    A listed table whose `sync` is omitted is synced: listing a table is asking for it."""
    out: dict[str, Any] = {}
    for name in settings.FIELDS:  # declaration order: `given` is a frozenset (hash-seed order)
        if name not in settings.given:
            continue
        value = getattr(settings, name)
        out[TABLE_API_NAMES.get(name, name)] = list(value) if isinstance(value, tuple) else value
    out.setdefault("should_sync", True)
    return out


def _live_value(schema: LiveSchema, api_name: str) -> Any:
    value = getattr(schema, api_name)
    return list(value) if isinstance(value, tuple) else value


def _dig(values: Mapping[str, Any], keys: list[str]) -> Any:
    for key in keys[:-1]:
        inner = values.get(key)
        values = inner if isinstance(inner, Mapping) else {}
    return values.get(keys[-1])


def against_live(diffs: list[FieldDiff], live: LiveSource) -> list[FieldDiff]:
    """A replace's create diffs (`config.<path>`, `tables.<name>`) with their old values taken from the source it
    deletes, so the plan shows what stays the same and what moves; secret fields stay value-less."""
    out: list[FieldDiff] = []
    for diff in diffs:
        head, _, rest = diff.path.partition(".")
        old = diff.old
        if diff.secret:
            pass
        elif head == "config":
            old = _dig(live.config, rest.split("."))
        elif head == "tables" and isinstance(diff.new, Mapping):
            schema = live.schema_named(rest)
            old = None if schema is None else {k: _live_value(schema, k) for k in diff.new}
        out.append(FieldDiff(diff.path, old, diff.new, diff.secret))
    return out


@dataclass
class TableDiff:
    """Result of comparing tables. `create_schemas` is for a CreateSource payload; `updates` maps a table
    name to (live schema id or None, changes); `needs_refresh` when a listed table is unknown to PostHog."""

    create_schemas: list[dict[str, Any]] = field(default_factory=list)
    updates: dict[str, tuple[str | None, dict[str, Any]]] = field(default_factory=dict)
    diffs: list[FieldDiff] = field(default_factory=list)
    impacts: set[Impact] = field(default_factory=set)
    needs_refresh: bool = False
    unlisted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _table_impact(name: str, key: str, old: Any, new: Any, live: LiveSchema) -> Impact:
    if key == "sync_type" and new == "full_refresh" and old not in (None, "full_refresh"):
        return Impact.FULL_RESYNC  # the table is re-imported from scratch
    if key == "incremental_field" and old is not None and live.sync_type in SYNC_TYPES_NEEDING_CURSOR:
        return Impact.FULL_RESYNC  # a new cursor: PostHog may reset the pipeline (§9.3)
    return Impact.NEXT_SYNC


_CURSOR_KEYS = ("incremental_field", "incremental_field_type", "primary_key_columns")


def _check_keys(name: str, want: Mapping[str, Any], sync_type: str | None) -> list[str]:
    """A PATCH PostHog would silently ignore shows as a change forever: refuse it at plan time. (At create,
    PostHog does store `primary_key_columns` for every sync type, §8.3.)"""
    if (
        "primary_key_columns" in want
        and want["primary_key_columns"] is not None
        and sync_type not in SYNC_TYPES_WITH_PRIMARY_KEY
    ):
        return [
            f"table {name}: primary_key_columns only applies to incremental, append and webhook tables "
            f"(sync_type is {sync_type or 'unset'}); PostHog ignores it otherwise"
        ]
    return []


def _check_enable(name: str, want: Mapping[str, Any], sync_type: str | None, cursor: Mapping[str, Any]) -> list[str]:
    """PostHog's preconditions for syncing a table, caught at plan time instead of mid-apply."""
    if not want.get("should_sync"):
        return []
    if sync_type is None:
        # §9.3: "Sync type must be set up first before enabling schema"
        return [f"table {name}: set sync_type to sync it (PostHog has none for this table)"]
    has_cursor = cursor.get("incremental_field") and cursor.get("incremental_field_type")
    if sync_type in SYNC_TYPES_NEEDING_CURSOR and not has_cursor:
        return [f"table {name}: sync_type {sync_type} needs incremental_field and incremental_field_type"]
    return []


def diff_tables(desired: DesiredSource, live: LiveSource | None) -> TableDiff:
    """Tables to create with the source, patch, refresh for, or report as unlisted."""
    out = TableDiff()
    for name, settings in sorted(desired.tables.items()):
        want = api_table_settings(settings)
        schema = live.schema_named(name) if live is not None else None
        if live is None:
            out.errors.extend(_check_enable(name, want, want.get("sync_type"), want))
            out.create_schemas.append({"name": name, **{k: want[k] for k in CREATE_SCHEMA_KEYS if k in want}})
            freq = want.get("sync_frequency")
            if freq is not None and freq != DEFAULT_SYNC_FREQUENCY:  # ignored at create: patch after (§8.3)
                out.updates[name] = (None, {"sync_frequency": freq})
            continue
        if schema is None:
            out.needs_refresh = True
            out.errors.extend(_check_keys(name, want, want.get("sync_type")))
            out.errors.extend(_check_enable(name, want, want.get("sync_type"), want))
            out.updates[name] = (None, want)
            out.diffs.append(FieldDiff(f"tables.{name}", None, want))
            out.impacts.add(Impact.NEXT_SYNC)
            continue
        changes: dict[str, Any] = {}
        for key, value in want.items():
            old = _live_value(schema, key)
            if value != old:
                changes[key] = value
                out.diffs.append(FieldDiff(f"tables.{name}.{key}", old, value))
                out.impacts.add(_table_impact(name, key, old, value, schema))
        if changes:
            sync_type = changes.get("sync_type", schema.sync_type)
            cursor = {k: changes.get(k, _live_value(schema, k)) for k in _CURSOR_KEYS}
            enabling = changes.get("should_sync", schema.should_sync)
            out.errors.extend(_check_keys(name, changes, sync_type))
            out.errors.extend(_check_enable(name, {"should_sync": enabling}, sync_type, cursor))
            if sync_type in SYNC_TYPES_WITH_PRIMARY_KEY and (
                "sync_type" in changes or set(changes) & set(_CURSOR_KEYS)
            ):
                # PostHog writes the cursor and primary key only beside a `sync_type` in the same request, and
                # takes them from that request (§9.3): send the sync type and the whole cursor together.
                changes["sync_type"] = sync_type
                changes.update({k: v for k, v in cursor.items() if v is not None})
            out.updates[name] = (schema.id, changes)
    if live is not None:
        listed = set(desired.tables)
        for schema in live.schemas:
            if schema.name in listed or desired.unlisted_tables == "ignore":
                continue
            out.unlisted.append(schema.name)
            if desired.unlisted_tables == "disable" and schema.should_sync:
                out.updates[schema.name] = (schema.id, {"should_sync": False})
                out.diffs.append(FieldDiff(f"tables.{schema.name}.should_sync", True, False))
                out.impacts.add(Impact.NEXT_SYNC)
    return out
