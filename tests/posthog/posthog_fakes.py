"""Fakes for the client-layer tests: a clock whose sleep advances time, and scripted HTTP handlers.

A uniquely named module (not conftest) so tests import it without clashing with other test folders."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from reconciler.posthog.client import PostHogClient, build_http_client
from reconciler.posthog.ratelimit import RateLimiter
from reconciler.posthog.retry import RetryPolicy
from reconciler.secret import Secret

KEY = "phx_canary_KEY_7f3a9c"  # a canary: must never show up in any repr, log line or error text
BASE = "https://ph.example.com"


class FakeClock:
    """Monotonic time that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """An httpx.MockTransport handler that plays `steps` in order and records every request."""

    def __init__(self, steps: Iterable[Step] = ()) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.steps:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: FakeClock,
    *,
    windows: str = "off",
    max_attempts: int = 5,
    api_path: str = "projects",
    page_size: int = 1000,
) -> PostHogClient:
    http = build_http_client(BASE, Secret("POSTHOG_PERSONAL_API_KEY", KEY), transport=httpx.MockTransport(handler))
    limiter = RateLimiter(windows, clock=clock.time, sleep=clock.sleep)
    policy = RetryPolicy(max_attempts=max_attempts, sleep=clock.sleep, jitter=lambda: 0.5)
    return PostHogClient(http, limiter, policy, project="42", api_path=api_path, page_size=page_size, owns_http=True)
