"""Emulator security, as a matrix over real HTTP (extends tests/emulator/test_auth.py, which pins the exact bodies
for one route each): every API route × every kind of key × own / foreign / unknown project; object ids of one
team unreachable from another; the control API absent without `--control` (the real `reconciler serve`
subprocess) and never reachable under `/api/`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.emulators import served

from reconciler.emulator.app import API_ROUTES
from reconciler.emulator.keys import ApiKey, keyring_from
from reconciler.emulator.testing import Emulator, create_body, stripe_payload

TEAM, OTHER, UNKNOWN = 7, 8, 9999
KEYS = keyring_from([
    ApiKey("phx_all", frozenset({TEAM, OTHER}), frozenset({"*"})),
    ApiKey("phx_read", frozenset({TEAM}), frozenset({"external_data_source:read"})),
    ApiKey("phx_write", frozenset({TEAM}), frozenset({"external_data_source:write"})),
    ApiKey("phx_flags", frozenset({TEAM}), frozenset({"feature_flag:read", "feature_flag:write"})),
    ApiKey("phx_other_team", frozenset({OTHER}), frozenset({"*"})),
    ApiKey("phx_pinned", frozenset({TEAM, OTHER}), frozenset({"*"}), scoped_teams=frozenset({OTHER})),
])  # fmt: skip
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


def _routes() -> list[tuple[str, str]]:
    """(method, path template) of every API route, trailing-slash twins once."""
    seen: list[tuple[str, str]] = []
    for route in API_ROUTES:
        path = getattr(route, "path", "")
        for method in sorted(getattr(route, "methods", None) or []):
            if method != "HEAD" and path.endswith("/") and (method, path) not in seen:
                seen.append((method, path))
    return seen


ROUTES = _routes()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with served(keys=KEYS) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def ids(emu: Emulator) -> dict[int, dict[str, str]]:
    """A source (and one of its schemas) in TEAM and in OTHER."""
    found: dict[int, dict[str, str]] = {}
    for team in (TEAM, OTHER):
        with emu.client(key="phx_all", team=team) as api:
            source = api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload(), prefix="p"))
            source.raise_for_status()
            sid = source.json()["id"]
            schema = api.get(f"/external_data_sources/{sid}/").json()["schemas"][0]["id"]
        found[team] = {"source_id": sid, "schema_id": schema}
    return found


def _url(template: str, team: int | str, ids: dict[str, str]) -> str:
    return (
        template.replace("{project_id}", str(team))
        .replace("{source_id}", ids["source_id"])
        .replace("{schema_id}", ids["schema_id"])
    )


def _expected(key: str | None, team: int, method: str) -> tuple[int, str] | None:
    """(status, detail) the request must get, or None when access is granted (any answer but 401/403)."""
    if key is None:
        return 401, "Authentication credentials were not provided."
    if key == "phx_nope":
        return 401, "Personal API key found in request Authorization header is invalid."
    scope = "write" if method in WRITE_METHODS else "read"
    if key == "phx_flags" or (key == "phx_read" and scope == "write"):
        return 403, f"API key missing required scope 'external_data_source:{scope}'"
    if key == "phx_pinned":  # the key's project restriction is checked before the project is looked up
        return 403, f"API key does not have access to the requested project: ID {team}."
    if team == UNKNOWN:
        return 404, "Project not found."
    if key == "phx_other_team":
        return 403, "You don't have access to the project."
    return None


KEY_NAMES = [None, "phx_nope", "phx_all", "phx_read", "phx_write", "phx_flags", "phx_other_team", "phx_pinned"]


@pytest.mark.parametrize("key", KEY_NAMES, ids=lambda k: k or "no-key")
def test_access_matrix(key: str | None, emu: Emulator, ids: dict[int, dict[str, str]]) -> None:
    """Every route under both path families, for this key, on its own project and on an unknown one. Granted
    requests may still fail validation (400) but must never be 401/403; refused ones change nothing."""
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    before = _snapshot(emu, ids)
    wrong: list[str] = []
    with httpx.Client(base_url=emu.base_url, headers=headers, timeout=10) as http:
        for method, template in ROUTES:
            if method == "DELETE":
                continue  # checked below without losing the fixture's objects
            for team in (TEAM, UNKNOWN):
                for family in ("projects", "environments"):
                    url = _url(f"/api/{family}/{{project_id}}{template}", team, ids[TEAM])
                    response = http.request(method, url, json={} if method in WRITE_METHODS else None)
                    want = _expected(key, team, method)
                    got = (response.status_code, _detail(response))
                    if want is None and response.status_code in (401, 403):
                        wrong.append(f"{method} {url}: granted expected, got {got}")
                    elif want is not None and got != want:
                        wrong.append(f"{method} {url}: expected {want}, got {got}")
    assert wrong == []
    if key not in ("phx_all", "phx_write"):
        assert _snapshot(emu, ids) == before  # nothing a refused (or read-only) key sent changed anything


def test_delete_needs_write_scope_and_membership(emu: Emulator) -> None:
    with emu.client(key="phx_all", team=TEAM) as admin:
        sid = admin.post("/external_data_sources/", json=create_body("Stripe", stripe_payload(), prefix="del")).json()[
            "id"
        ]
        for key in ("phx_read", "phx_flags", "phx_other_team", "phx_pinned", "phx_nope"):
            with emu.client(key=key, team=TEAM) as c:
                assert c.delete(f"/external_data_sources/{sid}/").status_code in (401, 403), key
        assert admin.get(f"/external_data_sources/{sid}/").status_code == 200
        with emu.client(key="phx_write", team=TEAM) as c:
            assert c.delete(f"/external_data_sources/{sid}/").status_code == 204


def test_objects_of_one_team_are_invisible_from_another(emu: Emulator, ids: dict[int, dict[str, str]]) -> None:
    """With a key that may use both teams, TEAM's ids under OTHER's path are 404 for every item route."""
    before = _snapshot(emu, ids)
    wrong = []
    with httpx.Client(base_url=emu.base_url, headers={"Authorization": "Bearer phx_all"}, timeout=10) as http:
        for method, template in ROUTES:
            if "{source_id}" not in template and "{schema_id}" not in template:
                continue
            url = _url(f"/api/projects/{{project_id}}{template}", OTHER, ids[TEAM])
            response = http.request(method, url, json={} if method in WRITE_METHODS else None)
            if response.status_code != 404:
                wrong.append(f"{method} {url}: {response.status_code} {response.text[:120]}")
        listed = http.get(f"/api/projects/{OTHER}/external_data_sources/").json()["results"]
        schemas = http.get(f"/api/projects/{OTHER}/external_data_schemas/").json()["results"]
        assert ids[TEAM]["source_id"] not in {s["id"] for s in listed}
        assert ids[TEAM]["schema_id"] not in {s["id"] for s in schemas}
        # bulk_update_schemas on OTHER's own source, naming TEAM's schema id, must not touch TEAM's schema.
        response = http.patch(
            f"/api/projects/{OTHER}/external_data_sources/{ids[OTHER]['source_id']}/bulk_update_schemas/",
            json={"schemas": [{"id": ids[TEAM]["schema_id"], "should_sync": False}]},
        )
        assert response.status_code == 400, response.text
    assert wrong == []
    assert _snapshot(emu, ids) == before


def _detail(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:80]
    return str(body.get("detail", body.get("message", ""))) if isinstance(body, dict) else str(body)[:80]


def _snapshot(emu: Emulator, ids: dict[int, dict[str, str]]) -> dict[int, Any]:
    out = {}
    for team, found in ids.items():
        with emu.client(key="phx_all", team=team) as api:
            out[team] = api.get(f"/external_data_sources/{found['source_id']}/").json()
    return out


# ---- the control API -------------------------------------------------------------------------------------------


def _serve(tmp: Path, *flags: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line
    return proc, line.rsplit(" ", 1)[-1].strip()


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.communicate(timeout=10)


CONTROL = [
    ("GET", "/_emulator/stats"),
    ("POST", "/_emulator/stats/reset"),
    ("GET", "/_emulator/faults"),
    ("POST", "/_emulator/faults"),
    ("DELETE", "/_emulator/faults"),
    ("POST", "/_emulator/rate-limit/reset"),
    ("PATCH", "/_emulator/schemas/x"),
]
FAULT = {"rules": [{"status": 500}]}


def test_serve_without_control_has_no_control_api(tmp_path: Path) -> None:
    proc, url = _serve(tmp_path)
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            for method, path in CONTROL:
                for variant in (path, path + "/"):
                    r = http.request(method, variant, json=FAULT if method != "GET" else None)
                    assert r.status_code == 404, (method, variant, r.status_code)
            # Nothing was installed: the API answers normally.
            api = http.get("/api/projects/1/external_data_sources/", headers={"Authorization": "Bearer phx_local"})
            assert api.status_code == 200
    finally:
        _stop(proc)


UNDER_API = [
    "/api/_emulator/faults",
    "/api/projects/1/_emulator/faults",
    "/api/environments/1/_emulator/faults",
    "/api/projects/1/external_data_sources/_emulator/faults",
    "/api/projects/_emulator/faults",
    "/api//_emulator/faults",
    "/api/projects/1/external_data_sources/%2E%2E/%2E%2E/%2E%2E/_emulator/faults",
    "/api/projects/1/external_data_schemas/_emulator/faults",
]


def test_control_api_is_never_reachable_under_api(tmp_path: Path) -> None:
    proc, url = _serve(tmp_path, "--control")
    try:
        with httpx.Client(base_url=url, timeout=10, headers={"Authorization": "Bearer phx_local"}) as http:
            assert http.get("/_emulator/faults").json() == {"rules": []}
            for path in UNDER_API:
                for method in ("GET", "POST", "DELETE"):
                    request = http.build_request(method, url + path, json=FAULT if method == "POST" else None)
                    request.url = httpx.URL(url + path)  # keep dot segments and doubled slashes as written
                    r = http.send(request)
                    assert r.status_code in (400, 401, 403, 404, 405), (method, path, r.status_code, r.text)
                    assert "rules" not in r.text, (method, path, r.text)
            assert http.get("/_emulator/faults").json() == {"rules": []}  # no rule was added through /api/
            assert http.get("/api/projects/1/external_data_sources/").status_code == 200
    finally:
        _stop(proc)
