"""PostHogClient against scripted transports (fault injection only): paging, retries, 429, pacing,
ambiguous creates, secrets in bodies, key masking. Real HTTP against the emulator is in
test_client_against_emulator.py."""

from __future__ import annotations

import json
import logging
import threading
import time

import httpx
import pytest
from posthog_fakes import BASE, KEY, FakeClock, Script, make_client, reply
from posthog_wire import postgres_wire, schema_wire, stripe_wire

from reconciler import __version__
from reconciler.errors import (
    AmbiguousCreate,
    ApiError,
    ApiUnavailable,
    ConfigError,
    NotFound,
    PersonalKeyNotAllowed,
    RateLimited,
    Rejected,
    RequestNotSent,
    ServerError,
)
from reconciler.posthog.client import PostHogClient, build_client, build_http_client
from reconciler.posthog.ratelimit import RateLimiter
from reconciler.posthog.retry import RetryPolicy
from reconciler.secret import Secret
from reconciler.settings import resolve_settings

SOURCES = "/api/projects/42/external_data_sources/"
THROTTLED = {"type": "throttled_error", "code": "throttled", "attr": None,
             "detail": "Request was throttled. Expected available in 12 seconds."}  # fmt: skip


def page(results: list[dict[str, object]], *, count: int | None = None, next_url: str | None = None) -> httpx.Response:
    return reply(
        200, {"count": len(results) if count is None else count, "next": next_url, "previous": None, "results": results}
    )


def sources(n: int) -> list[dict[str, object]]:
    return [postgres_wire(f"0190a1b2-0000-7000-8000-{i:012d}", prefix=f"p{i}") for i in range(n)]


# ---- requests look right --------------------------------------------------------------------------


def test_auth_user_agent_path_and_large_limit(clock: FakeClock) -> None:
    script = Script([page(sources(2))])
    client = make_client(script, clock)
    live = client.fetch_live_state()
    assert [s.prefix for s in live] == ["p0", "p1"]
    (request,) = script.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"] == f"reconciler/{__version__}"
    assert request.url.path == SOURCES
    assert dict(request.url.params) == {"limit": "1000"}
    assert client.stats.by_operation == {"list_sources": 1}


def test_environments_path_family(clock: FakeClock) -> None:
    script = Script([reply(200, stripe_wire())])
    client = make_client(script, clock, api_path="environments")
    client.get_source("abc")
    assert script.requests[0].url.path == "/api/environments/42/external_data_sources/abc/"


def test_paging_follows_absolute_next_links_on_our_own_origin(clock: FakeClock) -> None:
    # A proxy may put an internal host and http:// in `next`; the key must still only go to our host.
    rows = sources(5)
    script = Script([
        page(rows[:2], count=5, next_url="http://internal-web:8000/api/projects/42/external_data_sources/?limit=2&offset=2"),
        page(rows[2:4], count=5, next_url="http://internal-web:8000/api/projects/42/external_data_sources/?limit=2&offset=4"),
        page(rows[4:], count=5),
    ])  # fmt: skip
    client = make_client(script, clock, page_size=2)
    assert [s.prefix for s in client.list_sources()] == ["p0", "p1", "p2", "p3", "p4"]
    urls = [str(r.url) for r in script.requests]
    assert urls == [
        f"{BASE}{SOURCES}?limit=2",
        f"{BASE}{SOURCES}?limit=2&offset=2",
        f"{BASE}{SOURCES}?limit=2&offset=4",
    ]
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in script.requests)


def test_300_sources_with_100_tables_each_is_one_list_request(clock: FakeClock) -> None:
    rows = []
    for i in range(300):
        row = postgres_wire(f"0190a1b2-0000-7000-8000-{i:012d}", prefix=f"p{i}")
        row["schemas"] = [schema_wire(f"t{j}", f"s-{i}-{j}") for j in range(100)]
        rows.append(row)
    script = Script([page(rows)])
    client = make_client(script, clock)
    live = client.fetch_live_state()
    assert len(live) == 300 and all(len(s.schemas) == 100 for s in live)
    assert client.stats.total == 1


