"""What no request may do to the emulator, checked before any route runs, and how a JSON body is read.

A web page open in a browser can send requests to 127.0.0.1 (a form posting `text/plain` with the public
`phx_local` key in the query string needs no CORS preflight), so:

* a write (anything but GET, HEAD, OPTIONS) whose `Origin` header is not the emulator's own origin is refused,
  403, before it is routed or authenticated; clients that are not browsers (reconciler, curl) send no `Origin`;
* a request that reached a loopback address under a `Host` that is not a loopback name is refused, 403: a page
  whose own host name is made to resolve to 127.0.0.1 (DNS rebinding) would otherwise be same-origin;
* a request body over `MAX_BODY_BYTES` is refused, 413, without being read whole;
* a JSON body must say `Content-Type: application/json` (DRF's 415 otherwise, raised where the body is read,
  as DRF raises it when `request.data` is first used) and may nest at most `MAX_JSON_DEPTH` levels (400).

docs/emulator.md ("Requests the emulator refuses") says where this differs from PostHog.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.emulator.problems import ApiProblem
from reconciler.loopback import is_loopback

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "RequestGuard", "decode_json", "is_json_media_type"]

#: PostHog's Django setting DATA_UPLOAD_MAX_MEMORY_SIZE (20 MB): no API body of a source comes close.
MAX_BODY_BYTES = 20 * 1024 * 1024
#: A source's config nests a handful of levels (auth method → fields, SSH tunnel → auth); 64 is far beyond.
MAX_JSON_DEPTH = 64

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_json_media_type(content_type: str) -> bool:
    """DRF's JSONParser match: the media type is `application/json`, whatever its parameters (charset)."""
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _depth(value: Any) -> int:
    """How deeply `value` nests arrays and objects (a scalar is 0); iterative, so it cannot overflow."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def decode_json(raw: bytes, content_type: str) -> Any:
    """A non-empty request body as JSON: ApiProblem 415 unless it is declared `application/json`, 400
    (DRF's `parse_error`) when it is malformed or nests deeper than MAX_JSON_DEPTH."""
    if not is_json_media_type(content_type):
        raise ApiProblem.drf(415, f'Unsupported media type "{content_type}" in request.', code="unsupported_media_type")
    too_deep = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ApiProblem.drf(400, too_deep, code="parse_error", type="invalid_request") from None
    except ValueError as exc:
        raise ApiProblem.drf(400, f"JSON parse error - {exc}", code="parse_error", type="invalid_request") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise ApiProblem.drf(400, too_deep, code="parse_error", type="invalid_request")
    return data


def _own_origin(scope: Scope, headers: Headers) -> str:
    scheme = "https" if scope.get("scheme") == "https" else "http"
    return f"{scheme}://{headers.get('host', '')}".lower()


async def _refuse(scope: Scope, receive: Receive, send: Send, problem: ApiProblem) -> None:
    body = json.dumps(problem.body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if problem.status == 413:
        headers.append((b"connection", b"close"))  # the unread rest of the body must not be taken for a request
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _cross_origin(origin: str) -> ApiProblem:
    detail = (
        f"Cross-origin write from {origin} refused: the emulator takes writes only from clients that are not "
        "browsers, or from its own origin."
    )
    return ApiProblem.drf(403, detail, code="permission_denied")


def _rebound(scope: Scope, headers: Headers) -> ApiProblem | None:
    """403 when the connection came in on a loopback address but `Host` names something else."""
    server = scope.get("server")
    host = headers.get("host")
    if not server or host is None or not is_loopback(str(server[0])):
        return None
    try:
        name = urlsplit("//" + host).hostname or ""
    except ValueError:
        name = ""
    if is_loopback(name):
        return None
    detail = (
        f"Host {host} refused: on a loopback address the emulator answers only requests addressed to a loopback "
        "name (localhost, 127.0.0.1, [::1]); another name there is how a web page reaches it by DNS rebinding."
    )
    return ApiProblem.drf(403, detail, code="permission_denied")


def _too_large() -> ApiProblem:
    return ApiProblem.drf(
        413, f"Request body larger than {MAX_BODY_BYTES} bytes.", code="request_too_large", type="invalid_request"
    )


class _Replay:
    """`receive` for a body read ahead: its messages, then the original. Keeps the server cycle's `transport`
    reachable as `receive.__self__.transport`, which `traffic.middleware.drop_connection` closes."""

    def __init__(self, messages: list[Message], receive: Receive) -> None:
        self.messages = messages
        self.original = receive
        self.transport = getattr(getattr(receive, "__self__", None), "transport", None)

    async def receive(self) -> Message:
        return self.messages.pop(0) if self.messages else await self.original()


async def _read_capped(receive: Receive) -> list[Message] | None:
    """Every message of a body without Content-Length (chunked), or None once it passes MAX_BODY_BYTES."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if size > MAX_BODY_BYTES:
            return None
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return messages


class RequestGuard:
    """Pure ASGI middleware, outermost: a non-loopback `Host` on loopback and cross-origin writes → 403, bodies
    over MAX_BODY_BYTES → 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        rebound = _rebound(scope, headers)
        if rebound is not None:
            await _refuse(scope, receive, send, rebound)
            return
        origin = headers.get("origin")
        writes = scope["method"] not in _SAFE_METHODS
        if writes and origin is not None and origin.lower() != _own_origin(scope, headers):
            await _refuse(scope, receive, send, _cross_origin(origin))
            return
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > MAX_BODY_BYTES:
                await _refuse(scope, receive, send, _too_large())
                return
        elif writes:
            messages = await _read_capped(receive)
            if messages is None:
                await _refuse(scope, receive, send, _too_large())
                return
            receive = _Replay(messages, receive).receive
        await self.app(scope, receive, send)
