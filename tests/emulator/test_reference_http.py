"""Issue 16, "coverage no test had": behaviour the emulator already had, now checked through real HTTP (uvicorn
on loopback) against the reference (docs/posthog-behaviour.md; section numbers are reference/posthog-api.md's).
One test per item of the issue's list, named after it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator.testing import Emulator, create_body, stripe_payload
from reconciler.emulator.traffic.middleware import TrafficControl


def drf(type_: str, code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    return {"type": type_, "code": code, "detail": detail, "attr": attr}


@pytest.fixture
def api(served_emulator: Emulator, team: int) -> Iterator[httpx.Client]:
    with served_emulator.client(team=team) as client:
        yield client


def stripe(api: httpx.Client, **top: Any) -> tuple[str, dict[str, str]]:
    """A Stripe source: Customer full-refresh and on, Refund off, Discount (webhook-only) off."""
    payload = stripe_payload(tables=("Customer",))
    payload["schemas"] += [{"name": "Refund", "should_sync": False}, {"name": "Discount", "should_sync": False}]
    r = api.post("/external_data_sources/", json=create_body("Stripe", payload, **top))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    schemas = api.get(f"/external_data_sources/{sid}/").json()["schemas"]
    return sid, {s["name"]: s["id"] for s in schemas}


def test_the_429_body_and_its_wait_text(serve_emulator: Any) -> None:
    """§4: drf-exceptions-hog's throttled body, the wait in whole seconds (singular for one), no Retry-After."""
    with serve_emulator(traffic=TrafficControl.from_options(rate_limit="2/minute")) as emu, emu.client() as api:
        assert [api.get("/external_data_sources/").status_code for _ in range(2)] == [200, 200]
        r = api.get("/external_data_sources/")
        assert r.status_code == 429 and "retry-after" not in r.headers
        body = r.json()
        assert body == drf("throttled_error", "throttled", body["detail"])
        seconds = int(body["detail"].removeprefix("Request was throttled. Expected available in ").split()[0])
        unit = "second" if seconds == 1 else "seconds"
        assert body["detail"] == f"Request was throttled. Expected available in {seconds} {unit}." and seconds <= 60


def test_bulk_schemas_session_only(serve_emulator: Any) -> None:
    """§2, §8.13: with `--bulk-schemas session-only`, API keys get PostHog's 403 (after authentication)."""
    with serve_emulator(bulk_schemas="session-only") as emu, emu.client() as api:
        sid, by_name = stripe(api)
        body = {"schemas": [{"id": by_name["Customer"], "sync_frequency": "24hour"}]}
        r = api.patch(f"/external_data_sources/{sid}/bulk_update_schemas/", json=body)
        assert (r.status_code, r.json()) == (
            403,
            drf("authentication_error", "permission_denied", "This action does not support personal API key access"),
        )
        with emu.client(key="phx_nope") as stranger:
            assert stranger.patch(f"/external_data_sources/{sid}/bulk_update_schemas/", json=body).status_code == 401


def test_at_current_team_ids(served_emulator: Emulator) -> None:
    """§1: `@current` is the key's own team (its lowest), in both path families."""
    with served_emulator.client(key="phx_team_500", team=500) as own:
        sid = own.post("/external_data_sources/", json=create_body("Stripe", stripe_payload())).json()["id"]
    for family in ("projects", "environments"):
        with served_emulator.client(key="phx_team_500", team="@current", family=family) as current:
            r = current.get(f"/external_data_sources/{sid}/")
            assert (r.status_code, r.json()["id"]) == (200, sid)


