"""The registry mapping source_type → Upstream, and the default one: a simulated upstream for every catalogued
type (hand-made in `simulated.py` where the tests need more, built from the catalog's facts in `catalogued.py`
otherwise) plus real Postgres/MySQL (`sql.SqlUpstream`, imported lazily so the emulator starts without touching a
database driver). The registry also holds the emulated PostHog's integrations (`Integrations`).

Knows nothing of HTTP or storage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.catalog import Catalog, load_catalog
from reconciler.emulator.upstreams.catalogued import Integrations, catalogued_upstream, integration_rule
from reconciler.emulator.upstreams.simulated import SimulatedUpstream, simulated_upstreams
from reconciler.emulator.upstreams.types import Upstream

__all__ = ["UpstreamRegistry", "default_upstreams"]


class UpstreamRegistry:
    """source_type → Upstream. Entries may be factories, resolved once on first use (lazy imports)."""

    def __init__(
        self, entries: Mapping[str, Upstream | Callable[[], Upstream]], integrations: Integrations | None = None
    ) -> None:
        self._entries: dict[str, Any] = dict(entries)
        self.integrations = integrations if integrations is not None else Integrations()
        self._resolved: dict[str, Upstream] = {}
        self._lock = threading.Lock()

    def get(self, source_type: str) -> Upstream | None:
        with self._lock:
            if source_type in self._resolved:
                return self._resolved[source_type]
            entry = self._entries.get(source_type)
            if entry is None:
                return None
            upstream: Upstream = entry if hasattr(entry, "check_credentials") else entry()
            self._resolved[source_type] = upstream
            return upstream

    def __contains__(self, source_type: object) -> bool:
        return source_type in self._entries

    def with_overrides(self, overrides: Mapping[str, Upstream | Callable[[], Upstream]]) -> UpstreamRegistry:
        return UpstreamRegistry({**self._entries, **overrides}, self.integrations)


def _sql_factory(cloud_host_checks: bool) -> Callable[[], Upstream]:
    def make() -> Upstream:
        from reconciler.emulator.upstreams.sql import SqlUpstream  # lazy: needs database drivers

        upstream: Upstream = SqlUpstream(cloud_host_checks=cloud_host_checks)
        return upstream

    return make


def default_upstreams(catalog: Catalog | None = None, *, cloud_host_checks: bool = False) -> UpstreamRegistry:
    """A simulated upstream per catalogued type plus real Postgres/MySQL (one shared SqlUpstream per type,
    lazily built). Every simulated one first looks up the integrations its config names."""
    catalog = catalog or load_catalog()
    integrations = Integrations()
    made = simulated_upstreams()
    entries: dict[str, Upstream | Callable[[], Upstream]] = {}
    for name, st in catalog.items():
        if name in ("Postgres", "MySQL"):
            entries[name] = _sql_factory(cloud_host_checks)
            continue
        upstream: SimulatedUpstream = made.get(name) or catalogued_upstream(st)
        entries[name] = upstream.also(integration_rule(st, integrations))
    return UpstreamRegistry(entries, integrations)
