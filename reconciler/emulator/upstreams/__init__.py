"""Upstreams: what stands behind a source (an API or a database), as the emulator sees it.

`types.py` is the contract (`Upstream`, `DiscoveredTable`, `UpstreamError`); `simulated.py` answers for API
source types from table lists; `sql.py` (+ `sql_discovery.py`, `sql_errors.py`) really connects to Postgres and
MySQL; `registry.py` maps source types to them. Nothing here knows HTTP or the store.
"""

from reconciler.emulator.upstreams.registry import UpstreamRegistry, default_upstreams
from reconciler.emulator.upstreams.simulated import SimulatedUpstream, sample_database_upstream, simulated_upstreams

__all__ = [
    "SimulatedUpstream",
    "UpstreamRegistry",
    "default_upstreams",
    "sample_database_upstream",
    "simulated_upstreams",
]
