"""The request engine: one PostHog call sent with pacing, retries, a total deadline and error translation.

`Session.request(call)` is the only way a request leaves the client: it waits on the shared rate limiter,
sends within the deadline and size cap (`transport.py`), decides from `retry.py` whether to send again, wait,
pause every worker (429) or give up, and turns an error response into a typed error with every secret it sent
cut out. It knows a call's operation name, method, path, body and replay rule, nothing of which endpoint
means what (that is `client.py`'s job) and nothing of manifests or plans. Secret values are revealed only in
`Session._send_once`, where a request body becomes bytes.
"""

from __future__ import annotations

import logging
import math
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from reconciler import __version__
from reconciler.errors import ApiError, ConfigError, NotFound
from reconciler.posthog.errors import error_from_response
from reconciler.posthog.ratelimit import ANNOUNCE_AFTER, RateLimiter
from reconciler.posthog.retry import Decision, Outcome, Replay, RetryPolicy, decide
from reconciler.posthog.transport import bound_by_deadline, send_bounded
from reconciler.records import record
from reconciler.secret import Secret, SecretUnavailable, redact, reveal_all, secret_values
from reconciler.settings import DEFAULT_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES

__all__ = [
    "DEFAULT_TIMEOUT",
    "SLOW_DEADLINE_FACTOR",
    "SLOW_READ_TIMEOUT",
    "USER_AGENT",
    "BearerAuth",
    "Call",
    "RequestStats",
    "Session",
    "build_http_client",
]

log = logging.getLogger("reconciler.posthog")

