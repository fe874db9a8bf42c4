"""Simulated syncs through real HTTP (§7, §8.6, §8.8): `reload` completes at once with `--sync-seconds 0`,
and after the given time otherwise; what a completed job leaves on the job, the schema and the source."""

from __future__ import annotations

import time
from typing import Any

import httpx

from reconciler.emulator.testing import create_body, stripe_payload


def make_stripe(api: httpx.Client, prefix: str = "pay_") -> str:
    payload = stripe_payload(tables=("Customer", "Charge"))
    payload["schemas"].append({"name": "Refund", "should_sync": False})
    r = api.post("/external_data_sources/", json=create_body("Stripe", payload, prefix=prefix))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_reload_completes_at_once_by_default(api: httpx.Client) -> None:
    sid = make_stripe(api)
    fresh = api.get(f"/external_data_sources/{sid}/").json()
    assert (fresh["status"], fresh["last_run_at"]) == ("Running", None)  # created, never synced
    assert api.post(f"/external_data_sources/{sid}/reload/").status_code == 200
    jobs = api.get(f"/external_data_sources/{sid}/jobs/").json()
    assert sorted(j["schema"]["name"] for j in jobs) == ["Charge", "Customer"]  # enabled schemas only
    for job in jobs:
        assert (job["status"], job["rows_synced"], job["latest_error"]) == ("Completed", 100, None)
        assert job["finished_at"] >= job["created_at"] and job["finished_at"].endswith("Z")
        assert job["schema"]["last_synced_at"] == job["finished_at"]
    source = api.get(f"/external_data_sources/{sid}/").json()
    assert source["status"] == "Completed"
    newest = max(j["created_at"] for j in jobs)
    assert source["last_run_at"] == newest.removesuffix("Z") + "+00:00"  # isoformat, not Z (§1)
    schemas = {s["name"]: s for s in source["schemas"]}
    customer = schemas["Customer"]
    assert (customer["status"], customer["latest_error"]) == ("Completed", None)
    table = customer["table"]
    assert list(table) == ["id", "name", "columns", "row_count"]
    assert (table["name"], table["row_count"]) == ("pay_stripe_customer", 100)
    assert table["columns"] == []  # Stripe keeps no column metadata (no column selection), so none are known
    assert (schemas["Refund"]["status"], schemas["Refund"]["table"], schemas["Refund"]["last_synced_at"]) == (
        None, None, None)  # fmt: skip
    # a second reload keeps the table (same id) and adds jobs
    assert api.post(f"/external_data_sources/{sid}/reload/").status_code == 200
    again = {s["name"]: s for s in api.get(f"/external_data_sources/{sid}/").json()["schemas"]}
    assert again["Customer"]["table"]["id"] == table["id"]
    assert len(api.get(f"/external_data_sources/{sid}/jobs/").json()) == 4


def test_sync_seconds_keeps_jobs_running_until_due(start_emulator: Any) -> None:
    with start_emulator(sync_seconds=0.4) as emu, emu.client() as api:
        sid = make_stripe(api)
        assert api.post(f"/external_data_sources/{sid}/reload/").status_code == 200
        running = api.get(f"/external_data_sources/{sid}/").json()
        assert running["status"] == "Running" and running["last_run_at"] is None
        assert {j["status"] for j in api.get(f"/external_data_sources/{sid}/jobs/").json()} == {"Running"}
        assert {j["finished_at"] for j in api.get(f"/external_data_sources/{sid}/jobs/").json()} == {None}
        time.sleep(0.5)
        done = api.get(f"/external_data_sources/{sid}/").json()
        assert done["status"] == "Completed" and done["last_run_at"] is not None
        jobs = api.get(f"/external_data_sources/{sid}/jobs/").json()
        assert {(j["status"], j["rows_synced"]) for j in jobs} == {("Completed", 100)}


def test_refresh_keeps_synced_tables_that_vanish_upstream(start_emulator: Any) -> None:
    """§8.7: a vanished table that synced stays (disabled, Completed); a never-synced one is soft-deleted."""
    with start_emulator(control=True) as emu, emu.client() as api, emu.control() as control:
        sid = make_stripe(api)
        api.post(f"/external_data_sources/{sid}/reload/")
        control.put("/upstreams/Stripe", json={"tables": [{"name": "Invoice"}]})
        r = api.post(f"/external_data_sources/{sid}/refresh_schemas/")
        assert r.json() == {"added": 1, "deleted": 1, "total_tables_seen": 1}  # Refund gone, Invoice new
        schemas = {s["name"]: s for s in api.get(f"/external_data_sources/{sid}/").json()["schemas"]}
        assert sorted(schemas) == ["Charge", "Customer", "Invoice"]
        assert {(s["should_sync"], s["status"]) for n, s in schemas.items() if n != "Invoice"} == {(False, "Completed")}
        assert (schemas["Invoice"]["should_sync"], schemas["Invoice"]["sync_type"]) == (False, None)
        assert api.post(f"/external_data_sources/{sid}/refresh_schemas/").json()["added"] == 0
