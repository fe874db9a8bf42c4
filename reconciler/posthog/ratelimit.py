"""One client-side rate limiter for several windows, shared by every worker thread of a run.

It paces requests (blocks the caller) so the server never has to answer 429. Pure timing logic: it knows
nothing of HTTP; the clock and sleep are injectable so tests run on a fake clock.

PostHog throttles personal-API-key traffic at 480/minute and 4800/hour per key (reference/posthog-api.md §4)
with DRF's `SimpleRateThrottle`: a sliding log of request times per window. We keep the same log, so a
request we let through is one the server would let through too, padded by `margin` seconds because the
server stamps a request when it arrives, not when we sent it.

A pacing wait longer than `max_wait` (the hourly budget used up) raises `WaitTooLong` instead of stalling the run
silently for up to an hour. A wait of `ANNOUNCE_AFTER` seconds or more is announced, once per wait whatever the
number of workers held by it: `PostHog rate limit: waiting 56 s (480/minute)` for our own pacing,
`PostHog rate limit: waiting 5 s (PostHog answered 429 to list_sources)` for a server pause (a warning on the
`reconciler.posthog` logger, which the CLI prints on stderr).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from reconciler.errors import WaitTooLong
from reconciler.rate_spec import DEFAULT_RATE_LIMIT, Window, parse_rate_limit

__all__ = ["ANNOUNCE_AFTER", "RateLimiter"]

_log = logging.getLogger("reconciler.posthog")
#: Waits at least this long are announced (shorter ones are ordinary pacing, not worth a line on stderr).
ANNOUNCE_AFTER = 5.0
#: A wait ending within this many seconds of an announced one is that wait (another worker held by it).
_SAME_WAIT = 1.0


class RateLimiter:
    """Thread-safe sliding-log limiter over several windows; `acquire()` blocks until a request may go.

    Also honours a server-imposed pause (`pause(seconds)` after a 429): the bucket is per key, so every
    worker waits, not just the one that was throttled. The retry policy has already held such a pause to the
    wait cap; `max_wait` bounds the limiter's own pacing waits.
    """

    def __init__(
        self,
        windows: Sequence[Window] | str = DEFAULT_RATE_LIMIT,
        *,
        margin: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = math.inf,
    ) -> None:
        self.windows: tuple[Window, ...] = parse_rate_limit(windows) if isinstance(windows, str) else tuple(windows)
        self._margin = margin
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait
        self._lock = threading.Lock()
        self._logs: list[deque[float]] = [deque() for _ in self.windows]
        self._paused_until = float("-inf")
        self._announced_until = float("-inf")  # the end of the last wait announced: workers share one wait
        self.total_wait = 0.0  # seconds spent blocked, summed over every caller (for reports/benchmarks)

    def __repr__(self) -> str:
        return f"RateLimiter({', '.join(map(str, self.windows)) or 'off'})"

    def acquire(self) -> float:
        """Block until one more request fits in every window, record it, and return the seconds waited."""
        waited = 0.0
        announced = False
        while True:
            with self._lock:
                now = self._clock()
                wait, window = self._wait_needed(now)
                if wait <= 0:
                    for log in self._logs:
                        log.append(now)
                    self.total_wait += waited
                    return waited
            if window is not None and wait > self._max_wait:
                raise WaitTooLong(
                    f"the request budget of {window.describe()} (RECONCILER_RATE_LIMIT) is used up: the next request "
                    f"may go in {wait:.0f} s, longer than the {self._max_wait:g} s this run waits at once",
                    hint=f"set RECONCILER_MAX_WAIT to {math.ceil(wait)} or more to wait for it, or run again later",
                )
            if window is not None and wait >= ANNOUNCE_AFTER and not announced:
                self._announce(now, wait, window.label())
                announced = True
            # Sleep outside the lock so other workers can compute their own waits meanwhile.
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float, why: str = "PostHog answered 429") -> None:
        """Hold every caller back for `seconds` from now (the server told us when it will accept again);
        announced as a wait on PostHog's rate limit, `why` in the parentheses."""
        with self._lock:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + seconds)
        self._announce(now, seconds, why)

    def _announce(self, now: float, wait: float, why: str) -> None:
        """Announce a wait of ANNOUNCE_AFTER seconds or more, unless it ends within an announced one (other
        workers held by the same window or pause, a second 429 of the same burst)."""
        if wait < ANNOUNCE_AFTER:
            return
        with self._lock:
            if now + wait <= self._announced_until + _SAME_WAIT:
                return
            self._announced_until = now + wait
        _log.warning("PostHog rate limit: waiting %.0f s (%s)", wait, why)

    def _wait_needed(self, now: float) -> tuple[float, Window | None]:
        """Seconds until a request may go, and the window that holds it back (None: a server pause)."""
        wait, holder = self._paused_until - now, None
        for window, log in zip(self.windows, self._logs, strict=True):
            span = window.seconds + self._margin
            while log and log[0] <= now - span:
                log.popleft()
            if len(log) >= window.limit:
                # The request may go when the oldest of the last `limit` requests leaves the window.
                until = log[len(log) - window.limit] + span - now
                if until > wait:
                    wait, holder = until, window
        return wait, holder
