"""LiveState models normalise PostHog's wire format through the catalog (reference/posthog-api.md §6, §7)."""

from __future__ import annotations

import copy
import json
from dataclasses import FrozenInstanceError, asdict

import pytest
from posthog_wire import postgres_wire, schema_wire, stripe_wire, typed_twin

from reconciler.catalog import load_catalog
from reconciler.posthog.models import LiveSchema, LiveSource, LiveState, PreflightTable
from reconciler.posthog.normalise import normalise_config
from reconciler.secret import Secret

CATALOG = load_catalog()


def test_postgres_source_is_typed_through_the_catalog() -> None:
    source = LiveSource.from_wire(postgres_wire())
    assert source.config == {
        "host": "db.example.com",
        "port": 5432,
        "database": "app",
        "user": "reader",
        "schema": None,
        "ssh_tunnel": {
            "enabled": True,
            "host": "bastion.example.com",
            "port": 2222,
            "auth": {"selection": "keypair", "username": "tunnel"},
            "require_tls": {"enabled": False},
        },
        "cdc_enabled": False,
        "cdc_lag_warning_threshold_mb": 1024,
    }
    assert (source.prefix, source.access_method, source.status) == ("app", "warehouse", "Completed")
    assert source.revenue_analytics is not None and source.revenue_analytics.enabled is False


def test_schemas_sorted_and_by_name_with_never_for_null_frequency() -> None:
    source = LiveSource.from_wire(postgres_wire())
    assert [s.name for s in source.schemas] == ["public.orders", "public.users"]
    users = source.schema_named("public.users")
    assert users is not None and users.sync_frequency == "never" and users.should_sync is False
    orders = source.schemas_by_name["public.orders"]
    assert orders.has_table and orders.incremental_field == "updated_at"
    assert orders.settings() == {
        "should_sync": True, "sync_type": "incremental", "incremental_field": "updated_at",
        "incremental_field_type": "datetime", "sync_frequency": "6hour", "sync_time_of_day": None,
        "primary_key_columns": ["id"], "cdc_table_mode": "consolidated", "enabled_columns": None,
    }  # fmt: skip
    assert source.schema_named("nope") is None


def test_frequency_absent_from_a_trimmed_schema_is_unknown_not_never() -> None:
    trimmed = {"id": "s1", "name": "t", "should_sync": True}
    assert LiveSchema.from_wire(trimmed).sync_frequency is None


def test_secrets_are_absent_never_masked_even_if_the_server_sent_one() -> None:
    leaky = postgres_wire()
    leaky["job_inputs"]["password"] = "hunter2-canary"
    leaky["job_inputs"]["connection_string"] = "postgres://u:hunter2-canary@h/db"
    leaky["job_inputs"]["ssh_tunnel"]["auth"]["private_key"] = "-----BEGIN canary"
    source = LiveSource.from_wire(leaky)
    assert "password" not in source.config
    assert "connection_string" not in source.config
    assert "private_key" not in source.config["ssh_tunnel"]["auth"]
    dumped = json.dumps(asdict(source), default=str) + repr(source) + source.fingerprint()
    assert "canary" not in dumped


def test_stripe_container_and_prefix() -> None:
    source = LiveSource.from_wire(stripe_wire(prefix=""))
    assert source.config == {"auth_method": {"selection": "api_key"}, "stripe_account_id": "acct_123"}
    assert source.prefix is None  # "" and null both mean "no prefix"


@pytest.mark.parametrize(
    ("source_type", "wire", "expected"),
    [
        ("MySQL", {"using_ssl": "True", "port": "3306"}, {"using_ssl": True, "port": 3306}),
        ("MySQL", {"using_ssl": "false"}, {"using_ssl": False}),
        ("MySQL", {"database": 123}, {"database": "123"}),  # text fields keep PostHog's str(value)
        (
            "BigQuery",
            {"temporary-dataset": {"enabled": "True", "temporary_dataset_id": "tmp"}},
            {"temporary_dataset": {"enabled": True, "temporary_dataset_id": "tmp"}},
        ),
        (
            "BigQuery",
            {"use_custom_region": {"enabled": "False", "region": None}},
            {"use_custom_region": {"enabled": False, "region": None}},
        ),
        (
            "Hubspot",
            {"hubspot_integration_id": "99", "custom_properties": {"enabled": "True"}},
            {"hubspot_integration_id": 99, "custom_properties": {"enabled": True}},
        ),
        (
            "Postgres",
            {"ssh_tunnel": {"enabled": "True", "auth_type": {"type": "password", "username": "u"}}},
            {"ssh_tunnel": {"enabled": True, "auth": {"selection": "password", "username": "u"}}},
        ),
        ("Postgres", {"port": "not-a-port", "extra": "kept"}, {"port": "not-a-port", "extra": "kept"}),
        ("Postgres", {"ssh_tunnel": None}, {"ssh_tunnel": None}),
    ],
)
def test_normalise_config(source_type: str, wire: dict[str, object], expected: dict[str, object]) -> None:
    assert normalise_config(CATALOG[source_type], wire) == expected


