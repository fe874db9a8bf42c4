"""`--host local`: the emulator started inside the CLI process, persisted under `.reconciler/`.

The CLI talks to it over real HTTP on a free loopback port, exactly as it would talk to PostHog.
Default key `phx_local`, team 1; real Postgres/MySQL upstreams (as `reconciler serve`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.errors import ConfigError

__all__ = ["LOCAL_STATE_DIR", "embedded_emulator"]

#: Where `--host local` keeps its SQLite database, relative to the current directory.
LOCAL_STATE_DIR = Path(".reconciler")


@contextmanager
def embedded_emulator(state_dir: Path = LOCAL_STATE_DIR) -> Iterator[str]:
    """Start the emulator on 127.0.0.1:<free port>; yields its base URL; stops it on exit."""
    from reconciler.emulator.server import ServeOptions, build_app, serve_in_thread

    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {state_dir}/ for --host local: {exc.strerror}") from None
    app = build_app(ServeOptions(host="127.0.0.1", port=0, db=state_dir / "emulator.db"))
    try:
        with serve_in_thread(app) as url:
            yield url
    finally:
        app.state.emulator.store.close()
