"""Bounds httpx does not put on one request: a total deadline, and a cap on the size of the answer.

httpx times out each read, so a silent server is bounded; but a server that sends one byte every few seconds never
trips a per-read timeout and holds a request forever, and an answer is read whole into memory however large it is
(both seen in the wild of hostile or broken proxies). Here:

* `request_deadline(seconds)`: while it is active, every connect, read and write of the calling thread's request
  gets at most the time left, so the request ends by then whatever the server does (status line and headers
  included). `bound_by_deadline(http)` installs that at the socket layer of an httpx client's connection pools;
* `read_capped(response, limit)`: reads a streamed response's decoded body in chunks and stops past `limit`
  bytes, so a huge (or gzip-bombed) answer costs at most the cap;
* `send_bounded(http, request, ...)`: both, around one request, with httpx's exceptions translated into ours
  (`translate_transport_errors`, the one place that happens).

Knows httpx and httpcore and how a failed connection is worded; nothing of PostHog's API. Only posthog/session.py
uses it.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from reconciler.errors import ApiUnavailable, DeadlineExceeded, RequestNotSent, ResponseTooLarge
from reconciler.loopback import is_loopback
from reconciler.posthog.errors import connect_failure
from reconciler.records import record

__all__ = [
    "Deadline",
    "bound_by_deadline",
    "read_capped",
    "request_deadline",
    "send_bounded",
    "translate_transport_errors",
]

log = logging.getLogger("reconciler.posthog")
_state = threading.local()


@record
class Deadline:
    seconds: float
    at: float  # time.monotonic() value

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at


@contextmanager
def request_deadline(seconds: float) -> Iterator[Deadline]:
    """Bound the calling thread's socket operations until the block ends to `seconds` from now, in total."""
    previous = getattr(_state, "deadline", None)
    deadline = Deadline(seconds, time.monotonic() + seconds)
    _state.deadline = deadline
    try:
        yield deadline
    finally:
        _state.deadline = previous


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout` cut to the time left before the thread's deadline; `expired` once none is left."""
    deadline: Deadline | None = getattr(_state, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline.at - time.monotonic()
    if left <= 0:
        raise expired(f"the request's total deadline of {deadline.seconds:g} s passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _bounded(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, _bounded(timeout, httpcore.ConnectTimeout), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bound_by_deadline(http: httpx.Client) -> int:
    """Make every connection pool of `http` honour `request_deadline`; returns how many pools it reached.

    httpx offers no total timeout and no public way to hand its pools a network backend, so this wraps the
    backend of the pools httpx built (its default transport and any proxy mounts from the environment).
    tests/reliability/test_hostile_servers.py fails if an httpx upgrade moves them.
    """
    transports = [getattr(http, "_transport", None), *getattr(http, "_mounts", {}).values()]
    reached = 0
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend):
            if not isinstance(backend, _DeadlineBackend):
                pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
            reached += 1
    if not reached:
        log.warning("this httpx version hides its connection pools: requests have no total deadline")
    return reached


def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed `response`, decoded; `ResponseTooLarge` as soon as it passes `limit` bytes."""
    request = response.request
    where = f"{request.method} {request.url.path}"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(
            f"{where}: the answer is {int(declared)} bytes, more than the {limit} byte cap", hint=_HINT
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"{where}: the answer is larger than the {limit} byte cap", hint=_HINT)
        chunks.append(chunk)
    return b"".join(chunks)


_HINT = (
    "is --host pointing at PostHog? A project with very many sources and tables may need a higher "
    "RECONCILER_MAX_RESPONSE_MB"
)


_STREAM_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


@contextmanager
def translate_transport_errors(method: str, url: httpx.URL, deadline: Deadline) -> Generator[None, None, None]:
    """The one place httpx exceptions become reconciler errors. The request (and its body, which may hold
    secrets) is not chained: only the exception's class and text travel on. A failed connection names the
    URL tried (the host as reconciler understood it) and the likely fix."""
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        shown = str(url.copy_with(query=None))
        if isinstance(exc, httpx.ConnectError):
            cause, hint = connect_failure(shown, str(exc), loopback=is_loopback(url.host))
        else:
            cause, hint = f"{type(exc).__name__}: {exc}", "check --host / POSTHOG_HOST, the port and any firewall"
        raise RequestNotSent(f"{method} {shown}: could not connect: {cause}", hint=hint) from None
    except httpx.TimeoutException as exc:
        if not deadline.passed:
            raise ApiUnavailable(
                f"{method} {url.path}: request did not complete ({type(exc).__name__}: {exc})"
            ) from None
        raise DeadlineExceeded(
            f"{method} {url.path}: no complete answer within {deadline.seconds:g} s (the server answers too slowly)",
            hint="check --host; on a very slow link raise RECONCILER_REQUEST_DEADLINE",
        ) from None
    except httpx.HTTPError as exc:
        raise ApiUnavailable(
            f"{method} {url.path}: request did not complete ({type(exc).__name__}: {str(exc) or 'no detail'})"
        ) from None


def send_bounded(http: httpx.Client, request: httpx.Request, *, deadline: float, max_bytes: int) -> httpx.Response:
    """Send `request` and read its whole answer within `deadline` seconds and `max_bytes` (decoded), or raise
    one of our errors. The answer comes back as a plain response holding its body, already decoded."""
    with request_deadline(deadline) as bound, translate_transport_errors(request.method, request.url, bound):
        response = http.send(request, stream=True)
        try:
            content = read_capped(response, max_bytes)
        finally:
            response.close()
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _STREAM_HEADERS]
    reason = {"reason_phrase": response.extensions["reason_phrase"]} if "reason_phrase" in response.extensions else {}
    return httpx.Response(response.status_code, headers=headers, content=content, request=request, extensions=reason)
