"""PostHog API layer: the client (HTTP, paging, retries, pacing) and the LiveState models it returns.

Models, normalisation, retry and rate-limit logic import eagerly and need no httpx; the client and its
factories load on first use (PEP 562), so the pure planner can use `reconciler.posthog.models` without
importing httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from reconciler.rate_spec import DEFAULT_RATE_LIMIT, Window, parse_rate_limit

if TYPE_CHECKING:
    from reconciler.posthog.client import (
        DEFAULT_PAGE_SIZE,
        USER_AGENT,
        BearerAuth,
        PostHogClient,
        RequestStats,
        build_client,
        build_http_client,
    )

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

_LAZY = frozenset(
    {
        "DEFAULT_PAGE_SIZE",
        "USER_AGENT",
        "BearerAuth",
        "PostHogClient",
        "RequestStats",
        "build_client",
        "build_http_client",
    }
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from reconciler.posthog import client

        return getattr(client, name)
    raise AttributeError(f"module 'reconciler.posthog' has no attribute {name!r}")
