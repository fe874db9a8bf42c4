"""Simulated upstreams built from the catalog's facts, so the emulator serves every source type, plus the
integrations PostHog keeps (OAuth connections a source names by `*_integration_id`).

Per type, from `SourceType`: the table list and cursors (`x-tables`; a sample database for database types;
the suggested tables for API types whose tables PostHog discovers), and a credential rule: PostHog's value
patterns (`x-credentialChecks`), integration ids that must exist, and the simulation's universal failure — a
secret containing `invalid` — answered with the type's own message (`x-credentialError`). No per-type code.
Knows nothing of HTTP or storage.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.catalog import Field, SourceType, TableSpec
from reconciler.emulator.upstreams.simulated import SAMPLE_DATABASE, CredentialRule, SimulatedUpstream
from reconciler.emulator.upstreams.types import DiscoveredTable, IncrementalField, UpstreamError

__all__ = ["Integrations", "catalogued_upstream", "integration_rule"]

#: PostHog's message when a source names no integration at all (OAuthMixin, `if not integration_id`).
_MISSING_ID = "Missing integration ID"


class Integrations:
    """The integrations of the emulated PostHog: every positive id exists unless marked missing (the control
    API's `PUT /_emulator/integrations/{id}`), so tests can name any id and still reproduce PostHog's error."""

    def __init__(self) -> None:
        self._missing: set[int] = set()
        self._lock = threading.Lock()

    def mark(self, integration_id: int, *, missing: bool) -> None:
        with self._lock:
            (self._missing.add if missing else self._missing.discard)(integration_id)

    def missing(self) -> list[int]:
        with self._lock:
            return sorted(self._missing)

    def exists(self, integration_id: int) -> bool:
        with self._lock:
            return integration_id > 0 and integration_id not in self._missing


def _integration_ids(fields: tuple[Field, ...], config: Mapping[str, Any]) -> Iterator[Any]:
    """The value of every integration id field the config uses (None when absent): top-level ones, and those
    of the selected option of a container (Stripe's and Github's OAuth option)."""
    for f in fields:
        value = config.get(f.stored_name)
        if f.kind == "oauth":
            yield value
        elif f.is_container and isinstance(value, Mapping):
            option = f.option(str(value.get("selection")))
            yield from _integration_ids(option.fields if option else (), value)


def _at(config: Mapping[str, Any], dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def integration_rule(st: SourceType, integrations: Integrations) -> CredentialRule:
    """PostHog looks the integration up when it checks credentials (OAuthMixin.get_oauth_integration)."""

    def rule(config: Mapping[str, Any]) -> None:
        for value in _integration_ids(st.fields, config):
            text = "" if value is None else str(value).strip()
            if not text or text == "0":
                raise UpstreamError(_MISSING_ID)
            if not text.isdigit() or not integrations.exists(int(text)):
                raise UpstreamError(st.integration_missing_error.format(id=text))

    return rule


def _credential_rule(st: SourceType) -> CredentialRule:
    secrets = st.sensitive_names
    failure = st.credential_error or "Invalid credentials"

    def invalid(values: Any) -> bool:
        if isinstance(values, Mapping):
            return any(
                (k in secrets and "invalid" in str(v).lower()) or invalid(v)
                for k, v in values.items()
                if isinstance(v, Mapping) or (k in secrets and v is not None)
            )
        return False

    def rule(config: Mapping[str, Any]) -> None:
        for check in st.credential_checks:
            value = _at(config, check.field)
            if isinstance(value, str) and not re.match(check.pattern, value):
                raise UpstreamError(check.message)
        if invalid(config):
            raise UpstreamError(failure)

    return rule


def _table(spec: TableSpec, st: SourceType) -> DiscoveredTable:
    """An API table as PostHog's discovery reports it: cursors and webhook support, no columns and no keys
    (API sources report neither, §16)."""
    cursors = tuple(
        IncrementalField(c.label, c.type, c.field, c.field_type) for c in spec.cursors if not spec.webhook_only
    )
    return DiscoveredTable(
        name=spec.name,
        incremental_fields=cursors,
        webhook_only=spec.webhook_only,
        supports_webhooks=spec.supports_webhooks,
        incremental_available=bool(cursors) and "incremental" in st.sync_modes,
        append_available=bool(cursors) and "append" in st.sync_modes,
    )


def _tables(st: SourceType) -> tuple[DiscoveredTable, ...]:
    if st.tables is not None:
        return tuple(_table(spec, st) for spec in st.tables.values())
    if st.is_database:
        return SAMPLE_DATABASE
    # PostHog discovers these tables (a Google Sheet's sheets, an account's reports): its suggested ones, or one.
    names = [str(t["table"]) for t in st.wizard.get("suggestedTables") or ()] or ["records"]
    return tuple(
        DiscoveredTable(
            name=name,
            incremental_fields=(IncrementalField("updated_at", "datetime", "updated_at", "datetime"),),
            incremental_available="incremental" in st.sync_modes,
            append_available="append" in st.sync_modes,
        )
        for name in dict.fromkeys(names)
    )


def catalogued_upstream(st: SourceType) -> SimulatedUpstream:
    """The simulated upstream of a type the emulator has no hand-made simulation for."""
    return SimulatedUpstream(_tables(st), _credential_rule(st))
