"""Run the emulator inside a test process: uvicorn on 127.0.0.1:<free port> in a thread (httpx's
serve-in-thread pattern), plus sample request payloads. For tests of the emulator and of the client.

Test-only: nothing on the CLI path imports this module (`--host local` uses `server.serve_in_thread`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from reconciler.emulator.app import create_app
from reconciler.emulator.keys import KeyRing, default_keyring
from reconciler.emulator.server import serve_in_thread
from reconciler.emulator.store import Store
from reconciler.emulator.traffic.middleware import TrafficControl
from reconciler.emulator.upstreams import UpstreamRegistry, default_upstreams, sample_database_upstream

__all__ = [
    "STRIPE_KEY",
    "Emulator",
    "create_body",
    "postgres_payload",
    "running_emulator",
    "serve_in_thread",
    "simulated_registry",
    "stripe_payload",
    "zendesk_payload",
]


def simulated_registry() -> UpstreamRegistry:
    """Default upstreams with Postgres/MySQL simulated too (tables customers, events, orders): no database."""
    sample = {"Postgres": sample_database_upstream(), "MySQL": sample_database_upstream()}
    return default_upstreams().with_overrides(sample)


@dataclass
class Emulator:
    base_url: str
    store: Store
    app: Starlette
    default_key: str = "phx_local"

    def control(self) -> httpx.Client:
        """An httpx client rooted at `/_emulator/` (the server must run with `control=True`)."""
        return httpx.Client(base_url=f"{self.base_url}/_emulator", timeout=10)

    def cli_env(self, team: int | str = 1) -> dict[str, str]:
        """The environment that points the `reconciler` CLI at this server (host, project, key)."""
        return {
            "POSTHOG_HOST": self.base_url,
            "POSTHOG_PROJECT_ID": str(team),
            "POSTHOG_PERSONAL_API_KEY": self.default_key,
        }

    def client(self, key: str | None = "", team: int | str = 1, family: str = "projects") -> httpx.Client:
        """An httpx client rooted at `/api/{family}/{team}/`, authenticated with `key` (default:
        `default_key`; None: no Authorization header)."""
        key = self.default_key if key == "" else key
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return httpx.Client(base_url=f"{self.base_url}/api/{family}/{team}", headers=headers, timeout=10)


@contextmanager
def running_emulator(
    *,
    keys: KeyRing | None = None,
    db: Path | None = None,
    upstreams: UpstreamRegistry | None = None,
    control: bool = False,
    traffic: TrafficControl | None = None,
    sync_seconds: float = 0,
    bulk_schemas: str = "allowed",
    cdc_teams: Iterable[int] = (),
) -> Iterator[Emulator]:
    """A private emulator: default keys (`phx_local`, team 1), in-memory store, simulated upstreams; the
    other arguments are `create_app`'s (`control=True` mounts `/_emulator/`, see `Emulator.control`)."""
    store = Store(db)
    app = create_app(
        store,
        keys=keys or default_keyring(),
        upstreams=upstreams or simulated_registry(),
        control=control,
        traffic=traffic,
        sync_seconds=sync_seconds,
        bulk_schemas=bulk_schemas,
        cdc_teams=cdc_teams,
    )
    try:
        with serve_in_thread(app) as url:
            yield Emulator(url, store, app)
    finally:
        store.close()


# ---- sample request bodies ------------------------------------------------------------------------

STRIPE_KEY = "sk_test_CANARY4242secret"


def stripe_payload(key: str = STRIPE_KEY, tables: tuple[str, ...] = ("Customer",), **extra: Any) -> dict[str, Any]:
    return {
        "auth_method": {"selection": "api_key", "stripe_secret_key": key},
        "schemas": [{"name": t, "should_sync": True, "sync_type": "full_refresh"} for t in tables],
        **extra,
    }


def postgres_payload(**overrides: Any) -> dict[str, Any]:
    """For the simulated Postgres of `simulated_registry()` (tables customers, events, orders)."""
    payload: dict[str, Any] = {
        "host": "db.example.com",
        "port": 5432,
        "database": "app",
        "user": "reader",
        "password": "pg-CANARY-pass",
        "schema": "public",
        "schemas": [{"name": "customers", "should_sync": True, "sync_type": "full_refresh"}],
    }
    payload.update(overrides)
    return payload


def zendesk_payload(subdomain: str = "acme", **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "subdomain": subdomain,
        "api_key": "zd-CANARY-key",
        "email_address": "ops@example.com",
        "schemas": [{"name": "tickets", "should_sync": False}],
    }
    payload.update(overrides)
    return payload


def create_body(source_type: str, payload: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A create request: `{"source_type", "payload", **top}` (prefix, description, access_method, ...)."""
    return {"source_type": source_type, "payload": payload, **top}