def test_api_keys_sent_in_the_body_or_query_string(served_emulator: Emulator, team: int) -> None:
    """§2: without an Authorization header the key may come in the JSON body or `?personal_api_key=`; a bad
    one says where it was found."""
    with served_emulator.client(key=None, team=team) as anonymous:
        assert anonymous.get("/external_data_sources/", params={"personal_api_key": "phx_test"}).status_code == 200
        created = anonymous.post("/external_data_sources/", json={
            **create_body("Stripe", stripe_payload()), "personal_api_key": "phx_test"})  # fmt: skip
        assert created.status_code == 201, created.text
        r = anonymous.get("/external_data_sources/", params={"personal_api_key": "phx_nope"})
        assert (r.status_code, r.json()) == (
            401,
            drf(
                "authentication_error",
                "authentication_failed",
                "Personal API key found in request query string is invalid.",
            ),
        )
        r = anonymous.post("/external_data_sources/", json={"personal_api_key": "phx_nope"})
        assert r.json()["detail"] == "Personal API key found in request body is invalid."


def test_keys_restricted_to_other_projects(served_emulator: Emulator) -> None:
    """§2: a key restricted to project 1 gets 403 elsewhere, before the team is even looked up."""
    for team in (2, 999):
        with served_emulator.client(key="phx_scoped", team=team) as scoped:
            r = scoped.get("/external_data_sources/")
            assert (r.status_code, r.json()) == (403, drf(
                "authentication_error", "permission_denied",
                f"API key does not have access to the requested project: ID {team}."))  # fmt: skip


def test_405_for_wrong_methods(served_emulator: Emulator, api: httpx.Client) -> None:
    """§3, §9.4: a wrong method on a known route is 405 after authentication (401 without a key)."""
    sid, by_name = stripe(api)
    for method, path in (
        ("POST", "/external_data_schemas/"),
        ("PUT", f"/external_data_schemas/{by_name['Customer']}/"),
        ("DELETE", "/external_data_sources/"),
        ("GET", f"/external_data_sources/{sid}/reload/"),
    ):
        r = api.request(method, path)
        assert (r.status_code, r.json()) == (405, drf("invalid_request", "method_not_allowed",
                                                      f'Method "{method}" not allowed.')), path  # fmt: skip
    with served_emulator.client(key=None) as anonymous:
        assert anonymous.post("/external_data_schemas/").status_code == 401


def test_schema_level_reload_and_resync_under_billing_pause(serve_emulator: Any) -> None:
    """§9.4: any Paused schema of the team blocks a schema's reload and resync with the `{"message"}` body."""
    with serve_emulator(control=True) as emu, emu.client() as api, emu.control() as control:
        _, by_name = stripe(api)
        assert control.patch(f"/schemas/{by_name['Refund']}", json={"status": "Paused"}).status_code == 200
        for action in ("reload", "resync"):
            r = api.post(f"/external_data_schemas/{by_name['Customer']}/{action}/")
            assert (r.status_code, r.json()) == (400, {"message": "Monthly sync limit reached. Please increase your "
                                                                  "billing limit to resume syncing."})  # fmt: skip


def test_job_status_labels_for_billing_limits(serve_emulator: Any) -> None:
    """§8.8: jobs say "Billing limits" and "Billing limit too low" (singular, unlike schemas)."""
    with serve_emulator(control=True) as emu, emu.client() as api, emu.control() as control:
        sid, by_name = stripe(api)
        assert api.post(f"/external_data_sources/{sid}/reload/").status_code == 200
        (job,) = api.get(f"/external_data_sources/{sid}/jobs/").json()
        labels = []
        for stored in ("BillingLimitReached", "BillingLimitTooLow"):
            assert control.patch(f"/jobs/{job['id']}", json={"status": stored}).status_code == 200
            labels.append(api.get(f"/external_data_sources/{sid}/jobs/").json()[0]["status"])
        assert labels == ["Billing limits", "Billing limit too low"]
        control.patch(f"/schemas/{by_name['Customer']}", json={"status": "BillingLimitTooLow"})
        assert api.get(f"/external_data_schemas/{by_name['Customer']}/").json()["status"] == "Billing limits too low"


