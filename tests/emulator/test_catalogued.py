"""The emulator serves every catalogued type: upstreams built from the catalog's facts, value checks on
create/PATCH, the connection-target gate per type, and integrations (with the control API's switch)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.emulators import in_process

from reconciler.catalog import load_catalog
from reconciler.emulator.testing import Emulator, create_body
from reconciler.emulator.upstreams import SimulatedUpstream, default_upstreams
from reconciler.emulator.upstreams.catalogued import catalogued_upstream
from reconciler.emulator.upstreams.types import UpstreamError

CATALOG = load_catalog()


def _schemas(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "should_sync": True, "sync_type": "full_refresh"} for n in names]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with in_process(control=True) as emulator:
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Iterator[httpx.Client]:
    with emu.client() as client:
        yield client


# ---- upstreams from the catalog --------------------------------------------------------------------


def test_every_catalogued_type_has_an_upstream_sql_types_real() -> None:
    registry = default_upstreams()
    assert all(name in registry for name in CATALOG)
    for name in CATALOG:
        if name not in ("Postgres", "MySQL"):  # resolving those would build the real SQL upstream
            assert isinstance(registry.get(name), SimulatedUpstream), name


def test_api_type_serves_its_static_tables_with_cursors() -> None:
    up = catalogued_upstream(CATALOG["Aircall"])
    tables = {t.name: t for t in up.tables}
    assert list(tables) == ["calls", "contacts", "users", "teams", "numbers", "tags"]
    cursor = tables["calls"].incremental_fields[0]
    assert (cursor.label, cursor.type, cursor.field, cursor.field_type) == (
        "started_at",
        "datetime",
        "started_at",
        "integer",
    )
    assert tables["calls"].incremental_available and not tables["users"].incremental_fields


def test_credential_rules_come_from_the_catalog() -> None:
    chargebee = catalogued_upstream(CATALOG["Chargebee"])
    chargebee.check_credentials("Chargebee", {"site_name": "acme", "api_key": "k"})
    with pytest.raises(UpstreamError, match=r"^Chargebee site name is incorrect$"):
        chargebee.check_credentials("Chargebee", {"site_name": "acme.chargebee.com", "api_key": "k"})
    aircall = catalogued_upstream(CATALOG["Aircall"])
    with pytest.raises(UpstreamError, match=r"^Invalid Aircall API credentials$"):
        aircall.check_credentials("Aircall", {"api_id": "a", "api_token": "an-INVALID-token"})
    # `invalid` in a field that is not secret is just a value
    aircall.check_credentials("Aircall", {"api_id": "invalid", "api_token": "t"})


def test_database_like_types_get_the_sample_database() -> None:
    clickhouse = catalogued_upstream(CATALOG["ClickHouse"])
    assert [t.name for t in clickhouse.tables] == ["customers", "events", "orders"]
    with pytest.raises(UpstreamError, match=r"^Could not connect to ClickHouse\."):
        clickhouse.check_credentials("ClickHouse", {"host": "h", "password": "invalid"})


def test_types_whose_tables_posthog_discovers_offer_their_suggested_tables() -> None:
    bing = catalogued_upstream(CATALOG["BingAds"])
    assert [t.name for t in bing.tables] == ["campaigns", "campaign_performance_report"]


# ---- create / PATCH over HTTP ------------------------------------------------------------------------


def _okta(api: httpx.Client, prefix: str) -> str:
    payload = {"okta_domain": "acme.okta.com", "api_key": "tok", "schemas": _schemas("users")}
    r = api.post("/external_data_sources/", json=create_body("Okta", payload, prefix=prefix))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_create_an_api_type_and_read_its_tables(api: httpx.Client) -> None:
    sid = _okta(api, "okta_read")
    source = api.get(f"/external_data_sources/{sid}").json()
    assert source["source_type"] == "Okta"
    assert source["job_inputs"] == {"okta_domain": "acme.okta.com"}
    assert sorted(s["name"] for s in source["schemas"]) == ["users"]


def test_connection_target_gate_uses_the_types_own_target(api: httpx.Client) -> None:
    sid = _okta(api, "okta_gate")
    r = api.patch(f"/external_data_sources/{sid}", json={"job_inputs": {"okta_domain": "other.okta.com"}})
    assert r.status_code == 400
    assert r.json()["detail"] == "Changing the connection host requires re-entering your credentials."
    r = api.patch(
        f"/external_data_sources/{sid}", json={"job_inputs": {"okta_domain": "other.okta.com", "api_key": "t2"}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["job_inputs"]["okta_domain"] == "other.okta.com"


@pytest.mark.parametrize(
    ("source_type", "payload", "message"),
    [
        (
            "Amplitude",
            {"api_key": "k", "secret_key": "s", "region": "mars"},
            "Invalid source config: Field 'region' must be one of: us, eu",
        ),
        (
            "ClickHouse",
            {"host": "h", "port": "84x3", "database": "d", "user": "u", "secure": "true", "verify": "true"},
            "Invalid source config: Field 'port' must be a whole number",
        ),
        (
            "Github",
            {"repository": "o/r", "auth_method": {"selection": "token"}},
            "Invalid source config: Field 'auth_method' must be one of: oauth, pat",
        ),
        (
            "BigQuery",
            {"dataset_id": "d", "key_file": "not-a-file"},
            "Invalid source config: Field 'key_file' must be an object",
        ),
    ],
)
def test_create_refuses_values_the_form_cannot_send(
    api: httpx.Client, source_type: str, payload: dict[str, Any], message: str
) -> None:
    r = api.post("/external_data_sources/", json=create_body(source_type, {**payload, "schemas": []}))
    assert (r.status_code, r.json()) == (400, {"message": message})


def test_patch_refuses_a_select_value_outside_the_options(api: httpx.Client) -> None:
    payload = {"api_key": "k", "secret_key": "s", "region": "eu", "schemas": _schemas("events")}
    r = api.post("/external_data_sources/", json=create_body("Amplitude", payload, prefix="amp"))
    assert r.status_code == 201, r.text
    r = api.patch(f"/external_data_sources/{r.json()['id']}", json={"job_inputs": {"region": "mars"}})
    assert r.status_code == 400
    assert r.json()["detail"] == "Invalid source config: Field 'region' must be one of: us, eu"


# ---- integrations --------------------------------------------------------------------------------------


def _hubspot(api: httpx.Client, integration_id: Any, prefix: str) -> httpx.Response:
    payload = {"hubspot_integration_id": integration_id, "schemas": _schemas("contacts")}
    return api.post("/external_data_sources/", json=create_body("Hubspot", payload, prefix=prefix))


def test_any_positive_integration_id_exists_until_marked_missing(emu: Emulator, api: httpx.Client) -> None:
    assert _hubspot(api, 41, "hs_a").status_code == 201
    with emu.control() as control:
        assert control.put("/integrations/41", json={"missing": True}).json() == {"id": 41, "missing": True}
        assert control.get("/integrations").json() == {"missing": [41]}
        r = _hubspot(api, 41, "hs_b")
        assert (r.status_code, r.json()) == (400, {"message": "Integration not found: 41"})
        # a type with its own wording (BingAds) gives PostHog's message for that type
        bing = {"bing_ads_integration_id": 41, "account_id": "123", "schemas": _schemas("campaigns")}
        r = api.post("/external_data_sources/", json=create_body("BingAds", bing, prefix="bing"))
        assert r.json() == {"message": "Bing Ads integration not found. Please reconnect your Bing Ads integration."}
        assert control.put("/integrations/41", json={"missing": False}).json() == {"id": 41, "missing": False}
        assert control.get("/integrations").json() == {"missing": []}
    assert _hubspot(api, 41, "hs_c").status_code == 201
    r = _hubspot(api, 0, "hs_d")
    assert (r.status_code, r.json()) == (400, {"message": "Missing integration ID"})


@pytest.mark.parametrize(
    ("path", "body", "attr"),
    [
        ("/integrations/0", {"missing": True}, "integration_id"),
        ("/integrations/abc", {"missing": True}, "integration_id"),
        ("/integrations/5", {"missing": "yes"}, "missing"),
        ("/integrations/5", {"missing": True, "other": 1}, "missing"),
    ],
)
def test_integration_control_refuses_bad_requests(emu: Emulator, path: str, body: Any, attr: str) -> None:
    with emu.control() as control:
        r = control.put(path, json=body)
        assert r.status_code == 400
        assert r.json()["attr"] == attr
        assert control.get("/integrations").json() == {"missing": []}
