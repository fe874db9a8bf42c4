"""Shared fixtures: the emulator served over real HTTP on an ephemeral loopback port.

`emulator` is one session-wide server (uvicorn in a thread); tests keep out of each other's way by
taking a fresh `team` each. `start_emulator` starts a private server with custom keys, store file or
upstreams (persistence, pagination counts, counting upstreams, ...).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import httpx
import pytest

from reconciler.emulator.keys import ApiKey, keyring_from
from reconciler.emulator.testing import Emulator, running_emulator

ALL_TEAMS = frozenset(range(1, 400))
#: The session server's keys. `phx_test` may use every team 1..399; team 500 belongs to `phx_team_500` only.
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


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with running_emulator(keys=TEST_KEYS) as emu:
        emu.default_key = "phx_test"
        yield emu


StartEmulator = Callable[..., AbstractContextManager[Emulator]]


@pytest.fixture
def start_emulator() -> StartEmulator:
    """`with start_emulator(keys=..., db=..., upstreams=...) as emu:` — a private server (default key
    `phx_local`, team 1, Postgres/MySQL simulated)."""
    return running_emulator


_teams = itertools.count(2)


@pytest.fixture
def team() -> int:
    """A team no other test uses on the session server."""
    return next(_teams)


@pytest.fixture
def api(emulator: Emulator, team: int) -> Iterator[httpx.Client]:
    """An all-scopes (`phx_test`) client for this test's own team, under /api/projects/{team}/."""
    with emulator.client(key="phx_test", team=team) as client:
        yield client
