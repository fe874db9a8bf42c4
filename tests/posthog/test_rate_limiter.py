"""The shared limiter paces requests under every window, on a fake clock and across real threads."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from posthog_fakes import FakeClock

from reconciler.errors import ConfigError
from reconciler.posthog.ratelimit import RateLimiter
from reconciler.rate_spec import DEFAULT_RATE_LIMIT, Window, parse_rate_limit


@pytest.mark.parametrize(
    ("spec", "windows"),
    [
        ("480/minute,4800/hour", (Window(480, 60.0), Window(4800, 3600.0))),
        (" 10 / second ", (Window(10, 1.0),)),
        ("10/5s,100/h", (Window(10, 5.0), Window(100, 3600.0))),
        ("2/day", (Window(2, 86400.0),)),
        ("off", ()),
        ("", ()),
    ],
)
def test_parse(spec: str, windows: tuple[Window, ...]) -> None:
    assert parse_rate_limit(spec) == windows


@pytest.mark.parametrize("spec", ["480", "480/fortnight", "-1/minute", "0/minute", "abc", "480/0minute"])
def test_parse_rejects(spec: str) -> None:
    with pytest.raises(ConfigError, match="rate limit"):
        parse_rate_limit(spec)


def test_default_is_posthogs_limits() -> None:
    assert RateLimiter().windows == (Window(480, 60.0), Window(4800, 3600.0))
    assert DEFAULT_RATE_LIMIT == "480/minute,4800/hour"


def test_paces_under_the_minute_window(clock: FakeClock) -> None:
    limiter = RateLimiter("3/minute", margin=1.0, clock=clock.time, sleep=clock.sleep)
    start = clock.now
    times = []
    for _ in range(7):
        limiter.acquire()
        times.append(clock.now - start)
    # Three go at once; each next one waits until the oldest of the last three is 61 s old.
    assert times == [0, 0, 0, 61, 61, 61, 122]
    assert limiter.total_wait == pytest.approx(122) == sum(clock.sleeps)  # the 4th and the 7th waited


def test_every_window_is_honoured(clock: FakeClock) -> None:
    # 2 per 10 s and 3 per 100 s: the second window dominates after the third request.
    limiter = RateLimiter([Window(2, 10.0), Window(3, 100.0)], margin=0.0, clock=clock.time, sleep=clock.sleep)
    start = clock.now
    times = []
    for _ in range(5):
        limiter.acquire()
        times.append(round(clock.now - start, 6))
    assert times == [0, 0, 10, 100, 100]


def test_a_server_pause_holds_back_every_caller(clock: FakeClock) -> None:
    limiter = RateLimiter("off", clock=clock.time, sleep=clock.sleep)
    limiter.acquire()
    limiter.pause(7.0)
    limiter.pause(2.0)  # a shorter pause never shortens a longer one
    assert limiter.acquire() == pytest.approx(7.0)
    assert limiter.acquire() == 0.0


def test_no_window_never_waits(clock: FakeClock) -> None:
    limiter = RateLimiter("off", clock=clock.time, sleep=clock.sleep)
    for _ in range(1000):
        limiter.acquire()
    assert clock.sleeps == []


def test_shared_by_threads_never_exceeds_the_window() -> None:
    # Real clock and threads: 8 workers × 6 requests against 10 per 0.2 s.
    limiter = RateLimiter("10/0.2s", margin=0.0)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(6):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert len(stamps) == 48
    # Any 11 consecutive grants span at least one window (small slack for timer granularity).
    assert min(stamps[i + 10] - stamps[i] for i in range(len(stamps) - 10)) >= 0.2 - 0.005
    # ...and pacing is not gratuitously slow: 48 requests need 4 full windows, not much more.
    assert stamps[-1] - stamps[0] < 0.2 * 4 + 1.5  # generous: a loaded CI machine schedules threads late


def test_a_wait_is_announced_once_however_many_callers_it_holds(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RateLimiter("2/minute", margin=1.0, clock=clock.time, sleep=clock.sleep)
    limiter.acquire()
    limiter.acquire()
    arrived: list[float] = []
    second = iter([True])

    def sleep(seconds: float) -> None:
        if next(second, False):  # a second worker arrives while the first waits for the same window
            arrived.append(limiter.acquire())
        clock.sleep(seconds)

    limiter._sleep = sleep
    with caplog.at_level(logging.WARNING, logger="reconciler.posthog"):
        limiter.acquire()
        limiter.pause(30.0, "PostHog answered 429 to get_source")  # three workers throttled together
        limiter.pause(30.4, "PostHog answered 429 to get_source")
        limiter.pause(4.0, "PostHog answered 429 to get_source")  # short: not worth a line
        limiter.acquire()
        limiter.pause(30.0, "PostHog answered 429 to list_sources")  # a new wait, after the first ended
    assert arrived == [61.0]
    assert [r.getMessage() for r in caplog.records] == [
        "PostHog rate limit: waiting 61 s (2/minute)",
        "PostHog rate limit: waiting 30 s (PostHog answered 429 to get_source)",
        "PostHog rate limit: waiting 30 s (PostHog answered 429 to list_sources)",
    ]


@pytest.mark.parametrize(
    ("spec", "label"), [("480/minute,4800/hour", "480/minute 4800/hour"), ("10/5s,1/day", "10/5s 1/day")]
)
def test_windows_are_labelled_as_the_spec_is_written(spec: str, label: str) -> None:
    assert " ".join(w.label() for w in parse_rate_limit(spec)) == label