def test_desired_side_normalises_the_same_and_keeps_secrets() -> None:
    secret = Secret("PG_PASSWORD", "s3cret")
    desired = normalise_config(CATALOG["Postgres"], {"port": 5432, "password": secret, "host": "db"})
    assert desired == {"port": 5432, "password": secret, "host": "db"}
    assert desired["password"] is secret


def test_unknown_source_type_is_kept_as_given() -> None:
    row = stripe_wire(source_type="Github", job_inputs={"repository": "a/b", "auth_method": {"selection": "pat"}})
    assert LiveSource.from_wire(row).config == {"repository": "a/b", "auth_method": {"selection": "pat"}}


def test_fingerprint_is_stable_across_wire_forms_and_ignores_sync_activity() -> None:
    get_form = LiveSource.from_wire(postgres_wire())
    patch_form = LiveSource.from_wire(typed_twin(postgres_wire()))
    assert get_form.fingerprint() == patch_form.fingerprint()
    assert get_form.fingerprint().startswith("sha256:") and len(get_form.fingerprint()) == 71

    busy = postgres_wire(status="Running", last_run_at="2026-11-27T00:00:00+00:00", latest_error="boom")
    busy["schemas"][1].update(
        status="Running",
        last_synced_at="2026-11-27T00:00:00Z",
        latest_error="x",
        table={"id": "t1", "name": "app_orders", "columns": [], "row_count": 99},
        available_columns=[],
    )
    busy["schemas"].reverse()  # order on the wire does not matter
    assert LiveSource.from_wire(busy).fingerprint() == get_form.fingerprint()


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["job_inputs"].update(port="5433"),
        lambda r: r.update(description="App database!"),
        lambda r: r["schemas"][0].update(sync_frequency="24hour"),
        lambda r: r["schemas"][1].update(enabled_columns=["id"]),
        lambda r: r["schemas"].append(schema_wire("public.new", "0190a1b2-0000-7000-8000-0000000000b3")),
        lambda r: r.update(revenue_analytics_config={"enabled": True, "include_invoiceless_charges": True}),
    ],
)
def test_fingerprint_moves_with_managed_content(change) -> None:  # type: ignore[no-untyped-def]
    row = postgres_wire()
    before = LiveSource.from_wire(row).fingerprint()
    changed = copy.deepcopy(row)
    change(changed)
    assert LiveSource.from_wire(changed).fingerprint() != before


def test_models_are_frozen_and_hashable_by_id() -> None:
    source = LiveSource.from_wire(postgres_wire())
    with pytest.raises(FrozenInstanceError):
        source.prefix = "other"  # type: ignore[misc]
    twin = LiveSource.from_wire(typed_twin(postgres_wire()))
    assert hash(source) == hash(twin)
    assert len({source, *source.schemas, *twin.schemas}) == 3  # equal schemas collapse in a set


def test_live_state_lookups() -> None:
    state = LiveState(sources=(LiveSource.from_wire(postgres_wire()), LiveSource.from_wire(stripe_wire())))
    assert len(state) == 2 and [s.source_type for s in state] == ["Postgres", "Stripe"]
    assert state.find("Stripe", "stripe_prod") is state.sources[1]
    assert state.find("Stripe", "other") is None and state.find("Postgres", None) is None
    assert state.by_id("0190a1b2-0000-7000-8000-000000000001") is state.sources[0]
    assert set(state.fingerprints()) == {s.id for s in state}


def test_preflight_table() -> None:
    wire = {"table": "table_1", "label": None, "should_sync": False, "should_sync_default": True,
            "description": None, "rows": None,
            "incremental_fields": [{"label": "id", "type": "integer", "field": "id", "field_type": "integer",
                                    "nullable": True, "is_indexed": True}],
            "incremental_available": True, "append_available": True, "cdc_available": None,
            "incremental_field": "id", "sync_type": None, "supports_webhooks": False, "webhook_only": False,
            "available_columns": [{"field": "id", "label": "id", "type": "integer", "nullable": True}],
            "detected_primary_keys": ["id"], "permission_error": None, "rls_warning": None}  # fmt: skip
    table = PreflightTable.from_wire(wire)
    assert table.table == "table_1" and table.incremental_field_names() == {"id"}
    assert table.available_columns == ("id",) and table.detected_primary_keys == ("id",)
