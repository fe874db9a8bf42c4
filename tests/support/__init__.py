"""Shared test support (one home for what several test packages need).

`emulators`: the emulator at the depths tests use — in-process (the default: the ASGI app called through an
httpx transport, no socket) and served (uvicorn on loopback, for the CLI, subprocesses, client timeouts and
dropped connections) — plus the shared keys and a `PostHogClient` wired to either depth. `fixtures`: the pytest
fixtures `tests/conftest.py` exposes to every test.

Importable as `support` because `tests/conftest.py` puts `tests/` on sys.path (pytest's importlib mode does not).
"""
