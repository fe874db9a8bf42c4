"""Issue 16, "where `reconciler serve` still differs from PostHog": one test per numbered item, through real HTTP
(uvicorn on loopback). Each asserts PostHog's behaviour at the reference commit (docs/posthog-behaviour.md §16;
what PostHog's source says is in docs/emulator.md, "Found in PostHog's source"); each failed against the
emulator as it stood before the fix.

Direct-query and CDC cases that need a real key constraint or a blank `schema` run against the local
PostgreSQL (db `test`); the others against the simulated upstreams.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from reconciler.emulator.testing import Emulator, create_body, stripe_payload, zendesk_payload
from reconciler.emulator.upstreams import default_upstreams

SUFFIX = secrets.token_hex(4)
PG_SCHEMA = f"fidelity_{SUFFIX}"
KEYED, KEYLESS = "keyed", "id_but_no_key"


def postgres(schemas: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """A payload for the simulated Postgres (tables customers, events, orders; `id` keys)."""
    return {"host": "db.example.com", "port": 5432, "database": "app", "user": "reader", "password": "pw",
            "schema": "public", "schemas": schemas, **overrides}  # fmt: skip


def real_postgres(schemas: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """A payload for the local PostgreSQL, schema `PG_SCHEMA` unless overridden."""
    return {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres", "password": "",
            "schema": PG_SCHEMA, "schemas": schemas, **overrides}  # fmt: skip


def create(api: httpx.Client, source_type: str, payload: dict[str, Any], **top: Any) -> httpx.Response:
    return api.post("/external_data_sources/", json=create_body(source_type, payload, **top))


def schemas_of(api: httpx.Client, sid: str) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in api.get(f"/external_data_sources/{sid}/").json()["schemas"]}


@pytest.fixture
def api(served_emulator: Emulator, team: int) -> Iterator[httpx.Client]:
    """An all-scopes client for this test's team on the served session emulator (real HTTP)."""
    assert served_emulator.transport is None
    with served_emulator.client(team=team) as client:
        yield client


