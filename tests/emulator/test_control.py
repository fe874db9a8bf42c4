"""The `/_emulator/` control API through real HTTP: stats (route templates, throttled and faulted counts,
reset), fault rule validation, listing and clearing, and absence when `--control` is off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp
from support.emulators import app_client

from reconciler.emulator.control.traffic import ControlError, control_error, control_routes, read_json
from reconciler.emulator.traffic.middleware import TrafficControl, TrafficMiddleware


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def list_items(request: Request) -> JSONResponse:
    return JSONResponse({"results": []})


async def get_item(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["item_id"]})


ITEM_ROUTES = [
    Route(path + slash, endpoint, methods=["GET"])
    for path, endpoint in (("/items", list_items), ("/items/{item_id:int}", get_item))
    for slash in ("", "/")
]


def build_app(traffic: TrafficControl, *, control: bool, more: list[Route] | None = None) -> Starlette:
    return Starlette(
        routes=[
            *control_routes(traffic, enabled=control, more=more or []),
            Mount("/api/projects/{project_id}", routes=ITEM_ROUTES),
            Mount("/api/environments/{project_id}", routes=ITEM_ROUTES),
        ],
        middleware=[Middleware(TrafficMiddleware, control=traffic)],
    )


def serve(app: ASGIApp) -> AbstractContextManager[httpx.Client]:
    """An in-process client for `app`, authenticated as `phx_a`."""
    return app_client(app, headers={"Authorization": "Bearer phx_a"})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(clock: FakeClock) -> Iterator[httpx.Client]:
    traffic = TrafficControl.from_options(rate_limit="5/minute", clock=clock)
    with serve(build_app(traffic, control=True)) as http:
        yield http


def test_stats_count_requests_by_method_and_route_template(client: httpx.Client) -> None:
    client.get("/api/projects/1/items")
    client.get("/api/projects/2/items/")
    client.get("/api/environments/1/items/")
    client.get("/api/projects/1/items/42")
    client.delete("/api/projects/1/items/")  # 405 from the route: still that route
    client.get("/api/projects/1/items/not-an-int/")  # converter refuses: no route
    client.get("/api/projects/1/items/")  # 6th routed one (the 405 counts, as in DRF): throttled
    client.get("/_emulator/faults")  # control requests are never counted
    stats = client.get("/_emulator/stats").json()
    assert stats == {
        "total": 7,
        "by_route": {
            "DELETE /api/projects/{project_id}/items/": 1,
            "GET (no route)": 1,
            "GET /api/environments/{project_id}/items/": 1,
            "GET /api/projects/{project_id}/items/": 3,
            "GET /api/projects/{project_id}/items/{item_id}/": 1,
        },
        "throttled": 1,
        "faulted": 0,
        "settings": {"rate_limit": "5/minute", "latency_ms": 0},
    }


def test_stats_reset_and_faulted_count(client: httpx.Client) -> None:
    client.post("/_emulator/faults", json={"rules": [{"path": "/items/\\d+", "status": 503, "times": 1}]})
    assert client.get("/api/projects/1/items/1").status_code == 503
    assert client.get("/api/projects/1/items/1").status_code == 200
    stats = client.get("/_emulator/stats/").json()
    assert (stats["total"], stats["faulted"], stats["throttled"]) == (2, 1, 0)
    reset = client.post("/_emulator/stats/reset")
    assert reset.status_code == 200
    assert reset.json() == {
        "total": 0,
        "by_route": {},
        "throttled": 0,
        "faulted": 0,
        "settings": {"rate_limit": "5/minute", "latency_ms": 0},
    }
    client.get("/api/projects/1/items")
    assert client.get("/_emulator/stats").json()["by_route"] == {"GET /api/projects/{project_id}/items/": 1}


def test_faults_are_listed_with_defaults_and_cleared(client: httpx.Client) -> None:
    added = client.post("/_emulator/faults", json={"rules": [{"status": 0}]})
    assert added.json() == {
        "rules": [
            {
                "method": None,
                "path": None,
                "status": 0,
                "times": None,
                "after_commit": False,
                "delay_ms": 0,
                "wait_seconds": 1,
                "remaining": None,
                "fired": 0,
            }
        ]
    }
    more = client.post("/_emulator/faults/", json={"rules": [{"method": "post", "path": "x", "status": 500}]})
    assert [(r["method"], r["status"]) for r in more.json()["rules"]] == [(None, 0), ("POST", 500)]  # appended
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/api/projects/1/items")
    cleared = client.delete("/_emulator/faults")
    assert (cleared.status_code, cleared.json()) == (200, {"rules": []})
    assert client.get("/_emulator/faults").json() == {"rules": []}
    assert client.get("/api/projects/1/items").status_code == 200


def test_faults_never_touch_the_control_api(client: httpx.Client) -> None:
    client.post("/_emulator/faults", json={"rules": [{"path": ".*", "status": 500}]})
    assert client.get("/_emulator/stats").status_code == 200
    assert client.get("/api/projects/1/items").status_code == 500
    assert client.delete("/_emulator/faults").status_code == 200


def _invalid(detail: str, attr: str | None) -> dict[str, Any]:
    return {"type": "validation_error", "code": "invalid_input", "detail": detail, "attr": attr}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": 500}, _invalid('Expected {"rules": [...]}.', "rules")),
        ({"rules": [{"path": "x"}]}, _invalid("This field is required.", "rules[0].status")),
        (
            {"rules": [{"status": 500}, {"status": 200}]},
            _invalid("'status' must be 0 (drop the connection) or an HTTP status 400-599.", "rules[1].status"),
        ),
        (
            {"rules": [{"status": 500, "path": "("}]},
            _invalid(
                "'path' is not a valid regular expression: missing ), unterminated subpattern at position 0.",
                "rules[0].path",
            ),
        ),
        ({"rules": [{"status": 500, "times": 0}]}, _invalid("'times' must be an integer >= 1.", "rules[0].times")),
        (
            {"rules": [{"status": 500, "delay_ms": -5}]},
            _invalid("'delay_ms' must be an integer >= 0.", "rules[0].delay_ms"),
        ),
        (
            {"rules": [{"status": 500, "after_commit": "yes"}]},
            _invalid("'after_commit' must be true or false.", "rules[0].after_commit"),
        ),
        (
            {"rules": [{"status": 500, "method": "BREW"}]},
            _invalid(
                "'method' must be one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT or null.", "rules[0].method"
            ),
        ),
        (
            {"rules": [{"status": 500, "when": "now"}]},
            _invalid(
                "Unknown field 'when'; allowed: after_commit, delay_ms, method, path, status, times, wait_seconds.",
                "rules[0]",
            ),
        ),
    ],
)
def test_bad_fault_rules_are_refused_whole(client: httpx.Client, body: dict[str, Any], expected: Any) -> None:
    response = client.post("/_emulator/faults", json=body)
    assert (response.status_code, response.json()) == (400, expected)
    assert client.get("/_emulator/faults").json() == {"rules": []}  # nothing half-added


def test_malformed_json_is_refused(client: httpx.Client) -> None:
    response = client.post("/_emulator/faults", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - Expecting property name")


def test_rate_limit_reset_forgets_the_buckets(client: httpx.Client) -> None:
    for _ in range(5):
        assert client.get("/api/projects/1/items").status_code == 200
    assert client.get("/api/projects/1/items").status_code == 429
    reset = client.post("/_emulator/rate-limit/reset")
    assert reset.json() == {"rate_limit": "5/minute"}
    assert client.get("/api/projects/1/items").status_code == 200


def test_control_routes_are_absent_when_disabled() -> None:
    traffic = TrafficControl()
    assert control_routes(traffic, enabled=False) == []
    with serve(build_app(traffic, control=False)) as http:
        assert http.get("/_emulator/stats").status_code == 404
        assert http.post("/_emulator/faults", json={"rules": [{"status": 500}]}).status_code == 404
        assert http.delete("/_emulator/faults").status_code == 404
        assert http.get("/api/projects/1/items").status_code == 200  # the API itself is unaffected
    assert traffic.faults.snapshot() == []


def test_more_control_routes_mount_under_the_prefix() -> None:
    """How store-backed control endpoints (schema health, upstream tables) plug in later."""
    seen: list[Any] = []

    async def patch_schema(request: Request) -> JSONResponse:
        body = await read_json(request)
        if not isinstance(body, dict):
            return control_error(ControlError("Expected an object.", None))
        seen.append((request.path_params["schema_id"], body))
        return JSONResponse(body)

    route = Route("/schemas/{schema_id}", patch_schema, methods=["PATCH"])
    with serve(build_app(TrafficControl(), control=True, more=[route])) as http:
        assert http.patch("/_emulator/schemas/s1", json={"status": "Failed"}).json() == {"status": "Failed"}
        refused = http.patch("/_emulator/schemas/s1", json=[1])
        assert (refused.status_code, refused.json()["detail"]) == (400, "Expected an object.")
    assert seen == [("s1", {"status": "Failed"})]


def test_with_the_real_emulator_route_table() -> None:
    """Wrapped around `create_app` from outside: templates come from the real routes, the key ring decides
    which keys are throttled, and a throttled request is PostHog's 429."""
    from reconciler.emulator.app import create_app
    from reconciler.emulator.keys import default_keyring
    from reconciler.emulator.store import Store
    from reconciler.emulator.upstreams import default_upstreams

    keys = default_keyring()
    traffic = TrafficControl.from_options(rate_limit="2/hour", clock=FakeClock())
    store = Store(None)
    app = create_app(
        store, keys=keys, upstreams=default_upstreams(), extra_routes=control_routes(traffic, enabled=True)
    )
    wrapped = TrafficMiddleware(app, control=traffic, is_known_key=lambda key: keys.get(key) is not None)
    try:
        with serve(wrapped) as http:
            local = {"Authorization": "Bearer phx_local"}
            assert http.get("/api/projects/1/external_data_sources/wizard", headers=local).status_code == 200
            assert http.get("/api/environments/1/external_data_sources/", headers=local).status_code == 200
            throttled = http.get("/api/projects/1/external_data_sources/", headers=local)
            assert throttled.status_code == 429
            assert throttled.json()["detail"] == "Request was throttled. Expected available in 3600 seconds."
            assert http.get("/api/projects/1/external_data_sources/").status_code == 401  # phx_a: unknown key
            assert http.get("/_emulator/stats").json()["by_route"] == {
                "GET /api/environments/{project_id}/external_data_sources/": 1,
                "GET /api/projects/{project_id}/external_data_sources/": 2,
                "GET /api/projects/{project_id}/external_data_sources/wizard/": 1,
            }
    finally:
        store.close()
