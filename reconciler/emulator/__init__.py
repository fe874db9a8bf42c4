"""A local PostHog-compatible API for external data sources (`reconciler serve`, `--host local`).

Shares no code with the client except pure catalog data (reconciler.catalog). Its packages are the `emulator`
extra (`pip install 'posthog-reconciler[emulator]'`): without them, importing this package is one clear error
naming the extra, not an ImportError from deep inside (docs/emulator.md).
"""

from __future__ import annotations

import importlib.util

from reconciler.errors import ConfigError

# Nothing is re-exported here on purpose: importing the package must not pull in Starlette, SQLite or the
# database drivers. Import from the modules (`app.create_app`, `store.Store`, `testing.running_emulator`, ...).
__all__: list[str] = ["EXTRA", "REQUIRES"]

#: The extra that installs the emulator's packages, and the modules it provides.
EXTRA = "emulator"
REQUIRES = ("starlette", "anyio", "uvicorn", "psycopg", "pymysql")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a None entry in sys.modules (blocked)
        return False


_missing = [name for name in REQUIRES if not _installed(name)]
if _missing:
    raise ConfigError(
        f"the local emulator (reconciler serve, --host local) needs {', '.join(_missing)}, which "
        f"posthog-reconciler installs only with its {EXTRA!r} extra",
        hint=f"pip install 'posthog-reconciler[{EXTRA}]' (from a checkout: pip install -e '.[{EXTRA}]')",
        reference="emulator-not-installed",
    )
