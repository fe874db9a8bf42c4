"""What every part of the emulator shares at run time: the store, keys, upstreams, catalog and server options,
hung on `app.state.emulator` by `create_app`.

Plain data; knows nothing of HTTP (the api layer reads it from the request, the rules receive it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.catalog import Catalog
from reconciler.emulator.keys import KeyRing
from reconciler.emulator.store import Store
from reconciler.emulator.upstreams import UpstreamRegistry

__all__ = ["BULK_SCHEMAS_MODES", "EmulatorState"]

#: `--bulk-schemas`: "allowed", or "session-only" (PostHog at the reference commit: API keys get 403, §2, §8.13).
BULK_SCHEMAS_MODES = ("allowed", "session-only")


@dataclass
class EmulatorState:
    """Everything the endpoints share.

    `sync_seconds`: how long a simulated sync runs (0 = completes inside the request). `bulk_schemas`: one of
    `BULK_SCHEMAS_MODES`. `cdc_teams`: teams whose CDC feature flag is on (§9.3), editable through the
    control API."""

    store: Store
    keys: KeyRing
    upstreams: UpstreamRegistry
    catalog: Catalog
    options: dict[str, Any] = field(default_factory=dict)
    sync_seconds: float = 0
    bulk_schemas: str = "allowed"
    cdc_teams: set[int] = field(default_factory=set)
