"""PATCH external_data_sources/{id} (§8.4; §12): merge, secret preservation, the connection-target gate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from reconciler.emulator.testing import (
    STRIPE_KEY,
    Emulator,
    create_body,
    postgres_payload,
    simulated_registry,
    stripe_payload,
)
from reconciler.emulator.upstreams import SimulatedUpstream, sample_database_upstream
from reconciler.emulator.upstreams.types import DiscoveredTable, UpstreamError


def _drf(detail: str, attr: str | None = None, code: str = "invalid_input") -> dict[str, Any]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


class Ctx:
    def __init__(self, api: httpx.Client, emulator: Emulator) -> None:
        self.api, self.emulator = api, emulator
        self.team = int(str(api.base_url).rstrip("/").rsplit("/", 1)[1])

    def make(self, source_type: str, payload: dict[str, Any], **top: Any) -> str:
        r = self.api.post("/external_data_sources/", json=create_body(source_type, payload, **top))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def patch(self, sid: str, body: dict[str, Any]) -> httpx.Response:
        return self.api.patch(f"/external_data_sources/{sid}/", json=body)

    def stored(self, sid: str) -> dict[str, Any]:
        row = self.emulator.store.get_source(self.team, sid)
        assert row is not None
        return row.job_inputs


@pytest.fixture
def ctx(api: httpx.Client, emulator: Emulator) -> Ctx:
    return Ctx(api, emulator)


def test_description_and_ignored_fields(ctx: Ctx) -> None:
    sid = ctx.make("Stripe", stripe_payload(), prefix="prod")
    r = ctx.patch(
        sid,
        {"description": "new text", "prefix": "other", "source_type": "Hubspot", "created_via": "web", "status": "x"},
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["description"], body["prefix"], body["source_type"], body["created_via"]) == (
        "new text", "prod", "Stripe", "api",
    )  # fmt: skip
    assert body["status"] == "Running"
    assert ctx.patch(sid, {"created_via": None}).status_code == 200
    assert ctx.patch(sid, {"description": None}).json()["description"] is None


def test_field_errors(ctx: Ctx) -> None:
    sid = ctx.make("Stripe", stripe_payload())
    r = ctx.patch(sid, {"created_via": "terraform"})
    assert r.json() == _drf('"terraform" is not a valid choice.', "created_via", "invalid_choice")
    r = ctx.patch(sid, {"description": "x" * 401})
    assert r.json() == _drf("Ensure this field has no more than 400 characters.", "description", "max_length")


def test_access_method_cannot_change(ctx: Ctx) -> None:
    sid = ctx.make("Stripe", stripe_payload())
    assert ctx.patch(sid, {"access_method": "warehouse"}).status_code == 200
    r = ctx.patch(sid, {"access_method": "direct"})
    assert r.status_code == 400
    assert r.json() == {
        "attr": None,
        "code": "invalid_input",
        "detail": "Access method cannot be changed. Create a new source instead.",
        "type": "validation_error",
    }


def test_direct_source_prefix_is_its_name(ctx: Ctx) -> None:
    sid = ctx.make("Postgres", postgres_payload(), access_method="direct", prefix="Analytics DB")
    assert ctx.patch(sid, {"prefix": "  Renamed "}).json()["prefix"] == "Renamed"
    r = ctx.patch(sid, {"prefix": "  "})
    assert r.json() == _drf("Name is required for direct query sources")


def test_shallow_merge_keeps_omitted_and_password(ctx: Ctx) -> None:
    sid = ctx.make("Postgres", postgres_payload())
    r = ctx.patch(sid, {"job_inputs": {"database": "other", "schema": None}})
    assert r.status_code == 200
    assert r.json()["job_inputs"]["database"] == "other"
    assert r.json()["job_inputs"]["schema"] is None
    stored = ctx.stored(sid)
    assert (stored["host"], stored["password"], stored["port"]) == ("db.example.com", "pg-CANARY-pass", "5432")


@pytest.mark.parametrize("password", [None, "", "MISSING"])
def test_secret_preserved_when_missing_null_or_empty(ctx: Ctx, password: str | None) -> None:
    sid = ctx.make("Postgres", postgres_payload())
    job_inputs: dict[str, Any] = {"user": "new_user"}
    if password != "MISSING":
        job_inputs["password"] = password
    assert ctx.patch(sid, {"job_inputs": job_inputs}).status_code == 200
    assert ctx.stored(sid)["password"] == "pg-CANARY-pass"
    assert ctx.stored(sid)["user"] == "new_user"


def test_new_secret_replaces(ctx: Ctx) -> None:
    sid = ctx.make("Postgres", postgres_payload())
    r = ctx.patch(sid, {"job_inputs": {"password": "rotated"}})
    assert r.status_code == 200 and "rotated" not in r.text
    assert ctx.stored(sid)["password"] == "rotated"


def test_host_change_needs_credentials(ctx: Ctx) -> None:
    sid = ctx.make("Postgres", postgres_payload())
    r = ctx.patch(sid, {"job_inputs": {"host": "db2.example.com"}})
    assert r.status_code == 400
    assert r.json() == _drf("Changing the connection host requires re-entering your credentials.")
    assert ctx.stored(sid)["host"] == "db.example.com"
    assert ctx.patch(sid, {"job_inputs": {"host": "db.example.com", "port": 5432}}).status_code == 200  # unchanged
    ok = ctx.patch(sid, {"job_inputs": {"host": "db2.example.com", "password": "again"}})
    assert ok.status_code == 200
    assert ctx.stored(sid)["host"] == "db2.example.com"


def test_get_then_patch_round_trips_preserve_secrets(ctx: Ctx) -> None:
    tunnel = {"enabled": True, "host": "jump.example.com", "port": 22,
              "auth": {"selection": "password", "username": "j", "password": "TUNNEL-CANARY"}}  # fmt: skip
    sources = {
        "Stripe": ctx.make("Stripe", stripe_payload()),
        "Postgres": ctx.make("Postgres", postgres_payload(ssh_tunnel=tunnel)),
        "Snowflake": ctx.make(
            "Snowflake",
            {"account_id": "a", "database": "d", "warehouse": "w", "schema": "s",
             "auth_type": {"selection": "keypair", "user": "u", "private_key": "PK", "passphrase": "PP"},
             "schemas": [{"name": "orders"}]},
        ),
    }  # fmt: skip
    before = {t: ctx.stored(sid) for t, sid in sources.items()}
    for sid in sources.values():
        got = ctx.api.get(f"/external_data_sources/{sid}/").json()
        r = ctx.patch(sid, {"job_inputs": got["job_inputs"], "description": got["description"]})
        assert r.status_code == 200, r.text
    after = {t: ctx.stored(sid) for t, sid in sources.items()}
    assert after["Stripe"]["auth_method"]["stripe_secret_key"] == STRIPE_KEY
    assert after["Postgres"]["password"] == before["Postgres"]["password"]
    assert after["Postgres"]["ssh_tunnel"]["auth"]["password"] == "TUNNEL-CANARY"
    assert (after["Snowflake"]["auth_type"]["private_key"], after["Snowflake"]["auth_type"]["passphrase"]) == (
        "PK", "PP",
    )  # fmt: skip


def test_ssh_tunnel_gate(ctx: Ctx) -> None:
    tunnel = {"enabled": True, "host": "jump.example.com", "port": 22,
              "auth": {"selection": "password", "username": "j", "password": "TUNNEL-CANARY"}}  # fmt: skip
    plain = ctx.make("Postgres", postgres_payload(), prefix="plain")
    r = ctx.patch(plain, {"job_inputs": {"ssh_tunnel": tunnel}})
    assert r.json() == _drf("Changing the SSH tunnel requires re-entering your database credentials.")
    assert ctx.patch(plain, {"job_inputs": {"ssh_tunnel": None}}).status_code == 200  # null == never had one
    tunnelled = ctx.make("Postgres", postgres_payload(ssh_tunnel=tunnel), prefix="tunnelled")
    off = ctx.patch(tunnelled, {"job_inputs": {"ssh_tunnel": {**tunnel, "enabled": False}}})
    assert off.json() == _drf("Changing the SSH tunnel requires re-entering your database credentials.")
    same = ctx.patch(tunnelled, {"job_inputs": {"ssh_tunnel": {"enabled": "True", "host": "jump.example.com",
                                                                "port": "22"}}})  # fmt: skip
    assert same.status_code == 200  # compared as strings: identical tunnel is no change
    assert ctx.stored(tunnelled)["ssh_tunnel"]["auth"]["password"] == "TUNNEL-CANARY"
    moved = {"enabled": True, "host": "jump2.example.com", "port": 22}
    r = ctx.patch(tunnelled, {"job_inputs": {"ssh_tunnel": moved, "password": "db-again"}})
    assert r.json() == _drf("Changing the SSH tunnel host requires re-entering your SSH credentials.")
    moved["auth"] = {"selection": "password", "username": "j2", "password": "NEW-TUNNEL"}
    assert ctx.patch(tunnelled, {"job_inputs": {"ssh_tunnel": moved, "password": "db-again"}}).status_code == 200
    assert ctx.stored(tunnelled)["ssh_tunnel"]["auth"]["password"] == "NEW-TUNNEL"


def test_auth_container_rules(ctx: Ctx) -> None:
    sid = ctx.make("Stripe", stripe_payload())
    r = ctx.patch(sid, {"job_inputs": {"auth_method": "invalid"}})
    assert r.json() == _drf("Must be an object.", "job_inputs__auth_method")
    assert ctx.patch(sid, {"job_inputs": {"auth_method": {"selection": "api_key"}}}).status_code == 200
    assert ctx.stored(sid)["auth_method"]["stripe_secret_key"] == STRIPE_KEY
    switched = ctx.patch(sid, {"job_inputs": {"auth_method": {"selection": "oauth", "stripe_integration_id": 77}}})
    assert switched.status_code == 200
    assert switched.json()["job_inputs"]["auth_method"] == {"selection": "oauth", "stripe_integration_id": "77"}
    assert "stripe_secret_key" not in ctx.stored(sid)["auth_method"]  # old secret dropped wholesale


def test_required_fields_rechecked_and_credentials_reprobed(ctx: Ctx) -> None:
    sid = ctx.make("Postgres", postgres_payload())
    r = ctx.patch(sid, {"job_inputs": {"host": None, "password": "new"}})
    assert r.json() == _drf("Invalid source config: Required field 'host' is missing")
    stripe = ctx.make("Stripe", stripe_payload())
    r = ctx.patch(
        stripe, {"job_inputs": {"auth_method": {"selection": "api_key", "stripe_secret_key": "sk_test_invalid"}}}
    )
    assert r.json() == {"attr": None, "code": "invalid_input", "detail": "Invalid Stripe credentials",
                        "type": "validation_error"}  # fmt: skip
    assert ctx.stored(stripe)["auth_method"]["stripe_secret_key"] == STRIPE_KEY


class CountingUpstream:
    """A simulated upstream that counts credential checks (to see when PATCH probes)."""

    def __init__(self) -> None:
        self.inner = sample_database_upstream()
        self.checks = 0

    def check_credentials(self, source_type: str, config: Mapping[str, Any]) -> None:
        self.checks += 1
        self.inner.check_credentials(source_type, config)

    def discover(self, source_type: str, config: Mapping[str, Any]) -> list[DiscoveredTable]:
        return self.inner.discover(source_type, config)


def test_patch_probes_only_when_job_inputs_sent(start_emulator) -> None:  # type: ignore[no-untyped-def]
    counting = CountingUpstream()
    with (
        start_emulator(upstreams=simulated_registry().with_overrides({"Postgres": counting})) as emu,
        emu.client() as c,
    ):
        sid = c.post("/external_data_sources/", json=create_body("Postgres", postgres_payload())).json()["id"]
        assert counting.checks == 1
        c.patch(f"/external_data_sources/{sid}/", json={"description": "only metadata"})
        assert counting.checks == 1
        c.patch(f"/external_data_sources/{sid}/", json={"job_inputs": {}})  # even unchanged job_inputs probe
        assert counting.checks == 2


def _cloud_like_rule(config: Mapping[str, Any]) -> None:
    """Simulates Cloud's SSRF guard: internal hosts are refused by the credential check (§8.3 step 8)."""
    if str(config.get("host")) in ("127.0.0.1", "localhost", "10.0.0.5"):
        raise UpstreamError("Hosts with internal IP addresses are not allowed")