def test_rows_repeated_by_offset_drift_are_dropped(clock: FakeClock) -> None:
    # A source created mid-listing shifts the offsets: the last row of page 1 comes again on page 2.
    rows = sources(4)
    script = Script([
        page(rows[:2], count=4, next_url=f"{BASE}{SOURCES}?limit=2&offset=2"),
        page([rows[1], rows[2]], count=4, next_url=f"{BASE}{SOURCES}?limit=2&offset=4"),
        page([rows[3]], count=4),
    ])  # fmt: skip
    assert [s.prefix for s in make_client(script, clock, page_size=2).list_sources()] == ["p0", "p1", "p2", "p3"]


def test_a_list_with_a_hole_is_read_again(clock: FakeClock) -> None:
    rows = sources(3)
    script = Script([
        page(rows[:1], count=3, next_url=f"{BASE}{SOURCES}?limit=1&offset=1"),
        page(rows[2:3], count=3),  # a deletion shifted row 1 out of sight
        page(rows, count=3),
    ])  # fmt: skip
    client = make_client(script, clock, page_size=1)
    assert [s.prefix for s in client.list_sources()] == ["p0", "p1", "p2"]
    assert len(script.requests) == 3


def test_a_list_that_never_settles_is_an_error(clock: FakeClock) -> None:
    rows = sources(2)
    script = Script([page(rows[:1], count=2) for _ in range(3)])
    with pytest.raises(ApiError, match="kept changing"):
        make_client(script, clock).list_sources()


def test_a_next_link_that_loops_is_an_error(clock: FakeClock) -> None:
    nxt = f"{BASE}{SOURCES}?limit=1&offset=1"
    script = Script([page(sources(1), count=9, next_url=nxt), page(sources(1), count=9, next_url=nxt)])
    with pytest.raises(ApiError, match="loops"):
        make_client(script, clock).list_sources()


# ---- retries ----------------------------------------------------------------------------------------


def test_get_retries_5xx_and_dropped_connections_with_backoff(clock: FakeClock) -> None:
    script = Script([
        reply(502, {"detail": "Bad Gateway"}),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("timed out"),
        reply(200, stripe_wire()),
    ])  # fmt: skip
    client = make_client(script, clock)
    assert client.get_source("x").source_type == "Stripe"
    assert clock.sleeps == [0.375, 0.75, 1.5]  # base 0.5 doubling, equal jitter at 0.5
    assert client.stats.by_operation == {"get_source": 4} and client.stats.retries == 3


def test_retries_give_up_with_the_last_error(clock: FakeClock) -> None:
    script = Script([reply(503, {"detail": "down"}) for _ in range(3)])
    with pytest.raises(ServerError, match="503: down"):
        make_client(script, clock, max_attempts=3).get_source("x")
    assert len(script.requests) == 3


def test_patch_and_delete_are_retried(clock: FakeClock) -> None:
    script = Script(
        [
            httpx.ReadError("reset"),
            reply(200, schema_wire("T", "s1", sync_frequency="24hour")),
            reply(500, {"detail": "oops"}),
            reply(204),
        ]
    )
    client = make_client(script, clock)
    assert client.patch_schema("s1", {"sync_frequency": "24hour"}).sync_frequency == "24hour"
    client.delete_source("src")
    assert [r.method for r in script.requests] == ["PATCH", "PATCH", "DELETE", "DELETE"]
    assert script.bodies()[:2] == [{"sync_frequency": "24hour"}] * 2


def test_delete_that_already_happened_counts_as_done(clock: FakeClock) -> None:
    not_found = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}
    script = Script([httpx.ReadTimeout("timed out"), reply(404, not_found)])
    make_client(script, clock).delete_source("src")  # no error
    with pytest.raises(NotFound):
        make_client(Script([reply(404, not_found)]), clock).delete_source("src")  # first try: a real 404


def test_4xx_is_never_retried(clock: FakeClock) -> None:
    script = Script(
        [
            reply(
                400,
                {
                    "type": "validation_error",
                    "code": "invalid_input",
                    "detail": "Sync type must be set up first before enabling schema",
                    "attr": None,
                },
            )
        ]
    )
    with pytest.raises(Rejected, match="Sync type must be set up first") as caught:
        make_client(script, clock).patch_schema("s1", {"should_sync": True})
    assert caught.value.code == "invalid_input" and len(script.requests) == 1


# ---- 429 and pacing ----------------------------------------------------------------------------------


