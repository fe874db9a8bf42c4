"""PostHog API layer: the client (HTTP, paging, retries, pacing) and the LiveState models it returns.

Nothing loads until it is used (PEP 562): the pure planner can use `reconciler.posthog.models` without httpx,
and `plan` can send its list request before the models and the manifest code are imported (docs/performance.md,
"Start-up").
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from reconciler.lazy import lazy_exports

if "httpx" not in sys.modules:
    # `import httpx` runs `from ._main import main`, its command-line client, which imports click, rich and
    # pygments whenever they are installed (reconciler installs rich for apply's progress display): about a
    # third of httpx's import time, and reconciler never runs httpx's CLI. A None entry makes that one import
    # fail, and httpx falls back as when those packages are missing (`httpx.main` then prints how to install
    # them). Set here, before any module of this package imports httpx.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

if TYPE_CHECKING:
    from reconciler.posthog.client import DEFAULT_PAGE_SIZE, PostHogClient, build_client
    from reconciler.posthog.models import (
        SCHEMA_WRITABLE_FIELDS,
        IncrementalCandidate,
        LiveJob,
        LiveRevenueConfig,
        LiveSchema,
        LiveSource,
        LiveState,
        PreflightTable,
        RefreshResult,
    )
    from reconciler.posthog.normalise import normalise_config, normalise_value
    from reconciler.posthog.ratelimit import RateLimiter
    from reconciler.posthog.retry import Replay, RetryPolicy
    from reconciler.posthog.session import USER_AGENT, BearerAuth, RequestStats, build_http_client
    from reconciler.rate_spec import DEFAULT_RATE_LIMIT, Window, parse_rate_limit

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_RATE_LIMIT",
    "SCHEMA_WRITABLE_FIELDS",
    "USER_AGENT",
    "BearerAuth",
    "IncrementalCandidate",
    "LiveJob",
    "LiveRevenueConfig",
    "LiveSchema",
    "LiveSource",
    "LiveState",
    "PostHogClient",
    "PreflightTable",
    "RateLimiter",
    "RefreshResult",
    "Replay",
    "RequestStats",
    "RetryPolicy",
    "Window",
    "build_client",
    "build_http_client",
    "normalise_config",
    "normalise_value",
    "parse_rate_limit",
]

#: Where each exported name lives.
_HOMES = {
    **dict.fromkeys(("DEFAULT_PAGE_SIZE", "PostHogClient", "build_client"), "reconciler.posthog.client"),
    **dict.fromkeys(("USER_AGENT", "BearerAuth", "RequestStats", "build_http_client"), "reconciler.posthog.session"),
    **dict.fromkeys(
        (
            "SCHEMA_WRITABLE_FIELDS",
            "IncrementalCandidate",
            "LiveJob",
            "LiveRevenueConfig",
            "LiveSchema",
            "LiveSource",
            "LiveState",
            "PreflightTable",
            "RefreshResult",
        ),
        "reconciler.posthog.models",
    ),
    **dict.fromkeys(("normalise_config", "normalise_value"), "reconciler.posthog.normalise"),
    "RateLimiter": "reconciler.posthog.ratelimit",
    **dict.fromkeys(("Replay", "RetryPolicy"), "reconciler.posthog.retry"),
    **dict.fromkeys(("DEFAULT_RATE_LIMIT", "Window", "parse_rate_limit"), "reconciler.rate_spec"),
}


__getattr__ = lazy_exports(__name__, _HOMES)
