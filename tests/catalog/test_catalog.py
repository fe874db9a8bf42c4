"""The bundled catalog must say exactly what reference/posthog-api.md §10 says about each type."""

from __future__ import annotations

import pytest

from reconciler.catalog import all_source_type_names, load_catalog

CATALOG = load_catalog()

# (type, field, required, secret) straight from the reference's §10 tables.
TOP_LEVEL = [
    ("Stripe", "auth_method", True, False),
    ("Stripe", "stripe_account_id", False, False),
    ("Postgres", "connection_string", False, True),
    ("Postgres", "host", True, False),
    ("Postgres", "port", True, False),
    ("Postgres", "database", True, False),
    ("Postgres", "user", True, False),
    ("Postgres", "password", True, True),
    ("Postgres", "schema", False, False),
    ("MySQL", "schema", True, False),
    ("MySQL", "using_ssl", True, False),
    ("MySQL", "password", True, True),
    ("MSSQL", "schema", True, False),
    ("MSSQL", "port", True, False),
    ("Snowflake", "account_id", True, False),
    ("Snowflake", "auth_type", True, False),
    ("Snowflake", "role", False, False),
    ("BigQuery", "key_file", True, True),
    ("BigQuery", "dataset_id", True, False),
    ("Hubspot", "hubspot_integration_id", True, False),
    ("Salesforce", "salesforce_integration_id", True, False),
    ("Zendesk", "subdomain", True, False),
    ("Zendesk", "api_key", True, True),
    ("Zendesk", "email_address", True, False),
]


@pytest.mark.parametrize(("source_type", "name", "required", "secret"), TOP_LEVEL)
def test_field_flags_match_reference(source_type: str, name: str, required: bool, secret: bool) -> None:
    field = CATALOG[source_type].field(name)
    assert field is not None, f"{source_type}.{name} missing"
    assert field.required is required
    assert field.is_sensitive is secret


def test_required_types_are_catalogued() -> None:
    expected = {"Stripe", "Postgres", "MySQL", "MSSQL", "Snowflake", "BigQuery", "Hubspot", "Salesforce", "Zendesk"}
    assert expected <= set(CATALOG)
    assert set(CATALOG) <= all_source_type_names()


def test_sensitive_names_cover_nested_and_tunnel_secrets() -> None:
    assert CATALOG["Stripe"].sensitive_names == {"stripe_secret_key"}
    assert CATALOG["Snowflake"].sensitive_names == {"password", "private_key", "passphrase"}
    assert CATALOG["BigQuery"].sensitive_names == {"key_file"}
    assert {"password", "passphrase", "private_key", "connection_string"} <= CATALOG["Postgres"].sensitive_names
    assert "host" in CATALOG["Postgres"].readable_names
    assert "password" not in CATALOG["Postgres"].readable_names - CATALOG["Postgres"].sensitive_names


def test_hyphenated_names_are_stored_with_underscores() -> None:
    field = CATALOG["BigQuery"].field("temporary_dataset")
    assert field is not None and field.name == "temporary-dataset" and field.kind == "switch-group"


def test_wizard_shape_is_camel_case_with_nulls() -> None:
    wizard = CATALOG.wizard()
    stripe = wizard["Stripe"]
    assert stripe["name"] == "Stripe" and stripe["category"] == "Payments & billing"
    assert stripe["iconClassName"] is None and stripe["supportsColumnSelection"] is False
    assert wizard["Postgres"]["supportsColumnSelection"] is True
    auth = stripe["fields"][0]
    assert auth["type"] == "select" and auth["defaultValue"] == "api_key"
    assert auth["options"][0]["fields"][0] == {
        "name": "stripe_secret_key",
        "label": "API key",
        "type": "password",
        "required": False,
        "placeholder": "rk_live_...",
        "caption": None,
        "secret": True,
    }
    assert not any(key.startswith("x-") for entry in wizard.values() for key in entry)