def test_429_waits_the_seconds_the_server_names(clock: FakeClock) -> None:
    script = Script([reply(429, THROTTLED), reply(200, stripe_wire())])
    client = make_client(script, clock)
    client.get_source("x")
    assert clock.sleeps == [12.0]


def test_429_singular_second_and_retry_after(clock: FakeClock) -> None:
    one = {**THROTTLED, "detail": "Request was throttled. Expected available in 1 second."}
    script = Script(
        [
            reply(429, one),
            reply(429, {"detail": "slow"}, headers={"Retry-After": "3"}),
            reply(429, {"detail": "slow"}),
            reply(200, stripe_wire()),
        ]
    )
    make_client(script, clock).get_source("x")
    assert clock.sleeps == [1.0, 3.0, 1.5]  # the last 429 named no wait: backoff (attempt 3)


def test_a_429_pauses_every_worker_sharing_the_limiter(clock: FakeClock) -> None:
    script = Script([reply(429, THROTTLED), reply(200, stripe_wire()), reply(200, stripe_wire())])
    client = make_client(script, clock)
    client.get_source("x")
    start = clock.now
    client.get_source("y")  # another call after the pause has passed: no extra wait
    assert clock.now == start


def test_429_asking_too_long_fails_with_the_wait(clock: FakeClock) -> None:
    hour = {**THROTTLED, "detail": "Request was throttled. Expected available in 2400 seconds."}
    with pytest.raises(RateLimited) as caught:
        make_client(Script([reply(429, hour)]), clock).get_source("x")
    assert caught.value.retry_after == 2400.0 and "hint" in str(caught.value)


def test_client_paces_itself_under_the_limit(clock: FakeClock) -> None:
    script = Script([reply(200, stripe_wire()) for _ in range(7)])
    client = make_client(script, clock, windows="3/minute")
    stamps = []
    for _ in range(7):
        client.get_source("x")
        stamps.append(clock.now)
    assert [s - stamps[0] for s in stamps] == [0, 0, 0, 61, 61, 61, 122]  # 60 s window + 1 s margin


# ---- create is never replayed blindly -----------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.WriteError("broken pipe"),
        reply(500, {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}),
        reply(504, "<html>Gateway Timeout</html>"),
    ],
)
def test_ambiguous_create_is_not_replayed(clock: FakeClock, failure: object) -> None:
    script = Script([failure])  # type: ignore[list-item]
    client = make_client(script, clock)
    with pytest.raises(AmbiguousCreate) as caught:
        client.create_source("Stripe", {"schemas": []}, prefix="stripe_prod")
    assert (caught.value.source_type, caught.value.prefix) == ("Stripe", "stripe_prod")
    assert caught.value.reference == "ambiguous-create" and "re-list" in str(caught.value)
    assert len(script.requests) == 1 and clock.sleeps == []


def test_create_is_resent_when_it_never_reached_the_server(clock: FakeClock) -> None:
    script = Script([httpx.ConnectError("Connection refused"), reply(429, THROTTLED), reply(201, {"id": "new-id"})])
    assert make_client(script, clock).create_source("Stripe", {"schemas": []}) == "new-id"
    assert len(script.requests) == 3 and clock.sleeps == [0.375, 12.0]


def test_create_body_reveals_secrets_only_on_the_wire(clock: FakeClock) -> None:
    script = Script([reply(201, {"id": "new-id"})])
    payload = {
        "auth_method": {"selection": "api_key", "stripe_secret_key": Secret("STRIPE_KEY", "rk_live_canary")},
        "schemas": [{"name": "Customer", "should_sync": True, "sync_type": "full_refresh"}],
    }
    client = make_client(script, clock)
    assert client.create_source("Stripe", payload, prefix="p", description="d") == "new-id"
    assert script.bodies() == [{
        "source_type": "Stripe", "prefix": "p", "description": "d",
        "payload": {"auth_method": {"selection": "api_key", "stripe_secret_key": "rk_live_canary"},
                    "schemas": [{"name": "Customer", "should_sync": True, "sync_type": "full_refresh"}]},
    }]  # fmt: skip
    assert isinstance(payload["auth_method"]["stripe_secret_key"], Secret)  # type: ignore[index]  # untouched


