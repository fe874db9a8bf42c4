"""The shared limiter paces requests under every window, on a fake clock and across real threads."""

from __future__ import annotations

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
