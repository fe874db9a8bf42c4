"""`external_data_schemas` (§7, §9) and `bulk_update_schemas` (§8.13) through real HTTP: list, retrieve, every
PATCH rule of §9.3, DELETE and restore, reload/resync/cancel, incremental_fields, scopes, 405."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.emulator.testing import Emulator, create_body, stripe_payload, zendesk_payload

SCHEMA_FIELDS = [
    "id", "name", "label", "table", "should_sync", "last_synced_at", "latest_error", "incremental", "status",
    "sync_type", "incremental_field", "incremental_field_type", "sync_frequency", "sync_time_of_day", "description",
    "primary_key_columns", "cdc_table_mode", "enabled_columns", "available_columns", "source",
]  # fmt: skip


def make(api: httpx.Client, source_type: str, payload: dict[str, Any], **top: Any) -> str:
    r = api.post("/external_data_sources/", json=create_body(source_type, payload, **top))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def ids(api: httpx.Client, source_id: str) -> dict[str, str]:
    return {s["name"]: s["id"] for s in api.get(f"/external_data_sources/{source_id}/").json()["schemas"]}


def stripe(api: httpx.Client, prefix: str | None = None) -> tuple[str, dict[str, str]]:
    """A Stripe source with Customer (full_refresh, on), Refund (no sync type, off) and Discount (webhook-only)."""
    payload = stripe_payload(tables=("Customer",))
    payload["schemas"] += [{"name": "Refund", "should_sync": False}, {"name": "Discount", "should_sync": False}]
    sid = make(api, "Stripe", payload, prefix=prefix)
    return sid, ids(api, sid)


def bad(r: httpx.Response, detail: str, attr: str | None = None, code: str = "invalid_input") -> None:
    assert r.status_code == 400, r.text
    assert r.json() == {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


# ---- list and retrieve (§9.1, §9.2) -----------------------------------------------------------------------


def test_list_is_paginated_newest_first_and_searches_names(api: httpx.Client, emulator: Emulator, team: int) -> None:
    first, _ = stripe(api)
    make(api, "Zendesk", zendesk_payload())
    body = api.get("/external_data_schemas/").json()
    assert body["count"] == 4 and body["next"] is None and body["previous"] is None
    names = [s["name"] for s in body["results"]]
    assert names[0] == "tickets" and sorted(names[1:]) == ["Customer", "Discount", "Refund"]  # newest first
    assert all(list(s) == SCHEMA_FIELDS and s["source"] is None for s in body["results"])
    assert [s["name"] for s in api.get("/external_data_schemas/", params={"search": "CUST"}).json()["results"]] == [
        "Customer"
    ]
    both = api.get("/external_data_schemas/", params={"search": "e,r"}).json()["results"]
    assert sorted(s["name"] for s in both) == ["Customer", "Refund"]  # every term must match
    page = api.get("/external_data_schemas/", params={"limit": 1, "offset": 1}).json()
    assert page["count"] == 4 and len(page["results"]) == 1
    assert page["next"].endswith(f"/api/projects/{team}/external_data_schemas/?limit=1&offset=2")
    with emulator.client(key="phx_test", team=team, family="environments") as env:
        assert env.get("/external_data_schemas").json()["results"] == body["results"]
    api.delete(f"/external_data_sources/{first}/")
    assert api.get("/external_data_schemas/").json()["count"] == 1  # a deleted source's schemas are gone


def test_retrieve_has_the_source_summary_and_embedded_schemas_are_name_ordered(api: httpx.Client) -> None:
    sid, by_name = stripe(api)
    one = api.get(f"/external_data_schemas/{by_name['Customer']}/").json()
    assert list(one) == SCHEMA_FIELDS
    assert one["source"] == {"id": sid, "source_type": "Stripe", "supports_column_selection": False,
                             "user_access_level": "editor"}  # fmt: skip
    assert one["sync_frequency"] == "6hour" and one["sync_type"] == "full_refresh" and one["table"] is None
    assert one["available_columns"] == []  # no column selection for Stripe: no column metadata (§16)
    embedded = api.get(f"/external_data_sources/{sid}/").json()["schemas"]
    assert [s["name"] for s in embedded] == ["Customer", "Discount", "Refund"]
    assert all(s["source"] is None for s in embedded)
    assert {k: v for k, v in embedded[0].items() if k != "source"} == {k: v for k, v in one.items() if k != "source"}


def test_unknown_malformed_and_other_team_ids_are_404(api: httpx.Client, emulator: Emulator, team: int) -> None:
    _, by_name = stripe(api)
    for path in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        r = api.get(f"/external_data_schemas/{path}/")
        assert (r.status_code, r.json()["detail"]) == (404, "Not found.")
    with emulator.client(key="phx_test", team=team + 1000) as other:
        assert other.get(f"/external_data_schemas/{by_name['Customer']}/").status_code == 404


def test_scopes_and_post_to_the_collection(emulator: Emulator, api: httpx.Client, team: int) -> None:
    _, by_name = stripe(api)
    item = f"/external_data_schemas/{by_name['Customer']}/"
    with emulator.client(key="phx_read", team=team) as read:
        assert read.get(item).status_code == 200
        r = read.patch(item, json={"should_sync": False})
        assert (r.status_code, r.json()["detail"]) == (
            403,
            "API key missing required scope 'external_data_source:write'",
        )
        assert read.post(f"{item}incremental_fields/").status_code == 403  # a POST needing write (§2)
    with emulator.client(key="phx_unrelated", team=team) as unrelated:
        assert unrelated.get("/external_data_schemas/").status_code == 403
    r = api.post("/external_data_schemas/", json={"name": "x"})
    assert r.status_code == 405
    assert r.json() == {"type": "invalid_request", "code": "method_not_allowed", "detail": 'Method "POST" not allowed.',
                        "attr": None}  # fmt: skip
    with emulator.client(key=None, team=team) as anonymous:
        assert anonymous.post("/external_data_schemas/", json={}).status_code == 401


# ---- PATCH rules (§9.3) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "body", "detail", "attr", "code"),
    [
        ("Customer", {"sync_type": "blah"}, '"blah" is not a valid choice.', "sync_type", "invalid_choice"),
        ("Customer", {"sync_frequency": "2min"}, '"2min" is not a valid choice.', "sync_frequency", "invalid_choice"),
        ("Customer", {"incremental_field_type": "string"}, '"string" is not a valid choice.',
         "incremental_field_type", "invalid_choice"),
        ("Customer", {"cdc_table_mode": "all"}, '"all" is not a valid choice.', "cdc_table_mode", "invalid_choice"),
        ("Customer", {"should_sync": "maybe"}, "Must be a valid boolean.", "should_sync", "invalid_input"),
        ("Customer", {"should_sync": None}, "This field may not be null.", "should_sync", "null"),
        ("Customer", {"primary_key_columns": "id"}, 'Expected a list of items but got type "str".',
         "primary_key_columns", "not_a_list"),
        ("Customer", {"sync_time_of_day": "25:99"},
         "Time has wrong format. Use one of these formats instead: hh:mm[:ss[.uuuuuu]].", "sync_time_of_day",
         "invalid_input"),
        # first failing field in serializer order wins
        ("Customer", {"enabled_columns": 5, "sync_type": "blah"}, '"blah" is not a valid choice.', "sync_type",
         "invalid_choice"),
        ("Customer", {"sync_time_of_day": "15:30"}, "Invalid sync time of day", None, "invalid_input"),
        ("Customer", {"sync_frequency": "1min"}, "A 1-minute sync frequency is only available for CDC schemas. "
         "The fastest frequency for other sync types is 5 minutes.", None, "invalid_input"),
        ("Customer", {"sync_type": "cdc"}, "CDC is not enabled for this team", None, "invalid_input"),
        ("Refund", {"should_sync": True}, "Sync type must be set up first before enabling schema", None,
         "invalid_input"),
        ("Refund", {"should_sync": True, "sync_type": None}, "Sync type must be set up first before enabling schema",
         None, "invalid_input"),
        ("Discount", {"sync_type": "full_refresh"},
         "Discount can only be synced via webhooks — pick the Webhook sync method.", None, "invalid_input"),
        ("Discount", {"sync_type": None}, "Discount can only be synced via webhooks — pick the Webhook sync method.",
         None, "invalid_input"),
    ],
)  # fmt: skip
def test_patch_refusals(
    api: httpx.Client, table: str, body: dict[str, Any], detail: str, attr: str | None, code: str
) -> None:
    sid, by_name = stripe(api)
    before = api.get(f"/external_data_sources/{sid}/").json()["schemas"]
    bad(api.patch(f"/external_data_schemas/{by_name[table]}/", json=body), detail, attr, code)
    assert api.get(f"/external_data_sources/{sid}/").json()["schemas"] == before  # nothing written


def test_enabled_columns_are_checked_against_discovered_columns_only(api: httpx.Client) -> None:
    """Postgres keeps the discovered columns (column selection): unknown names are refused. Stripe keeps
    none, so any list goes (PostHog checks only against metadata it has)."""
    payload = {"host": "db.example.com", "port": 5432, "database": "app", "user": "u", "password": "p",
               "schema": "public", "schemas": [{"name": "orders", "should_sync": False}]}  # fmt: skip
    pg = ids(api, make(api, "Postgres", payload))
    bad(api.patch(f"/external_data_schemas/{pg['orders']}/", json={"enabled_columns": ["id", "nope", "also_nope"]}),
        "Unknown columns in enabled_columns: ['also_nope', 'nope']. Run `Pull new schemas` to refresh available "
        "columns.")  # fmt: skip
    _, by_name = stripe(api)
    ok = api.patch(f"/external_data_schemas/{by_name['Customer']}/", json={"enabled_columns": ["anything"]})
    assert (ok.status_code, ok.json()["enabled_columns"]) == (200, ["anything"])


def test_sync_type_present_absent_and_null(api: httpx.Client) -> None:
    _, by_name = stripe(api)
    url = f"/external_data_schemas/{by_name['Refund']}/"
    r = api.patch(url, json={"sync_type": "append", "incremental_field": "created", "incremental_field_type": "integer",
                             "should_sync": True})  # fmt: skip
    assert r.status_code == 200
    got = r.json()
    assert (got["sync_type"], got["incremental_field"], got["incremental_field_type"], got["should_sync"]) == (
        "append", "created", "integer", True)  # fmt: skip
    assert got["incremental"] is False and got["source"] is None
    assert api.patch(url, json={"should_sync": False}).json()["sync_type"] == "append"  # absent: kept
    cleared = api.patch(url, json={"sync_type": None}).json()
    assert cleared["sync_type"] is None and cleared["incremental_field"] == "created"  # the cursor config stays
    # Without a cursor sync type in the request, cursor keys are not written (§9.3).
    assert api.patch(url, json={"incremental_field": "other"}).json()["incremental_field"] == "created"
    inc = api.patch(url, json={"sync_type": "incremental", "incremental_field": "id"}).json()
    assert inc["incremental"] is True and inc["incremental_field"] == "id"


def test_frequencies_never_time_of_day_and_read_only_keys(api: httpx.Client) -> None:
    _, by_name = stripe(api)
    url = f"/external_data_schemas/{by_name['Customer']}/"
    for label in ("5min", "15min", "30min", "1hour", "6hour", "12hour", "24hour", "7day", "30day"):
        assert api.patch(url, json={"sync_frequency": label}).json()["sync_frequency"] == label
    assert api.patch(url, json={"sync_frequency": "never"}).json()["sync_frequency"] is None  # §7
    assert api.patch(url, json={"sync_frequency": None}).json()["sync_frequency"] is None
    assert api.patch(url, json={"sync_frequency": "12hour"}).json()["sync_frequency"] == "12hour"
    assert api.patch(url, json={"sync_frequency": None}).json()["sync_frequency"] == "12hour"  # null keeps
    assert api.patch(url, json={"sync_time_of_day": "9:05:00"}).json()["sync_time_of_day"] == "09:05:00"
    assert api.patch(url, json={"sync_time_of_day": None}).json()["sync_time_of_day"] is None
    whole = api.get(url).json()
    whole.update(name="Renamed", status="Failed", id="x", should_sync=False, enabled_columns=["id"])
    back = api.patch(url, json=whole).json()  # the UI sends the whole object back
    assert (back["name"], back["status"], back["id"]) == ("Customer", None, by_name["Customer"])
    assert back["should_sync"] is False and back["enabled_columns"] == ["id"]
    assert api.patch(url, json={"enabled_columns": []}).json()["enabled_columns"] == []  # [] is not null
    assert api.patch(url, json={"enabled_columns": None}).json()["enabled_columns"] is None


def test_webhook_only_table_takes_the_webhook_sync_type(api: httpx.Client) -> None:
    _, by_name = stripe(api)
    r = api.patch(f"/external_data_schemas/{by_name['Discount']}/", json={"sync_type": "webhook", "should_sync": True})
    assert r.status_code == 200 and (r.json()["sync_type"], r.json()["should_sync"]) == ("webhook", True)
    r = api.patch(f"/external_data_schemas/{by_name['Discount']}/", json={"should_sync": False})
    assert r.status_code == 200  # no sync_type in the request: the webhook-only rule does not apply


def test_primary_key_is_locked_once_an_incremental_table_synced(api: httpx.Client) -> None:
    payload = zendesk_payload(schemas=[{"name": "tickets", "should_sync": True, "sync_type": "incremental",
                                        "incremental_field": "generated_timestamp",
                                        "incremental_field_type": "integer"}])  # fmt: skip
    sid = make(api, "Zendesk", payload)
    url = f"/external_data_schemas/{ids(api, sid)['tickets']}/"
    assert api.patch(url, json={"sync_type": "incremental", "primary_key_columns": ["id", "x"]}).status_code == 200
    assert api.post(f"/external_data_sources/{sid}/reload/").status_code == 200  # completes at once: a table
    assert api.get(url).json()["table"] is not None
    same = api.patch(url, json={"sync_type": "incremental", "primary_key_columns": ["id", "x"]})
    assert same.status_code == 200
    bad(api.patch(url, json={"sync_type": "incremental", "primary_key_columns": ["id"]}),
        "Primary key cannot be changed after data has been synced. "
        "Delete the synced data first, then change the primary key.")  # fmt: skip
    # append: the key may change (§9.3 locks it for incremental only)
    ok = api.patch(url, json={"sync_type": "append", "primary_key_columns": ["id"]})
    assert ok.status_code == 200 and ok.json()["primary_key_columns"] == ["id"]


def test_cdc_rules_with_the_team_flag_on(start_emulator: Any) -> None:
    with start_emulator(control=True, cdc_teams=[1]) as emu, emu.client() as api, emu.control() as control:
        control.put("/upstreams/Postgres", json={"tables": [
            {"name": "keyed", "columns": [{"name": "id", "type": "integer", "nullable": False}]},
            {"name": "keyless", "columns": ["note"]},
        ]})  # fmt: skip
        payload = {"host": "db.example.com", "port": 5432, "database": "app", "user": "u", "password": "p",
                   "schema": "public", "schemas": [{"name": "keyed", "should_sync": False},
                                                   {"name": "keyless", "should_sync": False}]}  # fmt: skip
        sid = make(api, "Postgres", payload)
        by_name = ids(api, sid)
        keyed, keyless = (f"/external_data_schemas/{by_name[n]}/" for n in ("keyed", "keyless"))
        # Created without a cursor sync type, no row stored a key (§16): discovery has to pick it up first.
        bad(api.patch(keyed, json={"sync_type": "cdc"}),
            "CDC requires a primary key on table 'keyed'. "
            "Provide primary_key_columns or refresh schema discovery to pick one up.")  # fmt: skip
        assert api.post(f"/external_data_sources/{sid}/refresh_schemas/").json()["added"] == 0
        r = api.patch(keyed, json={"sync_type": "cdc", "sync_frequency": "1min", "cdc_table_mode": "both",
                                   "should_sync": True})  # fmt: skip
        assert r.status_code == 200, r.text
        assert (r.json()["sync_frequency"], r.json()["cdc_table_mode"]) == ("1min", "both")
        # leaving CDC with the stored 1-minute interval is refused too
        bad(api.patch(keyed, json={"sync_type": "full_refresh"}),
            "A 1-minute sync frequency is only available for CDC schemas. "
            "The fastest frequency for other sync types is 5 minutes.")  # fmt: skip
        assert api.patch(keyed, json={"sync_type": "full_refresh", "sync_frequency": "5min"}).status_code == 200
        bad(api.patch(keyless, json={"sync_type": "cdc"}),
            "CDC requires a primary key on table 'keyless'. "
            "Provide primary_key_columns or refresh schema discovery to pick one up.")  # fmt: skip
        fixed = api.patch(keyless, json={"sync_type": "cdc", "primary_key_columns": ["note"]})
        assert fixed.status_code == 200 and fixed.json()["primary_key_columns"] == ["note"]
        # cdc_table_mode is ignored for non-CDC schemas (it lives in the CDC config)
        assert api.patch(keyed, json={"cdc_table_mode": "cdc_only"}).json()["cdc_table_mode"] == "both"
        control.patch("/teams/1", json={"cdc_enabled": False})
        bad(api.patch(keyed, json={"sync_type": "cdc"}), "CDC is not enabled for this team")


# ---- DELETE and restore (§9.4) ----------------------------------------------------------------------------


def test_delete_is_soft_and_refresh_restores_the_same_row(api: httpx.Client) -> None:
    sid, by_name = stripe(api)
    url = f"/external_data_schemas/{by_name['Customer']}/"
    api.patch(url, json={"sync_frequency": "24hour", "sync_time_of_day": "03:00:00"})
    r = api.delete(url)
    assert (r.status_code, r.content) == (204, b"")
    assert api.get(url).status_code == 404 and api.patch(url, json={}).status_code == 404
    assert "Customer" not in ids(api, sid)
    assert api.get("/external_data_schemas/", params={"search": "Customer"}).json()["count"] == 0
    refreshed = api.post(f"/external_data_sources/{sid}/refresh_schemas/").json()
    assert refreshed == {"added": 14, "deleted": 0, "total_tables_seen": 16}  # 13 new + Customer restored
    back = api.get(url).json()
    assert back["id"] == by_name["Customer"]
    assert (back["should_sync"], back["sync_type"], back["sync_frequency"], back["sync_time_of_day"]) == (
        True, "full_refresh", "24hour", "03:00:00")  # fmt: skip
    assert api.post(f"/external_data_sources/{sid}/refresh_schemas/").json()["added"] == 0  # idempotent


# ---- reload / resync / cancel / incremental_fields (§9.4) ------------------------------------------------


def test_reload_resync_and_cancel(start_emulator: Any) -> None:
    with start_emulator(sync_seconds=600, control=True) as emu, emu.client() as api, emu.control() as control:
        sid, by_name = stripe(api)
        item = f"/external_data_schemas/{by_name['Refund']}"
        cancel = api.post(f"{item}/cancel/")
        assert (cancel.status_code, cancel.json()) == (400, {"detail": "No running sync to cancel."})
        r = api.post(f"{item}/reload/")
        assert (r.status_code, r.content) == (200, b"")
        assert api.get(f"{item}/").json()["status"] == "Running"  # a disabled schema can be reloaded
        jobs = api.get(f"/external_data_sources/{sid}/jobs/").json()
        assert [(j["schema"]["name"], j["status"]) for j in jobs] == [("Refund", "Running")]
        assert (api.post(f"{item}/cancel/").status_code, api.post(f"{item}/cancel/").status_code) == (200, 400)
        assert api.get(f"{item}/").json()["status"] is None
        assert api.post(f"{item}/resync/").status_code == 200
        jobs = api.get(f"/external_data_sources/{sid}/jobs/").json()
        assert [j["status"] for j in jobs] == ["Running", "Failed"]  # newest first; the cancelled one ended
        # a billing-paused team (any schema Paused) cannot reload or resync
        control.patch(f"/schemas/{by_name['Customer']}", json={"status": "Paused"})
        for action in ("reload", "resync"):
            r = api.post(f"{item}/{action}/")
            assert (r.status_code, r.json()) == (400, {"message": "Monthly sync limit reached. Please increase "
                                                                  "your billing limit to resume syncing."})  # fmt: skip
        r = api.post(f"/external_data_sources/{sid}/reload/")
        assert r.status_code == 400 and r.json()["message"].startswith("Monthly sync limit reached.")


def test_incremental_fields_is_a_live_lookup(start_emulator: Any) -> None:
    with start_emulator(control=True) as emu, emu.client() as api, emu.control() as control:
        sid = make(api, "Zendesk", zendesk_payload(schemas=[{"name": "tickets"}, {"name": "users"}]))
        by_name = ids(api, sid)
        r = api.post(f"/external_data_schemas/{by_name['tickets']}/incremental_fields/")
        assert r.status_code == 200
        assert r.json() == {
            "incremental_fields": [{"label": "generated_timestamp", "type": "integer", "field": "generated_timestamp",
                                    "field_type": "integer"}],
            "incremental_available": True,
            "append_available": True,
            "cdc_available": None,
            "full_refresh_available": True,
            "supports_webhooks": False,
            "webhook_only": False,
            "available_columns": [],  # API sources report no columns and no keys (§16)
            "detected_primary_keys": None,
        }  # fmt: skip
        control.put("/upstreams/Zendesk", json={"tables": [{"name": "tickets"}]})
        r = api.post(f"/external_data_schemas/{by_name['users']}/incremental_fields/")
        assert (r.status_code, r.json()) == (400, {"message": "Schema with name users not found"})
        _, stripe_ids = stripe(api)
        discount = api.post(f"/external_data_schemas/{stripe_ids['Discount']}/incremental_fields/").json()
        assert (discount["webhook_only"], discount["full_refresh_available"]) == (True, False)


# ---- bulk_update_schemas (§8.13) -------------------------------------------------------------------------


def test_bulk_update_applies_every_item_in_request_order(api: httpx.Client) -> None:
    sid, by_name = stripe(api)
    r = api.patch(f"/external_data_sources/{sid}/bulk_update_schemas/", json={"schemas": [
        {"id": by_name["Refund"], "should_sync": True, "sync_type": "full_refresh", "sync_frequency": "24hour",
         "primary_key_columns": ["ignored"], "name": "ignored"},
        {"id": by_name["Customer"], "sync_time_of_day": "01:02:03", "enabled_columns": ["id"]},
    ]})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["name"] for s in body] == ["Refund", "Customer"]
    assert all(list(s) == SCHEMA_FIELDS for s in body)
    assert (body[0]["should_sync"], body[0]["sync_frequency"], body[0]["primary_key_columns"]) == (
        True, "24hour", None)  # undeclared keys are dropped  # fmt: skip
    assert (body[1]["sync_time_of_day"], body[1]["enabled_columns"]) == ("01:02:03", ["id"])
    assert api.get(f"/external_data_schemas/{by_name['Refund']}/").json()["sync_type"] == "full_refresh"


@pytest.mark.parametrize(
    ("body", "detail", "attr", "code"),
    [
        ({}, "This field is required.", "schemas", "required"),
        ({"schemas": []}, "This list may not be empty.", "schemas", "empty"),
        ({"schemas": {}}, 'Expected a list of items but got type "dict".', "schemas", "not_a_list"),
        ({"schemas": ["x"]}, "Invalid data. Expected a dictionary, but got str.", "schemas__0", "invalid_input"),
        ({"schemas": [{"should_sync": True}]}, "This field is required.", "schemas__0__id", "required"),
        ({"schemas": [{"id": "nope"}]}, "Must be a valid UUID.", "schemas__0__id", "invalid_input"),
        ({"schemas": [{"id": "00000000-0000-0000-0000-000000000000", "sync_type": "blah"}]},
         '"blah" is not a valid choice.', "schemas__0__sync_type", "invalid_choice"),
        ({"schemas": [{"id": "00000000-0000-0000-0000-000000000000", "should_sync": None}]},
         "This field may not be null.", "schemas__0__should_sync", "null"),
        ({"schemas": [{"id": "00000000-0000-0000-0000-000000000000", "sync_time_of_day": "x"}]},
         "Time has wrong format. Use one of these formats instead: hh:mm[:ss[.uuuuuu]].",
         "schemas__0__sync_time_of_day", "invalid_input"),
        ({"schemas": [{"id": "00000000-0000-0000-0000-000000000000"}]},
         "One or more schemas could not be found for this source", None, "invalid_input"),
    ],
)  # fmt: skip
def test_bulk_update_body_errors(api: httpx.Client, body: dict[str, Any], detail: str, attr: str | None,
                                 code: str) -> None:  # fmt: skip
    sid, _ = stripe(api)
    bad(api.patch(f"/external_data_sources/{sid}/bulk_update_schemas/", json=body), detail, attr, code)


def test_bulk_update_is_all_or_nothing_and_per_source(api: httpx.Client, emulator: Emulator, team: int) -> None:
    sid, by_name = stripe(api, prefix="one")
    other_sid, other = stripe(api, prefix="two")
    url = f"/external_data_sources/{sid}/bulk_update_schemas/"
    before = api.get(f"/external_data_sources/{sid}/").json()
    bad(api.patch(url, json={"schemas": [{"id": by_name["Customer"]}, {"id": by_name["Customer"]}]}),
        "Schema updates must contain unique ids")  # fmt: skip
    bad(api.patch(url, json={"schemas": [{"id": other["Customer"]}]}),
        "One or more schemas could not be found for this source")  # fmt: skip
    bad(api.patch(url, json={"schemas": [{"id": by_name["Customer"], "sync_frequency": "7day"},
                                         {"id": by_name["Refund"], "should_sync": True}]}),
        "Sync type must be set up first before enabling schema")  # fmt: skip
    bad(
        api.patch(url, json={"schemas": [{"id": by_name["Customer"], "sync_frequency": "2min"}]}),
        '"2min" is not a valid choice.',
        "sync_frequency",
        "invalid_choice",
    )  # the §9.3 field, unprefixed
    assert api.get(f"/external_data_sources/{sid}/").json() == before  # the first item was not written
    with emulator.client(key="phx_read", team=team) as read:
        r = read.patch(url, json={"schemas": [{"id": by_name["Customer"]}]})
        assert (r.status_code, r.json()["detail"]) == (
            403,
            "API key missing required scope 'external_data_source:write'",
        )
    assert other_sid != sid


def test_bulk_update_session_only_refuses_api_keys(start_emulator: Any) -> None:
    with start_emulator(bulk_schemas="session-only") as emu, emu.client() as api:
        sid, by_name = stripe(api)
        r = api.patch(f"/external_data_sources/{sid}/bulk_update_schemas/",
                      json={"schemas": [{"id": by_name["Customer"], "should_sync": False}]})  # fmt: skip
        assert r.status_code == 403
        assert r.json() == {"type": "authentication_error", "code": "permission_denied",
                            "detail": "This action does not support personal API key access", "attr": None}  # fmt: skip
        assert api.get(f"/external_data_schemas/{by_name['Customer']}/").json()["should_sync"] is True
        with emu.client(key=None) as anonymous:
            assert anonymous.patch(f"/external_data_sources/{sid}/bulk_update_schemas/", json={}).status_code == 401
        # the documented fallback: one PATCH per schema
        assert (
            api.patch(f"/external_data_schemas/{by_name['Customer']}/", json={"should_sync": False}).status_code == 200
        )