def test_a_missing_secret_stops_before_any_request(clock: FakeClock) -> None:
    script = Script([])
    with pytest.raises(ConfigError, match="STRIPE_KEY") as caught:
        make_client(script, clock).patch_source("x", {"job_inputs": {"stripe_secret_key": Secret("STRIPE_KEY", None)}})
    assert caught.value.reference == "secret-missing" and script.requests == []


def test_create_rejection_carries_the_message(clock: FakeClock) -> None:
    script = Script([reply(400, {"message": "Prefix already exists"})])
    with pytest.raises(Rejected, match="Prefix already exists"):
        make_client(script, clock).create_source("Stripe", {"schemas": []}, prefix="dup")


def test_reload_is_not_replayed_after_it_may_have_arrived(clock: FakeClock) -> None:
    script = Script([httpx.ReadTimeout("timed out")])
    with pytest.raises(ApiUnavailable, match="ReadTimeout"):
        make_client(script, clock).reload_source("src")
    assert len(script.requests) == 1


def test_connection_refused_everywhere_is_request_not_sent(clock: FakeClock) -> None:
    script = Script([httpx.ConnectError("Connection refused") for _ in range(2)])
    with pytest.raises(RequestNotSent, match="could not connect"):
        make_client(script, clock, max_attempts=2).list_sources()


# ---- the other calls ---------------------------------------------------------------------------------


def test_bulk_update_schemas_refused_to_personal_keys(clock: FakeClock) -> None:
    refused = {"type": "authentication_error", "code": "permission_denied",
               "detail": "This action does not support personal API key access", "attr": None}  # fmt: skip
    script = Script([reply(403, refused)])
    with pytest.raises(PersonalKeyNotAllowed):
        make_client(script, clock).bulk_update_schemas("src", [{"id": "s1", "should_sync": False}])
    assert script.requests[0].url.path == f"{SOURCES}src/bulk_update_schemas/"
    assert script.bodies() == [{"schemas": [{"id": "s1", "should_sync": False}]}]


def test_bulk_update_schemas_success(clock: FakeClock) -> None:
    script = Script([reply(200, [schema_wire("A", "s1", should_sync=False)])])
    (schema,) = make_client(script, clock).bulk_update_schemas("src", [{"id": "s1", "should_sync": False}])
    assert schema.should_sync is False
    assert make_client(Script([]), clock).bulk_update_schemas("src", []) == []


def test_update_schemas_sends_primary_keys_per_table_and_learns_a_bulk_refusal_once(clock: FakeClock) -> None:
    refused = {"type": "authentication_error", "code": "permission_denied",
               "detail": "This action does not support personal API key access", "attr": None}  # fmt: skip
    script = Script(
        [
            reply(403, refused),  # bulk for s1: refused, then s2 (primary key) and s1 go one PATCH each
            reply(200, schema_wire("B", "s2")),
            reply(200, schema_wire("A", "s1")),
            reply(200, schema_wire("A", "s1")),  # the second call goes per table straight away
        ]
    )
    client = make_client(script, clock)
    updates = [{"id": "s1", "should_sync": False}, {"id": "s2", "sync_type": "append", "primary_key_columns": ["id"]}]
    assert client.update_schemas("src", updates) is True
    assert client.update_schemas("src", [{"id": "s1", "should_sync": True}]) is True
    assert [
        (r.method, r.url.path.removeprefix(SOURCES).removeprefix("/api/projects/42/")) for r in script.requests
    ] == [
        ("PATCH", "src/bulk_update_schemas/"),
        ("PATCH", "external_data_schemas/s2/"),
        ("PATCH", "external_data_schemas/s1/"),
        ("PATCH", "external_data_schemas/s1/"),
    ]
    assert script.bodies()[1] == {"sync_type": "append", "primary_key_columns": ["id"]}


def test_update_schemas_uses_one_bulk_call_where_allowed(clock: FakeClock) -> None:
    script = Script([reply(200, [schema_wire("A", "s1"), schema_wire("B", "s2")])])
    updates = [{"id": "s1", "should_sync": False}, {"id": "s2", "sync_frequency": "24hour"}]
    assert make_client(script, clock).update_schemas("src", updates) is False
    assert script.bodies() == [{"schemas": updates}]


