"""URL layout (§1): both path families, optional trailing slash, unknown endpoints, 405, bad ids, bad JSON."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator.testing import Emulator, create_body, postgres_payload, simulated_registry, stripe_payload


@pytest.mark.parametrize("family", ["projects", "environments"])
@pytest.mark.parametrize("slash", ["", "/"])
def test_both_families_and_optional_slash_reach_the_same_data(
    emulator: Emulator, team: int, family: str, slash: str
) -> None:
    with emulator.client(team=team) as c:
        sid = c.post("/external_data_sources" + slash, json=create_body("Stripe", stripe_payload())).json()["id"]
    with emulator.client(team=team, family=family) as c:
        listed = c.get("/external_data_sources" + slash).json()
        assert [s["id"] for s in listed["results"]] == [sid]
        assert c.get(f"/external_data_sources/{sid}{slash}").json()["id"] == sid
        assert c.get(f"/external_data_sources/{sid}/jobs{slash}").status_code == 200
        assert c.get("/external_data_sources/wizard" + slash).status_code == 200
        assert c.delete(f"/external_data_sources/{sid}{slash}").status_code == 204


@pytest.mark.parametrize(
    "path",
    ["/api/projects/1/nope/", "/api/environments/1/external_data_sources/x/y/z/", "/api/unknown", "/elsewhere"],
)
def test_unknown_endpoint_is_404_endpoint_not_found(emulator: Emulator, path: str) -> None:
    with emulator.http() as http:
        r = http.get(path, headers={"Authorization": "Bearer phx_test"})
    assert r.status_code == 404
    assert r.json() == {"type": "invalid_request", "code": "not_found", "detail": "Endpoint not found.", "attr": None}


def test_wrong_method_authenticates_first(emulator: Emulator) -> None:
    with emulator.client(key=None) as c:
        assert c.delete("/external_data_sources/").status_code == 401
    with emulator.client(key="phx_bad") as c:
        assert c.delete("/external_data_sources/").json()["code"] == "authentication_failed"


def test_wrong_method_is_405(api: httpx.Client) -> None:
    r = api.delete("/external_data_sources/")
    assert r.status_code == 405
    assert r.json() == {
        "type": "invalid_request",
        "code": "method_not_allowed",
        "detail": 'Method "DELETE" not allowed.',
        "attr": None,
    }


@pytest.mark.parametrize("sid", ["not-a-uuid", "123", "00000000-0000-0000-0000-000000000000"])
def test_malformed_or_unknown_id_is_404_not_found(api: httpx.Client, sid: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        r = api.request(method, f"/external_data_sources/{sid}/", json={})
        assert r.status_code == 404
        assert r.json() == {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}


def test_other_teams_source_is_not_found(emulator: Emulator, team: int) -> None:
    with emulator.client(team=team) as c:
        sid = c.post("/external_data_sources/", json=create_body("Stripe", stripe_payload())).json()["id"]
    with emulator.client(team=1) as other:  # team 1: phx_test is a member, the source is not there
        assert other.get(f"/external_data_sources/{sid}/").status_code == 404


def test_malformed_json_is_parse_error(api: httpx.Client) -> None:
    r = api.post("/external_data_sources/", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    body = r.json()
    assert (body["type"], body["code"], body["attr"]) == ("invalid_request", "parse_error", None)
    assert body["detail"].startswith("JSON parse error - ")


def test_non_object_body_is_invalid_input(api: httpx.Client) -> None:
    r = api.post("/external_data_sources/", json=[1, 2])
    assert r.status_code == 400
    assert r.json() == {
        "type": "validation_error",
        "code": "invalid_input",
        "detail": "Invalid data. Expected a dictionary, but got list.",
        "attr": None,
    }


class _BrokenUpstream:
    def check_credentials(self, source_type: str, config: object) -> None:
        raise RuntimeError("boom")

    def discover(self, source_type: str, config: object) -> list[object]:
        raise RuntimeError("boom")


def test_unexpected_error_is_a_drf_500(start_emulator) -> None:  # type: ignore[no-untyped-def]
    registry = simulated_registry().with_overrides({"MSSQL": _BrokenUpstream()})  # type: ignore[dict-item]
    with start_emulator(upstreams=registry) as emu, emu.client() as c:
        r = c.post("/external_data_sources/", json=create_body("MSSQL", postgres_payload(schema="dbo")))
    assert r.status_code == 500
    assert r.json() == {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}
