"""POST external_data_sources (§8.3): processing order, every message, atomicity, schema rows; §12 edge cases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.catalog import Catalog, load_catalog
from reconciler.emulator.testing import (
    Emulator,
    create_body,
    postgres_payload,
    running_emulator,
    stripe_payload,
    zendesk_payload,
)


def _drf(detail: str, code: str = "invalid_input", attr: str | None = None) -> dict[str, Any]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def _count(api: httpx.Client) -> int:
    return int(api.get("/external_data_sources/").json()["count"])


def test_create_returns_201_with_only_the_id(api: httpx.Client) -> None:
    r = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload(), prefix="prod"))
    assert r.status_code == 201
    assert list(r.json()) == ["id"]
    got = api.get(f"/external_data_sources/{r.json()['id']}/").json()
    assert (got["source_type"], got["prefix"], got["created_via"], got["status"]) == (
        "Stripe",
        "prod",
        "api",
        "Running",
    )
    assert got["created_by"] == "tester@example.com"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"payload": {}}, _drf("This field is required.", "required", "source_type")),
        ({"source_type": "Stripe"}, _drf("This field is required.", "required", "payload")),
        ({"source_type": None, "payload": {}}, _drf("This field may not be null.", "null", "source_type")),
        (
            {"source_type": "InvalidType", "payload": {}},
            _drf('"InvalidType" is not a valid choice.', "invalid_choice", "source_type"),
        ),
        (
            {"source_type": "stripe", "payload": {}},  # case-sensitive
            _drf('"stripe" is not a valid choice.', "invalid_choice", "source_type"),
        ),
        (
            {"source_type": "Stripe", "payload": [1]},
            _drf('Expected a dictionary of items but got type "list".', "not_a_dict", "payload"),
        ),
        (
            {"source_type": "Stripe", "payload": {}, "prefix": "a" * 101},
            _drf("Ensure this field has no more than 100 characters.", "max_length", "prefix"),
        ),
        (
            {"source_type": "Stripe", "payload": {}, "description": "d" * 401},
            _drf("Ensure this field has no more than 400 characters.", "max_length", "description"),
        ),
        (
            {"source_type": "Stripe", "payload": {}, "access_method": "live"},
            _drf('"live" is not a valid choice.', "invalid_choice", "access_method"),
        ),
        (
            {"source_type": "Stripe", "payload": {}, "created_via": "terraform"},
            _drf('"terraform" is not a valid choice.', "invalid_choice", "created_via"),
        ),
    ],
)
def test_serializer_errors_are_drf_shaped(api: httpx.Client, body: dict[str, Any], expected: dict[str, Any]) -> None:
    r = api.post("/external_data_sources/", json=body)
    assert r.status_code == 400
    assert r.json() == expected
    assert _count(api) == 0


def test_created_via_defaults_to_api_and_accepts_choices(api: httpx.Client) -> None:
    sid = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload(), created_via="mcp")).json()[
        "id"
    ]
    assert api.get(f"/external_data_sources/{sid}").json()["created_via"] == "mcp"


def test_valid_enum_type_outside_the_catalog_is_refused_openly() -> None:
    # The bundled catalog has every enum type: serve one that lacks Vitally (an older pinned catalog).
    stripe_only = Catalog({"Stripe": load_catalog()["Stripe"]})
    with running_emulator(catalog=stripe_only) as emu, emu.client() as api:
        r = api.post("/external_data_sources/", json=create_body("Vitally", {"schemas": []}))
        assert r.status_code == 400
        assert r.json() == {"message": "Source type 'Vitally' is not supported by the local emulator."}
        assert set(api.get("/external_data_sources/wizard/").json()) == {"Stripe"}


def test_direct_access_rules(api: httpx.Client) -> None:
    r = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload(), access_method="direct"))
    assert r.json() == {"message": "Direct query mode is currently supported only for Postgres and MySQL sources."}
    r = api.post("/external_data_sources/", json=create_body("Postgres", postgres_payload(), access_method="direct"))
    assert r.json() == {"message": "Name is required for direct query sources"}
    r = api.post(
        "/external_data_sources/",
        json=create_body("Postgres", postgres_payload(), access_method="direct", prefix="  my db "),
    )
    assert r.status_code == 201
    got = api.get(f"/external_data_sources/{r.json()['id']}").json()
    assert (got["prefix"], got["access_method"], got["engine"]) == ("my db", "direct", "postgres")


REJECTED_PREFIXES = [
    (
        "email@domain.com",
        "Prefix must contain only letters, numbers, and underscores, and start with a letter or underscore",
    ),
    (
        "test-prefix",
        "Prefix must contain only letters, numbers, and underscores, and start with a letter or underscore",
    ),
    ("123_start", "Prefix must contain only letters, numbers, and underscores, and start with a letter or underscore"),
    (
        "test prefix",
        "Prefix must contain only letters, numbers, and underscores, and start with a letter or underscore",
    ),
    (
        "test.prefix",
        "Prefix must contain only letters, numbers, and underscores, and start with a letter or underscore",
    ),
    (
        "test/prefix",
        "Prefix must contain only letters, numbers, and underscores, and start with a letter or underscore",
    ),
    ("_1abc", "Prefix must contain only letters, numbers, and underscores, and start with a letter or underscore"),
    ("___", "Prefix cannot consist of only underscores"),
]
ACCEPTED_PREFIXES = ["valid_prefix", "_starts_with_underscore", "CamelCase", "with123numbers", "a", "a_b", "test_"]


@pytest.mark.parametrize(("prefix", "message"), REJECTED_PREFIXES)
def test_prefix_character_rules_reject(api: httpx.Client, prefix: str, message: str) -> None:
    r = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload(), prefix=prefix))
    assert r.status_code == 400
    assert r.json() == _drf(message)
    assert _count(api) == 0


@pytest.mark.parametrize("prefix", ACCEPTED_PREFIXES)
def test_prefix_character_rules_accept(api: httpx.Client, prefix: str) -> None:
    r = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload(), prefix=prefix))
    assert r.status_code == 201, r.text


def test_prefix_is_trimmed(api: httpx.Client) -> None:
    sid = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload(), prefix="  padded ")).json()[
        "id"
    ]
    assert api.get(f"/external_data_sources/{sid}").json()["prefix"] == "padded"


def test_prefix_uniqueness_per_team_and_type(api: httpx.Client, emulator: Emulator) -> None:
    post = lambda body: api.post("/external_data_sources/", json=body)  # noqa: E731
    assert post(create_body("Stripe", stripe_payload())).status_code == 201
    second = post(create_body("Stripe", stripe_payload()))
    assert (second.status_code, second.json()) == (400, {"message": "Source type already exists. Prefix is required"})
    blank = post(create_body("Stripe", stripe_payload(), prefix=""))
    assert blank.json() == {"message": "Source type already exists. Prefix is required"}
    assert post(create_body("Stripe", stripe_payload(), prefix="eu")).status_code == 201
    dup = post(create_body("Stripe", stripe_payload(), prefix="eu"))
    assert (dup.status_code, dup.json()) == (400, {"message": "Prefix already exists"})
    assert post(create_body("Stripe", stripe_payload(), prefix="EU")).status_code == 201  # case-sensitive
    assert post(create_body("Zendesk", zendesk_payload(), prefix="eu")).status_code == 201  # other type may share
    assert post(create_body("Zendesk", zendesk_payload())).status_code == 201
    assert _count(api) == 5
    with emulator.client(team=1) as other_team:  # uniqueness is per team
        other_team_count = other_team.get("/external_data_sources/").json()["count"]
        assert (
            other_team.post(
                "/external_data_sources/", json=create_body("Stripe", stripe_payload(), prefix="eu")
            ).status_code
            == 201
        )
        assert other_team.get("/external_data_sources/").json()["count"] == other_team_count + 1


def test_recreate_after_delete(api: httpx.Client) -> None:
    sid = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload())).json()["id"]
    assert api.delete(f"/external_data_sources/{sid}/").status_code == 204
    again = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload()))
    assert again.status_code == 201 and again.json()["id"] != sid


def test_required_config_fields(api: httpx.Client) -> None:
    payload = postgres_payload()
    del payload["host"], payload["password"]
    r = api.post("/external_data_sources/", json=create_body("Postgres", payload, prefix="p"))
    assert r.status_code == 400
    assert r.json() == {
        "message": "Invalid source config: Required field 'host' is missing, Required field 'password' is missing"
    }


def test_bigquery_key_file_nested_required(api: httpx.Client) -> None:
    payload = {
        "key_file": {"project_id": "p", "client_email": "e@x", "token_uri": "https://t"},
        "dataset_id": "ds",
        "schemas": [{"name": "orders", "should_sync": True, "sync_type": "full_refresh"}],
    }
    r = api.post("/external_data_sources/", json=create_body("BigQuery", payload))
    assert r.status_code == 400
    message = r.json()["message"]
    assert message.startswith("Invalid source config")
    assert "'private_key'" in message and "'private_key_id'" in message
    assert _count(api) == 0


def test_snowflake_selected_option_fields_are_required(api: httpx.Client) -> None:
    payload = {
        "account_id": "acc",
        "database": "DB",
        "warehouse": "WH",
        "schema": "PUBLIC",
        "auth_type": {"selection": "keypair", "user": "svc"},
        "schemas": [{"name": "orders"}],
    }
    r = api.post("/external_data_sources/", json=create_body("Snowflake", payload))
    assert r.json() == {"message": "Invalid source config: Required field 'private_key' is missing"}


@pytest.mark.parametrize(
    ("source_type", "payload", "message"),
    [
        ("Stripe", stripe_payload("sk_test_invalid_key"), "Invalid Stripe credentials"),
        ("Stripe", stripe_payload("pk_test_publishable"), "Invalid Stripe credentials"),
        ("Stripe", stripe_payload("not-a-key"), "Invalid Stripe credentials"),
        ("Zendesk", zendesk_payload("acme.zendesk.com"), "Zendesk subdomain is incorrect"),
        ("Zendesk", zendesk_payload(api_key="invalid"), "Invalid credentials"),
        (
            "Hubspot",
            {"hubspot_integration_id": "abc", "schemas": [{"name": "contacts"}]},
            "Invalid source config: Field 'hubspot_integration_id' must be a whole number",
        ),
        ("Hubspot", {"hubspot_integration_id": 0, "schemas": [{"name": "contacts"}]}, "Missing integration ID"),
        (
            "BigQuery",
            {
                "key_file": {
                    "project_id": "p",
                    "private_key": "-----invalid-----",
                    "private_key_id": "k",
                    "client_email": "e",
                    "token_uri": "t",
                },
                "dataset_id": "d",
                "schemas": [{"name": "orders"}],
            },
            "Invalid BigQuery credentials",
        ),
        (
            "Snowflake",
            {
                "account_id": "a",
                "database": "d",
                "warehouse": "w",
                "schema": "s",
                "auth_type": {"selection": "password", "user": "u", "password": "invalid"},
                "schemas": [{"name": "orders"}],
            },
            "Could not connect to Snowflake. Please check all connection details are valid.",
        ),
    ],
)
def test_credential_check_failures(api: httpx.Client, source_type: str, payload: dict[str, Any], message: str) -> None:
    r = api.post("/external_data_sources/", json=create_body(source_type, payload))
    assert (r.status_code, r.json()) == (400, {"message": message})
    assert _count(api) == 0


@pytest.mark.parametrize(
    ("schemas", "message"),
    [
        (None, "Schemas not given"),
        (False, "Schemas not given"),
        ([], "Schemas not given"),
        ({"name": "Customer"}, "Schemas not given"),
        ([{"name": "Customer"}, {"name": "NoSuchTable"}], "Schemas given do not exist in source"),
        ([{"name": ["Customer"]}], "Schemas given do not exist in source"),
        (["Customer"], "Schemas given do not exist in source"),
        (
            [{"name": "Charge", "should_sync": True, "sync_type": "incremental", "incremental_field_type": "integer"}],
            "Incremental schemas given do not have an incremental field set",
        ),
        (
            [{"name": "Charge", "should_sync": True, "sync_type": "append", "incremental_field": "created"}],
            "Incremental schemas given do not have an incremental field type set",
        ),
        (
            [
                {"name": "Charge", "should_sync": True, "sync_type": "cdc"},
                {"name": "Refund", "should_sync": True, "sync_type": "cdc"},
            ],
            "CDC must be enabled on the source before selecting it as a sync type. "
            "The following schemas requested CDC: Charge, Refund.",
        ),
    ],
)
def test_schemas_rules_leave_no_row(api: httpx.Client, schemas: Any, message: str) -> None:
    payload = stripe_payload()
    if schemas is None:
        del payload["schemas"]
    else:
        payload["schemas"] = schemas
    r = api.post("/external_data_sources/", json=create_body("Stripe", payload))
    assert (r.status_code, r.json()) == (400, {"message": message})
    assert _count(api) == 0
    # the prefix is still free: nothing was left behind
    assert api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload())).status_code == 201


def test_disabled_incremental_schema_needs_no_cursor(api: httpx.Client) -> None:
    payload = stripe_payload()
    payload["schemas"] = [{"name": "Charge", "should_sync": False, "sync_type": "incremental"}]
    assert api.post("/external_data_sources/", json=create_body("Stripe", payload)).status_code == 201


def test_schema_rows_only_for_listed_tables_with_6hour_default(api: httpx.Client) -> None:
    payload = stripe_payload()
    payload["schemas"] = [
        {"name": "Refund", "should_sync": False},
        {
            "name": "Charge",
            "should_sync": True,
            "sync_type": "append",
            "incremental_field": "created",
            "incremental_field_type": "integer",
            "sync_frequency": "1hour",  # not read at create
            "description": "ignored",
        },
        {
            "name": "Customer",
            "sync_type": "full_refresh",
            "primary_key_columns": ["email"],
            "sync_time_of_day": "03:00:00",
            "enabled_columns": ["id"],
        },
    ]
    sid = api.post("/external_data_sources/", json=create_body("Stripe", payload)).json()["id"]
    schemas = api.get(f"/external_data_sources/{sid}").json()["schemas"]
    assert [s["name"] for s in schemas] == ["Charge", "Customer", "Refund"]  # ordered by name
    charge, customer, refund = schemas
    assert charge["should_sync"] is True and charge["sync_type"] == "append"
    assert (charge["incremental_field"], charge["incremental_field_type"]) == ("created", "integer")
    assert charge["incremental"] is False
    assert {s["sync_frequency"] for s in schemas} == {"6hour"}
    assert charge["description"] is None
    assert charge["primary_key_columns"] is None  # append keeps a key, but Stripe detects none (§16)
    assert customer["should_sync"] is False  # should_sync defaults to false
    assert customer["primary_key_columns"] is None  # only incremental/append/CDC rows keep a key (§16)
    assert (customer["sync_time_of_day"], customer["enabled_columns"]) == ("03:00:00", ["id"])
    assert refund["sync_type"] is None and refund["cdc_table_mode"] == "consolidated"


def test_top_level_strings_trimmed_nested_kept_verbatim(api: httpx.Client, emulator: Emulator) -> None:
    payload = stripe_payload(key="  sk_test_spaced  ", stripe_account_id="  acct_1  ")
    sid = api.post("/external_data_sources/", json=create_body("Stripe", payload)).json()["id"]
    stored = emulator.store.get_source(int(str(api.base_url).rstrip("/").rsplit("/", 1)[1]), sid)
    assert stored is not None
    assert stored.job_inputs["stripe_account_id"] == "acct_1"
    assert stored.job_inputs["auth_method"]["stripe_secret_key"] == "  sk_test_spaced  "


def test_revenue_config_defaults(api: httpx.Client) -> None:
    stripe = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload())).json()["id"]
    zendesk = api.post("/external_data_sources/", json=create_body("Zendesk", zendesk_payload())).json()["id"]
    assert api.get(f"/external_data_sources/{stripe}").json()["revenue_analytics_config"] == {
        "enabled": True,
        "include_invoiceless_charges": True,
    }
    assert api.get(f"/external_data_sources/{zendesk}").json()["revenue_analytics_config"] == {
        "enabled": False,
        "include_invoiceless_charges": True,
    }
