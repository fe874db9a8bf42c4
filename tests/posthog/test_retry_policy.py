"""Retry decisions as a table: error class × replay safety × attempt → retry / fail / ambiguous."""

from __future__ import annotations

import pytest

from reconciler.errors import (
    ApiError,
    ApiUnavailable,
    DeadlineExceeded,
    NotFound,
    PermissionDenied,
    RateLimited,
    Rejected,
    RequestNotSent,
    ServerError,
)
from reconciler.posthog.retry import Decision, Outcome, Replay, RetryPolicy, decide

POLICY = RetryPolicy(max_attempts=3, backoff_base=1.0, backoff_cap=8.0, max_wait=60.0, jitter=lambda: 0.0)
DROPPED = ApiUnavailable("GET /x/: request did not complete (RemoteProtocolError)")
REFUSED = RequestNotSent("GET /x/: could not connect (ConnectError)")
BOOM = ServerError(502, "Bad Gateway")
TRICKLED = DeadlineExceeded("GET /x/: no complete answer within 120 s")


def limited(after: float | None) -> RateLimited:
    return RateLimited(429, "Request was throttled.", retry_after=after)


@pytest.mark.parametrize(
    ("error", "replay", "attempt", "expected"),
    [
        # idempotent calls: retry 5xx and network failures with backoff, until attempts run out
        (BOOM, Replay.ALWAYS, 1, Decision(Outcome.RETRY, 0.5)),
        (BOOM, Replay.ALWAYS, 2, Decision(Outcome.RETRY, 1.0)),
        (BOOM, Replay.ALWAYS, 3, Decision(Outcome.FAIL)),
        (DROPPED, Replay.ALWAYS, 1, Decision(Outcome.RETRY, 0.5)),
        (REFUSED, Replay.ALWAYS, 2, Decision(Outcome.RETRY, 1.0)),
        # create / reload: only what provably never arrived is sent again
        (REFUSED, Replay.IF_NOT_SENT, 1, Decision(Outcome.RETRY, 0.5)),
        (REFUSED, Replay.IF_NOT_SENT, 3, Decision(Outcome.FAIL)),
        (DROPPED, Replay.IF_NOT_SENT, 1, Decision(Outcome.AMBIGUOUS)),
        (BOOM, Replay.IF_NOT_SENT, 1, Decision(Outcome.AMBIGUOUS)),
        # 429: wait what the server said, for every worker; safe for creates (throttled before the view)
        (limited(7.0), Replay.IF_NOT_SENT, 1, Decision(Outcome.RETRY, 7.0, server_pause=True)),
        (limited(None), Replay.ALWAYS, 2, Decision(Outcome.RETRY, 1.0, server_pause=True)),
        # a wait longer than the cap is never waited, whatever attempt it is (Retry-After: 299)
        (limited(61.0), Replay.ALWAYS, 1, Decision(Outcome.WAIT_TOO_LONG, 61.0)),
        (limited(299.0), Replay.IF_NOT_SENT, 3, Decision(Outcome.WAIT_TOO_LONG, 299.0)),
        (limited(60.0), Replay.ALWAYS, 1, Decision(Outcome.RETRY, 60.0, server_pause=True)),
        (limited(1.0), Replay.ALWAYS, 3, Decision(Outcome.FAIL)),
        # a request that overran its total deadline is not sent again (ambiguous for a create)
        (TRICKLED, Replay.ALWAYS, 1, Decision(Outcome.FAIL)),
        (TRICKLED, Replay.IF_NOT_SENT, 1, Decision(Outcome.AMBIGUOUS)),
        # the server said no: never retried
        (Rejected(400, "Prefix already exists"), Replay.ALWAYS, 1, Decision(Outcome.FAIL)),
        (NotFound(404, "Not found."), Replay.ALWAYS, 1, Decision(Outcome.FAIL)),
        (PermissionDenied(403, "nope"), Replay.ALWAYS, 1, Decision(Outcome.FAIL)),
        (ApiError("odd body"), Replay.ALWAYS, 1, Decision(Outcome.FAIL)),
    ],
)
def test_decide(error: ApiError, replay: Replay, attempt: int, expected: Decision) -> None:
    assert decide(error, replay=replay, attempt=attempt, policy=POLICY) == expected


def test_backoff_grows_caps_and_jitters() -> None:
    low = RetryPolicy(backoff_base=0.5, backoff_cap=30.0, jitter=lambda: 0.0)
    high = RetryPolicy(backoff_base=0.5, backoff_cap=30.0, jitter=lambda: 0.999999)
    assert [low.backoff(n) for n in range(1, 9)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert [round(high.backoff(n), 3) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_no_backoff_is_longer_than_the_wait_cap() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=30.0, max_wait=4.0, jitter=lambda: 0.999999)
    assert max(policy.backoff(n) for n in range(1, 12)) <= 4.0


def test_default_jitter_stays_in_bounds() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=30.0)
    waits = {policy.backoff(3) for _ in range(200)}
    assert all(2.0 <= w < 4.0 for w in waits)
    assert len(waits) > 1
