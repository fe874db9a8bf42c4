"""Traffic control for the emulator as one pure-ASGI middleware: request statistics, latency, fault
injection and PostHog's per-key rate limit, applied to `/api/` requests only (never to `/_emulator/`).

Order for each `/api/` request (text for docs/emulator.md):
1. count it in the stats (every request that reached the server, whatever answers it);
2. sleep `latency_ms`;
3. pick the first fault rule that matches (method, path regex) and has firings left. A rule without
   `after_commit` is counted at once, sleeps its `delay_ms` and answers without calling the app; an
   `after_commit` rule with a delay reads the request body first, then sleeps (so the write still commits
   after a client timed out);
4. the rate limit (reference/posthog-api.md §4), only for requests a route serves and that carry a key the
   emulator knows (PostHog throttles after authentication and only personal-API-key requests); a throttled
   request does not use up an `after_commit` rule;
5. the app; with an `after_commit` rule its response is discarded (the write committed) and the fault answers.

Owns no routes and no storage. `TrafficControl` is the shared, thread-safe state the control API edits.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.emulator.traffic.faults import DROP_CONNECTION, FaultBook, FaultRule, fault_response
from reconciler.emulator.traffic.ratelimit import RateLimiter, parse_rate_limit, throttled_body
from reconciler.emulator.traffic.stats import RequestStats, route_template
from reconciler.errors import ConfigError

__all__ = ["API_PREFIX", "TrafficControl", "TrafficMiddleware", "drop_connection", "presented_key"]

API_PREFIX = "/api/"
#: How long a dropped connection waits for the server to notice its own close before giving up.
_DROP_TIMEOUT_S = 5.0

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class TrafficControl:
    """Everything the middleware and the control API share. `limiter` None = no rate limit."""

    limiter: RateLimiter | None = None
    latency_ms: int = 0
    faults: FaultBook = field(default_factory=FaultBook)
    stats: RequestStats = field(default_factory=RequestStats)
    sleep: Sleep = anyio.sleep

    @classmethod
    def from_options(
        cls, *, rate_limit: str | None = None, latency_ms: int = 0, clock: Callable[[], float] = time.monotonic
    ) -> TrafficControl:
        """From the server's `--rate-limit SPEC` and `--latency-ms N`; a bad spec is a ConfigError."""
        if isinstance(latency_ms, bool) or latency_ms < 0:
            raise ConfigError(f"invalid --latency-ms {latency_ms}: must be an integer >= 0")
        limiter = None if rate_limit is None else RateLimiter(parse_rate_limit(rate_limit), clock)
        return cls(limiter=limiter, latency_ms=latency_ms)

    def settings(self) -> dict[str, Any]:
        """The server settings the control API shows next to the stats."""
        limiter = self.limiter
        return {
            "rate_limit": None if limiter is None else ",".join(rate.text for rate in limiter.rates),
            "latency_ms": self.latency_ms,
        }


