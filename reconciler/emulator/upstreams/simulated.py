"""Hand-made simulated upstreams, where tests need more than the catalog's facts give (`catalogued.py` builds
the rest): a credential rule and a table list each, and the `SimulatedUpstream` they share.

Credential rules and table lists follow reference/posthog-api.md §8.3 step 8 and §10 (Stripe's 16 tables,
`Discount` webhook-only, cursor label created_at/datetime vs field created/integer). Knows nothing of HTTP,
storage or databases (real Postgres/MySQL are `sql.py`'s).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.emulator.upstreams.sql_errors import friendly_discovery_error
from reconciler.emulator.upstreams.types import Column, DiscoveredTable, IncrementalField, UpstreamError

__all__ = [
    "SAMPLE_DATABASE",
    "CredentialRule",
    "SimulatedUpstream",
    "sample_database_upstream",
    "simulated_upstreams",
]

CredentialRule = Callable[[Mapping[str, Any]], None]


class SimulatedUpstream:
    """An upstream that answers from a table list; credentials pass or fail by `rule`.

    `discover` re-checks credentials and fails with the friendly text for an HTTP 401 (§8.7).
    The table list can be replaced at run time (part 2's control API uses `replace_tables`)."""

    def __init__(self, tables: Iterable[DiscoveredTable], rule: CredentialRule) -> None:
        self._tables = tuple(tables)
        self._rule = rule
        self._lock = threading.Lock()

    @property
    def tables(self) -> tuple[DiscoveredTable, ...]:
        with self._lock:
            return self._tables

    def replace_tables(self, tables: Iterable[DiscoveredTable]) -> None:
        with self._lock:
            self._tables = tuple(tables)

    def also(self, rule: CredentialRule) -> SimulatedUpstream:
        """Check `rule` first, then the upstream's own (the registry adds PostHog's integration lookup)."""
        own = self._rule

        def both(config: Mapping[str, Any]) -> None:
            rule(config)
            own(config)

        self._rule = both
        return self

    def check_credentials(self, source_type: str, config: Mapping[str, Any]) -> None:
        self._rule(config)

    def discover(self, source_type: str, config: Mapping[str, Any]) -> list[DiscoveredTable]:
        try:
            self._rule(config)
        except UpstreamError:
            # Like a real API client's HTTP 401; the message is refresh_schemas' friendly text (§8.7).
            raise UpstreamError(friendly_discovery_error("HTTPError: 401 Client Error: Unauthorized")) from None
        return list(self.tables)


# ---- credential rules ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _has_invalid(values: Any, secret_names: frozenset[str]) -> bool:
    """The simulation's universal failure: a secret value containing `invalid`."""
    if isinstance(values, Mapping):
        return any(
            (k in secret_names and "invalid" in _text(v).lower()) or _has_invalid(v, secret_names)
            for k, v in values.items()
            if isinstance(v, Mapping) or k in secret_names
        )
    return False


def _mapping(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = config.get(name)
    return value if isinstance(value, Mapping) else {}


_STRIPE_KEY = re.compile(r"^(sk|rk)_(test|live)_\S")


def _stripe_rule(config: Mapping[str, Any]) -> None:
    auth = _mapping(config, "auth_method")
    if _text(auth.get("selection")) == "oauth":
        return  # the registry's integration lookup (catalogued.integration_rule) has checked the id
    key = _text(auth.get("stripe_secret_key") or config.get("stripe_secret_key")).strip()
    if not _STRIPE_KEY.match(key) or "invalid" in key.lower():
        raise UpstreamError("Invalid Stripe credentials")


_ZENDESK_SUBDOMAIN = re.compile(r"^[A-Za-z0-9-]+$")


def _zendesk_rule(config: Mapping[str, Any]) -> None:
    if not _ZENDESK_SUBDOMAIN.match(_text(config.get("subdomain"))):
        raise UpstreamError("Zendesk subdomain is incorrect")
    if "invalid" in _text(config.get("api_key")).lower():
        raise UpstreamError("Invalid credentials")


def _snowflake_rule(config: Mapping[str, Any]) -> None:
    auth = _mapping(config, "auth_type")
    needed = ("user", "private_key") if _text(auth.get("selection")) == "keypair" else ("user", "password")
    missing = [n for n in needed if not _text(auth.get(n))]
    if missing:
        raise UpstreamError(f"Missing required parameters: {', '.join(missing)}")
    if _has_invalid(config, frozenset({"password", "private_key", "passphrase"})):
        raise UpstreamError("Could not connect to Snowflake. Please check all connection details are valid.")


def _bigquery_rule(config: Mapping[str, Any]) -> None:
    key_file = _mapping(config, "key_file")
    if "invalid" in _text(key_file.get("private_key")).lower():
        raise UpstreamError("Invalid BigQuery credentials")


def _password_rule(config: Mapping[str, Any]) -> None:
    if _has_invalid(config, frozenset({"password", "private_key", "passphrase"})):
        raise UpstreamError("Invalid credentials")


# ---- table lists --------------------------------------------------------------------------------

_STRIPE_TABLES = (
    "BalanceTransaction",
    "Subscription",
    "Customer",
    "Product",
    "Price",
    "Invoice",
    "Charge",
    "Refund",
    "CreditNote",
    "InvoiceItem",
    "Payout",
    "Dispute",
    "CustomerBalanceTransaction",
    "CustomerPaymentMethod",
    "Coupon",
    "Discount",
)
_STRIPE_WEBHOOK_TABLES = frozenset(
    {
        "Subscription",
        "Customer",
        "Product",
        "Price",
        "Invoice",
        "Charge",
        "Refund",
        "CreditNote",
        "InvoiceItem",
        "Payout",
        "Dispute",
        "Discount",
    }
)


def _stripe_table(name: str) -> DiscoveredTable:
    """No columns and no keys: Stripe's discovery reports neither (§16)."""
    webhook_only = name == "Discount"  # §10: Discount can only be synced via webhooks
    return DiscoveredTable(
        name=name,
        # §10: PostHog labels Stripe's cursor created_at/datetime while the field to send is created/integer.
        incremental_fields=() if webhook_only else (IncrementalField("created_at", "datetime", "created", "integer"),),
        webhook_only=webhook_only,
        supports_webhooks=name in _STRIPE_WEBHOOK_TABLES,
        incremental_available=False,
        append_available=not webhook_only,
    )


def _plain_table(name: str, cursor: tuple[str, str] | None = None) -> DiscoveredTable:
    """An API table: its cursor, no columns and no keys (API sources report neither, §16)."""
    fields: tuple[IncrementalField, ...] = ()
    if cursor is not None:
        fields = (IncrementalField(cursor[0], cursor[1], cursor[0], cursor[1]),)
    return DiscoveredTable(
        name=name,
        incremental_fields=fields,
        incremental_available=cursor is not None,
        append_available=cursor is not None,
    )


_ZENDESK_TABLES = (
    ("brands", None),
    ("organizations", None),
    ("groups", None),
    ("sla_policies", None),
    ("users", None),
    ("ticket_fields", None),
    ("ticket_events", ("timestamp", "integer")),
    ("tickets", ("generated_timestamp", "integer")),
    ("ticket_metric_events", ("time", "datetime")),
)


def _sql_table(name: str, columns: tuple[tuple[str, str, bool], ...], cursors: tuple[str, ...]) -> DiscoveredTable:
    types = {c[0]: c[1] for c in columns}
    return DiscoveredTable(
        name=name,
        columns=tuple(Column(n, t, nullable) for n, t, nullable in columns),
        primary_keys=("id",),
        key_constraint=("id",),
        incremental_fields=tuple(
            IncrementalField(c, types[c], c, types[c], nullable=c != "id", is_indexed=c == "id") for c in cursors
        ),
        incremental_available=bool(cursors),
        append_available=bool(cursors),
    )


#: A small warehouse-shaped database for simulated SQL-like types (Snowflake, BigQuery, MSSQL; and
#: Postgres/MySQL in tests that must not need a real server). Every table has an `id` primary key.
SAMPLE_DATABASE = (
    _sql_table(
        "customers",
        (
            ("id", "integer", False),
            ("email", "string", True),
            ("created_at", "datetime", True),
            ("updated_at", "datetime", True),
        ),
        ("id", "created_at", "updated_at"),
    ),
    _sql_table(
        "events",
        (("id", "integer", False), ("event", "string", False), ("timestamp", "datetime", False)),
        ("id", "timestamp"),
    ),
    _sql_table(
        "orders",
        (
            ("id", "integer", False),
            ("customer_id", "integer", True),
            ("amount", "numeric", True),
            ("created_at", "datetime", True),
        ),
        ("id", "created_at"),
    ),
)


def sample_database_upstream() -> SimulatedUpstream:
    """Simulated SQL-like upstream: tables customers, events, orders; a password containing `invalid` fails."""
    return SimulatedUpstream(SAMPLE_DATABASE, _password_rule)


def simulated_upstreams() -> dict[str, SimulatedUpstream]:
    """A fresh hand-made upstream for the types that have one (Stripe, Zendesk, Snowflake, BigQuery, MSSQL)."""
    return {
        "Stripe": SimulatedUpstream((_stripe_table(n) for n in _STRIPE_TABLES), _stripe_rule),
        "Zendesk": SimulatedUpstream((_plain_table(n, c) for n, c in _ZENDESK_TABLES), _zendesk_rule),
        "Snowflake": SimulatedUpstream(SAMPLE_DATABASE, _snowflake_rule),
        "BigQuery": SimulatedUpstream(SAMPLE_DATABASE, _bigquery_rule),
        "MSSQL": sample_database_upstream(),
    }
