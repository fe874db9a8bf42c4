"""Run the emulator inside a test process, at either depth: in-process (an httpx transport that calls the ASGI
app directly: no socket, no server thread) or served (uvicorn on 127.0.0.1:<free port> in a thread, httpx's
serve-in-thread pattern); plus sample request payloads. For tests of the emulator and of the client.

Test-only: nothing on the CLI path imports this module (`--host local` uses `server.serve_in_thread`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import anyio.from_thread
import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message

from reconciler.catalog import Catalog
from reconciler.emulator.app import create_app
from reconciler.emulator.keys import KeyRing, default_keyring
from reconciler.emulator.server import serve_in_thread
from reconciler.emulator.store import Store
from reconciler.emulator.traffic.middleware import TrafficControl
from reconciler.emulator.upstreams import UpstreamRegistry, default_upstreams, sample_database_upstream

__all__ = [
    "IN_PROCESS_URL",
    "STRIPE_KEY",
    "Emulator",
    "InProcessTransport",
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


#: The base URL of an in-process emulator: loopback, so `settings` accepts plain http (`*.localhost` names are not
#: loopback to it), and never reached over the network (every request goes through `InProcessTransport`; port 1
#: has no listener, so a client built without it fails at once rather than reach something else).
IN_PROCESS_URL = "http://127.0.0.1:1"


class InProcessTransport(httpx.BaseTransport):
    """A synchronous httpx transport that calls an ASGI app in this process, on one event loop in a helper
    thread (anyio's blocking portal, as Starlette's TestClient), so any httpx.Client — PostHogClient's too —
    can talk to the emulator without a socket. Thread-safe: concurrent requests run concurrently on the loop.

    What a socket would show is kept: a response the app sent is returned even if the app then raised (uvicorn
    does the same); an `httpx.TransportError` the app raises (the fault layer's dropped connection) reaches
    the caller as itself. Client timeouts are not enforced: tests of timeouts need a served emulator.

    Shared by every client of one emulator, so `close()` (called by each client) does nothing; `shutdown()`
    stops the loop."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        status, headers, content = self._portal.call(self._call, request, body)
        return httpx.Response(status, headers=headers, content=content)

    def close(self) -> None:
        """Clients come and go; the transport lives as long as its emulator (see `shutdown`)."""

    def shutdown(self) -> None:
        self._portal_cm.__exit__(None, None, None)

    async def _call(self, request: httpx.Request, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        url = request.url
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "client": ("127.0.0.1", 50000),
            "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
            "extensions": {},
        }
        body_sent = False
        finished = anyio.Event()
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    finished.set()

        try:
            await self._app(scope, receive, send)
        except httpx.TransportError:
            raise
        except Exception:
            if not start:  # nothing sent: what uvicorn answers for an app that failed before responding
                return 500, [(b"content-type", b"text/plain; charset=utf-8")], b"Internal Server Error"
        finally:
            finished.set()
        return int(start["status"]), list(start.get("headers", [])), b"".join(chunks)


class Emulator:
    """A running emulator (see `running_emulator`).

    Clients built here (`client`, `control`, `http`) and any client given `transport` reach it at `origin`:
    in-process through `InProcessTransport`, or over the socket when it is served. `base_url` is always a real
    loopback URL: an in-process emulator starts serving the same app (same store, same traffic control) the
    first time something asks for it, since the CLI or another process needs a socket."""

    def __init__(
        self,
        store: Store,
        app: Starlette,
        stack: ExitStack,
        *,
        url: str | None = None,
        transport: InProcessTransport | None = None,
        default_key: str = "phx_local",
    ) -> None:
        self.store = store
        self.app = app
        self.transport = transport
        self.default_key = default_key
        self._stack = stack
        self._url = url

    @property
    def served(self) -> bool:
        """True once a real socket serves it (from the start, or since `base_url` was first read)."""
        return self._url is not None

    @property
    def base_url(self) -> str:
        """The real loopback URL (an in-process emulator starts serving on first use)."""
        if self._url is None:
            self._url = self._stack.enter_context(serve_in_thread(self.app))
        return self._url

    @property
    def origin(self) -> str:
        """Where clients built with `transport` send requests: `IN_PROCESS_URL` in-process, else `base_url`."""
        return IN_PROCESS_URL if self.transport is not None else self.base_url

    def http(self, **options: Any) -> httpx.Client:
        """An httpx client rooted at the server (any path: `/api/...`, `/_emulator/...`, unknown ones)."""
        return httpx.Client(base_url=self.origin, transport=self.transport, **{"timeout": 10, **options})

    def control(self) -> httpx.Client:
        """An httpx client rooted at `/_emulator/` (the server must run with `control=True`)."""
        return httpx.Client(base_url=f"{self.origin}/_emulator", timeout=10, transport=self.transport)

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
        return httpx.Client(
            base_url=f"{self.origin}/api/{family}/{team}", headers=headers, timeout=10, transport=self.transport
        )


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
    socket: bool = True,
    catalog: Catalog | None = None,
) -> Iterator[Emulator]:
    """A private emulator: default keys (`phx_local`, team 1), in-memory store, simulated upstreams; the
    other arguments are `create_app`'s (`control=True` mounts `/_emulator/`, see `Emulator.control`).
    `socket=False` runs it in-process (`InProcessTransport`): faster; it is served only if `base_url` is read
    (the CLI, a subprocess). In-process clients see no client timeouts and no real dropped connections."""
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
        catalog=catalog,
    )
    with ExitStack() as stack:
        stack.callback(store.close)
        if socket:
            yield Emulator(store, app, stack, url=stack.enter_context(serve_in_thread(app)))
        else:
            transport = InProcessTransport(app)
            stack.callback(transport.shutdown)
            yield Emulator(store, app, stack, transport=transport)


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