def test_put_requires_account_id(api: httpx.Client) -> None:
    """§8.4: PUT is routed but needs the write-only legacy fields, `account_id` first."""
    sid, _ = stripe(api)
    r = api.put(f"/external_data_sources/{sid}/", json={"description": "x"})
    assert (r.status_code, r.json()) == (400, drf("validation_error", "required", "This field is required.",
                                                  "account_id"))  # fmt: skip


def test_search(api: httpx.Client) -> None:
    """§5, §9.1: sources search only the internal `source_id` (so a prefix or type finds nothing); schemas
    search their name, case-insensitively, every comma- or space-separated term."""
    stripe(api, prefix="findme")
    assert api.get("/external_data_sources/", params={"search": "findme"}).json()["count"] == 0
    assert api.get("/external_data_sources/", params={"search": "Stripe"}).json()["count"] == 0
    assert api.get("/external_data_sources/").json()["count"] == 1
    names = [s["name"] for s in api.get("/external_data_schemas/", params={"search": "cUsT"}).json()["results"]]
    assert names == ["Customer"]
    both = api.get("/external_data_schemas/", params={"search": "e,r"}).json()["results"]
    assert sorted(s["name"] for s in both) == ["Customer", "Refund"]


def test_invalid_sync_time_of_day(api: httpx.Client) -> None:
    """§9.3: the time passes the field's ISO parsing, then must be exactly HH:MM:SS."""
    _, by_name = stripe(api)
    r = api.patch(f"/external_data_schemas/{by_name['Customer']}/", json={"sync_time_of_day": "15:30"})
    assert (r.status_code, r.json()) == (400, drf("validation_error", "invalid_input", "Invalid sync time of day"))
    ok = api.patch(f"/external_data_schemas/{by_name['Customer']}/", json={"sync_time_of_day": "15:30:00"})
    assert ok.json()["sync_time_of_day"] == "15:30:00"


def test_unknown_enabled_columns_message(api: httpx.Client) -> None:
    """§9.3: a column the discovered metadata does not have is named in PostHog's message, sorted."""
    payload = {"host": "db.example.com", "port": 5432, "database": "app", "user": "u", "password": "p",
               "schema": "public", "schemas": [{"name": "orders", "should_sync": False}]}  # fmt: skip
    sid = api.post("/external_data_sources/", json=create_body("Postgres", payload)).json()["id"]
    (orders,) = api.get(f"/external_data_sources/{sid}/").json()["schemas"]
    r = api.patch(f"/external_data_schemas/{orders['id']}/", json={"enabled_columns": ["zeta", "id", "alpha"]})
    assert (r.status_code, r.json()) == (400, drf(
        "validation_error", "invalid_input",
        "Unknown columns in enabled_columns: ['alpha', 'zeta']. Run `Pull new schemas` to refresh available "
        "columns."))  # fmt: skip


def test_webhook_only_table_rule(api: httpx.Client) -> None:
    """§9.3, §10: Stripe's Discount takes no sync type but `webhook` (an explicit null included)."""
    _, by_name = stripe(api)
    url = f"/external_data_schemas/{by_name['Discount']}/"
    for sync_type in ("full_refresh", "append", None):
        r = api.patch(url, json={"sync_type": sync_type})
        assert (r.status_code, r.json()) == (400, drf(
            "validation_error", "invalid_input",
            "Discount can only be synced via webhooks — pick the Webhook sync method."))  # fmt: skip
    ok = api.patch(url, json={"sync_type": "webhook", "should_sync": True})
    assert (ok.status_code, ok.json()["sync_type"]) == (200, "webhook")


def test_raw_bodies_are_the_shapes_the_reference_gives(served_emulator: Emulator, api: httpx.Client) -> None:
    """§3: both error families arrive as JSON with PostHog's content type, over a real socket."""
    r = api.post("/external_data_sources/", json=create_body("Stripe", {"schemas": []}))
    assert r.headers["content-type"] == "application/json"
    assert json.loads(r.content) == {"message": "Invalid source config: Required field 'auth_method' is missing"}