def presented_key(scope: Scope) -> str | None:
    """The personal API key PostHog's throttle keys on: the Bearer token, else `?personal_api_key=`.
    PostHog's `find_key_with_source(request, request_data={})` ignores a key in the body here (§2, §4)."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    raw_query: bytes = scope.get("query_string", b"")
    values = parse_qs(raw_query.decode("latin-1")).get("personal_api_key")
    return values[0] if values else None


async def drop_connection(receive: Receive, *, body_read: bool = False) -> None:
    """Close the client's connection without a response (a crashed or reset upstream).

    Under uvicorn, `receive` is a method of its per-request cycle, which holds the asyncio transport: read
    the rest of the request body (closing on unread data would make the kernel send a reset instead of a
    clean close, and the client's error would depend on timing), close the transport, then wait until
    uvicorn sees the disconnect so it neither logs nor sends its own 500. httpx then raises
    `RemoteProtocolError("Server disconnected without sending a response.")`. Any other server (or an
    in-process client) gets that same httpx error raised instead, so an httpx client sees one class."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not callable(getattr(transport, "close", None)):
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    with anyio.move_on_after(_DROP_TIMEOUT_S):
        while not body_read:
            message = await receive()
            body_read = message["type"] == "http.disconnect" or not message.get("more_body", False)
    transport.close()
    with anyio.move_on_after(_DROP_TIMEOUT_S):
        while (await receive())["type"] != "http.disconnect":
            pass


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; the returned `receive` replays it, then defers to the original."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


async def _send_fault(rule: FaultRule, receive: Receive, send: Send, *, body_read: bool = False) -> None:
    if rule.status == DROP_CONNECTION:
        await drop_connection(receive, body_read=body_read)
        return
    response = fault_response(rule)
    headers = [*response.headers, (b"content-length", str(len(response.body)).encode())]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _send_throttled(wait: float, send: Send) -> None:
    # §4: drf-exceptions-hog body, and no Retry-After header.
    body = json.dumps(throttled_body(wait), separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TrafficMiddleware:
    """Pure ASGI middleware. Works outside Starlette (`TrafficMiddleware(app, control=...)`) or inside it
    (`Starlette(middleware=[Middleware(TrafficMiddleware, control=...)])`).

    `routes`: the route table for stats and throttling; default: `scope["app"].routes` (set by Starlette)
    or, when wrapping from outside, `app.routes`. `is_known_key`: only requests whose key passes are
    throttled (PostHog authenticates before throttling); default: any key."""

    def __init__(
        self,
        app: ASGIApp,
        control: TrafficControl,
        *,
        routes: Sequence[BaseRoute] | None = None,
        is_known_key: Callable[[str], bool] | None = None,
    ) -> None:
        self.app = app
        self.control = control
        self._routes = routes if routes is not None else getattr(app, "routes", None)
        self._is_known_key = is_known_key

    def _route_table(self, scope: Scope) -> Sequence[BaseRoute]:
        if self._routes is not None:
            return self._routes
        routes: Sequence[BaseRoute] = getattr(scope.get("app"), "routes", [])
        return routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        control = self.control
        method: str = scope["method"]
        template = route_template(self._route_table(scope), scope)
        control.stats.record(method, template)

        if control.latency_ms:
            await control.sleep(control.latency_ms / 1000)

        rule = control.faults.select(method, scope["path"])
        if rule is not None and not rule.after_commit:
            # Counted when chosen, before any delay: `times: 1` delays one request, not all that arrive
            # while it sleeps.
            if control.faults.consume(rule):
                if rule.delay_ms:
                    await control.sleep(rule.delay_ms / 1000)
                control.stats.record_faulted()
                await _send_fault(rule, receive, send)
                return
            rule = None
        app_receive = receive
        if rule is not None and rule.delay_ms:
            # Read the body before sleeping, so the write still commits after the client has given up (the
            # ambiguous create a client must survive); otherwise the server sees the disconnect first.
            app_receive = await _buffered(receive)
            await control.sleep(rule.delay_ms / 1000)

        key = presented_key(scope)
        if (
            control.limiter is not None
            and template is not None
            and key is not None
            and (self._is_known_key is None or self._is_known_key(key))
        ):
            wait = control.limiter.check(key)
            if wait is not None:
                control.stats.record_throttled()
                await _send_throttled(wait, send)
                return

        if rule is not None and rule.after_commit and control.faults.consume(rule):
            body_read = await self._run_discarding(scope, app_receive) or app_receive is not receive
            control.stats.record_faulted()
            await _send_fault(rule, receive, send, body_read=body_read)
            return
        await self.app(scope, app_receive, send)

    async def _run_discarding(self, scope: Scope, receive: Receive) -> bool:
        """Run the real endpoint (its write commits) and throw its response away; True when it read the
        whole request body. A crash in the app is swallowed too: the fault answers either way."""
        body_read = False

        async def watch() -> Message:
            nonlocal body_read
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                body_read = True
            return message

        async def discard(message: Message) -> None:
            return None

        with contextlib.suppress(Exception):
            await self.app(scope, watch, discard)
        return body_read
