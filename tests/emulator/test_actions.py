"""Source actions (§8.5–§8.12): delete, reload, jobs, refresh_schemas, revenue config, source_prefix,
database_schema, wizard."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.catalog import load_catalog
from reconciler.emulator.testing import (
    Emulator,
    create_body,
    postgres_payload,
    simulated_registry,
    stripe_payload,
    zendesk_payload,
)
from reconciler.emulator.upstreams import SimulatedUpstream
from reconciler.emulator.upstreams.types import Column, DiscoveredTable


def _team(api: httpx.Client) -> int:
    return int(str(api.base_url).rstrip("/").rsplit("/", 1)[1])


def _make(api: httpx.Client, source_type: str, payload: dict[str, Any], **top: Any) -> str:
    r = api.post("/external_data_sources/", json=create_body(source_type, payload, **top))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


# ---- delete (§8.5) -------------------------------------------------------------------------------


def test_delete_is_soft_204_and_then_404(api: httpx.Client, emulator: Emulator) -> None:
    sid = _make(api, "Stripe", stripe_payload(tables=("Customer", "Charge")))
    r = api.delete(f"/external_data_sources/{sid}/")
    assert (r.status_code, r.content) == (204, b"")
    for method in ("GET", "PATCH", "DELETE"):
        assert api.request(method, f"/external_data_sources/{sid}/", json={}).status_code == 404
    assert api.post(f"/external_data_sources/{sid}/reload/").status_code == 404
    assert api.get("/external_data_sources/").json()["count"] == 0
    assert emulator.store.schemas_of([sid]) == {sid: []}  # schemas soft-deleted with it
    with emulator.store._tx() as db:  # the row is still there, marked deleted
        assert db.execute("SELECT deleted FROM sources WHERE id = ?", (sid,)).fetchone()[0] == 1


# ---- reload and jobs (§8.6, §8.8) -----------------------------------------------------------------


def test_reload_starts_jobs_for_enabled_schemas(start_emulator: Any) -> None:
    with start_emulator(sync_seconds=600) as emu, emu.client() as api:
        _reload_starts_jobs(api)


def _reload_starts_jobs(api: httpx.Client) -> None:
    payload = stripe_payload(tables=("Customer", "Charge"))
    payload["schemas"].append({"name": "Refund", "should_sync": False})
    sid = _make(api, "Stripe", payload)
    assert api.get(f"/external_data_sources/{sid}/jobs/").json() == []
    r = api.post(f"/external_data_sources/{sid}/reload/")
    assert (r.status_code, r.content) == (200, b"")
    body = api.get(f"/external_data_sources/{sid}/").json()
    assert body["status"] == "Running"
    assert {s["name"]: s["status"] for s in body["schemas"]} == {"Charge": "Running", "Customer": "Running",
                                                                 "Refund": None}  # fmt: skip
    jobs = api.get(f"/external_data_sources/{sid}/jobs").json()
    assert len(jobs) == 2
    assert list(jobs[0]) == ["id", "created_at", "created_by", "finished_at", "status", "schema", "rows_synced",
                             "latest_error", "workflow_run_id", "cdc_write_mode"]  # fmt: skip
    assert list(jobs[0]["schema"]) == ["id", "name", "label", "should_sync", "last_synced_at", "sync_type"]
    assert {j["schema"]["name"] for j in jobs} == {"Customer", "Charge"}
    assert {j["status"] for j in jobs} == {"Running"}


def test_jobs_filters_order_cap_and_last_run_at(api: httpx.Client, emulator: Emulator) -> None:
    sid = _make(api, "Stripe", stripe_payload(tables=("Customer", "Charge")))
    first = emulator.store.start_jobs(sid)
    second = emulator.store.start_jobs(sid)
    emulator.store.finish_job(first[0].id, status="Completed", rows_synced=10)
    jobs = api.get(f"/external_data_sources/{sid}/jobs/").json()
    assert [j["id"] for j in jobs] == [j.id for j in reversed(first + second)]  # newest first
    only = api.get(f"/external_data_sources/{sid}/jobs/", params={"schemas": ["Charge"]}).json()
    assert {j["schema"]["name"] for j in only} == {"Charge"} and len(only) == 2
    both = api.get(f"/external_data_sources/{sid}/jobs/", params=[("schemas", "Charge"), ("schemas", "Customer")])
    assert len(both.json()) == 4
    pivot = second[0].created_at
    after = api.get(f"/external_data_sources/{sid}/jobs/", params={"after": pivot}).json()
    assert [j["id"] for j in after] == [second[1].id]  # exclusive bound
    before = api.get(f"/external_data_sources/{sid}/jobs/", params={"before": pivot}).json()
    assert [j["id"] for j in before] == [j.id for j in reversed(first)]
    body = api.get(f"/external_data_sources/{sid}/").json()
    assert body["last_run_at"] == first[0].created_at.removesuffix("Z") + "+00:00"
    completed = next(j for j in jobs if j["id"] == first[0].id)
    assert completed["status"] == "Completed" and completed["rows_synced"] == 10 and completed["finished_at"]
    synced = next(s for s in body["schemas"] if s["id"] == first[0].schema_id)
    assert synced["last_synced_at"] is not None
    with emulator.store._tx() as db:  # non-billable jobs are never listed
        db.execute("UPDATE jobs SET billable = 0 WHERE id = ?", (second[1].id,))
    assert second[1].id not in {j["id"] for j in api.get(f"/external_data_sources/{sid}/jobs/").json()}
    for _ in range(26):
        emulator.store.start_jobs(sid)
    assert len(api.get(f"/external_data_sources/{sid}/jobs/").json()) == 50


# ---- refresh_schemas (§8.7) -----------------------------------------------------------------------


def test_refresh_adds_unlisted_tables_disabled_and_is_idempotent(api: httpx.Client) -> None:
    sid = _make(api, "Stripe", stripe_payload())
    r = api.post(f"/external_data_sources/{sid}/refresh_schemas/")
    assert (r.status_code, r.json()) == (200, {"added": 15, "deleted": 0, "total_tables_seen": 16})
    schemas = api.get(f"/external_data_sources/{sid}/").json()["schemas"]
    assert len(schemas) == 16
    assert [s["name"] for s in schemas] == sorted(s["name"] for s in schemas)
    assert [s["name"] for s in schemas if s["should_sync"]] == ["Customer"]
    assert {s["sync_frequency"] for s in schemas} == {"6hour"}
    again = api.post(f"/external_data_sources/{sid}/refresh_schemas/").json()
    assert again == {"added": 0, "deleted": 0, "total_tables_seen": 16}


def test_refresh_delete_keep_and_restore(start_emulator) -> None:  # type: ignore[no-untyped-def]
    def table(name: str) -> DiscoveredTable:
        return DiscoveredTable(name=name, columns=(Column("id", "integer", False),), primary_keys=("id",))

    upstream = SimulatedUpstream([table("a"), table("b"), table("c")], lambda config: None)
    registry = simulated_registry().with_overrides({"MSSQL": upstream})
    payload = postgres_payload(schema="dbo")
    payload["schemas"] = [{"name": "a", "should_sync": True, "sync_type": "full_refresh"}, {"name": "b"}]
    with start_emulator(upstreams=registry) as emu, emu.client() as c:
        sid = c.post("/external_data_sources/", json=create_body("MSSQL", payload)).json()["id"]
        a_id = c.get(f"/external_data_sources/{sid}").json()["schemas"][0]["id"]
        jobs = emu.store.start_jobs(sid)
        emu.store.finish_job(jobs[0].id, status="Completed", rows_synced=3)  # a has synced data
        upstream.replace_tables([table("c")])  # a and b vanish upstream
        r = c.post(f"/external_data_sources/{sid}/refresh_schemas").json()
        assert r == {"added": 1, "deleted": 1, "total_tables_seen": 1}  # c added, b (never synced) deleted
        schemas = {s["name"]: s for s in c.get(f"/external_data_sources/{sid}").json()["schemas"]}
        assert set(schemas) == {"a", "c"}
        assert (schemas["a"]["should_sync"], schemas["a"]["status"]) == (False, "Completed")
        upstream.replace_tables([table("a"), table("b"), table("c")])
        r = c.post(f"/external_data_sources/{sid}/refresh_schemas").json()
        assert r == {"added": 1, "deleted": 0, "total_tables_seen": 3}  # b restored
        schemas = {s["name"]: s for s in c.get(f"/external_data_sources/{sid}").json()["schemas"]}
        assert schemas["a"]["id"] == a_id and set(schemas) == {"a", "b", "c"}


def test_refresh_errors(api: httpx.Client, emulator: Emulator) -> None:
    empty = emulator.store.create_source(
        team_id=_team(api), source_type="Stripe", prefix="empty", description=None, access_method="warehouse",
        created_via="api", created_by=None, job_inputs={}, revenue_enabled=True, schemas=[],
    )  # fmt: skip
    r = api.post(f"/external_data_sources/{empty.id}/refresh_schemas/")
    assert (r.status_code, r.json()) == (400, {"message": "Source has no configuration."})
    broken = emulator.store.create_source(
        team_id=_team(api), source_type="Zendesk", prefix=None, description=None, access_method="warehouse",
        created_via="api", created_by=None, revenue_enabled=False, schemas=[],
        job_inputs={"subdomain": "not a subdomain", "api_key": "k", "email_address": "e@x"},
    )  # fmt: skip
    r = api.post(f"/external_data_sources/{broken.id}/refresh_schemas/")
    assert r.json() == {"message": "Could not authenticate with the source. Check the connection credentials."}


# ---- revenue_analytics_config (§8.12) ------------------------------------------------------------


def test_revenue_config_partial_patch(api: httpx.Client) -> None:
    sid = _make(api, "Stripe", stripe_payload())
    url = f"/external_data_sources/{sid}/revenue_analytics_config/"
    r = api.patch(url, json={"include_invoiceless_charges": False})
    assert r.status_code == 200
    assert r.json()["id"] == sid and "job_inputs" in r.json()  # the full source object
    assert r.json()["revenue_analytics_config"] == {"enabled": True, "include_invoiceless_charges": False}
    r = api.patch(url, json={"enabled": False})
    assert r.json()["revenue_analytics_config"] == {"enabled": False, "include_invoiceless_charges": False}
    bad = api.patch(url, json={"enabled": "maybe"})
    assert bad.json() == {"type": "validation_error", "code": "invalid_input", "detail": "Must be a valid boolean.",
                          "attr": "enabled"}  # fmt: skip


# ---- source_prefix (§8.10) -----------------------------------------------------------------------


def _check(api: httpx.Client, prefix: Any, source_type: str = "Postgres", **extra: Any) -> tuple[int, Any]:
    body = {"source_type": source_type, **extra}
    if prefix != "OMIT":
        body["prefix"] = prefix
    r = api.post("/external_data_sources/source_prefix/", json=body)
    return r.status_code, (r.json() if r.content else None)


REQUIRED = {"message": "Source type already exists. Prefix is required"}
EXISTS = {"message": "Prefix already exists"}


def test_source_prefix_matrix(api: httpx.Client, emulator: Emulator) -> None:
    assert _check(api, "") == (200, None)  # empty team + ""
    assert _check(api, "foo_") == (200, None)  # empty team + "foo_"
    assert _check(api, "OMIT") == (200, None)
    assert _check(api, "test-prefix") == (200, None)  # no character rules here
    _make(api, "Postgres", postgres_payload(), prefix="foo_")
    assert _check(api, "") == (200, None)  # only prefixed sources + ""
    assert _check(api, "baz_") == (200, None)
    assert _check(api, "foo_") == (400, EXISTS)
    assert _check(api, "foo_", source_type="MySQL") == (200, None)  # per type
    null_prefixed = _make(api, "Postgres", postgres_payload())
    assert _check(api, "") == (400, REQUIRED)
    assert _check(api, None) == (400, REQUIRED)
    assert _check(api, "OMIT") == (400, REQUIRED)
    assert _check(api, "bar_") == (200, None)  # null-prefix exists + "foo_"-like
    api.delete(f"/external_data_sources/{null_prefixed}/")
    assert _check(api, "") == (200, None)  # soft-deleted ones ignored


def test_source_prefix_empty_string_prefix_blocks_blank(api: httpx.Client) -> None:
    _make(api, "Postgres", postgres_payload(), prefix="")
    assert _check(api, "") == (400, REQUIRED)


def test_source_prefix_direct_and_missing_type(api: httpx.Client) -> None:
    assert _check(api, "x", source_type="Stripe", access_method="direct") == (
        400, {"message": "Direct query mode is currently supported only for Postgres and MySQL sources."},
    )  # fmt: skip
    assert _check(api, " ", access_method="direct") == (400, {"message": "Name is required for direct query sources"})
    assert _check(api, "My DB", access_method="direct") == (200, None)
    r = api.post("/external_data_sources/source_prefix/", json={"prefix": "x"})
    assert r.status_code == 500
    assert r.json() == {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}


# ---- database_schema (§8.9) ----------------------------------------------------------------------


def test_database_schema_stripe_preview(api: httpx.Client) -> None:
    body = {"source_type": "Stripe", "auth_method": {"selection": "api_key", "stripe_secret_key": "rk_live_abc"}}
    r = api.post("/external_data_sources/database_schema/", json=body)
    assert r.status_code == 200
    tables = {t["table"]: t for t in r.json()}
    assert len(tables) == 16
    assert tables["Charge"] == {
        "table": "Charge", "label": None, "should_sync": False, "should_sync_default": True, "description": None,
        "rows": None,
        "incremental_fields": [
            {"label": "created_at", "type": "datetime", "field": "created", "field_type": "integer"}
        ],
        "incremental_available": False, "append_available": True, "cdc_available": None,
        "incremental_field": "created", "sync_type": None, "supports_webhooks": True, "webhook_only": False,
        "available_columns": [], "detected_primary_keys": None,  # Stripe reports no columns, no keys (§16)
        "permission_error": None, "rls_warning": None,
    }  # fmt: skip
    discount = tables["Discount"]
    assert (discount["webhook_only"], discount["should_sync_default"], discount["incremental_fields"]) == (
        True,
        False,
        [],
    )
    assert api.get("/external_data_sources/").json()["count"] == 0  # nothing persisted


def test_database_schema_sql_entry_shape(api: httpx.Client) -> None:
    body = {"source_type": "Postgres", **postgres_payload()}
    del body["schemas"]
    events = next(
        t for t in api.post("/external_data_sources/database_schema/", json=body).json() if t["table"] == "events"
    )
    assert events["incremental_fields"][0] == {"label": "id", "type": "integer", "field": "id", "field_type": "integer",
                                               "nullable": False, "is_indexed": True}  # fmt: skip
    assert (events["incremental_available"], events["append_available"], events["incremental_field"]) == (
        True,
        True,
        "id",
    )


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ({}, 400, {"message": "Missing required parameter: source_type"}),
        ({"source_type": "Zendesk", "subdomain": "a"}, 400,
         {"message": "Invalid source config: Required field 'api_key' is missing, "
                     "Required field 'email_address' is missing"}),
        ({"source_type": "Stripe", "auth_method": {"selection": "api_key", "stripe_secret_key": "sk_live_invalid"}},
         400, {"message": "Invalid Stripe credentials"}),
        ({**zendesk_payload("bad.domain"), "source_type": "Zendesk"}, 400,
         {"message": "Zendesk subdomain is incorrect"}),
        ({"source_type": "NoSuchType"}, 500,
         {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}),
    ],
)  # fmt: skip
def test_database_schema_errors(api: httpx.Client, body: dict[str, Any], status: int, expected: Any) -> None:
    r = api.post("/external_data_sources/database_schema/", json=body)
    assert (r.status_code, r.json()) == (status, expected)


# ---- wizard (§8.11) ------------------------------------------------------------------------------


def test_wizard_is_the_catalog_in_camel_case(api: httpx.Client) -> None:
    r = api.get("/external_data_sources/wizard/")
    assert r.status_code == 200
    body = r.json()
    assert body == load_catalog().wizard()
    assert {"Stripe", "Postgres", "MySQL", "MSSQL", "Snowflake", "BigQuery", "Hubspot", "Salesforce", "Zendesk"} <= set(
        body
    )
    stripe = body["Stripe"]
    assert stripe["name"] == "Stripe" and stripe["supportsColumnSelection"] is False
    assert not any(k.startswith("x-") for k in stripe)
    auth = stripe["fields"][0]
    assert (auth["name"], auth["type"], auth["defaultValue"]) == ("auth_method", "select", "api_key")
    assert auth["options"][0]["fields"][0]["secret"] is True
    assert body["BigQuery"]["fields"][0]["fileFormat"]["keys"][:2] == ["project_id", "private_key"]
