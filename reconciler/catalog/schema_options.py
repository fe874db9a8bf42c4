"""PostHog's choices for schema (table) settings — reference/posthog-api.md §7, §9.3. Pure data."""

from __future__ import annotations

from datetime import timedelta

__all__ = [
    "BULK_SCHEMA_FIELDS",
    "CDC_TABLE_MODES",
    "DEFAULT_SYNC_FREQUENCY",
    "INCREMENTAL_FIELD_TYPES",
    "SCHEMA_WRITABLE_FIELDS",
    "SYNC_FREQUENCIES",
    "SYNC_TYPES",
    "SYNC_TYPES_NEEDING_CURSOR",
    "SYNC_TYPES_WITH_PRIMARY_KEY",
]

#: Schema settings a PATCH can write (§9.3), in the serializer's field order (the first failing one is reported).
SCHEMA_WRITABLE_FIELDS = (
    "should_sync",
    "sync_type",
    "incremental_field",
    "incremental_field_type",
    "sync_frequency",
    "sync_time_of_day",
    "primary_key_columns",
    "cdc_table_mode",
    "enabled_columns",
)
#: What one `bulk_update_schemas` item may set besides `id` (§8.13): PostHog drops any other key silently,
#: `primary_key_columns` included.
BULK_SCHEMA_FIELDS = tuple(f for f in SCHEMA_WRITABLE_FIELDS if f != "primary_key_columns")

SYNC_TYPES = ("full_refresh", "incremental", "append", "webhook", "cdc", "xmin")
#: Sync types that need `incremental_field` and `incremental_field_type` when enabled (§8.3 step 11).
SYNC_TYPES_NEEDING_CURSOR = frozenset({"incremental", "append"})
#: Sync types whose cursor config holds `primary_key_columns`; PostHog ignores the key for others (§9.3).
SYNC_TYPES_WITH_PRIMARY_KEY = frozenset({"incremental", "append", "webhook"})
INCREMENTAL_FIELD_TYPES = ("integer", "numeric", "datetime", "date", "timestamp", "objectid", "xid")
CDC_TABLE_MODES = ("consolidated", "cdc_only", "both")
#: Frequency label -> interval; `never` has no interval and reads back as null (§7).
SYNC_FREQUENCIES: dict[str, timedelta | None] = {
    "never": None,
    "1min": timedelta(minutes=1),
    "5min": timedelta(minutes=5),
    "15min": timedelta(minutes=15),
    "30min": timedelta(minutes=30),
    "1hour": timedelta(hours=1),
    "6hour": timedelta(hours=6),
    "12hour": timedelta(hours=12),
    "24hour": timedelta(hours=24),
    "7day": timedelta(days=7),
    "30day": timedelta(days=30),
}
DEFAULT_SYNC_FREQUENCY = "6hour"
