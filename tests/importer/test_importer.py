"""importer: live objects → manifest text, from literal objects (no HTTP); the text loads back unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.catalog import load_catalog
from reconciler.errors import ReconcilerError
from reconciler.importer import (
    Selector,
    import_sources,
    parse_selector,
    render_import,
    secret_variable_name,
    select_sources,
)
from reconciler.manifest import LoadOptions, load_desired_state
from reconciler.ownership import format_trailer
from reconciler.posthog.models import LiveSource, LiveState


def live(
    source_type: str,
    prefix: str | None,
    job_inputs: dict[str, Any],
    *,
    id: str = "src",
    description: str | None = None,
    schemas: list[dict[str, Any]] | None = None,
) -> LiveSource:
    return LiveSource.from_wire(
        {
            "id": id,
            "source_type": source_type,
            "prefix": prefix,
            "description": description,
            "access_method": "warehouse",
            "status": "Completed",
            "job_inputs": job_inputs,
            "schemas": schemas or [],
            "revenue_analytics_config": {"enabled": False, "include_invoiceless_charges": True},
        },
        load_catalog(),
    )


def test_secret_variable_names() -> None:
    assert (
        secret_variable_name("stripe_prod", ["auth_method", "stripe_secret_key"])
        == "STRIPE_PROD_AUTH_METHOD_STRIPE_SECRET_KEY"
    )
    assert secret_variable_name("my-db", ["ssh_tunnel", "auth", "password"]) == "MY_DB_SSH_TUNNEL_AUTH_PASSWORD"
    assert secret_variable_name("bq", ["temporary-dataset", "x"]) == "BQ_TEMPORARY_DATASET_X"


def test_parse_selector() -> None:
    assert parse_selector("Stripe:stripe_prod") == Selector("Stripe", "stripe_prod")
    assert parse_selector("Stripe:") == Selector("Stripe", None)
    for bad in ("Stripe", ":x"):
        with pytest.raises(ReconcilerError, match="expected TYPE:PREFIX"):
            parse_selector(bad)


def test_addresses_come_from_trailer_then_prefix_and_stay_unique() -> None:
    sources = [
        live("Postgres", "app", {"host": "a"}, id="1", description=format_trailer("main_db", "0" * 12)),
        live("MySQL", "app", {"host": "b"}, id="2"),
        live("MSSQL", "app", {"host": "c"}, id="3"),
        live("Zendesk", None, {"subdomain": "acme"}, id="4"),
        live("Snowflake", "9lives", {}, id="5"),
    ]
    assert [i.address for i in import_sources(sources, load_catalog())] == [
        "main_db",
        "app",
        "mssql_app",
        "zendesk",
        "s_9lives",
    ]


def test_select_sources_skips_unknown_types_for_all_and_refuses_them_by_name() -> None:
    state = LiveState(sources=(live("Stripe", "a", {}, id="1"), live("Deputy", None, {}, id="2")))
    chosen, warnings = select_sources(state, None, load_catalog())
    assert [s.id for s in chosen] == ["1"]
    assert warnings == ["skipped Deputy: (source 2): the catalog does not know this type; try --catalog live"]
    with pytest.raises(ReconcilerError, match="the catalog does not know Deputy"):
        select_sources(state, [Selector("Deputy", None)], load_catalog())


def test_bigquery_import_loads_back_with_declared_names(tmp_path: Path) -> None:
    source = live(
        "BigQuery",
        "bq",
        {
            "dataset_id": "analytics",
            "temporary_dataset": {"enabled": "True", "temporary_dataset_id": "scratch"},
            "dataset_project": {"enabled": "False", "dataset_project_id": None},
            "use_custom_region": None,
        },
        schemas=[
            {
                "id": "s1",
                "name": "events",
                "should_sync": True,
                "sync_type": "incremental",
                "incremental_field": "timestamp",
                "incremental_field_type": "datetime",
                "sync_frequency": None,
                "sync_time_of_day": "03:00:00",
                "primary_key_columns": ["id"],
                "cdc_table_mode": "consolidated",
                "enabled_columns": ["id", "timestamp"],
            }
        ],
    )
    [imported] = import_sources([source], load_catalog())
    text = render_import([imported], host="https://eu.posthog.com", project="7")
    assert "      temporary-dataset:\n        enabled: true\n        temporary_dataset_id: scratch\n" in text
    assert "      dataset_project:\n        enabled: false\n" in text
    assert "frequency: never" in text and "sync_time_of_day: 03:00:00" in text
    path = tmp_path / "bq.yaml"
    path.write_text(text)
    env = {v.name: "x" for v in imported.variables}
    state = load_desired_state([path], load_options=LoadOptions(environ=env))
    loaded = state.sources["bq"]
    assert loaded.config["dataset_id"] == "analytics"
    assert loaded.config["temporary-dataset"] == {"enabled": True, "temporary_dataset_id": "scratch"}
    assert sorted(loaded.secrets()) == [
        f"key_file.{k}" for k in sorted(("client_email", "private_key", "private_key_id", "project_id", "token_uri"))
    ]
    events = loaded.tables["events"]
    # BigQuery has no column selection: enabled_columns is not written (validation would refuse it).
    assert (events.sync_type, events.frequency, "enabled_columns" in events.given) == ("incremental", "never", False)
    assert loaded.unlisted_tables == "report" and state.project == "7"


def test_a_ui_description_too_long_for_the_trailer_is_cut_so_the_manifest_validates(tmp_path: Path) -> None:
    source = live(
        "Hubspot",
        "crm",
        {"hubspot_integration_id": "12"},
        description="x" * 400,
        schemas=[{"id": "s1", "name": "contacts", "should_sync": False, "sync_type": None, "sync_frequency": "6hour"}],
    )
    [imported] = import_sources([source], load_catalog())
    path = tmp_path / "crm.yaml"
    path.write_text(render_import([imported], host="https://eu.posthog.com", project="7"))
    loaded = load_desired_state([path]).sources[imported.address]
    assert loaded.description is not None and 300 < len(loaded.description) < 400


def _schema(name: str, sync_type: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"sch-{name}", "name": name, "should_sync": True, "sync_type": sync_type,
            "sync_frequency_interval": "06:00:00", "primary_key_columns": ["id"], **extra}  # fmt: skip


def test_import_writes_only_what_differs_from_posthogs_defaults() -> None:
    """PostHog stores a detected primary key on every table and a revenue config on every source: neither is
    written where it means nothing (a full-refresh table, a source with the default revenue settings)."""
    pg = live(
        "Postgres",
        "app",
        {"host": "db", "port": "5432", "database": "app", "user": "ro", "schema": "public"},
        schemas=[
            _schema("accounts", "full_refresh"),
            _schema("events", "incremental", incremental_field="id", incremental_field_type="integer"),
        ],
    )
    stripe = live(
        "Stripe",
        "billing",
        {"auth_method": {"selection": "api_key"}},
        id="s2",
        schemas=[_schema("Charge", "full_refresh")],
    )
    [app, billing] = import_sources([pg, stripe], load_catalog())
    assert "primary_key_columns" not in app.source.tables["accounts"].given
    assert app.source.tables["events"].primary_key_columns == ("id",)
    assert app.source.revenue_analytics is None  # a Postgres source with PostHog's default revenue config
    assert billing.source.revenue_analytics is not None  # `live()` gives enabled: false, not Stripe's default
    assert {k: getattr(billing.source.revenue_analytics, k) for k in billing.source.revenue_analytics.given} == {
        "enabled": False
    }
