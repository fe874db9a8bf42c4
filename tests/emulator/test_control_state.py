"""The world-editing control endpoints through real HTTP against the real emulator app: schema health
(`PATCH /_emulator/schemas/{id}`), simulated upstream tables (`GET|PUT /_emulator/upstreams/{type}`), the
team CDC flag (`PATCH /_emulator/teams/{id}`); plus the wiring of the traffic middleware into `create_app`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.emulators import in_process

from reconciler.emulator.testing import Emulator, create_body, stripe_payload
from reconciler.emulator.traffic.middleware import TrafficControl
from reconciler.emulator.upstreams import default_upstreams


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with in_process(control=True) as emulator:
        yield emulator


def make_stripe(api: httpx.Client, tables: tuple[str, ...] = ("Customer", "Charge"), **top: Any) -> tuple[str, dict]:
    payload = stripe_payload(tables=tables)
    payload["schemas"].append({"name": "Refund", "should_sync": False})
    r = api.post("/external_data_sources/", json=create_body("Stripe", payload, **top))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    return sid, {s["name"]: s["id"] for s in api.get(f"/external_data_sources/{sid}/").json()["schemas"]}


def control_error(r: httpx.Response, status: int, detail: str, attr: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.json() == {"type": "validation_error", "code": "invalid_input", "detail": detail, "attr": attr}


# ---- schema health ---------------------------------------------------------------------------------------


def test_schema_health_drives_the_source_status(emu: Emulator) -> None:
    with emu.client() as api, emu.control() as control:
        sid, by_name = make_stripe(api)
        r = control.patch(f"/schemas/{by_name['Charge']}", json={"status": "Failed", "latest_error": "boom"})
        assert r.status_code == 200
        assert (r.json()["status"], r.json()["latest_error"], r.json()["name"]) == ("Failed", "boom", "Charge")
        source = api.get(f"/external_data_sources/{sid}/").json()
        assert (source["status"], source["latest_error"]) == ("Failed", "boom")
        control.patch(f"/schemas/{by_name['Charge']}/", json={"status": "Billing limits", "latest_error": None})
        assert api.get(f"/external_data_sources/{sid}/").json()["status"] == "Billing limits"
        control.patch(f"/schemas/{by_name['Charge']}", json={"status": "BillingLimitTooLow"})
        source = api.get(f"/external_data_sources/{sid}/").json()
        assert source["status"] == "Billing limits too low" and source["latest_error"] is None
        schema = api.get(f"/external_data_schemas/{by_name['Charge']}/").json()
        assert schema["status"] == "Billing limits too low"
        # a disabled schema's failure does not fail the source, but its error is still the latest_error (§6)
        control.patch(f"/schemas/{by_name['Charge']}", json={"status": "Completed"})
        control.patch(f"/schemas/{by_name['Refund']}", json={"status": "Failed", "latest_error": "disabled boom"})
        source = api.get(f"/external_data_sources/{sid}/").json()
        assert (source["status"], source["latest_error"]) == ("Completed", "disabled boom")
        assert control.patch(f"/schemas/{by_name['Refund']}", json={"status": None}).json()["status"] is None


def test_schema_health_refusals(emu: Emulator) -> None:
    with emu.client() as api, emu.control() as control:
        _, by_name = make_stripe(api)
        url = f"/schemas/{by_name['Charge']}"
        control_error(control.patch("/schemas/00000000-0000-0000-0000-000000000000", json={}), 404, "Schema not found.")
        control_error(
            control.patch(url, json={"status": "Exploded"}),
            400,
            "status must be null or one of: Running, Paused, Failed, Completed, Billing limits, BillingLimitReached, "
            "Billing limits too low, BillingLimitTooLow.",
            "status",
        )
        control_error(control.patch(url, json={"latest_error": 5}), 400, "latest_error must be a string or null.",
                      "latest_error")  # fmt: skip
        control_error(control.patch(url, json={"should_sync": True}), 400, "Unknown field(s): should_sync.",
                      "should_sync")  # fmt: skip
        control_error(control.patch(url, json=[1]), 400, "Expected a JSON object.")
        assert control.patch(url, content=b"{", headers={"Content-Type": "application/json"}).status_code == 400


def test_control_api_is_absent_without_control_and_never_under_api(api: httpx.Client, emulator: Emulator) -> None:
    _, by_name = make_stripe(api)
    with emulator.http() as http:
        r = http.patch(f"/_emulator/schemas/{by_name['Charge']}", json={"status": "Failed"})
    assert (r.status_code, r.json()["detail"]) == (404, "Endpoint not found.")
    assert api.patch(f"/_emulator/schemas/{by_name['Charge']}", json={"status": "Failed"}).status_code == 404
    assert api.get(f"/external_data_schemas/{by_name['Charge']}/").json()["status"] is None


# ---- simulated upstream tables ---------------------------------------------------------------------------


def test_put_upstream_changes_what_discovery_sees(emu: Emulator) -> None:
    with emu.client() as api, emu.control() as control:
        sid, _ = make_stripe(api)
        assert len(control.get("/upstreams/Stripe").json()["tables"]) == 16
        r = control.put("/upstreams/Stripe", json={"tables": [
            {"name": "Customer", "columns": [{"name": "id", "type": "string", "nullable": False},
                                             {"name": "created", "type": "integer"}]},
            {"name": "Charge"},
            {"name": "Payout", "columns": ["id", {"name": "arrival", "type": "datetime", "nullable": False}],
             "label": "Payouts"},
            {"name": "Promo", "columns": ["id"], "webhook_only": True},
        ]})  # fmt: skip
        assert r.status_code == 200
        payout = r.json()["tables"][2]
        assert payout == {"name": "Payout", "label": "Payouts", "description": None,
                          "columns": [{"name": "id", "type": "string", "nullable": True},
                                      {"name": "arrival", "type": "datetime", "nullable": False}],
                          "primary_keys": ["id"], "primary_key_constraint": ["id"],
                          "incremental_fields": [{"label": "arrival", "type": "datetime", "field": "arrival",
                                                  "field_type": "datetime", "nullable": False, "is_indexed": False}],
                          "incremental_available": True, "append_available": True,
                          "webhook_only": False, "supports_webhooks": False}  # fmt: skip
        assert api.post(f"/external_data_sources/{sid}/refresh_schemas/").json() == {
            "added": 2, "deleted": 1, "total_tables_seen": 4}  # fmt: skip
        schemas = {s["name"]: s for s in api.get(f"/external_data_sources/{sid}/").json()["schemas"]}
        assert sorted(schemas) == ["Charge", "Customer", "Payout", "Promo"]  # Refund (never synced) is gone
        assert (schemas["Payout"]["label"], schemas["Payout"]["should_sync"]) == ("Payouts", False)
        assert schemas["Customer"]["available_columns"] == []  # Stripe has no column selection: none kept
        r = api.patch(f"/external_data_schemas/{schemas['Promo']['id']}/", json={"sync_type": "full_refresh"})
        assert r.json()["detail"] == "Promo can only be synced via webhooks — pick the Webhook sync method."
        preview = api.post(
            "/external_data_sources/database_schema/",
            json={"source_type": "Stripe", "auth_method": {"selection": "api_key", "stripe_secret_key": "sk_test_x"}},
        )
        assert [t["table"] for t in preview.json()] == ["Customer", "Charge", "Payout", "Promo"]  # fmt: skip
    with in_process(control=True) as other, other.control() as other_control:
        assert len(other_control.get("/upstreams/Stripe").json()["tables"]) == 16  # per server: no leak


@pytest.mark.parametrize(
    ("body", "detail", "attr"),
    [
        ({}, "tables must be a list.", "tables"),
        ([], "Expected a JSON object.", None),
        ({"tables": [{"name": ""}]}, "tables__0: a table is an object with a non-empty name.", "tables__0"),
        ({"tables": [{"name": "a", "rows": 1}]}, "tables__0: unknown field(s) rows.", "tables__0"),
        ({"tables": [{"name": "a", "columns": [3]}]}, "tables__0__columns__0: a column is a name or {name, type, "
         "nullable}.", "tables__0__columns__0"),
        ({"tables": [{"name": "a", "columns": ["id"], "primary_keys": ["pk"]}]},
         "tables__0__primary_keys names unknown column(s): pk.", "tables__0__primary_keys"),
        ({"tables": [{"name": "a", "webhook_only": "yes"}]}, "tables__0__webhook_only must be a boolean.",
         "tables__0__webhook_only"),
        ({"tables": [{"name": "a"}, {"name": "a"}]}, "table names must be unique.", "tables"),
    ],
)  # fmt: skip
def test_put_upstream_refusals(emu: Emulator, body: Any, detail: str, attr: str | None) -> None:
    with emu.control() as control:
        control_error(control.put("/upstreams/Stripe", json=body), 400, detail, attr)
        assert len(control.get("/upstreams/Stripe").json()["tables"]) == 16  # unchanged


def test_real_and_unknown_upstreams_are_refused() -> None:
    with in_process(control=True, upstreams=default_upstreams()) as emu, emu.control() as control:
        real = "Postgres is a real upstream: change the database it connects to instead."
        control_error(control.put("/upstreams/Postgres", json={"tables": []}), 400, real, "source_type")
        control_error(control.get("/upstreams/Nope"), 404, "No upstream for source type 'Nope'.")


# ---- team CDC flag --------------------------------------------------------------------------------------


def test_team_cdc_flag(emu: Emulator) -> None:
    with emu.client() as api, emu.control() as control:
        body = {"source_type": "Postgres", "host": "db.example.com", "port": 5432, "database": "app", "user": "u",
                "password": "p", "schema": "public"}  # fmt: skip
        assert {t["cdc_available"] for t in api.post("/external_data_sources/database_schema/", json=body).json()} == {
            None}  # fmt: skip
        assert control.patch("/teams/1", json={"cdc_enabled": True}).json() == {"id": 1, "cdc_enabled": True}
        assert {t["cdc_available"] for t in api.post("/external_data_sources/database_schema/", json=body).json()} == {
            True}  # fmt: skip
        control_error(control.patch("/teams/2", json={"cdc_enabled": True}), 404, "Team not found.")
        control_error(control.patch("/teams/1", json={"cdc": True}), 400, 'Expected {"cdc_enabled": true|false}.',
                      "cdc_enabled")  # fmt: skip


# ---- traffic middleware wired into the app ----------------------------------------------------------------


def test_rate_limit_faults_and_stats_on_the_real_app() -> None:
    traffic = TrafficControl.from_options(rate_limit="6/minute")
    with in_process(control=True, traffic=traffic) as emu, emu.client() as api, emu.control() as control:
        control.post("/faults", json={"rules": [{"method": "POST", "path": "/external_data_sources/?$",
                                                 "status": 502, "after_commit": True}]})  # fmt: skip
        r = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload()))
        assert r.status_code == 502  # the ambiguous create: it failed, yet it happened
        assert api.get("/external_data_sources/").json()["count"] == 1
        for _ in range(4):
            assert api.get("/external_data_schemas/").status_code == 200
        r = api.get("/external_data_schemas/")
        assert r.status_code == 429 and "retry-after" not in r.headers
        assert r.json()["type"] == "throttled_error"
        stats = control.get("/stats").json()
        assert stats["total"] == 7 and (stats["throttled"], stats["faulted"]) == (1, 1)
        assert stats["by_route"] == {
            "POST /api/projects/{project_id}/external_data_sources/": 1,
            "GET /api/projects/{project_id}/external_data_sources/": 1,
            "GET /api/projects/{project_id}/external_data_schemas/": 5,
        }
        with emu.client(key="phx_unknown") as stranger:  # unknown keys are not throttled (401 first)
            assert stranger.get("/external_data_schemas/").status_code == 401
