"""When to try a PostHog call again, and how long to wait first. Pure decisions: no HTTP, no clock.

Which calls may be replayed (reference/posthog-api.md §8):

* `Replay.ALWAYS`: GET, PATCH, DELETE, and the POSTs that change nothing or converge —
  `database_schema` and `source_prefix` persist nothing (§8.9, §8.10), `refresh_schemas` is idempotent
  (a second call reports `added: 0`, §8.7). Retried on 5xx and on any network failure.
* `Replay.IF_NOT_SENT`: `create` (not idempotent, §11: a replay hits "Prefix already exists") and `reload`
  (each call triggers a sync). Retried only when the server provably never saw the request (connection
  refused, connect timeout) or throttled it (429 is decided before the view runs, §4). A failure after the
  request may have arrived is *ambiguous*: the caller must look before trying again.

No single wait is longer than `RetryPolicy.max_wait`: a server that asks for more (`Retry-After: 299`, the hourly
throttle) gets `Outcome.WAIT_TOO_LONG`, so a run fails with a clear message instead of stalling silently.
A request that overran its total deadline is not sent again: a server that trickles once trickles again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import field
from enum import Enum

from reconciler.errors import ApiError, ApiUnavailable, DeadlineExceeded, RateLimited, RequestNotSent, ServerError
from reconciler.records import record
from reconciler.settings import DEFAULT_MAX_WAIT

__all__ = ["Decision", "Outcome", "Replay", "RetryPolicy", "decide"]


class Replay(Enum):
    ALWAYS = "always"
    IF_NOT_SENT = "if-not-sent"


class Outcome(Enum):
    RETRY = "retry"  # wait `Decision.wait`, then send again
    FAIL = "fail"  # raise the error as it is
    AMBIGUOUS = "ambiguous"  # the call may have taken effect: raise, and let the caller re-read
    WAIT_TOO_LONG = "wait-too-long"  # the server asked for a wait (`Decision.wait`) longer than the cap


@record
class Decision:
    outcome: Outcome
    wait: float = 0.0
    #: The server throttled the key: every worker sharing it must hold back, not just this one (§4).
    server_pause: bool = False


@record
class RetryPolicy:
    """Attempts and waits. `sleep` and `jitter` are injectable so tests control time and jitter."""

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    #: No single wait is longer: a 429 asking for more (the hourly window can say ~an hour) fails instead of
    #: stalling CI, and a back-off is cut to it. RECONCILER_MAX_WAIT sets it (settings.py).
    max_wait: float = DEFAULT_MAX_WAIT
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)  # uniform [0, 1)

    def backoff(self, attempt: int) -> float:
        """Wait after the `attempt`-th failure: exponential, capped, with "equal jitter" (half fixed, half
        random) so workers that failed together do not come back together, yet never retry at once."""
        ceiling = min(self.backoff_cap, self.max_wait, self.backoff_base * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + self.jitter() * ceiling / 2


def decide(error: ApiError, *, replay: Replay, attempt: int, policy: RetryPolicy) -> Decision:
    """What to do after `attempt` (1-based) ended in `error`. Checks error classes, never messages."""
    attempts_left = attempt < policy.max_attempts
    if isinstance(error, RateLimited):
        # Throttling happens before the view runs (§4), so even a create is safe to send again.
        wait = error.retry_after if error.retry_after is not None else policy.backoff(attempt)
        if wait > policy.max_wait:
            return Decision(Outcome.WAIT_TOO_LONG, wait)
        if not attempts_left:
            return Decision(Outcome.FAIL)
        return Decision(Outcome.RETRY, wait, server_pause=True)
    if isinstance(error, RequestNotSent):
        # Nothing reached the server: any call may be sent again.
        return Decision(Outcome.RETRY, policy.backoff(attempt)) if attempts_left else Decision(Outcome.FAIL)
    if isinstance(error, DeadlineExceeded):
        return Decision(Outcome.FAIL if replay is Replay.ALWAYS else Outcome.AMBIGUOUS)
    if isinstance(error, ApiUnavailable | ServerError):
        if replay is not Replay.ALWAYS:
            return Decision(Outcome.AMBIGUOUS)
        return Decision(Outcome.RETRY, policy.backoff(attempt)) if attempts_left else Decision(Outcome.FAIL)
    return Decision(Outcome.FAIL)
