"""Fixtures for the reliability suite (faults, crashes, concurrency, bad input, secrets, emulator security).

The helper module beside this file (`reliability_kit`, uniquely named) is made importable here, so the tests
work under pytest's `prepend` and `importlib` import modes alike (and `bench/` scripts can import it too).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
