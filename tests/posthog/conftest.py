"""Fixtures for the client-layer tests.

The helper modules beside this file (`posthog_fakes`, `posthog_wire`, uniquely named) are made importable
here, so the tests work under pytest's `prepend` and `importlib` import modes alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from posthog_fakes import FakeClock  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
