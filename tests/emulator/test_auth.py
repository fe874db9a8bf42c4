"""Authentication, scopes and team access (reference/posthog-api.md §1–§2), exact drf-exceptions-hog bodies."""

from __future__ import annotations

import pytest

from reconciler.emulator.testing import Emulator, create_body, stripe_payload


def _err(type_: str, code: str, detail: str) -> dict[str, object]:
    return {"type": type_, "code": code, "detail": detail, "attr": None}


def test_no_credentials_is_401_not_authenticated(emulator: Emulator) -> None:
    with emulator.client(key=None) as c:
        r = c.get("/external_data_sources/")
    assert r.status_code == 401
    assert r.json() == _err(
        "authentication_error", "not_authenticated", "Authentication credentials were not provided."
    )
    assert r.headers["www-authenticate"].startswith("Bearer resource_metadata=")


def test_unknown_bearer_key_is_401_authentication_failed(emulator: Emulator) -> None:
    with emulator.client(key="phx_nope") as c:
        r = c.get("/external_data_sources/")
    assert r.status_code == 401
    assert r.json() == _err(
        "authentication_error",
        "authentication_failed",
        "Personal API key found in request Authorization header is invalid.",
    )


def test_key_from_query_string_and_body(emulator: Emulator) -> None:
    with emulator.client(key=None) as c:
        assert c.get("/external_data_sources/", params={"personal_api_key": "phx_test"}).status_code == 200
        bad = c.get("/external_data_sources/", params={"personal_api_key": "phx_bad"})
        assert bad.json()["detail"] == "Personal API key found in request query string is invalid."
        body = c.post("/external_data_sources/source_prefix/", json={"personal_api_key": "phx_bad", "source_type": "X"})
        assert body.status_code == 401
        assert body.json()["detail"] == "Personal API key found in request body is invalid."
        ok = c.post("/external_data_sources/source_prefix/", json={"personal_api_key": "phx_test", "source_type": "X"})
        assert ok.status_code == 200


READ = [("GET", "/external_data_sources/"), ("GET", "/external_data_sources/wizard/")]
WRITE = [
    ("POST", "/external_data_sources/"),
    ("POST", "/external_data_sources/database_schema/"),
    ("POST", "/external_data_sources/source_prefix/"),
]


@pytest.mark.parametrize(("method", "path"), READ)
def test_read_key_can_read(emulator: Emulator, method: str, path: str) -> None:
    with emulator.client(key="phx_read") as c:
        assert c.request(method, path).status_code == 200


@pytest.mark.parametrize(("method", "path"), WRITE)
def test_read_key_cannot_write_and_database_schema_source_prefix_need_write(
    emulator: Emulator, method: str, path: str
) -> None:
    with emulator.client(key="phx_read") as c:
        r = c.request(method, path, json={})
    assert r.status_code == 403
    assert r.json() == _err(
        "authentication_error", "permission_denied", "API key missing required scope 'external_data_source:write'"
    )


@pytest.mark.parametrize(("method", "path"), READ)
def test_write_scope_satisfies_read(emulator: Emulator, method: str, path: str) -> None:
    with emulator.client(key="phx_write") as c:
        assert c.request(method, path).status_code == 200


def test_unrelated_scope_is_403_read(emulator: Emulator) -> None:
    with emulator.client(key="phx_unrelated") as c:
        r = c.get("/external_data_sources/")
    assert r.status_code == 403
    assert r.json()["detail"] == "API key missing required scope 'external_data_source:read'"


def test_item_actions_scopes(emulator: Emulator, team: int) -> None:
    with emulator.client(team=team) as admin:
        sid = admin.post("/external_data_sources/", json=create_body("Stripe", stripe_payload())).json()["id"]
    with emulator.client(key="phx_read", team=team) as c:
        assert c.get(f"/external_data_sources/{sid}/").status_code == 200
        assert c.get(f"/external_data_sources/{sid}/jobs/").status_code == 200
        for method, action in [("POST", "reload"), ("POST", "refresh_schemas"), ("PATCH", "revenue_analytics_config")]:
            assert c.request(method, f"/external_data_sources/{sid}/{action}/", json={}).status_code == 403
        assert c.patch(f"/external_data_sources/{sid}/", json={"description": "x"}).status_code == 403
        assert c.delete(f"/external_data_sources/{sid}/").status_code == 403


def test_unknown_team_is_404_project_not_found(emulator: Emulator) -> None:
    for team in ("9999", "abc"):
        with emulator.client(team=team) as c:
            r = c.get("/external_data_sources/")
        assert r.status_code == 404
        assert r.json() == _err("invalid_request", "not_found", "Project not found.")


def test_existing_team_of_someone_else_is_403(emulator: Emulator) -> None:
    with emulator.client(team=500) as c:
        r = c.get("/external_data_sources/")
    assert r.status_code == 403
    assert r.json() == _err("authentication_error", "permission_denied", "You don't have access to the project.")
    with emulator.client(key="phx_team_500", team=500) as c:
        assert c.get("/external_data_sources/").status_code == 200


def test_key_restricted_to_other_projects(emulator: Emulator) -> None:
    with emulator.client(key="phx_scoped", team=2) as c:
        r = c.get("/external_data_sources/")
    assert r.status_code == 403
    assert r.json() == _err(
        "authentication_error", "permission_denied", "API key does not have access to the requested project: ID 2."
    )


def test_at_current_resolves_to_the_keys_team(emulator: Emulator) -> None:
    with emulator.client(key="phx_team_500", team="@current") as c:
        r = c.get("/external_data_sources/")
    assert r.status_code == 200
    assert r.json()["count"] == 0


def test_default_keyring_phx_local(start_emulator) -> None:  # type: ignore[no-untyped-def]
    from reconciler.emulator.keys import default_keyring

    with start_emulator(keys=default_keyring()) as emu:
        with emu.client(key="phx_local", team=1) as c:
            assert c.get("/external_data_sources/").status_code == 200
        with emu.client(key="phx_local", team=2) as c:
            assert c.get("/external_data_sources/").json()["detail"] == "Project not found."
        with emu.http() as http:
            r = http.get("/api/projects/1/external_data_sources/", headers={"Authorization": "Bearer x"})
        assert r.status_code == 401
