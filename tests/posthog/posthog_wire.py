"""Literal PostHog wire objects (reference/posthog-api.md §6, §7) for the client-layer tests."""

from __future__ import annotations

import copy
from typing import Any


def schema_wire(name: str, schema_id: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": schema_id,
        "name": name,
        "label": None,
        "table": None,
        "should_sync": True,
        "last_synced_at": None,
        "latest_error": None,
        "incremental": False,
        "status": None,
        "sync_type": "full_refresh",
        "incremental_field": None,
        "incremental_field_type": None,
        "sync_frequency": "6hour",
        "sync_time_of_day": None,
        "description": None,
        "primary_key_columns": ["id"],
        "cdc_table_mode": "consolidated",
        "enabled_columns": None,
        "available_columns": [{"name": "id", "data_type": "integer", "is_nullable": False}],
        "source": None,
    }
    row.update(overrides)
    return row


def postgres_wire(source_id: str = "0190a1b2-0000-7000-8000-000000000001", **overrides: Any) -> dict[str, Any]:
    """A Postgres source as GET returns it: stored scalars are strings, the password is gone (§6)."""
    row: dict[str, Any] = {
        "id": source_id,
        "created_at": "2026-11-01T10:00:00Z",
        "created_by": "ops@example.com",
        "created_via": "api",
        "status": "Completed",
        "source_type": "Postgres",
        "latest_error": None,
        "prefix": "app",
        "description": "App database",
        "access_method": "warehouse",
        "engine": None,
        "last_run_at": "2026-11-26T09:00:00+00:00",
        "schemas": [
            schema_wire(
                "public.users",
                "0190a1b2-0000-7000-8000-0000000000b2",
                sync_frequency=None,
                should_sync=False,
                sync_type=None,
                primary_key_columns=None,
            ),
            schema_wire(
                "public.orders",
                "0190a1b2-0000-7000-8000-0000000000b1",
                sync_type="incremental",
                incremental_field="updated_at",
                incremental_field_type="datetime",
                table={"id": "t1", "name": "app_orders", "columns": [], "row_count": 10},
            ),
        ],
        "job_inputs": {
            "host": "db.example.com",
            "port": "5432",
            "database": "app",
            "user": "reader",
            "schema": None,
            "ssh_tunnel": {
                "enabled": "True",
                "host": "bastion.example.com",
                "port": "2222",
                "auth": {"selection": "keypair", "username": "tunnel"},
                "require_tls": {"enabled": "False"},
            },
            "cdc_enabled": "False",
            "cdc_lag_warning_threshold_mb": "1024",
        },
        "revenue_analytics_config": {"enabled": False, "include_invoiceless_charges": True},
        "user_access_level": "editor",
        "supports_webhooks": False,
        "supports_column_selection": True,
    }
    row.update(overrides)
    return row


def typed_twin(row: dict[str, Any]) -> dict[str, Any]:
    """The same source as a PATCH response shows it: in-memory typed values instead of strings (§6)."""
    twin = copy.deepcopy(row)
    ji = twin["job_inputs"]
    ji["port"] = 5432
    ji["ssh_tunnel"] = {**ji["ssh_tunnel"], "enabled": True, "port": 2222, "require_tls": {"enabled": False}}
    ji["cdc_enabled"] = False
    ji["cdc_lag_warning_threshold_mb"] = 1024
    return twin


def stripe_wire(source_id: str = "0190a1b2-0000-7000-8000-000000000002", **overrides: Any) -> dict[str, Any]:
    row = postgres_wire(source_id)
    row.update(
        source_type="Stripe",
        prefix="stripe_prod",
        description="Production Stripe",
        job_inputs={"auth_method": {"selection": "api_key"}, "stripe_account_id": "acct_123"},
        schemas=[schema_wire("Customer", "0190a1b2-0000-7000-8000-0000000000c1")],
        revenue_analytics_config={"enabled": True, "include_invoiceless_charges": True},
        supports_webhooks=True,
        supports_column_selection=False,
    )
    row.update(overrides)
    return row
