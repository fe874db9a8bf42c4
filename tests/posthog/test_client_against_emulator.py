"""PostHogClient against the emulator: in-process (tests/support), over a real loopback socket for the faults
(dropped connections, gateway errors, throttling), once against a real PostgreSQL upstream. The client and the
emulator share only catalog data, so agreement here is evidence, not an echo."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import asdict

import httpx
import psycopg
import pytest
from posthog_fakes import FakeClock

from reconciler.emulator.testing import Emulator
from reconciler.emulator.traffic.middleware import TrafficControl
from reconciler.emulator.upstreams import default_upstreams
from reconciler.errors import AmbiguousCreate, NotFound, PermissionDenied, PersonalKeyNotAllowed, Rejected
from reconciler.posthog.client import PostHogClient, build_http_client
from reconciler.posthog.ratelimit import RateLimiter
from reconciler.posthog.retry import RetryPolicy
from reconciler.secret import Secret

PASSWORD = "pg-CANARY-7731"  # must never come back from the API nor show in any model


def connect(
    emu: Emulator,
    team: int,
    *,
    key: str = "phx_test",
    family: str = "projects",
    page_size: int = 1000,
    limiter: RateLimiter | None = None,
    retry: RetryPolicy | None = None,
) -> PostHogClient:
    http = build_http_client(emu.origin, Secret("POSTHOG_PERSONAL_API_KEY", key), timeout=10.0, transport=emu.transport)
    return PostHogClient(
        http,
        limiter or RateLimiter("off"),
        retry or RetryPolicy(max_attempts=2, backoff_base=0.01),
        project=str(team),
        api_path=family,
        page_size=page_size,
        owns_http=True,
    )


@pytest.fixture
def client(emulator, team: int) -> Iterator[PostHogClient]:  # type: ignore[no-untyped-def]
    with connect(emulator, team) as c:
        yield c


def postgres_payload(prefix_table: str = "customers") -> dict[str, object]:
    return {
        "host": "db.example.com",
        "port": 5432,
        "database": "app",
        "user": "reader",
        "password": Secret("PG_PASSWORD", PASSWORD),
        "schema": "public",
        "schemas": [{"name": prefix_table, "should_sync": True, "sync_type": "full_refresh"}],
    }


def test_create_list_patch_delete_round_trip(client: PostHogClient) -> None:
    assert client.fetch_live_state().sources == ()
    client.source_prefix("Postgres", "app")
    source_id = client.create_source("Postgres", postgres_payload(), prefix="app", description="App DB")

    (live,) = client.fetch_live_state()
    assert (live.id, live.source_type, live.prefix, live.description) == (source_id, "Postgres", "app", "App DB")
    assert live.config["port"] == 5432  # stored as "5432" (§6), typed again by the catalog
    assert live.config["host"] == "db.example.com" and "password" not in live.config
    assert [s.name for s in live.schemas] == ["customers"]
    assert live.schemas[0].should_sync is True and live.schemas[0].sync_type == "full_refresh"
    assert PASSWORD not in json.dumps(asdict(live), default=str) and PASSWORD not in repr(live.raw)

    # The PATCH response (typed values) and a later GET (strings) normalise to the same fingerprint.
    patched = client.patch_source(source_id, {"description": "App DB (primary)"})
    fetched = client.get_source(source_id)
    assert patched.description == fetched.description == "App DB (primary)"
    assert patched.fingerprint() == fetched.fingerprint() != live.fingerprint()

    client.delete_source(source_id)
    with pytest.raises(NotFound):
        client.get_source(source_id)
    with pytest.raises(NotFound):
        client.delete_source(source_id)
    assert client.list_sources() == []
    client.source_prefix("Postgres", "app")  # the prefix is free again (§8.5)


def test_patching_job_inputs_sends_secrets_and_keeps_them_hidden(client: PostHogClient) -> None:
    source_id = client.create_source("Postgres", postgres_payload(), prefix="pg")
    updated = client.patch_source(source_id, {"job_inputs": {"port": 6543, "password": Secret("PG", PASSWORD)}})
    assert updated.config["port"] == 6543 and "password" not in updated.config
    assert client.get_source(source_id).config["port"] == 6543


def test_paging_over_real_http_and_both_path_families(emulator, team: int) -> None:  # type: ignore[no-untyped-def]
    with connect(emulator, team, page_size=2) as small_pages:
        ids = {small_pages.create_source("Postgres", postgres_payload(), prefix=f"p{i}") for i in range(5)}
        small_pages.stats.by_operation.clear()
        assert {s.id for s in small_pages.list_sources()} == ids
        assert small_pages.stats.by_operation["list_sources"] == 3  # ceil(5 / 2)
    with connect(emulator, team, family="environments") as env:
        assert {s.id for s in env.list_sources()} == ids
        assert env.stats.by_operation["list_sources"] == 1  # default limit 1000: one request


def test_both_error_families_arrive_typed(client: PostHogClient) -> None:
    client.create_source("Postgres", postgres_payload(), prefix="dup")
    with pytest.raises(Rejected) as message_family:
        client.create_source("Postgres", postgres_payload(), prefix="dup")
    assert (message_family.value.status, message_family.value.detail) == (400, "Prefix already exists")
    with pytest.raises(Rejected) as prefix_check:
        client.source_prefix("Postgres", "dup")
    assert prefix_check.value.detail == "Prefix already exists"

    with pytest.raises(Rejected) as drf_family:
        client.create_source("Postgres", postgres_payload(), prefix="test-prefix")
    assert drf_family.value.code == "invalid_input"
    assert "letters, numbers, and underscores" in drf_family.value.detail


def test_bad_credentials_are_rejected_with_the_servers_message(client: PostHogClient) -> None:
    bad = postgres_payload()
    bad["password"] = Secret("PG_PASSWORD", "invalid-password")
    with pytest.raises(Rejected) as caught:
        client.create_source("Postgres", bad, prefix="bad")
    assert caught.value.status == 400 and caught.value.detail
    assert "invalid-password" not in str(caught.value)
    assert client.list_sources() == []


def test_keys_and_scopes(emulator, team: int) -> None:  # type: ignore[no-untyped-def]
    with connect(emulator, team, key="phx_nope") as unknown:
        with pytest.raises(PermissionDenied) as caught:
            unknown.list_sources()
        assert caught.value.status == 401 and "phx_nope" not in str(caught.value)
    with connect(emulator, team, key="phx_read") as read_only:
        assert read_only.list_sources() == []
        with pytest.raises(PermissionDenied, match="external_data_source:write"):
            read_only.create_source("Postgres", postgres_payload(), prefix="ro")


def test_actions_preflight_refresh_revenue_reload_jobs_wizard(client: PostHogClient) -> None:
    config = {k: v for k, v in postgres_payload().items() if k != "schemas"}
    tables = {t.table: t for t in client.database_schema("Postgres", config)}
    assert {"customers", "events", "orders"} <= set(tables)
    assert client.list_sources() == []  # the preflight persisted nothing (§8.9)

    source_id = client.create_source("Postgres", postgres_payload(), prefix="acts")
    refreshed = client.refresh_schemas(source_id)
    assert refreshed.added == len(tables) - 1 and refreshed.total_tables_seen == len(tables)
    assert client.refresh_schemas(source_id).added == 0  # idempotent, which is why it may be retried
    live = client.get_source(source_id)
    assert {s.name for s in live.schemas} == set(tables)
    assert all(not s.should_sync for s in live.schemas if s.name != "customers")

    assert client.patch_revenue_config(source_id, enabled=True).revenue_analytics.enabled is True  # type: ignore[union-attr]
    client.reload_source(source_id)
    assert isinstance(client.jobs(source_id), list)
    wizard = client.wizard()
    assert {"Stripe", "Postgres"} <= set(wizard) and wizard["Postgres"]["name"] == "Postgres"


@pytest.fixture
def pg_table() -> Iterator[tuple[str, str]]:
    """A throwaway schema and table in the real local PostgreSQL (db `test`, trust auth)."""
    schema = f"reconciler_client_{secrets.token_hex(4)}"
    with psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".accounts (id integer primary key, updated_at timestamptz)')
        try:
            yield schema, "accounts"
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_real_postgres_upstream(start_emulator, pg_table: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    schema, table = pg_table
    config = {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres",
              "password": Secret("PG_PASSWORD", "unused-under-trust"), "schema": schema}  # fmt: skip
    # A private server with real SQL upstreams; its default key is phx_local for team 1.
    with start_emulator(upstreams=default_upstreams()) as emu, connect(emu, 1, key="phx_local") as client:
        (preflight,) = client.database_schema("Postgres", config)
        assert preflight.table == table and preflight.detected_primary_keys == ("id",)
        assert {"id", "updated_at"} <= preflight.incremental_field_names()
        schemas = [{"name": table, "should_sync": True, "sync_type": "incremental",
                    "incremental_field": "updated_at", "incremental_field_type": "datetime"}]  # fmt: skip
        source_id = client.create_source("Postgres", {**config, "schemas": schemas}, prefix="real")
        (live,) = client.list_sources()
        assert live.id == source_id and live.config["port"] == 5432 and live.config["schema"] == schema
        (live_table,) = live.schemas
        assert (live_table.name, live_table.sync_type, live_table.incremental_field) == (
            table, "incremental", "updated_at")  # fmt: skip
        client.delete_source(source_id)


# ---- faults over real HTTP (the emulator's /_emulator/faults control API) ------------------------------


def stripe_payload(key: str = "sk_test_CANARY_fault") -> dict[str, object]:
    return {
        "auth_method": {"selection": "api_key", "stripe_secret_key": Secret("STRIPE_KEY", key)},
        "schemas": [{"name": "Customer", "should_sync": True, "sync_type": "full_refresh"}],
    }


def add_faults(emu, *rules: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    with emu.control() as control:
        assert control.post("/faults", json={"rules": list(rules)}).status_code == 200


def server_stats(emu) -> dict[str, object]:  # type: ignore[no-untyped-def]
    with emu.control() as control:
        stats: dict[str, object] = control.get("/stats").json()
        return stats


def test_create_whose_answer_is_lost_is_ambiguous_then_found_by_relisting(serve_emulator) -> None:  # type: ignore[no-untyped-def]
    with serve_emulator(control=True) as emu, connect(emu, 1, key="phx_local") as client:
        # The create commits, then the connection drops before the answer: the classic lost 201.
        add_faults(emu, {"method": "POST", "path": r"external_data_sources/?$", "status": 0, "times": 1,
                         "after_commit": True})  # fmt: skip
        with pytest.raises(AmbiguousCreate) as caught:
            client.create_source("Stripe", stripe_payload(), prefix="lost")
        assert (caught.value.source_type, caught.value.prefix) == ("Stripe", "lost")
        assert client.stats.by_operation["create_source"] == 1  # not replayed
        found = client.find_source("Stripe", "lost")
        assert found is not None and found.source_type == "Stripe"
        assert len(client.list_sources()) == 1  # exactly one source: no duplicate create


def test_gateway_errors_and_dropped_connections_are_retried_for_reads_and_patches(serve_emulator) -> None:  # type: ignore[no-untyped-def]
    retry = RetryPolicy(max_attempts=4, backoff_base=0.01)
    with serve_emulator(control=True) as emu, connect(emu, 1, key="phx_local", retry=retry) as client:
        source_id = client.create_source("Stripe", stripe_payload(), prefix="flaky")
        add_faults(
            emu,
            {"method": "GET", "path": r"external_data_sources/?$", "status": 502, "times": 1},
            {"method": "GET", "path": r"external_data_sources/?$", "status": 0, "times": 1},
            {"method": "PATCH", "status": 503, "times": 1, "after_commit": True},
        )
        assert [s.id for s in client.list_sources()] == [source_id]
        assert client.stats.by_operation["list_sources"] == 3
        assert client.patch_source(source_id, {"description": "steady"}).description == "steady"
        assert client.stats.by_operation["patch_source"] == 2
        assert server_stats(emu)["faulted"] == 3


def test_server_throttle_text_is_parsed_over_real_http(serve_emulator) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()  # the wait is taken on a fake clock: the test does not sleep
    limiter = RateLimiter("off", clock=clock.time, sleep=clock.sleep)
    with serve_emulator(control=True) as emu, connect(emu, 1, key="phx_local", limiter=limiter) as client:
        add_faults(emu, {"method": "GET", "status": 429, "times": 1, "wait_seconds": 1})
        assert client.list_sources() == []
        assert client.stats.by_operation["list_sources"] == 2
        assert clock.sleeps == [1.0]  # "Expected available in 1 second." (singular), not a backoff guess


# ---- schemas ---------------------------------------------------------------------------------------------


def test_patch_schema_and_bulk_update(client: PostHogClient) -> None:
    source_id = client.create_source("Postgres", postgres_payload(), prefix="tables")
    client.refresh_schemas(source_id)
    live = client.get_source(source_id)
    customers, events = live.schema_named("customers"), live.schema_named("events")
    assert customers is not None and events is not None and events.should_sync is False

    patched = client.patch_schema(customers.id, {"sync_frequency": "never"})
    assert patched.sync_frequency == "never"  # stored as a null interval, read back as null (§7)
    assert client.get_source(source_id).schema_named("customers").sync_frequency == "never"  # type: ignore[union-attr]

    updated = client.bulk_update_schemas(
        source_id,
        [{"id": events.id, "should_sync": True, "sync_type": "full_refresh", "sync_frequency": "24hour"},
         {"id": customers.id, "sync_frequency": "12hour"}],
    )  # fmt: skip
    assert [(s.name, s.should_sync, s.sync_frequency) for s in updated] == [
        ("events", True, "24hour"),
        ("customers", True, "12hour"),
    ]
    with pytest.raises(Rejected, match="Sync type must be set up first"):
        orders = client.get_source(source_id).schema_named("orders")
        assert orders is not None
        client.patch_schema(orders.id, {"should_sync": True})


def test_bulk_update_refused_to_personal_keys_raises_the_fallback_error(start_emulator) -> None:  # type: ignore[no-untyped-def]
    with start_emulator(bulk_schemas="session-only") as emu, connect(emu, 1, key="phx_local") as client:
        source_id = client.create_source("Stripe", stripe_payload(), prefix="bulk")
        (customer,) = client.get_source(source_id).schemas
        with pytest.raises(PersonalKeyNotAllowed):
            client.bulk_update_schemas(source_id, [{"id": customer.id, "sync_frequency": "24hour"}])
        # The fallback the executor takes: one PATCH per schema.
        assert client.patch_schema(customer.id, {"sync_frequency": "24hour"}).sync_frequency == "24hour"


def test_client_pacing_keeps_a_throttling_server_from_ever_saying_429(start_emulator) -> None:  # type: ignore[no-untyped-def]
    # The emulator throttles like DRF (5 per second per key); the client paces under the same limit.
    traffic = TrafficControl.from_options(rate_limit="5/second")
    limiter = RateLimiter("5/second", margin=0.05)
    with (
        start_emulator(control=True, traffic=traffic) as emu,
        connect(emu, 1, key="phx_local", limiter=limiter) as client,
    ):
        for _ in range(12):
            client.list_sources()
        stats = server_stats(emu)
        assert stats["throttled"] == 0 and client.stats.retries == 0
        assert client.stats.by_operation["list_sources"] == 12


class _Recording(httpx.BaseTransport):
    """Passes every request on and keeps (method, path, Content-Type, body length)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seen: list[tuple[str, str, str | None, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.seen.append((request.method, request.url.path, request.headers.get("content-type"), len(body)))
        return self.inner.handle_request(request)


def test_every_body_the_client_sends_is_declared_json(emulator, team: int) -> None:  # type: ignore[no-untyped-def]
    """The emulator answers 415 to a body that is not `application/json`, as DRF does (issue 17 item 9): every
    write reconciler makes says so, and a write without a body sends none."""
    recording = _Recording(emulator.transport)
    http = build_http_client(emulator.origin, Secret("POSTHOG_PERSONAL_API_KEY", "phx_test"), timeout=10.0,
                             transport=recording)  # fmt: skip
    client = PostHogClient(http, RateLimiter("off"), RetryPolicy(max_attempts=1), project=str(team), owns_http=True)
    with client:
        config = {k: v for k, v in postgres_payload().items() if k != "schemas"}
        client.database_schema("Postgres", config)
        client.source_prefix("Postgres", "json")
        source_id = client.create_source("Postgres", postgres_payload(), prefix="json", description="d")
        client.patch_source(source_id, {"description": "e"})
        client.refresh_schemas(source_id)
        live = client.get_source(source_id)
        customers, events = live.schema_named("customers"), live.schema_named("events")
        assert customers is not None and events is not None
        client.patch_schema(customers.id, {"sync_frequency": "12hour"})
        client.bulk_update_schemas(source_id, [{"id": events.id, "should_sync": True, "sync_type": "full_refresh"}])
        client.patch_revenue_config(source_id, enabled=True)
        client.reload_source(source_id)
        client.delete_source(source_id)
    writes = [seen for seen in recording.seen if seen[0] != "GET"]
    assert {method for method, *_ in writes} == {"POST", "PATCH", "DELETE"}
    with_body = [seen for seen in writes if seen[3]]
    assert len(with_body) >= 7
    assert [seen for seen in with_body if seen[2] != "application/json"] == []
    assert all(seen[2] is None for seen in writes if not seen[3])