@pytest.fixture(scope="module")
def pg_tables() -> Iterator[None]:
    with psycopg.connect(host="127.0.0.1", port=5432, dbname="test", user="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        conn.execute(f"CREATE TABLE {PG_SCHEMA}.{KEYED} (id bigint PRIMARY KEY, note text)")
        conn.execute(f"CREATE TABLE {PG_SCHEMA}.{KEYLESS} (id bigint NOT NULL, note text)")
        try:
            yield
        finally:
            conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


@pytest.fixture
def real(serve_emulator: Any, pg_tables: None) -> Iterator[tuple[Emulator, httpx.Client]]:
    """A private served emulator with the real Postgres upstream, CDC on for team 1, control API mounted."""
    with serve_emulator(upstreams=default_upstreams(), control=True, cdc_teams=[1]) as emu, emu.client() as api:
        yield emu, api


# ---- 1–3: direct-query sources ----------------------------------------------------------------------------


def test_direct_query_enabled_schema_has_a_live_table_from_create(api: httpx.Client) -> None:
    """Item 1: `table` is non-null from the moment the schema is enabled, named like the schema, no rows."""
    r = create(api, "Postgres", postgres([{"name": "orders", "should_sync": True},
                                          {"name": "events", "should_sync": False}]),
               access_method="direct", prefix="Shop DB")  # fmt: skip
    assert r.status_code == 201, r.text
    schemas = schemas_of(api, r.json()["id"])
    table = schemas["orders"]["table"]
    assert table is not None and (table["name"], table["row_count"]) == ("orders", None)
    assert [c["name"] for c in table["columns"]] == ["id", "customer_id", "amount", "created_at"]
    assert schemas["events"]["table"] is None  # not enabled, no table


def test_direct_query_schema_switched_on_by_patch_gets_its_table(api: httpx.Client) -> None:
    """Item 1: PATCH `should_sync: true` exposes the table at once; switching it off hides it again."""
    r = create(api, "Postgres", postgres([{"name": "customers", "should_sync": False}]), access_method="direct",
               prefix="Shop DB")  # fmt: skip
    url = f"/external_data_schemas/{schemas_of(api, r.json()['id'])['customers']['id']}/"
    on = api.patch(url, json={"should_sync": True})
    assert on.status_code == 200, on.text
    assert on.json()["table"]["name"] == "customers"
    assert [c["name"] for c in on.json()["table"]["columns"]] == ["id", "email", "created_at", "updated_at"]
    assert api.patch(url, json={"should_sync": False}).json()["table"] is None


def test_direct_query_deleted_schema_reappearing_on_refresh_gets_its_table(api: httpx.Client) -> None:
    """Item 1: a soft-deleted enabled schema that discovery finds again comes back with its live table."""
    r = create(api, "Postgres", postgres([{"name": "events", "should_sync": True}]), access_method="direct",
               prefix="Shop DB")  # fmt: skip
    sid = r.json()["id"]
    events = schemas_of(api, sid)["events"]
    assert api.delete(f"/external_data_schemas/{events['id']}/").status_code == 204
    assert api.post(f"/external_data_sources/{sid}/refresh_schemas/").json()["added"] >= 1
    back = api.get(f"/external_data_schemas/{events['id']}/").json()
    assert back["should_sync"] is True and back["table"] is not None and back["table"]["name"] == "events"


def test_direct_query_blank_schema_names_tables_with_the_physical_schema(
    real: tuple[Emulator, httpx.Client],
) -> None:
    """Item 1: with a blank `schema`, discovery qualifies names (`<schema>.<table>`) and the live table keeps
    that name: the physical schema stays visible."""
    _, api = real
    name = f"{PG_SCHEMA}.{KEYED}"
    r = create(api, "Postgres", real_postgres([{"name": name, "should_sync": True}], schema=""),
               access_method="direct", prefix="Warehouse")  # fmt: skip
    assert r.status_code == 201, r.text
    table = schemas_of(api, r.json()["id"])[name]["table"]
    assert table is not None and table["name"] == name
    assert [c["name"] for c in table["columns"]] == ["id", "note"]


def test_direct_query_reload_is_a_schema_refresh_without_a_sync(api: httpx.Client) -> None:
    """Item 2: `reload` answers refresh_schemas' counts, re-discovers, and starts no job."""
    r = create(api, "Postgres", postgres([{"name": "orders", "should_sync": True}]), access_method="direct",
               prefix="Shop DB")  # fmt: skip
    sid = r.json()["id"]
    reload = api.post(f"/external_data_sources/{sid}/reload/")
    assert (reload.status_code, reload.json()) == (200, {"added": 2, "deleted": 0, "total_tables_seen": 3})
    assert sorted(schemas_of(api, sid)) == ["customers", "events", "orders"]  # re-discovered
    assert api.get(f"/external_data_sources/{sid}/jobs/").json() == []  # no (billable) sync


def test_direct_query_stores_no_sync_type_or_time_of_day(api: httpx.Client) -> None:
    """Item 3: whatever the create payload says, a direct-query schema reads `sync_type`/`sync_time_of_day` null."""
    item = {
        "name": "orders",
        "should_sync": True,
        "sync_type": "incremental",
        "incremental_field": "id",
        "incremental_field_type": "integer",
        "sync_time_of_day": "03:00:00",
        "primary_key_columns": ["id"],
    }
    r = create(api, "Postgres", postgres([item]), access_method="direct", prefix="Shop DB")  # fmt: skip
    orders = schemas_of(api, r.json()["id"])["orders"]
    assert (orders["sync_type"], orders["sync_time_of_day"]) == (None, None)
    assert (orders["incremental_field"], orders["primary_key_columns"]) == (None, None)


# ---- 4–10: primary keys, columns and CDC ------------------------------------------------------------------


def test_primary_key_kept_only_for_cursor_and_cdc_schemas_at_create(api: httpx.Client) -> None:
    """Item 4: incremental/append rows keep the payload's key or the detected one; every other row has none,
    so a later PATCH of a full-refresh schema to `cdc` is refused."""
    r = create(api, "Postgres", postgres([
        {"name": "orders", "should_sync": True, "sync_type": "full_refresh"},
        {"name": "events", "should_sync": True, "sync_type": "incremental", "incremental_field": "id",
         "incremental_field_type": "integer"},
        {"name": "customers", "should_sync": True, "sync_type": "append", "incremental_field": "id",
         "incremental_field_type": "integer", "primary_key_columns": ["email"]},
    ]))  # fmt: skip
    schemas = schemas_of(api, r.json()["id"])
    assert schemas["orders"]["primary_key_columns"] is None
    assert schemas["events"]["primary_key_columns"] == ["id"]  # detected
    assert schemas["customers"]["primary_key_columns"] == ["email"]  # the payload's


def test_patch_full_refresh_schema_to_cdc_needs_a_stored_key(serve_emulator: Any) -> None:
    """Item 4: the full-refresh row stored no key, so switching it to CDC is PostHog's 400."""
    with serve_emulator(cdc_teams=[1]) as emu, emu.client() as api:
        r = create(api, "Postgres", postgres([{"name": "orders", "should_sync": True, "sync_type": "full_refresh"}]))
        url = f"/external_data_schemas/{schemas_of(api, r.json()['id'])['orders']['id']}/"
        refused = api.patch(url, json={"sync_type": "cdc"})
        assert (refused.status_code, refused.json()["detail"]) == (
            400, "CDC requires a primary key on table 'orders'. Provide primary_key_columns or refresh schema "
                 "discovery to pick one up.")  # fmt: skip


@pytest.mark.parametrize("source_type", ["Stripe", "Zendesk", "Hubspot", "Salesforce"])
def test_api_discovery_reports_no_columns_and_no_keys(api: httpx.Client, source_type: str) -> None:
    """Item 5: Stripe (and every simulated API type) reports `available_columns: []` and
    `detected_primary_keys: null`; their schemas (no column selection) have `available_columns: []`."""
    configs = {
        "Stripe": stripe_payload(),
        "Zendesk": zendesk_payload(),
        "Hubspot": {"hubspot_integration_id": 7},
        "Salesforce": {"salesforce_integration_id": 7},
    }
    config = {k: v for k, v in configs[source_type].items() if k != "schemas"}
    preview = api.post("/external_data_sources/database_schema/", json={"source_type": source_type, **config})
    assert preview.status_code == 200, preview.text
    tables = preview.json()
    assert tables and all((t["available_columns"], t["detected_primary_keys"]) == ([], None) for t in tables)
    r = create(api, source_type, {**config, "schemas": [{"name": tables[0]["table"], "should_sync": False}]})
    assert r.status_code == 201, r.text
    assert [s["available_columns"] for s in schemas_of(api, r.json()["id"]).values()] == [[]]


def test_cdc_item_not_enabled_is_created_without_sync_type_and_6_hour_default(
    real: tuple[Emulator, httpx.Client],
) -> None:
    """Item 6: a CDC item with `should_sync: false` is not set up: `sync_type` null, 6 hours, no key."""
    _, api = real
    r = create(api, "Postgres", real_postgres([{"name": KEYED, "should_sync": False, "sync_type": "cdc"}],
                                              cdc_enabled=True))  # fmt: skip
    assert r.status_code == 201, r.text
    row = schemas_of(api, r.json()["id"])[KEYED]
    assert (row["sync_type"], row["sync_frequency"], row["primary_key_columns"]) == (None, "6hour", None)


def test_cdc_needs_a_real_primary_key_constraint(real: tuple[Emulator, httpx.Client]) -> None:
    """Item 7: PostHog queries the constraints: an `id` column without one is refused, even with the item's
    own `primary_key_columns`; a keyed table is accepted with the constraint's columns, every 5 minutes."""
    _, api = real
    item = {"name": KEYLESS, "should_sync": True, "sync_type": "cdc", "primary_key_columns": ["id"]}
    r = create(api, "Postgres", real_postgres([item], cdc_enabled=True))
    assert (r.status_code, r.json()) == (400, {"message": "CDC requires a primary key on each table. The following "
                                                          f"tables have no primary key: {KEYLESS}."})  # fmt: skip
    r = create(api, "Postgres", real_postgres([{"name": KEYED, "should_sync": True, "sync_type": "cdc"}],
                                              cdc_enabled=True))  # fmt: skip
    assert r.status_code == 201, r.text
    row = schemas_of(api, r.json()["id"])[KEYED]
    assert (row["sync_type"], row["sync_frequency"], row["primary_key_columns"]) == ("cdc", "5min", ["id"])


def test_cdc_create_needs_the_team_flag(real: tuple[Emulator, httpx.Client]) -> None:
    """Item 8: with the team's CDC flag off, CDC is off for the source, and a CDC item is refused as PostHog
    refuses it; the control API turns the flag back on."""
    emu, api = real
    body = real_postgres([{"name": KEYED, "should_sync": True, "sync_type": "cdc"}], cdc_enabled=True)
    with emu.control() as control:
        assert control.patch("/teams/1", json={"cdc_enabled": False}).status_code == 200
        r = create(api, "Postgres", body)
        assert (r.status_code, r.json()) == (
            400,
            {
                "message": "CDC must be enabled on the source before selecting "
                f"it as a sync type. The following schemas requested CDC: {KEYED}."
            },
        )
        assert control.patch("/teams/1", json={"cdc_enabled": True}).status_code == 200
    assert create(api, "Postgres", body).status_code == 201


def test_billing_paused_team_cannot_add_a_cdc_write_target(real: tuple[Emulator, httpx.Client]) -> None:
    """Item 9: a table mode that adds a write target needs a re-snapshot, refused while billing-paused; one that
    only drops a target is allowed."""
    emu, api = real
    r = create(api, "Postgres", real_postgres([{"name": KEYED, "should_sync": True, "sync_type": "cdc",
                                                "cdc_table_mode": "both"}], cdc_enabled=True))  # fmt: skip
    url = f"/external_data_schemas/{schemas_of(api, r.json()['id'])[KEYED]['id']}/"
    with emu.control() as control:
        assert control.patch(url.replace("/external_data_schemas/", "/schemas/"), json={"status": "Paused"}).is_success
    assert api.patch(url, json={"cdc_table_mode": "cdc_only"}).json()["cdc_table_mode"] == "cdc_only"  # drops one
    refused = api.patch(url, json={"cdc_table_mode": "both"})
    assert (refused.status_code, refused.json()) == (400, {
        "type": "validation_error", "code": "invalid_input", "attr": None,
        "detail": "Monthly sync limit reached. Please increase your billing limit before changing the CDC table "
                  "mode — a full re-snapshot would be required."})  # fmt: skip


def test_webhook_schema_at_create_keeps_no_cursor_or_key(api: httpx.Client) -> None:
    """Item 10: PostHog keeps the cursor and the key only for incremental/append items."""
    payload = stripe_payload(tables=())
    payload["schemas"] = [{"name": "Customer", "should_sync": True, "sync_type": "webhook",
                           "incremental_field": "created", "incremental_field_type": "integer",
                           "primary_key_columns": ["id"]}]  # fmt: skip
    r = create(api, "Stripe", payload)
    customer = schemas_of(api, r.json()["id"])["Customer"]
    assert customer["sync_type"] == "webhook"
    assert (customer["incremental_field"], customer["incremental_field_type"], customer["primary_key_columns"]) == (
        None, None, None)  # fmt: skip


# ---- 11–12: robustness ---------------------------------------------------------------------------------------


def _raw_get(sock: socket.socket, host: str, path: str) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a kept-alive socket; (status, body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer phx_test\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize("collection", ["external_data_sources", "external_data_schemas"])
def test_huge_limit_and_offset_are_an_answer_never_a_500(
    served_emulator: Emulator, api: httpx.Client, team: int, collection: str
) -> None:
    """Item 11: 2**63 and beyond: DRF answers 200 (an empty page past the end), and the kept-alive connection
    survives; nothing is a 500."""
    create(api, "Stripe", stripe_payload())
    huge = 2**63
    host = served_emulator.base_url.removeprefix("http://")
    address = host.rsplit(":", 1)
    with socket.create_connection((address[0], int(address[1])), timeout=10) as sock:
        for query in (f"offset={huge}", f"limit={huge}", f"limit={huge * 10}&offset={huge}", f"offset={huge}0"):
            status, body = _raw_get(sock, host, f"/api/projects/{team}/{collection}/?{query}")
            assert status == 200, (query, body)
            page = httpx.Response(200, content=body).json()
            assert page["count"] >= 1
            assert page["results"] == ([] if "offset" in query else page["results"])
        status, _ = _raw_get(sock, host, f"/api/projects/{team}/{collection}/")  # the same connection, still served
        assert status == 200


def test_control_api_upstream_read_modify_write_keeps_every_fact(serve_emulator: Any) -> None:
    """Item 12: what `GET /_emulator/upstreams/Stripe` returns, `PUT` accepts unchanged: Stripe's cursor stays
    labelled `created_at`/`datetime` with field `created`/`integer`, and discovery sees the same tables."""
    with serve_emulator(control=True) as emu, emu.control() as control, emu.client() as api:
        body = {"source_type": "Stripe", "auth_method": {"selection": "api_key", "stripe_secret_key": "sk_test_x"}}
        before = api.post("/external_data_sources/database_schema/", json=body).json()
        tables = control.get("/upstreams/Stripe").json()
        assert control.put("/upstreams/Stripe", json=tables).json() == tables
        assert control.get("/upstreams/Stripe").json() == tables
        after = api.post("/external_data_sources/database_schema/", json=body).json()
        assert after == before
        charge = next(t for t in after if t["table"] == "Charge")
        assert charge["incremental_fields"] == [
            {"label": "created_at", "type": "datetime", "field": "created", "field_type": "integer"}
        ]
        assert (charge["incremental_available"], charge["append_available"]) == (False, True)
