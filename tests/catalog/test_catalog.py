"""The bundled catalog must say exactly what reference/posthog-api.md §10 says about each type."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.catalog import all_source_type_names, load_catalog
from reconciler.catalog import model as catalog_model

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


def test_cursor_specs_parse_label_field_and_types() -> None:
    from reconciler.catalog.tables import Cursor, parse_cursor

    assert parse_cursor("updated_at") == Cursor("updated_at", "datetime", "updated_at", "datetime")
    assert parse_cursor("date:date") == Cursor("date", "date", "date", "date")
    assert parse_cursor("created_at=created:datetime/integer") == Cursor("created_at", "datetime", "created", "integer")


def test_api_types_list_tables_and_databases_do_not() -> None:
    stripe, postgres, hubspot = CATALOG["Stripe"], CATALOG["Postgres"], CATALOG["Hubspot"]
    assert stripe.tables is not None and len(stripe.tables) == 16
    charge = stripe.tables["Charge"]
    assert [(c.label, c.field, c.field_type) for c in charge.cursors] == [("created_at", "created", "integer")]
    assert stripe.tables["Discount"].webhook_only and stripe.sync_modes == ("append",)
    assert postgres.tables is None and postgres.is_database and postgres.direct_query and postgres.cdc
    assert hubspot.tables is not None and not hubspot.is_database
    assert [f.name for f in hubspot.integration_fields()] == ["hubspot_integration_id"]


def test_every_catalogued_type_records_where_its_facts_come_from() -> None:
    for st in CATALOG.values():
        if st.name in {"Postgres", "MySQL", "MSSQL", "Snowflake", "Salesforce", "Zendesk"}:
            continue  # described by reference/posthog-api.md §10, read at its commit
        assert len(str(st.facts.get("x-sourceCommit", ""))) == 40, st.name


def test_a_wizard_without_our_facts_borrows_them_per_type() -> None:
    from reconciler.manifest.catalogs import catalog_from_wizard

    wizard = CATALOG.wizard()
    assert not any(k.startswith("x-") for entry in wizard.values() for k in entry)
    pulled = catalog_from_wizard(wizard)
    assert pulled["Stripe"].tables == CATALOG["Stripe"].tables
    assert pulled["Okta"].connection_targets == ("okta_domain",)
    bare = type(CATALOG).from_wizard(wizard)
    assert bare["Okta"].connection_targets == ("host", "instance_url") and bare["Stripe"].tables is None


def test_the_compiled_catalog_is_the_yaml() -> None:
    """`load_catalog` reads source_types.json (fast to load), compiled from source_types.yaml (the file people
    edit) by `python -m reconciler.docgen`: an edit of the YAML that was not compiled fails here."""
    compiled = Path(catalog_model.__file__).with_name(catalog_model.BUNDLED_JSON)
    assert compiled.read_text(encoding="utf-8") == catalog_model.bundled_catalog_json(), (
        "regenerate: python -m reconciler.docgen"
    )


def test_only_the_bundled_catalog_defers_parsing_a_type() -> None:
    """A pinned or served wizard with a malformed field is refused where it is loaded; the bundled catalog
    parses a type when it is first read (its every type is parsed by tests/catalog/test_every_type.py)."""
    malformed = {"X": {"fields": [{"type": "text"}]}}
    with pytest.raises(KeyError):
        type(CATALOG).from_wizard(malformed)
    deferred = type(CATALOG).from_wizard(malformed, lazy=True)
    assert list(deferred) == ["X"] and "X" in deferred and len(deferred) == 1
    with pytest.raises(KeyError):
        deferred["X"]
    fresh = type(CATALOG).from_wizard(CATALOG.wizard(), facts=CATALOG, lazy=True)
    assert list(fresh) == list(CATALOG) and fresh["Stripe"].fields == CATALOG["Stripe"].fields
