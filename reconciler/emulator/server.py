"""`reconciler serve`: build the store, keys, upstreams and app from options, and run uvicorn; and
`serve_in_thread`, the same app on a free loopback port in a thread (`--host local`, tests).

The only module that binds sockets or prints. Start-up lines go to stdout: the URL (with the real port when
`--port 0`) and, without `--keys`, the default key `phx_local` (a local-only key, printed by design).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from reconciler.errors import ConfigError

__all__ = ["ServeOptions", "build_app", "check_exposure", "run_server", "serve_in_thread"]


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8010
    db: Path | None = None
    keys: Path | None = None
    rate_limit: str | None = None
    latency_ms: int = 0
    control: bool = False
    cloud_host_checks: bool = False
    bulk_schemas: str = "allowed"
    sync_seconds: float = 0


def check_exposure(options: ServeOptions) -> None:
    """Refuse to serve the public default key beyond this machine: `phx_local` is printed at start-up and
    written in the docs, so anyone who can reach the port could read and change every source."""
    from reconciler.emulator.keys import DEFAULT_KEY
    from reconciler.loopback import is_loopback

    if options.keys is None and not is_loopback(options.host):
        raise ConfigError(
            f"refusing to listen on {options.host} with the default key {DEFAULT_KEY}: it is public "
            "(printed at start-up and in the docs), so anyone who can reach this port could use it",
            hint="pass --keys FILE with keys of your own (docs/emulator.md), or listen on 127.0.0.1",
            reference="public-default-key",
        )


def build_app(options: ServeOptions) -> Starlette:
    """The app for these options; a bad option (rate-limit spec, latency, keys file, --db directory, the
    default key beyond loopback, ...) is a ConfigError before anything binds."""
    check_exposure(options)
    from reconciler.emulator.app import create_app
    from reconciler.emulator.keys import load_keyring
    from reconciler.emulator.state import BULK_SCHEMAS_MODES
    from reconciler.emulator.store import Store
    from reconciler.emulator.traffic.middleware import TrafficControl
    from reconciler.emulator.upstreams import default_upstreams

    traffic = TrafficControl.from_options(rate_limit=options.rate_limit, latency_ms=options.latency_ms)
    if options.bulk_schemas not in BULK_SCHEMAS_MODES:
        raise ConfigError(f"invalid --bulk-schemas {options.bulk_schemas!r}: use {' or '.join(BULK_SCHEMAS_MODES)}")
    if options.sync_seconds < 0:
        raise ConfigError(f"invalid --sync-seconds {options.sync_seconds}: must be >= 0")
    keys = load_keyring(options.keys)
    if options.db is not None and options.db.parent and not options.db.parent.exists():
        raise ConfigError(f"directory for --db does not exist: {options.db.parent}")
    store = Store(options.db)
    return create_app(
        store,
        keys=keys,
        upstreams=default_upstreams(cloud_host_checks=options.cloud_host_checks),
        traffic=traffic,
        control=options.control,
        sync_seconds=options.sync_seconds,
        bulk_schemas=options.bulk_schemas,
    )


def _uvicorn_config(app: ASGIApp) -> uvicorn.Config:
    return uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", access_log=False)


@contextmanager
def serve_in_thread(app: ASGIApp) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 at a free port in a daemon thread (httpx's serve-in-thread pattern); yields
    the base URL; stops the server on exit."""
    sock = _bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("emulator did not start")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on sockets that say so; without it every
    # keep-alive response waits ~40 ms (Nagle vs delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run_server(options: ServeOptions, out: TextIO | None = None) -> None:
    """Serve until interrupted (Ctrl+C / SIGTERM)."""
    out = out or sys.stdout
    app = build_app(options)
    sock = _bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"reconciler emulator listening on http://{shown}:{port}", file=out)
    print(f"storage: {options.db if options.db is not None else 'in memory (lost on exit)'}", file=out)
    if options.keys is None:
        print("API key: phx_local (all scopes, team 1)", file=out)
    else:
        print(f"API keys: from {options.keys}", file=out)
    if options.control:
        print(f"control API: http://{shown}:{port}/_emulator/", file=out)
    out.flush()
    try:
        uvicorn.Server(_uvicorn_config(app)).run(sockets=[sock])
    finally:
        app.state.emulator.store.close()
        sock.close()
