"""The source-type catalog and schema setting choices: pure data shared by emulator and client."""

from reconciler.catalog.model import (
    CDC_KEYS,
    META_KEYS,
    SSH_TUNNEL_PUBLIC_NAMES,
    SSH_TUNNEL_SECRET_NAMES,
    Catalog,
    Field,
    SelectOption,
    SourceType,
    all_source_type_names,
    load_catalog,
)
from reconciler.catalog.schema_options import (
    BULK_SCHEMA_FIELDS,
    CDC_TABLE_MODES,
    DEFAULT_SYNC_FREQUENCY,
    INCREMENTAL_FIELD_TYPES,
    SCHEMA_WRITABLE_FIELDS,
    SYNC_FREQUENCIES,
    SYNC_TYPES,
    SYNC_TYPES_NEEDING_CURSOR,
)

__all__ = [
    "BULK_SCHEMA_FIELDS",
    "CDC_KEYS",
    "CDC_TABLE_MODES",
    "DEFAULT_SYNC_FREQUENCY",
    "INCREMENTAL_FIELD_TYPES",
    "META_KEYS",
    "SCHEMA_WRITABLE_FIELDS",
    "SSH_TUNNEL_PUBLIC_NAMES",
    "SSH_TUNNEL_SECRET_NAMES",
    "SYNC_FREQUENCIES",
    "SYNC_TYPES",
    "SYNC_TYPES_NEEDING_CURSOR",
    "Catalog",
    "Field",
    "SelectOption",
    "SourceType",
    "all_source_type_names",
    "load_catalog",
]