def test_internal_host_patch_demands_credentials_then_fails_the_probe(start_emulator) -> None:  # type: ignore[no-untyped-def]
    upstream = SimulatedUpstream(sample_database_upstream().tables, _cloud_like_rule)
    with (
        start_emulator(upstreams=simulated_registry().with_overrides({"Postgres": upstream})) as emu,
        emu.client() as c,
    ):
        r = c.post("/external_data_sources/", json=create_body("Postgres", postgres_payload(host="localhost")))
        assert r.json() == {"message": "Hosts with internal IP addresses are not allowed"}
        sid = c.post("/external_data_sources/", json=create_body("Postgres", postgres_payload())).json()["id"]
        url = f"/external_data_sources/{sid}/"
        r = c.patch(url, json={"job_inputs": {"host": "10.0.0.5"}})
        assert r.json()["detail"] == "Changing the connection host requires re-entering your credentials."
        r = c.patch(url, json={"job_inputs": {"host": "10.0.0.5", "password": "new"}})
        assert r.status_code == 400
        assert r.json() == _drf("Hosts with internal IP addresses are not allowed")
        r = c.post("/external_data_sources/database_schema/", json={"source_type": "Postgres", **postgres_payload(
            host="127.0.0.1")})  # fmt: skip
        assert r.json() == {"message": "Hosts with internal IP addresses are not allowed"}


def test_hyphenated_switch_group_patched_by_declared_name(ctx: Ctx) -> None:
    bq = {
        "key_file": {"project_id": "p", "private_key": "K", "private_key_id": "k", "client_email": "e",
                     "token_uri": "t"},
        "dataset_id": "ds",
        "schemas": [{"name": "orders"}],
    }  # fmt: skip
    sid = ctx.make("BigQuery", bq)
    r = ctx.patch(sid, {"job_inputs": {"temporary-dataset": {"enabled": True, "temporary_dataset_id": "tmp"}}})
    assert r.status_code == 200
    assert r.json()["job_inputs"]["temporary_dataset"] == {"enabled": "True", "temporary_dataset_id": "tmp"}
    assert ctx.stored(sid)["key_file"]["private_key"] == "K"  # file upload secret preserved
