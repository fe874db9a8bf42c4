"""Shared fixtures live in `tests/support/` (one package; see its `fixtures.py`). This file makes it importable
(pytest's importlib mode does not put `tests/` on sys.path) and exposes its fixtures to every test."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from support.fixtures import (  # noqa: E402
    api,
    cli_emulator,
    emulator,
    serve_emulator,
    served_emulator,
    start_emulator,
    team,
)

__all__ = ["api", "cli_emulator", "emulator", "serve_emulator", "served_emulator", "start_emulator", "team"]
