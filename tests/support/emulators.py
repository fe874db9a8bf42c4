"""The emulator for tests, at two depths, and the clients that reach it.

In-process (`in_process`) is the default depth: `reconciler.emulator.testing.InProcessTransport` calls the ASGI
app directly, so a private emulator costs milliseconds and a request a fraction of one; reading its `base_url`
(the CLI, a subprocess) serves it on a loopback port too. Served (`served`) runs uvicorn from the start: for
tests whose own clients must cross a socket (client timeouts, dropped connections).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from starlette.types import ASGIApp

from reconciler.emulator.keys import ApiKey, keyring_from
from reconciler.emulator.server import serve_in_thread
from reconciler.emulator.testing import IN_PROCESS_URL, Emulator, InProcessTransport, running_emulator
from reconciler.posthog.client import PostHogClient, build_client
from reconciler.settings import resolve_settings

__all__ = ["ALL_TEAMS", "TEST_KEYS", "app_client", "in_process", "posthog_client", "served"]

ALL_TEAMS = frozenset(range(1, 400))
#: The session emulators' keys. `phx_test` may use every team 1..399; team 500 belongs to `phx_team_500` only.
TEST_KEYS = keyring_from(
    [
        ApiKey("phx_test", ALL_TEAMS, frozenset({"*"}), email="tester@example.com"),
        ApiKey("phx_read", ALL_TEAMS, frozenset({"external_data_source:read"})),
        ApiKey("phx_write", ALL_TEAMS, frozenset({"external_data_source:write"})),
        ApiKey("phx_unrelated", ALL_TEAMS, frozenset({"feature_flag:read"})),
        ApiKey("phx_team_500", frozenset({500}), frozenset({"*"})),
        ApiKey("phx_scoped", ALL_TEAMS, frozenset({"*"}), scoped_teams=frozenset({1})),
    ]
)


@contextmanager
def in_process(**options: Any) -> Iterator[Emulator]:
    """A private in-process emulator; `options` are `running_emulator`'s (keys, db, upstreams, control, ...)."""
    with running_emulator(socket=False, **options) as emu:
        yield emu


@contextmanager
def served(**options: Any) -> Iterator[Emulator]:
    """A private emulator served by uvicorn on 127.0.0.1:<free port>."""
    with running_emulator(socket=True, **options) as emu:
        yield emu


def posthog_client(emu: Emulator, team: int | str = 1, *, key: str | None = None, **options: Any) -> PostHogClient:
    """The production client (`build_client` from resolved settings) pointed at `emu`, at whatever depth it
    runs: in-process emulators are reached through their transport, served ones over the socket. `options` are
    `resolve_settings`' (e.g. `timeout=0.3`)."""
    env = {"POSTHOG_PERSONAL_API_KEY": key or emu.default_key}
    settings = resolve_settings(env, host=emu.origin, project=str(team), **options)
    return build_client(settings, transport=emu.transport)


@contextmanager
def app_client(app: ASGIApp, *, socket: bool = False, **options: Any) -> Iterator[httpx.Client]:
    """An httpx client at the root of any ASGI app (a piece of the emulator: its middleware, its control API):
    in-process by default, over a loopback socket with `socket=True`. `options` go to `httpx.Client`."""
    options = {"timeout": 10, **options}
    if socket:
        with serve_in_thread(app) as url, httpx.Client(base_url=url, **options) as client:
            yield client
        return
    transport = InProcessTransport(app)
    try:
        with httpx.Client(base_url=IN_PROCESS_URL, transport=transport, **options) as client:
            yield client
    finally:
        transport.shutdown()