def test_patch_source_normalises_the_typed_response(clock: FakeClock) -> None:
    from posthog_wire import typed_twin

    script = Script([reply(200, typed_twin(postgres_wire()))])
    changes = {"description": "x", "job_inputs": {"host": "db2", "password": Secret("PG", "pw-canary")}}
    source = make_client(script, clock).patch_source("src", changes)
    assert source.config["port"] == 5432 and source.config["ssh_tunnel"]["enabled"] is True
    assert script.bodies() == [{"description": "x", "job_inputs": {"host": "db2", "password": "pw-canary"}}]


def test_refresh_revenue_reload_prefix_preflight_jobs_wizard(clock: FakeClock) -> None:
    preflight_row = {"table": "Customer", "incremental_fields": [{"label": "created_at", "type": "datetime",
                     "field": "created", "field_type": "integer"}], "available_columns": []}  # fmt: skip
    job = {
        "id": "j1",
        "created_at": "2026-11-26T00:00:00Z",
        "status": "Completed",
        "rows_synced": 10,
        "schema": {"id": "s1", "name": "Customer"},
        "latest_error": None,
        "finished_at": None,
    }
    script = Script([
        reply(200, {"added": 2, "deleted": 0, "total_tables_seen": 16}),
        reply(200, stripe_wire(revenue_analytics_config={"enabled": False, "include_invoiceless_charges": True})),
        reply(200),
        reply(200),
        reply(200, [preflight_row]),
        reply(200, [job]),
        reply(200, {"Stripe": {"name": "Stripe", "fields": []}}),
    ])  # fmt: skip
    client = make_client(script, clock)
    assert client.refresh_schemas("src").added == 2
    assert client.patch_revenue_config("src", enabled=False).revenue_analytics.enabled is False  # type: ignore[union-attr]
    client.reload_source("src")
    client.source_prefix("Stripe", "stripe_prod")
    (table,) = client.database_schema(
        "Stripe", {"auth_method": {"selection": "api_key", "stripe_secret_key": Secret("K", "rk_canary")}}
    )
    assert table.incremental_fields[0].field == "created"
    (live_job,) = client.jobs("src", after="2026-11-25T00:00:00Z", schemas=["Customer", "Charge"])
    assert (live_job.status, live_job.schema_name, live_job.rows_synced) == ("Completed", "Customer", 10)
    assert list(client.wizard()) == ["Stripe"]
    calls = [(r.method, r.url.path.removeprefix(SOURCES), r.url.query.decode()) for r in script.requests]
    assert calls == [
        ("POST", "src/refresh_schemas/", ""),
        ("PATCH", "src/revenue_analytics_config/", ""),
        ("POST", "src/reload/", ""),
        ("POST", "source_prefix/", ""),
        ("POST", "database_schema/", ""),
        ("GET", "src/jobs/", "after=2026-11-25T00%3A00%3A00Z&schemas=Customer&schemas=Charge"),
        ("GET", "wizard/", ""),
    ]
    bodies = script.bodies()
    assert bodies[1] == {"enabled": False}
    assert bodies[3] == {"source_type": "Stripe", "prefix": "stripe_prod"}
    assert bodies[4] == {
        "auth_method": {"selection": "api_key", "stripe_secret_key": "rk_canary"},
        "source_type": "Stripe",
    }


def test_source_prefix_conflict_is_rejected(clock: FakeClock) -> None:
    script = Script([reply(400, {"message": "Source type already exists. Prefix is required"})])
    with pytest.raises(Rejected, match="Prefix is required"):
        make_client(script, clock).source_prefix("Stripe", None)


def test_unexpected_bodies_are_api_errors_not_crashes(clock: FakeClock) -> None:
    script = Script(
        [
            httpx.Response(200, text="<html>login</html>"),
            reply(200, {"results": "nope"}),
            reply(200, {"id": "x"}),
            reply(201, {"ok": True}),
        ]
    )
    client = make_client(script, clock)
    with pytest.raises(ApiError, match="not JSON"):
        client.get_source("x")
    with pytest.raises(ApiError, match="paginated"):
        client.list_sources()
    with pytest.raises(ApiError, match="unexpected response shape") as caught:
        client.get_source("x")  # no source_type
    assert "source_type" in str(caught.value)
    with pytest.raises(ApiError, match="expected"):
        client.create_source("Stripe", {})


