"""Reading sources (§5, §6): field order, redaction, stringified scalars, status, pagination."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.emulator.store import Store
from reconciler.emulator.testing import STRIPE_KEY, Emulator, create_body, postgres_payload, stripe_payload

SOURCE_FIELDS = [
    "id", "created_at", "created_by", "created_via", "status", "source_type", "latest_error", "prefix",
    "description", "access_method", "engine", "last_run_at", "schemas", "job_inputs", "revenue_analytics_config",
    "user_access_level", "supports_webhooks", "supports_column_selection",
]  # fmt: skip
SCHEMA_FIELDS = [
    "id", "name", "label", "table", "should_sync", "last_synced_at", "latest_error", "incremental", "status",
    "sync_type", "incremental_field", "incremental_field_type", "sync_frequency", "sync_time_of_day", "description",
    "primary_key_columns", "cdc_table_mode", "enabled_columns", "available_columns", "source",
]  # fmt: skip


def _make(api: httpx.Client, source_type: str, payload: dict[str, Any], **top: Any) -> str:
    r = api.post("/external_data_sources/", json=create_body(source_type, payload, **top))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _team(api: httpx.Client) -> int:
    return int(str(api.base_url).rstrip("/").rsplit("/", 1)[1])


def test_field_order_and_read_only_values(api: httpx.Client) -> None:
    sid = _make(api, "Stripe", stripe_payload(), prefix="prod", description="Main account")
    body = api.get(f"/external_data_sources/{sid}/").json()
    assert list(body) == SOURCE_FIELDS
    assert list(body["schemas"][0]) == SCHEMA_FIELDS
    assert body["created_at"].endswith("Z")
    assert body["user_access_level"] == "editor"
    assert (body["supports_webhooks"], body["supports_column_selection"]) == (True, False)
    assert (body["engine"], body["last_run_at"], body["latest_error"]) == (None, None, None)
    assert body["schemas"][0]["source"] is None
    pg = api.get(f"/external_data_sources/{_make(api, 'Postgres', postgres_payload())}/").json()
    assert (pg["supports_webhooks"], pg["supports_column_selection"], pg["engine"]) == (False, True, None)


def test_write_only_fields_never_returned(api: httpx.Client) -> None:
    sid = _make(api, "Stripe", stripe_payload())
    body = api.get(f"/external_data_sources/{sid}/").json()
    assert "account_id" not in body and "client_secret" not in body and "payload" not in body


def test_stripe_secret_omitted_not_masked(api: httpx.Client) -> None:
    sid = _make(api, "Stripe", stripe_payload(stripe_account_id="acct_9"))
    r = api.get(f"/external_data_sources/{sid}/")
    assert r.json()["job_inputs"] == {"auth_method": {"selection": "api_key"}, "stripe_account_id": "acct_9"}
    assert STRIPE_KEY not in r.text and "stripe_secret_key" not in r.text
    listed = api.get("/external_data_sources/")
    assert STRIPE_KEY not in listed.text


def test_postgres_scalars_read_back_as_strings_and_absent_optionals_null(api: httpx.Client) -> None:
    payload = postgres_payload(connection_string="postgres://u:pw@h/db", extra_unknown="dropped")
    payload["cdc_enabled"] = False
    del payload["schema"]
    sid = _make(api, "Postgres", payload)
    job_inputs = api.get(f"/external_data_sources/{sid}/").json()["job_inputs"]
    assert job_inputs == {
        "host": "db.example.com",
        "port": "5432",
        "database": "app",
        "user": "reader",
        "schema": None,
        "ssh_tunnel": None,
        "cdc_enabled": "False",
    }


def test_ssh_tunnel_read_normalisation_and_secret_stripping(api: httpx.Client) -> None:
    tunnel = {
        "enabled": True,
        "host": "bastion.example.com",
        "port": 22,
        "auth_type": {"type": "keypair", "username": "jump", "private_key": "PRIVATE-CANARY", "passphrase": "pp"},
    }
    sid = _make(api, "Postgres", postgres_payload(ssh_tunnel=tunnel))
    r = api.get(f"/external_data_sources/{sid}/")
    assert r.json()["job_inputs"]["ssh_tunnel"] == {
        "enabled": "True",
        "host": "bastion.example.com",
        "port": "22",
        "auth": {"selection": "keypair", "username": "jump"},
        "require_tls": {"enabled": True},
    }
    assert "PRIVATE-CANARY" not in r.text


def test_snowflake_keypair_and_bigquery_key_file_stripped(api: httpx.Client) -> None:
    snow = {
        "account_id": "acc", "database": "DB", "warehouse": "WH", "schema": "PUBLIC", "role": None,
        "auth_type": {"selection": "keypair", "user": "svc", "private_key": "PK-CANARY", "passphrase": "PP-CANARY"},
        "schemas": [{"name": "orders"}],
    }  # fmt: skip
    sid = _make(api, "Snowflake", snow)
    r = api.get(f"/external_data_sources/{sid}/")
    assert r.json()["job_inputs"] == {
        "account_id": "acc",
        "database": "DB",
        "warehouse": "WH",
        "auth_type": {"selection": "keypair", "user": "svc"},
        "role": None,
        "schema": "PUBLIC",
    }
    bq = {
        "key_file": {"project_id": "p", "private_key": "BQ-CANARY", "private_key_id": "k", "client_email": "e",
                     "token_uri": "t"},
        "dataset_id": "proj.ds",
        "temporary-dataset": {"enabled": False, "temporary_dataset_id": ""},
        "schemas": [{"name": "orders"}],
    }  # fmt: skip
    r = api.get(f"/external_data_sources/{_make(api, 'BigQuery', bq)}/")
    job_inputs = r.json()["job_inputs"]
    assert "key_file" not in job_inputs and "BQ-CANARY" not in r.text
    assert job_inputs["dataset_id"] == "proj.ds"  # stored verbatim
    assert job_inputs["temporary_dataset"] == {"enabled": "False", "temporary_dataset_id": ""}
    assert job_inputs["dataset_project"] is None


def test_unknown_source_type_reads_empty_job_inputs(emulator: Emulator, team: int) -> None:
    row = emulator.store.create_source(
        team_id=team, source_type="Vitally", prefix=None, description=None, access_method="warehouse",
        created_via=None, created_by=None, job_inputs={"secret": "x"}, revenue_enabled=False, schemas=[],
    )  # fmt: skip
    with emulator.client(team=team) as c:
        body = c.get(f"/external_data_sources/{row.id}/").json()
    assert body["job_inputs"] == {}
    assert body["created_via"] is None  # historical rows may have none


def _set_schema(store: Store, schema_id: str, **columns: Any) -> None:
    """Test-only: simulate sync outcomes directly in SQLite (part 2 adds a control API for this)."""
    sets = ", ".join(f"{k} = ?" for k in columns)
    with store._tx() as db:
        db.execute(f"UPDATE schemas SET {sets} WHERE id = ?", (*columns.values(), schema_id))


def test_status_and_latest_error_derivation(api: httpx.Client, emulator: Emulator) -> None:
    payload = stripe_payload(tables=("Charge", "Customer"))
    payload["schemas"].append({"name": "Refund", "should_sync": False})
    sid = _make(api, "Stripe", payload)
    get = lambda: api.get(f"/external_data_sources/{sid}/").json()  # noqa: E731
    ids = {s["name"]: s["id"] for s in get()["schemas"]}
    assert get()["status"] == "Running"  # fresh: schemas have no status yet
    _set_schema(emulator.store, ids["Refund"], status="Failed", latest_error="refund broke")
    body = get()
    assert body["status"] == "Running"  # a disabled schema's failure does not fail the source
    assert body["latest_error"] == "refund broke"  # but its error is still the latest_error
    _set_schema(emulator.store, ids["Customer"], status="Completed")
    _set_schema(emulator.store, ids["Charge"], status="Completed")
    assert get()["status"] == "Completed"
    _set_schema(emulator.store, ids["Customer"], status="Running")
    assert get()["status"] == "Running"
    _set_schema(emulator.store, ids["Charge"], status="Paused")
    assert get()["status"] == "Paused"
    _set_schema(emulator.store, ids["Customer"], status="BillingLimitTooLow")
    assert get()["status"] == "Billing limits too low"
    _set_schema(emulator.store, ids["Charge"], status="BillingLimitReached")
    assert get()["status"] == "Billing limits"
    _set_schema(emulator.store, ids["Charge"], status="Failed", latest_error="charge broke")
    body = get()
    assert body["status"] == "Failed"
    assert body["latest_error"] == "charge broke"  # first by name
    assert [s["status"] for s in body["schemas"]] == ["Failed", "Billing limits too low", "Failed"]


def test_pagination_newest_first_with_absolute_links(api: httpx.Client) -> None:
    ids = [_make(api, "Stripe", stripe_payload(), prefix=f"p{i}") for i in range(5)]
    newest_first = list(reversed(ids))
    page = api.get("/external_data_sources/", params={"limit": 2}).json()
    base = f"{api.base_url}external_data_sources/"
    assert page["count"] == 5
    assert [s["id"] for s in page["results"]] == newest_first[:2]
    assert page["previous"] is None
    assert page["next"] == f"{base}?limit=2&offset=2"
    page2 = api.get(page["next"]).json()
    assert [s["id"] for s in page2["results"]] == newest_first[2:4]
    assert page2["previous"] == f"{base}?limit=2"
    assert page2["next"] == f"{base}?limit=2&offset=4"
    page3 = api.get(page2["next"]).json()
    assert [s["id"] for s in page3["results"]] == newest_first[4:]
    assert page3["next"] is None and page3["previous"] == f"{base}?limit=2&offset=2"


def test_pagination_defaults_and_bad_params(api: httpx.Client) -> None:
    for i in range(3):
        _make(api, "Stripe", stripe_payload(), prefix=f"p{i}")
    for params in ({}, {"limit": "0"}, {"limit": "-3"}, {"limit": "abc"}):
        page = api.get("/external_data_sources/", params=params).json()
        assert (page["count"], len(page["results"]), page["next"], page["previous"]) == (3, 3, None, None)
    page = api.get("/external_data_sources/", params={"offset": "junk", "limit": 1}).json()
    assert page["next"] == f"{api.base_url}external_data_sources/?limit=1&offset=1"
    assert page["previous"] is None
    tail = api.get("/external_data_sources", params={"offset": 2, "limit": 1000}).json()
    assert len(tail["results"]) == 1 and tail["next"] is None
    assert tail["previous"] == f"{api.base_url}external_data_sources?limit=1000"


def test_pagination_default_page_size_is_100(start_emulator) -> None:  # type: ignore[no-untyped-def]
    with start_emulator() as emu:
        for i in range(101):
            emu.store.create_source(
                team_id=1, source_type="Stripe", prefix=f"p{i}", description=None, access_method="warehouse",
                created_via="api", created_by=None, job_inputs={}, revenue_enabled=True, schemas=[],
            )  # fmt: skip
        with emu.client() as c:
            page = c.get("/external_data_sources/").json()
    assert (page["count"], len(page["results"])) == (101, 100)
    assert page["next"] == f"{emu.origin}/api/projects/1/external_data_sources/?limit=100&offset=100"


def test_list_query_count_does_not_grow_with_sources(start_emulator) -> None:  # type: ignore[no-untyped-def]
    """§12: the list's query count is bounded (batch loads, no per-source queries)."""
    with start_emulator() as emu, emu.client() as c:
        statements: list[str] = []
        emu.store._db.set_trace_callback(statements.append)
        counts = []
        for n in (2, 10):
            while c.get("/external_data_sources/").json()["count"] < n:
                r = c.post(
                    "/external_data_sources/",
                    json=create_body("Stripe", stripe_payload(), prefix=f"p{len(statements)}"),
                )
                assert r.status_code == 201
            statements.clear()
            c.get("/external_data_sources/")
            counts.append(len(statements))
        emu.store._db.set_trace_callback(None)
    assert counts[0] == counts[1] <= 5


