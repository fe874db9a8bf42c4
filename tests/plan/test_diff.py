"""plan/diff.py, table-driven from literal desired and live objects: what differs, what is sent, which impact
and which plan-time refusal. Pure: no manifests on disk, no emulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from reconciler.catalog import load_catalog
from reconciler.manifest.models import DesiredSource, Location, RevenueAnalytics, TableSettings
from reconciler.plan.diff import api_table_settings, diff_config, diff_tables, revenue_changes
from reconciler.plan.model import Impact
from reconciler.posthog.models import LiveSource
from reconciler.secret import Secret

CATALOG = load_catalog()
HERE = Location("sources.yaml", 1, 1)


def desired(source_type: str = "Stripe", *, config: dict[str, Any] | None = None, **kw: Any) -> DesiredSource:
    tables = {name: TableSettings(**settings) for name, settings in kw.pop("tables", {}).items()}
    return DesiredSource(
        address="s", type=source_type, config=config or {}, tables=tables, location=HERE, written=frozenset(kw), **kw
    )


def schema(name: str, **kw: Any) -> dict[str, Any]:
    return {"id": f"id-{name}", "name": name, "should_sync": False, "sync_type": None, "sync_frequency": "6hour"} | kw


def live(source_type: str = "Stripe", *, job_inputs: dict[str, Any] | None = None, **kw: Any) -> LiveSource:
    wire = {"id": "src", "source_type": source_type, "prefix": None, "job_inputs": job_inputs or {}}
    return LiveSource.from_wire(wire | {"schemas": kw.get("schemas", [])}, CATALOG)


# ---- tables ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableCase:
    name: str
    tables: dict[str, dict[str, Any]]
    live: list[dict[str, Any]] | None  # None: the source does not exist yet (a create)
    updates: dict[str, tuple[str | None, dict[str, Any]]] = field(default_factory=dict)
    diffs: list[tuple[str, Any, Any]] = field(default_factory=list)
    impacts: set[Impact] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    refresh: bool = False
    unlisted: list[str] = field(default_factory=list)
    create_schemas: list[dict[str, Any]] = field(default_factory=list)
    policy: str = "report"


TABLE_CASES = [
    TableCase(
        "create: listed settings in payload.schemas, a non-default frequency patched right after",
        {"Customer": {"sync": True, "sync_type": "full_refresh", "frequency": "24hour"}},
        None,
        updates={"Customer": (None, {"sync_frequency": "24hour"})},
        create_schemas=[{"name": "Customer", "should_sync": True, "sync_type": "full_refresh"}],
    ),
    TableCase(
        "create: enabling a table without a sync type is refused",
        {"Customer": {"sync": True}},
        None,
        errors=["table Customer: set sync_type to sync it (PostHog has none for this table)"],
        create_schemas=[{"name": "Customer", "should_sync": True}],
    ),
    TableCase(
        "equal settings: nothing",
        {"Customer": {"sync": True, "sync_type": "full_refresh", "frequency": "6hour"}},
        [schema("Customer", should_sync=True, sync_type="full_refresh")],
    ),
    TableCase(
        "a listed table PostHog lacks: refresh first, then patch it whole",
        {"Invoice": {"sync": False}},
        [],
        updates={"Invoice": (None, {"should_sync": False})},
        diffs=[("tables.Invoice", None, {"should_sync": False})],
        impacts={Impact.NEXT_SYNC},
        refresh=True,
    ),
    TableCase(
        "switch to full_refresh re-imports the table",
        {"Charge": {"sync_type": "full_refresh"}},
        [
            schema(
                "Charge",
                should_sync=True,
                sync_type="append",
                incremental_field="created",
                incremental_field_type="integer",
            )
        ],
        updates={"Charge": ("id-Charge", {"sync_type": "full_refresh"})},
        diffs=[("tables.Charge.sync_type", "append", "full_refresh")],
        impacts={Impact.FULL_RESYNC},
    ),
    TableCase(
        "a new cursor on an incremental table: sync type and whole cursor sent together",
        {"Charge": {"incremental_field": "updated"}},
        [
            schema(
                "Charge",
                should_sync=True,
                sync_type="incremental",
                incremental_field="created",
                incremental_field_type="integer",
            )
        ],
        updates={
            "Charge": (
                "id-Charge",
                {"incremental_field": "updated", "sync_type": "incremental", "incremental_field_type": "integer"},
            )
        },
        diffs=[("tables.Charge.incremental_field", "created", "updated")],
        impacts={Impact.FULL_RESYNC},
    ),
    TableCase(
        "primary_key_columns on a full_refresh table would be ignored: refused",
        {"Customer": {"primary_key_columns": ["id"]}},
        [schema("Customer", should_sync=True, sync_type="full_refresh")],
        updates={"Customer": ("id-Customer", {"primary_key_columns": ["id"]})},
        diffs=[("tables.Customer.primary_key_columns", None, ["id"])],
        impacts={Impact.NEXT_SYNC},
        errors=[
            "table Customer: primary_key_columns only applies to incremental, append and webhook tables "
            "(sync_type is full_refresh); PostHog ignores it otherwise"
        ],
    ),
    TableCase(
        "unlisted tables reported",
        {},
        [schema("Refund", should_sync=True)],
        unlisted=["Refund"],
    ),
    TableCase(
        "unlisted tables disabled",
        {},
        [schema("Refund", should_sync=True), schema("Payout")],
        updates={"Refund": ("id-Refund", {"should_sync": False})},
        diffs=[("tables.Refund.should_sync", True, False)],
        impacts={Impact.NEXT_SYNC},
        unlisted=["Payout", "Refund"],  # live order: PostHog's tables by name
        policy="disable",
    ),
    TableCase("unlisted tables ignored", {}, [schema("Refund", should_sync=True)], policy="ignore"),
]


@pytest.mark.parametrize("case", TABLE_CASES, ids=[c.name for c in TABLE_CASES])
def test_diff_tables(case: TableCase) -> None:
    spec = desired(tables=case.tables, unlisted_tables=case.policy)
    result = diff_tables(spec, None if case.live is None else live(schemas=case.live))
    assert result.updates == case.updates
    assert [(d.path, d.old, d.new) for d in result.diffs] == case.diffs
    assert result.impacts == case.impacts
    assert result.errors == case.errors
    assert result.needs_refresh is case.refresh
    assert result.unlisted == case.unlisted
    assert result.create_schemas == case.create_schemas


def test_api_table_settings_follow_declaration_order_whatever_was_written_first() -> None:
    written = TableSettings(sync_time_of_day="03:00:00", frequency="24hour", sync_type="full_refresh")
    assert list(api_table_settings(written)) == ["sync_type", "sync_frequency", "sync_time_of_day", "should_sync"]
    assert api_table_settings(TableSettings(sync=False, primary_key_columns=("id",))) == {
        "should_sync": False,
        "primary_key_columns": ["id"],
    }


# ---- config ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigCase:
    name: str
    source_type: str
    config: dict[str, Any]
    job_inputs: dict[str, Any]
    diffs: list[tuple[str, Any, Any]] = field(default_factory=list)
    patch: list[str] = field(default_factory=list)
    target: bool = False
    selection: tuple[str, ...] = ()


PG = {"host": "db", "port": 5432, "database": "app", "user": "u", "schema": "public"}
CONFIG_CASES = [
    ConfigCase("stored strings equal typed values", "Postgres", dict(PG), PG | {"port": "5432"}),
    ConfigCase(
        "a secret is never compared",
        "Postgres",
        PG | {"password": Secret("PG_PASSWORD", "x")},
        dict(PG),
    ),
    ConfigCase(
        "a new host is a connection target change",
        "Postgres",
        PG | {"host": "db2"},
        dict(PG),
        diffs=[("config.host", "db", "db2")],
        patch=["host"],
        target=True,
    ),
    ConfigCase(
        "a readable field change",
        "Postgres",
        PG | {"schema": "analytics"},
        dict(PG),
        diffs=[("config.schema", "public", "analytics")],
        patch=["schema"],
    ),
    ConfigCase(
        "an SSH tunnel port compared as text, like PostHog",
        "Postgres",
        PG | {"ssh_tunnel": {"enabled": True, "host": "jump", "port": 2222}},
        PG | {"ssh_tunnel": {"enabled": "True", "host": "jump", "port": "22"}},
        diffs=[("config.ssh_tunnel.port", 22, 2222)],
        patch=["ssh_tunnel"],
        target=True,
    ),
    ConfigCase(
        "an auth method switch replaces the container",
        "Stripe",
        {"auth_method": {"selection": "oauth", "stripe_integration_id": 7}},
        {"auth_method": {"selection": "api_key"}},
        diffs=[
            ("config.auth_method.selection", "api_key", "oauth"),
            ("config.auth_method.stripe_integration_id", None, 7),
        ],
        patch=["auth_method"],
        selection=("auth_method",),
    ),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c.name for c in CONFIG_CASES])
def test_diff_config(case: ConfigCase) -> None:
    spec = desired(case.source_type, config=case.config)
    result = diff_config(CATALOG.get(case.source_type), spec, live(case.source_type, job_inputs=case.job_inputs))
    assert [(d.path, d.old, d.new) for d in result.diffs] == case.diffs
    assert all(not d.secret for d in result.diffs)
    assert sorted(result.patch) == case.patch
    assert result.target_changed is case.target
    assert result.selection_changed == case.selection


# ---- revenue -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "have", "expected"),
    [
        ({}, {"enabled": True}, {}),
        ({"enabled": False}, {"enabled": True, "include_invoiceless_charges": True}, {"enabled": False}),
        ({"enabled": True}, {"enabled": True}, {}),
        (
            {"include_invoiceless_charges": False, "enabled": False},
            {"enabled": True, "include_invoiceless_charges": True},
            {"enabled": False, "include_invoiceless_charges": False},
        ),
    ],
)
def test_revenue_changes_only_what_the_manifest_writes(
    written: dict[str, bool], have: dict[str, bool], expected: dict[str, bool]
) -> None:
    spec = desired(revenue_analytics=RevenueAnalytics(**written)) if written else desired()
    changes = revenue_changes(spec, have)
    assert changes == expected and list(changes) == sorted(expected)