USER_AGENT = f"reconciler/{__version__}"

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
#: Calls where PostHog talks to the upstream before answering (credential check, table discovery, §8.3,
#: §8.4 step 9, §8.7, §8.9) get a longer read timeout.
SLOW_READ_TIMEOUT = 120.0
#: The slow calls above may take this many times the total deadline (settings.py: RECONCILER_REQUEST_DEADLINE).
SLOW_DEADLINE_FACTOR = 2.5


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <key>`, revealed per request; httpx masks the header in every repr."""

    def __init__(self, key: Secret) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"BearerAuth({self.key!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.key.reveal()}"
        yield request


@dataclass
class RequestStats:
    """Requests sent (every attempt counts), by operation; thread-safe. For reports and benchmarks."""

    by_operation: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def record(self, operation: str, *, retry: bool) -> None:
        with self._lock:
            self.by_operation[operation] += 1
            self.retries += int(retry)
        self._local.count = getattr(self._local, "count", 0) + 1

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    @property
    def this_thread(self) -> int:
        """Requests sent by the calling thread (workers share one client: per-step attempt counts)."""
        return int(getattr(self._local, "count", 0))


@record
class Call:
    operation: str  # a name for logs and stats: "list_sources", "create_source", ...
    method: str
    url: str  # relative to the project (`external_data_sources/`), or absolute (a `next` link)
    params: Mapping[str, Any] | None = None
    body: Any = None  # may hold Secret values: revealed only when sent
    replay: Replay = Replay.ALWAYS
    slow: bool = False
    on_ambiguous: Callable[[ApiError], ApiError] | None = None
    #: A DELETE retried after an ambiguous failure may find the row already gone: that is success.
    gone_ok_on_retry: bool = False


def build_http_client(
    base_url: str,
    api_key: Secret | None,
    *,
    timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for one PostHog host: bearer auth, user agent, timeouts, no redirects.

    Redirects are not followed: a redirect to another origin would be a surprise we want to see. The client's
    connection pools honour `transport.request_deadline` (a scripted `transport` is left as it is).
    For an `http://` host no CA bundle is loaded (~20 ms of every start-up): every request stays on that origin
    (`next` links included, `Session.next_url`), and a context with no trusted CA would refuse any https peer.
    """
    http = httpx.Client(
        verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if httpx.URL(base_url).scheme == "http" else True,
        base_url=base_url,
        auth=BearerAuth(api_key) if api_key is not None else None,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        timeout=timeout,
        follow_redirects=False,
        transport=transport,
    )
    if transport is None:
        bound_by_deadline(http)
    return http


class Session:
    """Sends `Call`s for one client: pacing, retries, deadlines, error translation. Thread-safe (one per client,
    shared by every worker, as the limiter is). `stats` counts every attempt."""

    def __init__(
        self,
        http: httpx.Client,
        limiter: RateLimiter,
        retry_policy: RetryPolicy,
        *,
        base_path: str,
        deadline: float = DEFAULT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._http = http
        self._limiter = limiter
        self._retry = retry_policy
        self._base_path = base_path
        self._deadline = deadline
        self._max_response_bytes = max_response_bytes
        self.stats = RequestStats()

    def next_url(self, link: Any) -> str | None:
        """Our own origin with the `next` link's path and query (§5: next links are absolute).

        The key is never sent to another origin, and a proxy that reports an internal host or `http`
        scheme in the link does not matter.
        """
        if not link:
            return None
        target = httpx.URL(str(link))
        return str(self._http.base_url.copy_with(raw_path=target.raw_path))

    def _url(self, call: Call) -> str:
        return call.url if "://" in call.url else self._base_path + call.url

    def _send_once(self, call: Call) -> httpx.Response:
        url = self._url(call)
        try:
            body = reveal_all(call.body) if call.body is not None else None  # the one place secrets are revealed
        except SecretUnavailable as exc:
            raise ConfigError(
                f"{call.operation}: {exc}", hint=f"set {exc.name} in the environment", reference="secret-missing"
            ) from None
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        if call.slow:
            timeout = httpx.Timeout(SLOW_READ_TIMEOUT, connect=10.0)
        request = self._http.build_request(
            call.method, url, params=dict(call.params) if call.params else None, json=body, timeout=timeout
        )
        seconds = self._deadline * (SLOW_DEADLINE_FACTOR if call.slow else 1)
        return send_bounded(self._http, request, deadline=seconds, max_bytes=self._max_response_bytes)

    def request(self, call: Call) -> httpx.Response | None:
        """Send with pacing and retries. None only for a DELETE that a retry found already done."""
        attempt = 0
        while True:
            attempt += 1
            self._limiter.acquire()
            self.stats.record(call.operation, retry=attempt > 1)
            started = time.monotonic()
            try:
                response = self._send_once(call)
                elapsed = (time.monotonic() - started) * 1000
                log.debug(
                    "%s %s -> %d (%.0f ms, attempt %d)",
                    call.method,
                    response.url.path,
                    response.status_code,
                    elapsed,
                    attempt,
                )
                if response.is_success:
                    return response
                raise self._error(response, call)
            except ApiError as error:
                if isinstance(error, NotFound) and call.gone_ok_on_retry and attempt > 1:
                    return None
                decision = decide(error, replay=call.replay, attempt=attempt, policy=self._retry)
                if decision.outcome is Outcome.WAIT_TOO_LONG:
                    raise self._wait_too_long(error, decision) from None
                if decision.outcome is Outcome.RETRY:
                    self._announce_retry(call, error, decision, attempt)
                    if decision.server_pause:  # the next acquire() waits, for every worker; the limiter announces it
                        self._limiter.pause(decision.wait, f"PostHog answered 429 to {call.operation}")
                    else:
                        self._retry.sleep(decision.wait)
                    continue
                if decision.outcome is Outcome.AMBIGUOUS and call.on_ambiguous is not None:
                    raise call.on_ambiguous(error) from None
                raise

    def _announce_retry(self, call: Call, error: ApiError, decision: Decision, attempt: int) -> None:
        """Log the retry; a wait long enough to notice is a warning (the CLI prints those on stderr), except a
        server pause, which the limiter announces once for every worker it holds."""
        long = decision.wait >= ANNOUNCE_AFTER and not decision.server_pause
        level = logging.WARNING if long else logging.INFO
        why = "PostHog throttled the request (429)" if decision.server_pause else error.message
        log.log(
            level,
            "Waiting %.0f s before retrying %s (attempt %d of %d): %s",
            decision.wait,
            call.operation,
            attempt + 1,
            self._retry.max_attempts,
            why,
        )

    def _wait_too_long(self, error: ApiError, decision: Decision) -> ApiError:
        """The server asked for a wait past the cap: fail now, saying so, rather than stall the run."""
        cap = self._retry.max_wait
        error.hint = (
            f"PostHog asked to wait {decision.wait:.0f} s before the next request, longer than the {cap:g} s this "
            f"run waits at once; run again later, or set RECONCILER_MAX_WAIT to {math.ceil(decision.wait)} or more"
        )
        error.reference = "wait-too-long"
        return error

    def _error(self, response: httpx.Response, call: Call) -> ApiError:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        except RecursionError:
            body = "(an error body nested too deeply to read)"
        # A server or proxy that echoes what we sent (a password in a connection error, the Authorization
        # header in a debug page) must not carry it into our messages: cut every value we revealed, in every
        # form it may come back in (escaped, encoded, line by line, cut short; secret.redact).
        secrets = [*secret_values(call.body), *self._key_values()]
        try:
            shown = redact(body, secrets) if secrets else body
        except RecursionError:
            shown = "(an error body nested too deeply to read)"
        return error_from_response(
            response.status_code,
            shown,
            headers=response.headers,
            method=response.request.method,
            path=response.request.url.path,
            reason=response.reason_phrase,
            origin=f"{response.request.url.scheme}://{response.request.url.netloc.decode('ascii')}",
        )

    def _key_values(self) -> list[str]:
        auth = self._http.auth
        key = auth.key if isinstance(auth, BearerAuth) else None
        return [key.reveal()] if key is not None and key.available else []

    def json(self, call: Call) -> Any:
        response = self.request(call)
        if response is None or not response.content:
            return None
        try:
            data = response.json()
        except RecursionError:
            raise ApiError(
                f"{call.method} {response.url.path}: the server answered with JSON nested too deeply to read",
                hint="is --host pointing at PostHog?",
            ) from None
        except ValueError:
            raise ApiError(
                f"{call.method} {response.url.path}: the server answered {response.status_code} with a body that "
                "is not JSON",
                hint="is --host pointing at PostHog?",
            ) from None
        # An httpx response sits in reference cycles, which the CLI collects rarely (see cli.py): let go of its
        # body now, or a large list's 25 MB would stay in memory until the process ends.
        response.__dict__.pop("_content", None)
        return data
