"""Simulated upstreams (credential rules, table lists) and the registry, without HTTP."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from reconciler.emulator.upstreams import (
    SimulatedUpstream,
    UpstreamRegistry,
    default_upstreams,
    sample_database_upstream,
    simulated_upstreams,
)
from reconciler.emulator.upstreams.types import UpstreamError

UP = simulated_upstreams()


def _registered(registry: UpstreamRegistry, source_type: str) -> SimulatedUpstream:
    upstream = registry.get(source_type)
    assert isinstance(upstream, SimulatedUpstream)
    return upstream


def _stripe(key: str) -> dict[str, Any]:
    return {"auth_method": {"selection": "api_key", "stripe_secret_key": key}}


@pytest.mark.parametrize("key", ["sk_test_abc", "sk_live_abc", "rk_test_abc", "rk_live_x y"])
def test_stripe_accepts_secret_and_restricted_keys(key: str) -> None:
    UP["Stripe"].check_credentials("Stripe", _stripe(key))


@pytest.mark.parametrize("key", ["pk_test_abc", "sk_prod_abc", "sk_test_", "", "sk_test_invalid", "rk_live_INVALIDx"])
def test_stripe_rejects(key: str) -> None:
    with pytest.raises(UpstreamError) as err:
        UP["Stripe"].check_credentials("Stripe", _stripe(key))
    assert err.value.message == "Invalid Stripe credentials"


def test_stripe_oauth_and_legacy_flat_key() -> None:
    UP["Stripe"].check_credentials("Stripe", {"auth_method": {"selection": "oauth", "stripe_integration_id": "12"}})
    UP["Stripe"].check_credentials("Stripe", {"stripe_secret_key": "sk_live_legacy"})
    # The registry's Stripe looks the integration up first, as PostHog's OAuthMixin does.
    with pytest.raises(UpstreamError, match=r"^Missing integration ID$"):
        _registered(default_upstreams(), "Stripe").check_credentials("Stripe", {"auth_method": {"selection": "oauth"}})


def test_stripe_tables() -> None:
    tables = UP["Stripe"].discover("Stripe", _stripe("sk_test_1"))
    assert [t.name for t in tables] == [
        "BalanceTransaction", "Subscription", "Customer", "Product", "Price", "Invoice", "Charge", "Refund",
        "CreditNote", "InvoiceItem", "Payout", "Dispute", "CustomerBalanceTransaction", "CustomerPaymentMethod",
        "Coupon", "Discount",
    ]  # fmt: skip
    assert [t.name for t in tables if t.webhook_only] == ["Discount"]
    charge = next(t for t in tables if t.name == "Charge")
    cursor = charge.incremental_fields[0]
    assert (cursor.label, cursor.type, cursor.field, cursor.field_type) == (
        "created_at",
        "datetime",
        "created",
        "integer",
    )
    assert (charge.append_available, charge.incremental_available) == (True, False)


def test_discover_with_bad_credentials_gives_the_friendly_text() -> None:
    with pytest.raises(UpstreamError) as err:
        UP["Stripe"].discover("Stripe", _stripe("nope"))
    assert err.value.message == "Could not authenticate with the source. Check the connection credentials."


@pytest.mark.parametrize(("subdomain", "ok"), [("acme", True), ("acme-eu2", True), ("acme.zendesk.com", False),
                                               ("", False), ("a b", False)])  # fmt: skip
def test_zendesk_subdomain_rule(subdomain: str, ok: bool) -> None:
    config = {"subdomain": subdomain, "api_key": "k", "email_address": "e@x"}
    if ok:
        UP["Zendesk"].check_credentials("Zendesk", config)
    else:
        with pytest.raises(UpstreamError, match=r"^Zendesk subdomain is incorrect$"):
            UP["Zendesk"].check_credentials("Zendesk", config)


def test_oauth_types_need_an_existing_integration() -> None:
    registry = default_upstreams()
    hubspot, salesforce, bing = (_registered(registry, t) for t in ("Hubspot", "Salesforce", "BingAds"))
    hubspot.check_credentials("Hubspot", {"hubspot_integration_id": 5})
    salesforce.check_credentials("Salesforce", {"salesforce_integration_id": "9"})
    for empty in (None, "", 0, "0"):
        with pytest.raises(UpstreamError, match=r"^Missing integration ID$"):
            salesforce.check_credentials("Salesforce", {"salesforce_integration_id": empty})
    registry.integrations.mark(9, missing=True)
    assert registry.integrations.missing() == [9]
    with pytest.raises(UpstreamError, match=r"^Integration not found: 9$"):
        salesforce.check_credentials("Salesforce", {"salesforce_integration_id": "9"})
    with pytest.raises(UpstreamError, match=r"^Bing Ads integration not found\. Please reconnect"):
        bing.check_credentials("BingAds", {"bing_ads_integration_id": 9, "account_id": "1"})
    registry.integrations.mark(9, missing=False)
    salesforce.check_credentials("Salesforce", {"salesforce_integration_id": "9"})
    # Overrides keep the same integrations (the control API edits the registry the app holds).
    assert registry.with_overrides({}).integrations is registry.integrations


def test_snowflake_missing_parameters() -> None:
    with pytest.raises(UpstreamError, match=r"^Missing required parameters: password$"):
        UP["Snowflake"].check_credentials("Snowflake", {"auth_type": {"selection": "password", "user": "u"}})


def test_plausible_table_lists() -> None:
    registry = default_upstreams()
    names = {t: [x.name for x in _registered(registry, t).tables] for t in ("Hubspot", "Salesforce")}
    names |= {t: [x.name for x in UP[t].tables] for t in UP}
    assert names["Hubspot"] == ["contacts", "companies", "deals", "tickets", "quotes", "emails", "meetings"]
    assert "tickets" in names["Zendesk"] and "Account" in names["Salesforce"]
    assert names["Snowflake"] == names["BigQuery"] == names["MSSQL"] == ["customers", "events", "orders"]


def test_registry_is_lazy_for_sql_types() -> None:
    """Building the default registry must not import the SQL drivers' module (it is resolved on first use)."""
    name = "reconciler.emulator.upstreams.sql"
    original = sys.modules.pop(name, None)
    try:
        registry = default_upstreams()
        assert "Postgres" in registry and "MySQL" in registry
        assert registry.get("Stripe") is not None
        assert name not in sys.modules
    finally:
        sys.modules.pop(name, None)
        if original is not None:
            sys.modules[name] = original


def test_registry_resolves_factories_once() -> None:
    made: list[SimulatedUpstream] = []

    def factory() -> SimulatedUpstream:
        made.append(sample_database_upstream())
        return made[-1]

    registry = UpstreamRegistry({"X": factory})
    assert made == []
    assert registry.get("X") is registry.get("X") is made[0]
    assert len(made) == 1
    assert registry.get("Vitally") is None
    override = sample_database_upstream()
    assert registry.with_overrides({"X": override}).get("X") is override