def test_no_secret_value_in_any_response(api: httpx.Client) -> None:
    """Canary secrets of every secret kind (password, select option secret, file upload, SSH tunnel) never
    appear in any response body, whichever endpoint answers."""
    tunnel = {"enabled": True, "host": "j.example.com", "port": 22,
              "auth": {"selection": "password", "username": "u", "password": "CANARY-TUNNEL"}}  # fmt: skip
    bodies = [
        create_body("Stripe", stripe_payload(key="sk_live_CANARY-STRIPE")),
        create_body(
            "Postgres", postgres_payload(password="CANARY-PG", connection_string="CANARY-CS", ssh_tunnel=tunnel)
        ),
        create_body("Zendesk", {"subdomain": "acme", "api_key": "CANARY-ZD", "email_address": "e@x",
                                "schemas": [{"name": "tickets"}]}),
        create_body("BigQuery", {"key_file": {"project_id": "p", "private_key": "CANARY-BQ",
                                              "private_key_id": "CANARY-ID", "client_email": "e", "token_uri": "t"},
                                 "dataset_id": "d", "schemas": [{"name": "orders"}]}),
    ]  # fmt: skip
    texts: list[str] = []
    for body in bodies:
        r = api.post("/external_data_sources/", json=body)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        texts += [
            r.text,
            api.get(f"/external_data_sources/{sid}/").text,
            api.patch(f"/external_data_sources/{sid}/", json={"description": "d"}).text,
            api.patch(f"/external_data_sources/{sid}/", json={"job_inputs": {}}).text,
            api.patch(f"/external_data_sources/{sid}/revenue_analytics_config/", json={"enabled": False}).text,
            api.post(f"/external_data_sources/{sid}/refresh_schemas/").text,
            api.get(f"/external_data_sources/{sid}/jobs/").text,
        ]
        flat = {"source_type": body["source_type"], **body["payload"]}
        texts.append(api.post("/external_data_sources/database_schema/", json=flat).text)
    texts.append(api.get("/external_data_sources/").text)
    everything = "\n".join(texts)
    assert "CANARY" not in everything


def test_search_matches_only_the_internal_source_id(api: httpx.Client, emulator: Emulator) -> None:
    """§5: at the reference commit the only search field is the never-returned internal `source_id`."""
    sid = _make(api, "Stripe", stripe_payload(), prefix="searchable")
    assert api.get("/external_data_sources/", params={"search": "searchable"}).json()["count"] == 0
    assert api.get("/external_data_sources/", params={"search": "Stripe"}).json()["count"] == 0
    with emulator.store._tx() as db:
        internal = db.execute("SELECT internal_source_id FROM sources WHERE id = ?", (sid,)).fetchone()[0]
    assert internal != sid and internal not in api.get(f"/external_data_sources/{sid}/").text
    found = api.get("/external_data_sources/", params={"search": f"{internal[:8].upper()}, {internal[-4:]}"}).json()
    assert [s["id"] for s in found["results"]] == [sid]
    assert api.get("/external_data_sources/", params={"search": f"{internal[:8]} zzz"}).json()["count"] == 0
    assert api.get("/external_data_sources/", params={"search": ""}).json()["count"] == 1
