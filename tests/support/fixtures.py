"""The pytest fixtures every test package shares (exposed by `tests/conftest.py`).

- `emulator`: one in-process emulator for the whole session (keys `TEST_KEYS`, default key `phx_test`);
  tests keep out of each other's way by taking a fresh `team` each; `api` is an all-scopes client for it.
- `served_emulator`: the same, served over a real loopback socket (for tests that must go through HTTP).
- `start_emulator(**options)` / `serve_emulator(**options)`: context managers for a private emulator,
  in-process / served (default key `phx_local`, team 1, simulated Postgres/MySQL).
- `cli_emulator(**options)`: a private served emulator (control API on) that the CLI is pointed at through the
  environment for the rest of the test (`NO_COLOR` cleared so colour tests decide for themselves).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import httpx
import pytest

from reconciler.emulator.testing import Emulator
from support.emulators import TEST_KEYS, in_process, served

__all__ = ["api", "cli_emulator", "emulator", "serve_emulator", "served_emulator", "start_emulator", "team"]

StartEmulator = Callable[..., AbstractContextManager[Emulator]]


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with in_process(keys=TEST_KEYS) as emu:
        emu.default_key = "phx_test"
        yield emu


@pytest.fixture(scope="session")
def served_emulator() -> Iterator[Emulator]:
    with served(keys=TEST_KEYS) as emu:
        emu.default_key = "phx_test"
        yield emu


@pytest.fixture
def start_emulator() -> StartEmulator:
    """`with start_emulator(keys=..., db=..., upstreams=...) as emu:` — a private in-process emulator."""
    return in_process


@pytest.fixture
def serve_emulator() -> StartEmulator:
    """`with serve_emulator(...) as emu:` — a private emulator on a real loopback socket."""
    return served


@pytest.fixture
def cli_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Emulator]]:
    """`emu = cli_emulator(**options)`: a private served emulator with `control=True` (unless overridden) and
    the CLI's environment (host, project 1, key) pointing at it until the test ends."""
    with ExitStack() as stack:

        def start(**options: Any) -> Emulator:
            emu = stack.enter_context(served(**{"control": True, **options}))
            for name, value in emu.cli_env().items():
                monkeypatch.setenv(name, value)
            monkeypatch.delenv("NO_COLOR", raising=False)
            return emu

        yield start


_teams = itertools.count(2)


@pytest.fixture
def team() -> int:
    """A team no other test uses on the session emulators."""
    return next(_teams)


@pytest.fixture
def api(emulator: Emulator, team: int) -> Iterator[httpx.Client]:
    """An all-scopes (`phx_test`) client for this test's own team, under /api/projects/{team}/."""
    with emulator.client(key="phx_test", team=team) as client:
        yield client
