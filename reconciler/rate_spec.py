"""The client's rate-limit spec: `"480/minute,4800/hour"` → `Window`s. Pure; imports only `errors`.

Its own module so both `settings.py` (which checks `RECONCILER_RATE_LIMIT` before any request) and
`posthog/ratelimit.py` (which paces by it) can read it without importing each other.
Must not know: HTTP, threads, clocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconciler.errors import ConfigError

__all__ = ["DEFAULT_RATE_LIMIT", "Window", "parse_rate_limit"]

#: PostHog Cloud's personal-API-key throttles (reference/posthog-api.md §4).
DEFAULT_RATE_LIMIT = "480/minute,4800/hour"

_UNITS = {
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}  # fmt: skip
_UNIT_NAMES = {1.0: "second", 60.0: "minute", 3600.0: "hour", 86400.0: "day"}
_PART = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Window:
    """At most `limit` requests in any `seconds`-long interval."""

    limit: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.limit}/{self.seconds:g}s"

    def describe(self) -> str:
        return f"{self.limit} requests per {self.seconds:g} s"

    def label(self) -> str:
        """As the spec is written: `480/minute`, `4800/hour`; `10/5s` for a window that is not one unit."""
        unit = _UNIT_NAMES.get(self.seconds)
        return f"{self.limit}/{unit}" if unit else f"{self.limit}/{self.seconds:g}s"


def parse_rate_limit(spec: str) -> tuple[Window, ...]:
    """`"480/minute,4800/hour"` → windows; `"off"` (or `"none"`, `""`) → no limit.

    A unit may carry a count (`"10/5s"`: 10 requests per 5 seconds). Raises ConfigError on anything else.
    """
    text = spec.strip().lower()
    if text in ("", "off", "none", "0"):
        return ()
    windows = []
    for part in text.split(","):
        match = _PART.match(part)
        if match is None or match.group(3) not in _UNITS:
            raise ConfigError(
                f"invalid rate limit {spec!r}",
                hint="write it as N/unit[,N/unit], e.g. '480/minute,4800/hour' (units: second, minute, hour, day)",
                reference="bad-rate-limit",
            )
        limit = int(match.group(1))
        seconds = float(match.group(2) or 1) * _UNITS[match.group(3)]
        if limit <= 0 or seconds <= 0:
            raise ConfigError(
                f"invalid rate limit {spec!r}: counts and periods must be positive", reference="bad-rate-limit"
            )
        windows.append(Window(limit, seconds))
    return tuple(windows)
