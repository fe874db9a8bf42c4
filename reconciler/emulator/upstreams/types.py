"""What an upstream (the database or API behind a source) tells the emulator: the contract between
`simulated.py` (simulated API upstreams), `sql.py` (real Postgres/MySQL) and `registry.py` (dispatch).

Shapes follow reference/posthog-api.md §8.9 (`database_schema`) and §7 (`available_columns`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Column", "DiscoveredTable", "IncrementalField", "Upstream", "UpstreamError"]


class UpstreamError(Exception):
    """The upstream refused or could not be reached. `message` is the user-facing text PostHog would
    return (e.g. "Invalid Stripe credentials", "Could not connect to the source. ...")."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # PostHog-style type name: integer, numeric, string, boolean, datetime, date, ...
    nullable: bool = True


@dataclass(frozen=True)
class IncrementalField:
    """A cursor candidate. `label`/`type` are what PostHog displays; `field`/`field_type` what a
    client must send (they differ for Stripe: label created_at/datetime, field created/integer)."""

    label: str
    type: str
    field: str
    field_type: str
    nullable: bool = True
    is_indexed: bool = False


@dataclass(frozen=True)
class DiscoveredTable:
    """One table as discovery reports it (PostHog's `SourceSchema`). `columns` are reported by SQL upstreams
    only (API sources report none). `primary_keys` is PostHog's `detected_primary_keys`: None when the
    upstream reports none (API sources); SQL upstreams report the key constraint, else `["id"]` when an `id`
    column exists, else `[]`. `key_constraint` is the real primary-key constraint, what PostHog queries
    before it accepts a CDC table (empty for API sources and for tables without one)."""

    name: str
    columns: tuple[Column, ...] = ()
    primary_keys: tuple[str, ...] | None = None
    key_constraint: tuple[str, ...] = ()
    incremental_fields: tuple[IncrementalField, ...] = ()
    label: str | None = None
    description: str | None = None
    webhook_only: bool = False
    supports_webhooks: bool = False
    incremental_available: bool = False
    append_available: bool = False


class Upstream(Protocol):
    """One upstream kind. Both calls raise UpstreamError with PostHog's user-facing message."""

    def check_credentials(self, source_type: str, config: Mapping[str, Any]) -> None: ...

    def discover(self, source_type: str, config: Mapping[str, Any]) -> list[DiscoveredTable]: ...
