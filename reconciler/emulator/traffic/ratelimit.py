"""PostHog's per-key API throttle, as DRF's `SimpleRateThrottle` computes it: parse `--rate-limit`, keep a
history of request times per (rate, key), answer "allowed" or "wait N seconds", and word the 429 body.

Pure bookkeeping with an injectable clock; knows nothing of ASGI (see `middleware.py`).
Facts from reference/posthog-api.md §4: burst 480/minute + sustained 4800/hour per personal API key,
429 in drf-exceptions-hog shape, no `Retry-After`.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.errors import ConfigError

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "Rate",
    "RateLimiter",
    "parse_rate_limit",
    "throttled_body",
    "throttled_detail",
]

#: PostHog Cloud's defaults (§4): BurstRateThrottle + SustainedRateThrottle.
DEFAULT_RATE_LIMIT = "480/minute,4800/hour"

_PERIODS: dict[str, int] = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_RATE = re.compile(r"\s*(\d+)\s*/\s*([a-z]+)\s*")
_SPEC_HELP = (
    "expected comma-separated N/PERIOD with PERIOD one of second, minute, hour, day (e.g. 480/minute,4800/hour)"
)


@dataclass(frozen=True)
class Rate:
    """One throttle: at most `num_requests` in any `duration` seconds (DRF's (num_requests, duration))."""

    num_requests: int
    duration: int
    text: str


def parse_rate_limit(spec: str) -> tuple[Rate, ...]:
    """`"480/minute,4800/hour"` → its rates; anything else is a ConfigError naming the bad part."""
    rates: list[Rate] = []
    for part in spec.split(","):
        match = _RATE.fullmatch(part.lower())
        if match is None or match.group(2) not in _PERIODS:
            shown = part.strip() or "(empty)"
            raise ConfigError(f"invalid --rate-limit {spec!r}: cannot read {shown!r}; {_SPEC_HELP}")
        count = int(match.group(1))
        if count < 1:
            raise ConfigError(f"invalid --rate-limit {spec!r}: {part.strip()!r} allows no request at all; use N >= 1")
        rates.append(Rate(count, _PERIODS[match.group(2)], part.strip()))
    return tuple(rates)


class RateLimiter:
    """Every rate is checked on every request, and each rate that allows it records it, even when another
    rate refuses (DRF's `check_throttles` asks all throttles). The wait is the longest of the refusing
    rates' `wait()`: `(duration - (now - oldest)) / (num_requests - len(history) + 1)`. Thread-safe."""

    def __init__(self, rates: tuple[Rate, ...], clock: Callable[[], float] = time.monotonic) -> None:
        self.rates = rates
        self._clock = clock
        self._lock = threading.Lock()
        self._history: dict[tuple[int, str], deque[float]] = {}

    def check(self, key: str) -> float | None:
        """Record a request by `key`. None: allowed. Otherwise the seconds to wait (always > 0)."""
        with self._lock:
            now = self._clock()
            waits: list[float] = []
            for index, rate in enumerate(self.rates):
                history = self._history.setdefault((index, key), deque())
                while history and history[0] <= now - rate.duration:  # oldest first here; DRF keeps newest first
                    history.popleft()
                if len(history) >= rate.num_requests:
                    # DRF divides by `num_requests - len(history) + 1`, which is 1 here: a history never
                    # outgrows its rate because refused requests are not recorded.
                    waits.append(rate.duration - (now - history[0]))
                else:
                    history.append(now)
            return max(waits) if waits else None

    def reset(self) -> None:
        """Forget every key's history (a fresh server)."""
        with self._lock:
            self._history.clear()


def throttled_detail(wait: float | None) -> str:
    """DRF's `Throttled` wording: the wait is rounded up; "second" when it is exactly 1 (§4)."""
    if wait is None:
        return "Request was throttled."
    seconds = math.ceil(wait)
    unit = "second" if seconds == 1 else "seconds"
    return f"Request was throttled. Expected available in {seconds} {unit}."


def throttled_body(wait: float | None) -> dict[str, Any]:
    """The whole 429 body, drf-exceptions-hog shape (§3 A, §4)."""
    return {"type": "throttled_error", "code": "throttled", "detail": throttled_detail(wait), "attr": None}
