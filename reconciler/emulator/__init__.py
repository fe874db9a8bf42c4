"""A local PostHog-compatible API for external data sources (`reconciler serve`, `--host local`).

Shares no code with the client except pure catalog data (reconciler.catalog)."""