# ---- the key never shows ------------------------------------------------------------------------------


def test_key_never_in_reprs_logs_or_errors(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(
        [
            reply(500, {"detail": "x"}),
            httpx.ReadTimeout("t"),
            reply(401, {"detail": "Personal API key found in request Authorization header is invalid."}),
        ]
    )
    client = make_client(script, clock)
    with pytest.raises(ApiError) as caught:
        client.get_source("x")
    request = script.requests[0]
    texts = [
        repr(client),
        str(caught.value),
        repr(caught.value),
        caplog.text,
        repr(request.headers),
        repr(client._http.auth),
        repr(client._http.headers),
    ]
    assert all(KEY not in t for t in texts)
    assert "[secure]" in repr(request.headers)  # httpx's own masking of Authorization
    assert "GET /api/projects/42/external_data_sources/x/ -> 500" in caplog.text


def test_build_client_from_settings(clock: FakeClock) -> None:
    settings = resolve_settings(
        {"POSTHOG_PERSONAL_API_KEY": KEY}, host="https://eu.posthog.com", project="7", api_path="environments"
    )
    script = Script([page([])])
    with build_client(settings, transport=httpx.MockTransport(script)) as client:
        assert client.list_sources() == []
        assert "eu.posthog.com" in repr(client) and KEY not in repr(client) and KEY not in repr(settings)
    assert str(script.requests[0].url) == "https://eu.posthog.com/api/environments/7/external_data_sources/?limit=1000"
    assert script.requests[0].headers["authorization"] == f"Bearer {KEY}"
    local = resolve_settings({}, host="local")
    with pytest.raises(ConfigError, match="emulator"):
        build_client(local)


def test_translated_errors_do_not_chain_the_request() -> None:
    script = Script([httpx.ReadTimeout("t")])
    client = make_client(script, FakeClock(), max_attempts=1)
    with pytest.raises(ApiUnavailable) as caught:
        client.patch_source("x", {"job_inputs": {"password": Secret("P", "pw-canary")}})
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert json.loads(script.requests[0].content) == {"job_inputs": {"password": "pw-canary"}}


def test_values_echoed_back_by_the_server_are_redacted(clock: FakeClock) -> None:
    echo = {"message": "could not connect: password authentication failed (password=pw-canary-99)"}
    page_html = f"<html>debug: Authorization: Bearer {KEY}</html>"
    script = Script([reply(400, echo), httpx.Response(400, text=page_html)])
    client = make_client(script, clock)
    with pytest.raises(Rejected) as first:
        client.patch_source("x", {"job_inputs": {"password": Secret("PG", "pw-canary-99")}})
    assert first.value.detail == "could not connect: password authentication failed (password=[redacted])"
    with pytest.raises(Rejected) as second:
        client.get_source("x")
    assert KEY not in str(second.value) and "Bearer [redacted]" in second.value.detail


def test_one_429_holds_back_every_worker_thread() -> None:
    # Real threads and clock: worker 1 is throttled (Retry-After 0.3 s); workers 2-4 start once the pause is
    # in force and must not reach the server before it ends, although they were never throttled themselves.
    paused = threading.Event()

    class ObservedLimiter(RateLimiter):
        def pause(self, seconds: float, why: str = "PostHog answered 429") -> None:
            super().pause(seconds, why)
            paused.set()

    arrivals: list[float] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            arrivals.append(time.monotonic())
            if len(arrivals) == 1:
                return reply(429, {"detail": "Request was throttled."}, headers={"Retry-After": "0.3"})
        return reply(200, stripe_wire())

    http = build_http_client(BASE, Secret("K", KEY), transport=httpx.MockTransport(handler))
    client = PostHogClient(http, ObservedLimiter("off"), RetryPolicy(), project="42")
    failures: list[BaseException] = []

    def worker(first: bool) -> None:
        if not first:
            assert paused.wait(5)
        try:
            client.get_source("x")
        except BaseException as exc:  # pragma: no cover - reported by the assert below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert failures == [] and len(arrivals) == 5
    assert min(arrivals[1:]) - arrivals[0] >= 0.3 - 0.01
    assert client.stats.by_operation == {"get_source": 5} and client.stats.retries == 1
