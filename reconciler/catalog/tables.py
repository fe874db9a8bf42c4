"""A source type's statically known tables (`x-tables` in source_types.yaml): names and incremental cursors.

Pure data parsing; knows nothing of manifests, HTTP or the emulator. PostHog lists these tables in each
API source's settings (endpoint constants); database types discover theirs at connect time and have none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.records import record

__all__ = ["Cursor", "TableSpec", "parse_cursor", "parse_tables"]

#: The cursor type a bare `field` spec means (PostHog's most common incremental field type).
_DEFAULT_CURSOR_TYPE = "datetime"


@record
class Cursor:
    """An incremental field candidate: `label`/`type` are what PostHog shows, `field`/`field_type` what a
    client sends (they differ for e.g. Stripe: label created_at/datetime, field created/integer)."""

    label: str
    type: str
    field: str
    field_type: str


@record
class TableSpec:
    name: str
    cursors: tuple[Cursor, ...] = ()
    supports_webhooks: bool = False
    webhook_only: bool = False


def parse_cursor(spec: str) -> Cursor:
    """`field`, `field:type`, `field:type/field_type`, each optionally prefixed `label=`."""
    label, _, rest = spec.rpartition("=")
    field, _, types = rest.partition(":")
    shown, _, sent = (types or _DEFAULT_CURSOR_TYPE).partition("/")
    return Cursor(label=label or field, type=shown, field=field, field_type=sent or shown)


def parse_tables(
    raw: Mapping[str, Any] | None, *, webhook: Iterable[str] = (), webhook_only: Iterable[str] = ()
) -> dict[str, TableSpec] | None:
    """`x-tables` → table specs in file order; None when the type lists no tables statically."""
    if raw is None:
        return None
    hooks, only = set(webhook), set(webhook_only)
    return {
        str(name): TableSpec(
            name=str(name),
            cursors=tuple(parse_cursor(str(c)) for c in cursors or ()),
            supports_webhooks=name in hooks,
            webhook_only=name in only,
        )
        for name, cursors in raw.items()
    }
