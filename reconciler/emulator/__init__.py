"""A local PostHog-compatible API for external data sources (`reconciler serve`, `--host local`).

Shares no code with the client except pure catalog data (reconciler.catalog)."""

# Nothing is re-exported here on purpose: importing the package must not pull in Starlette, SQLite or the
# database drivers. Import from the modules (`app.create_app`, `store.Store`, `testing.running_emulator`, ...).
__all__: list[str] = []
