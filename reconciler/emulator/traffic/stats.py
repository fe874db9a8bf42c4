"""Request statistics of the emulator: which route template a request hits, and thread-safe counters.

`route_template` walks a Starlette route table the way Starlette's router does (first full match, else
first method-mismatch match) without calling anything. Counters know nothing of ASGI.

Key format: `"<METHOD> <template>"`, e.g. `"GET /api/projects/{project_id}/external_data_sources/"`.
The template always ends with `/` (PostHog's canonical URLs do; the emulator accepts both, §1), path
converters are dropped (`{id:int}` → `{id}`), and the path family is kept as requested (`projects` and
`environments` count apart, so a test can see which one a client used). A path no route serves counts as
`"<METHOD> (no route)"` so the table stays bounded.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Scope

__all__ = ["NO_ROUTE", "RequestStats", "normalise_template", "route_template"]

NO_ROUTE = "(no route)"
_CONVERTER = re.compile(r"\{(\w+):[^}]*\}")


def normalise_template(path: str) -> str:
    """Drop converters and end with exactly one `/`."""
    path = _CONVERTER.sub(r"{\1}", path)
    return path.rstrip("/") + "/"


def _resolve(routes: Sequence[BaseRoute], scope: Mapping[str, Any]) -> str | None:
    partial: str | None = None
    for route in routes:
        match, child = route.matches(dict(scope))
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            # Starlette dispatches to the first mount whose prefix matches, even if nothing inside does.
            inner = _resolve(route.routes, {**scope, **child})
            return None if inner is None else route.path + inner
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        if match is Match.FULL:
            return path
        if partial is None:
            partial = path  # right path, wrong method: Starlette answers 405 from this route
    return partial


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    """The normalised template of the route that serves `scope` (a 405 counts as served), or None."""
    found = _resolve(routes, scope)
    return None if found is None else normalise_template(found)


class RequestStats:
    """Counts of API requests that reached the server. `throttled` and `faulted` count the subset the rate
    limiter or a fault rule answered; those are in `total` and `by_route` too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route: Counter[str] = Counter()
        self._throttled = 0
        self._faulted = 0

    def record(self, method: str, template: str | None) -> None:
        with self._lock:
            self._by_route[f"{method} {template or NO_ROUTE}"] += 1

    def record_throttled(self) -> None:
        with self._lock:
            self._throttled += 1

    def record_faulted(self) -> None:
        with self._lock:
            self._faulted += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._by_route.values()),
                "by_route": dict(sorted(self._by_route.items())),
                "throttled": self._throttled,
                "faulted": self._faulted,
            }

    def reset(self) -> None:
        with self._lock:
            self._by_route.clear()
            self._throttled = 0
            self._faulted = 0
