"""Traffic middleware through HTTP: rate limit (DRF's arithmetic, PostHog's 429 body), latency, fault rules
(before and after commit, dropped connections, countdown). A tiny Starlette app mounted like the emulator's
(both path families) stands in for the endpoints; in-process, except where a dropped connection must really
close a socket (uvicorn on 127.0.0.1:0)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from support.emulators import app_client

from reconciler.emulator.control.traffic import control_routes
from reconciler.emulator.traffic.faults import FaultRule
from reconciler.emulator.traffic.middleware import TrafficControl, TrafficMiddleware
from reconciler.emulator.traffic.ratelimit import RateLimiter, parse_rate_limit, throttled_detail
from reconciler.errors import ConfigError

KEYS = {"phx_a", "phx_b"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def item_routes(items: list[dict[str, Any]]) -> list[BaseRoute]:
    async def list_items(request: Request) -> JSONResponse:
        return JSONResponse({"results": items})

    async def create_item(request: Request) -> JSONResponse:
        body = await request.json()
        items.append(body)
        return JSONResponse(body, status_code=201)

    async def get_item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["item_id"]})

    table = [("/items", list_items, "GET"), ("/items", create_item, "POST"), ("/items/{item_id}", get_item, "GET")]
    return [Route(p + slash, f, methods=[m]) for p, f, m in table for slash in ("", "/")]


def build_app(traffic: TrafficControl, items: list[dict[str, Any]], *, control: bool = True) -> Starlette:
    routes = item_routes(items)
    return Starlette(
        routes=[
            *control_routes(traffic, enabled=control),
            Mount("/api/projects/{project_id}", routes=routes),
            Mount("/api/environments/{project_id}", routes=routes),
        ],
        middleware=[Middleware(TrafficMiddleware, control=traffic, is_known_key=KEYS.__contains__)],
    )


Served = tuple[httpx.Client, list[dict[str, Any]], TrafficControl]


@pytest.fixture
def start() -> Iterator[Callable[..., Served]]:
    """`start(traffic)` → (client on the app's root with key phx_a, the app's items, traffic); in-process, or
    over a loopback socket with `socket=True` (dropped connections are a socket's business)."""

    def _start(traffic: TrafficControl, *, key: str | None = "phx_a", socket: bool = False) -> Served:
        items: list[dict[str, Any]] = []
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        client = stack.enter_context(app_client(build_app(traffic, items), socket=socket, headers=headers))
        return client, items, traffic

    with ExitStack() as stack:
        yield _start


def limited(spec: str, clock: FakeClock) -> TrafficControl:
    return TrafficControl.from_options(rate_limit=spec, clock=clock)


def throttled(detail_seconds: str) -> dict[str, Any]:
    return {
        "type": "throttled_error",
        "code": "throttled",
        "detail": f"Request was throttled. Expected available in {detail_seconds}.",
        "attr": None,
    }


# --- rate limit -------------------------------------------------------------------------------------------


def test_429_after_n_requests_with_posthog_body_and_no_retry_after(start: Callable[..., Served]) -> None:
    clock = FakeClock()
    client, _, traffic = start(limited("3/minute", clock))
    for _ in range(3):
        assert client.get("/api/projects/1/items/").status_code == 200
    response = client.get("/api/projects/1/items/")
    assert response.status_code == 429
    assert response.content == (
        b'{"type":"throttled_error","code":"throttled",'
        b'"detail":"Request was throttled. Expected available in 60 seconds.","attr":null}'
    )
    assert "retry-after" not in response.headers
    assert response.headers["content-type"] == "application/json"
    assert traffic.stats.snapshot()["throttled"] == 1


def test_wait_is_rounded_up_and_singular_for_one_second(start: Callable[..., Served]) -> None:
    clock = FakeClock()
    client, _, _ = start(limited("2/minute", clock))
    client.get("/api/projects/1/items/")
    clock.advance(30)
    client.get("/api/projects/1/items/")
    clock.advance(20.5)
    assert client.get("/api/projects/1/items/").json() == throttled("10 seconds")  # 60 - 50.5 = 9.5 → 10
    clock.advance(9.2)
    assert client.get("/api/projects/1/items/").json() == throttled("1 second")  # 0.3 → 1, singular
    clock.advance(0.3)  # the first request is now exactly 60 s old: out of the window (DRF's `<=`)
    assert client.get("/api/projects/1/items/").status_code == 200
    # history is now [30 s, 60 s]: the next slot frees when the 30 s request ages out
    assert client.get("/api/projects/1/items/").json() == throttled("30 seconds")


def test_buckets_are_per_key_and_only_for_known_keys(start: Callable[..., Served]) -> None:
    clock = FakeClock()
    client, _, _ = start(limited("1/hour", clock))
    assert client.get("/api/projects/1/items/").status_code == 200
    assert client.get("/api/projects/1/items/").status_code == 429
    assert client.get("/api/projects/1/items/", headers={"Authorization": "Bearer phx_b"}).status_code == 200
    assert client.get("/api/projects/1/items/", headers={"Authorization": "Bearer phx_b"}).status_code == 429
    # PostHog authenticates before throttling: unknown keys and anonymous requests reach the endpoint
    for _ in range(3):
        assert client.get("/api/projects/1/items/", headers={"Authorization": "Bearer phx_nope"}).status_code == 200
        assert client.get("/api/projects/1/items/", headers={"Authorization": ""}).status_code == 200
    # the query-string key is the same bucket as the Bearer token
    anonymous = {"Authorization": ""}
    response = client.get("/api/projects/1/items/", params={"personal_api_key": "phx_a"}, headers=anonymous)
    assert response.status_code == 429


def test_hourly_window_and_both_path_families_share_a_bucket(start: Callable[..., Served]) -> None:
    clock = FakeClock()
    client, _, _ = start(limited("480/minute,3/hour", clock))
    assert client.get("/api/projects/1/items/").status_code == 200
    assert client.get("/api/environments/1/items").status_code == 200
    assert client.post("/api/projects/1/items/", json={"n": 1}).status_code == 201
    clock.advance(1800)
    assert client.get("/api/projects/1/items/9/").json() == throttled("1800 seconds")
    clock.advance(1800)
    assert client.get("/api/projects/1/items/9/").status_code == 200


def test_only_routed_api_requests_are_throttled(start: Callable[..., Served]) -> None:
    clock = FakeClock()
    client, _, _ = start(limited("1/day", clock))
    assert client.get("/api/projects/1/items/").status_code == 200
    assert client.get("/api/projects/1/nothing-here/").status_code == 404  # no view: DRF never throttles it
    assert client.get("/_emulator/stats").status_code == 200
    assert client.get("/api/projects/1/items/").json() == throttled("86400 seconds")


def test_drf_records_a_request_in_every_rate_that_allowed_it() -> None:
    """`check_throttles` asks every throttle; the ones that allow a refused request still count it."""
    clock = FakeClock()
    limiter = RateLimiter(parse_rate_limit("2/minute,3/hour"), clock)
    assert limiter.check("k") is None
    clock.advance(1)
    assert limiter.check("k") is None
    clock.advance(1)
    assert limiter.check("k") == pytest.approx(58)  # minute refuses; hour allows and records it
    clock.advance(59)  # t = 61: the minute window is empty again, but the hour already holds 3
    assert limiter.check("k") == pytest.approx(3600 - 61)
    assert throttled_detail(3539.0) == "Request was throttled. Expected available in 3539 seconds."
    limiter.reset()
    assert limiter.check("k") is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("480/minute,4800/hour", [(480, 60), (4800, 3600)]),
        ("5/second, 7/day", [(5, 1), (7, 86400)]),
        ("10/s,20/m,30/h,40/d", [(10, 1), (20, 60), (30, 3600), (40, 86400)]),
        ("2/Minutes", [(2, 60)]),
    ],
)
def test_rate_spec_parses(spec: str, expected: list[tuple[int, int]]) -> None:
    assert [(r.num_requests, r.duration) for r in parse_rate_limit(spec)] == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "480/fortnight",
            "invalid --rate-limit '480/fortnight': cannot read '480/fortnight'; expected comma-separated "
            "N/PERIOD with PERIOD one of second, minute, hour, day (e.g. 480/minute,4800/hour)",
        ),
        (
            "480/minute,",
            "invalid --rate-limit '480/minute,': cannot read '(empty)'; expected comma-separated "
            "N/PERIOD with PERIOD one of second, minute, hour, day (e.g. 480/minute,4800/hour)",
        ),
        ("0/minute", "invalid --rate-limit '0/minute': '0/minute' allows no request at all; use N >= 1"),
        (
            "minute/480",
            "invalid --rate-limit 'minute/480': cannot read 'minute/480'; expected comma-separated "
            "N/PERIOD with PERIOD one of second, minute, hour, day (e.g. 480/minute,4800/hour)",
        ),
    ],
)
def test_bad_rate_spec_is_a_config_error(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TrafficControl.from_options(rate_limit=spec)
    assert str(caught.value) == message


def test_negative_latency_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^invalid --latency-ms -1: must be an integer >= 0$"):
        TrafficControl.from_options(latency_ms=-1)


# --- latency ----------------------------------------------------------------------------------------------


def test_latency_is_added_to_api_requests_only(start: Callable[..., Served]) -> None:
    client, _, _ = start(TrafficControl.from_options(latency_ms=1500))
    began = time.monotonic()
    assert client.get("/api/projects/1/items/").status_code == 200
    assert time.monotonic() - began >= 1.5
    began = time.monotonic()
    assert client.get("/_emulator/stats").status_code == 200
    assert time.monotonic() - began < 1.0  # far below the latency: it was not applied


# --- faults -----------------------------------------------------------------------------------------------


def add_faults(client: httpx.Client, *rules: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/_emulator/faults", json={"rules": list(rules)})
    assert response.status_code == 200, response.text
    out: list[dict[str, Any]] = response.json()["rules"]
    return out


def test_fault_before_commit_answers_without_calling_the_app(start: Callable[..., Served]) -> None:
    client, items, _ = start(TrafficControl())
    add_faults(client, {"method": "POST", "path": r"/items/?$", "status": 503, "times": 1})
    response = client.post("/api/projects/1/items/", json={"n": 1})
    assert response.status_code == 503
    assert response.headers["content-type"] == "text/html"
    assert "<title>503 Service Unavailable</title>" in response.text
    assert items == []
    assert client.post("/api/projects/1/items/", json={"n": 2}).status_code == 201
    assert items == [{"n": 2}]


def test_after_commit_performs_the_write_then_fails(start: Callable[..., Served]) -> None:
    client, items, _ = start(TrafficControl())
    add_faults(client, {"method": "POST", "path": "/items", "status": 502, "times": 1, "after_commit": True})
    response = client.post("/api/projects/1/items/", json={"n": 1})
    assert response.status_code == 502
    assert "<h1>502 Bad Gateway</h1>" in response.text
    assert items == [{"n": 1}]
    assert client.get("/api/projects/1/items/").json() == {"results": [{"n": 1}]}


def test_dropped_connection_is_a_transport_error_and_the_server_lives_on(start: Callable[..., Served]) -> None:
    client, _, traffic = start(TrafficControl(), socket=True)
    add_faults(client, {"method": "GET", "path": "/items", "status": 0, "times": 1})
    with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected without sending a response"):
        client.get("/api/projects/1/items/")
    assert client.get("/api/projects/1/items/").status_code == 200
    assert traffic.stats.snapshot()["faulted"] == 1


def test_drop_before_commit_never_reaches_the_app(start: Callable[..., Served]) -> None:
    client, items, _ = start(TrafficControl(), socket=True)
    add_faults(client, {"method": "POST", "status": 0, "times": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/api/projects/1/items/", json={"n": 1, "pad": "x" * 2_000_000})
    assert items == []


def test_after_commit_drop_is_the_ambiguous_create(start: Callable[..., Served]) -> None:
    client, items, _ = start(TrafficControl(), socket=True)
    add_faults(client, {"method": "POST", "status": 0, "after_commit": True})
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/api/projects/1/items/", json={"n": 7})
    assert items == [{"n": 7}]  # committed although the client never heard back
    with pytest.raises(httpx.RemoteProtocolError):  # times absent: forever
        client.post("/api/projects/1/items/", json={"n": 8})
    assert items == [{"n": 7}, {"n": 8}]


def test_drop_when_the_middleware_wraps_the_app_from_outside() -> None:
    traffic = TrafficControl()
    items: list[dict[str, Any]] = []
    inner = Starlette(routes=[Mount("/api/projects/{project_id}", routes=item_routes(items))])
    traffic.faults.add([FaultRule(status=0, method="POST", after_commit=True, times=1)])
    with app_client(TrafficMiddleware(inner, control=traffic), socket=True) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/api/projects/1/items", json={"n": 1})
        assert client.post("/api/projects/1/items", json={"n": 2}).status_code == 201
    assert items == [{"n": 1}, {"n": 2}]
    assert traffic.stats.snapshot()["by_route"] == {"POST /api/projects/{project_id}/items/": 2}


def test_drop_in_process_raises_httpx_error_too() -> None:
    """Without uvicorn there is no socket to close: an in-process client sees httpx's own error."""
    traffic = TrafficControl()
    traffic.faults.add([FaultRule(status=0)])

    async def main() -> None:
        transport = httpx.ASGITransport(app=build_app(traffic, []))
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get("/api/projects/1/items/")

    anyio.run(main)


def test_times_counts_down_and_rules_fire_in_order(start: Callable[..., Served]) -> None:
    client, _, _ = start(TrafficControl())
    add_faults(
        client,
        {"method": "GET", "path": r"/items/\d+", "status": 500, "times": 2},
        {"method": "GET", "path": "/items", "status": 504, "times": 1},
    )
    server_error = {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}
    first = client.get("/api/projects/1/items/5/")
    assert (first.status_code, first.json()) == (500, server_error)
    assert client.get("/api/projects/1/items/6").status_code == 500
    assert client.get("/api/projects/1/items/7").status_code == 504  # first rule exhausted: the next matches
    assert client.get("/api/projects/1/items/8").json() == {"id": "8"}
    rules = client.get("/_emulator/faults").json()["rules"]
    assert [(r["status"], r["remaining"], r["fired"]) for r in rules] == [(500, 0, 2), (504, 0, 1)]


def test_method_and_path_filter_which_requests_fail(start: Callable[..., Served]) -> None:
    client, _, _ = start(TrafficControl())
    add_faults(client, {"method": "GET", "path": r"/items/\d+", "status": 500})
    assert client.get("/api/projects/1/items/").status_code == 200  # path regex does not match the list
    assert client.post("/api/projects/1/items/3", json={}).status_code == 405  # method differs: untouched
    assert client.get("/api/environments/1/items/3/").status_code == 500


def test_fault_429_uses_the_throttle_body_and_delay_sleeps_first(start: Callable[..., Served]) -> None:
    client, _, _ = start(TrafficControl())
    add_faults(client, {"status": 429, "times": 1, "delay_ms": 300, "wait_seconds": 12})
    began = time.monotonic()
    response = client.get("/api/projects/1/items/")
    assert time.monotonic() - began >= 0.3
    assert response.status_code == 429
    assert response.json() == throttled("12 seconds")
    assert "retry-after" not in response.headers


def test_a_throttled_request_does_not_use_up_an_after_commit_rule(start: Callable[..., Served]) -> None:
    clock = FakeClock()
    client, items, _ = start(limited("1/minute", clock))
    client.get("/api/projects/1/items/")
    add_faults(client, {"method": "POST", "status": 502, "times": 1, "after_commit": True})
    assert client.post("/api/projects/1/items/", json={"n": 1}).status_code == 429
    assert items == []
    clock.advance(60)
    assert client.post("/api/projects/1/items/", json={"n": 1}).status_code == 502
    assert items == [{"n": 1}]


def test_other_statuses_get_a_drf_shaped_body(start: Callable[..., Served]) -> None:
    client, _, _ = start(TrafficControl())
    add_faults(client, {"status": 404, "times": 1}, {"status": 599, "times": 1})
    first = client.get("/api/projects/1/items/")
    assert (first.status_code, first.json()) == (
        404,
        {"type": "invalid_request", "code": "error", "detail": "Not Found.", "attr": None},
    )
    second = client.get("/api/projects/1/items/")
    assert (second.status_code, second.json()["detail"]) == (599, "Error.")
