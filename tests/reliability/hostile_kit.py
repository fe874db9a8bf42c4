"""Small hostile HTTP servers on 127.0.0.1 for the security tests: a server that echoes what it was sent
back in its errors (raw, JSON-escaped, repr, URL-encoded, line by line, truncated prefixes), one that trickles
a byte every few seconds, one that answers with a huge body or a deeply nested JSON document, and one that
asks for `Retry-After: 299`. Requests no rule claims are forwarded to an upstream (an emulator), so a CLI
command can run against a real PostHog stand-in with one hostile route.

Stdlib `http.server` rather than Starlette: these servers must control every byte and every pause. Every
loop is bounded (bytes trickled, bytes sent, requests served), and a stopped server ends its loops, so a
test never leaves a thread spinning. Test-only.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

__all__ = [
    "ECHO_FORMS",
    "HostileServer",
    "Rule",
    "deep_json",
    "echo",
    "echo_forms",
    "hostile_server",
    "huge",
    "retry_after",
    "trickle",
]

#: Requests one server answers at most; past it, connections are closed unanswered.
MAX_REQUESTS = 2_000


@dataclass
class Exchange:
    """What one request looked like and what the behaviour did with it."""

    method: str
    target: str  # path and query, as requested
    body: bytes
    headers: dict[str, str]
    sent: int = 0  # response bytes written (body included)
    finished: bool = False  # the whole response was written

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.target).path


Behaviour = Callable[["_Handler", Exchange], None]


@dataclass
class Rule:
    """`behaviour` answers requests whose method matches and whose path `pattern` searches; `times` bounds
    how often (None: always)."""

    method: str
    pattern: str
    behaviour: Behaviour
    times: int | None = None
    used: int = 0

    def claims(self, method: str, path: str) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        return (self.method in ("*", method)) and re.search(self.pattern, path) is not None


@dataclass
class HostileServer:
    url: str
    rules: list[Rule]
    exchanges: list[Exchange] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def served(self, method: str, pattern: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.method == method and re.search(pattern, e.path)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile"
    sys_version = ""
    hostile: HostileServer
    upstream: str | None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(min(length, 16 * 1024 * 1024)) if length else b""
        exchange = Exchange(self.command, self.path, body, {k.lower(): v for k, v in self.headers.items()})
        if len(self.hostile.exchanges) >= MAX_REQUESTS:
            self.close_connection = True
            return
        self.hostile.exchanges.append(exchange)
        for rule in self.hostile.rules:
            if rule.claims(self.command, exchange.path):
                rule.used += 1
                rule.behaviour(self, exchange)
                return
        self._forward(exchange)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    # ---- writing --------------------------------------------------------------------------------------------

    def write(self, exchange: Exchange, data: bytes) -> bool:
        """Write `data`; False once the client has gone (the behaviour then stops)."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return False
        exchange.sent += len(data)
        return True

    def answer(
        self, exchange: Exchange, status: int, body: bytes, content_type: str, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"Content-Type: {content_type}"]
        head += [f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers)]
        if self.write(exchange, ("\r\n".join(head) + "\r\n\r\n").encode() + body):
            exchange.finished = True

    def _forward(self, exchange: Exchange) -> None:
        if self.upstream is None:
            self.answer(exchange, 404, b'{"detail": "Not found."}', "application/json")
            return
        headers = {k: v for k, v in exchange.headers.items() if k in ("authorization", "content-type", "accept")}
        with httpx.Client(base_url=self.upstream, timeout=30) as client:
            reply = client.request(exchange.method, exchange.target, content=exchange.body, headers=headers)
        self.answer(exchange, reply.status_code, reply.content, reply.headers.get("content-type", "text/plain"))


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Error"}


@contextmanager
def hostile_server(*rules: Rule, upstream: str | None = None) -> Iterator[HostileServer]:
    """Serve `rules` on 127.0.0.1 at a free port (forwarding the rest to `upstream`); stops every loop on exit."""
    handler = type("Handler", (_Handler,), {"upstream": upstream})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    hostile = HostileServer(f"http://127.0.0.1:{server.server_address[1]}", list(rules))
    handler.hostile = hostile
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hostile
    finally:
        hostile.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


# ---- behaviours ---------------------------------------------------------------------------------------------

#: How an echoing server may show a value it was sent. Each is something real servers do: print it, put it
#: in a JSON string (escaped again), log `repr()`, show a form body, print a multi-line value line by line,
#: or cut a long message short.
ECHO_FORMS: dict[str, Callable[[str], list[str]]] = {
    "raw": lambda v: [v],
    "json-escaped": lambda v: [json.dumps(v)],
    "json-escaped-ascii": lambda v: [json.dumps(v, ensure_ascii=True)[1:-1]],
    "repr": lambda v: [repr(v)],
    "url-encoded": lambda v: [urllib.parse.quote(v, safe=""), urllib.parse.quote_plus(v)],
    "lines": lambda v: v.splitlines(),
    "prefix": lambda v: [v[:8], v[: max(8, len(v) // 2)], v[:-1]],
}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def echo_forms(body: bytes, forms: Sequence[str]) -> str:
    """The echo text for a request `body`: the body as received, then every string field it holds in each form."""
    text = body.decode("utf-8", "replace")
    try:
        fields = _strings(json.loads(text)) if text else []
    except ValueError:
        fields = [text]
    parts = [f"received {text}"]
    for form in forms:
        for value in fields:
            parts += [f"{form}: {shown}" for shown in ECHO_FORMS[form](value)]
    return "\n".join(parts)


def echo(
    forms: Sequence[str] = tuple(ECHO_FORMS),
    *,
    status: int = 400,
    style: str = "drf",
    with_auth: bool = True,
) -> Behaviour:
    """An error that shows what was sent: every string field of the request body in every `form` (and the
    Authorization header). `style`: drf (`{"detail"}`), message (`{"message"}`), text, html."""

    def behave(handler: _Handler, exchange: Exchange) -> None:
        text = echo_forms(exchange.body, forms)
        if with_auth:
            auth = exchange.headers.get("authorization", "")
            text += "\nauthorization: " + "\n".join(f"{f} {s}" for f in forms for s in ECHO_FORMS[f](auth))
        if style == "drf":
            data = {"type": "validation_error", "code": "invalid_input", "detail": text, "attr": None}
            handler.answer(exchange, status, json.dumps(data).encode(), "application/json")
        elif style == "message":
            handler.answer(exchange, status, json.dumps({"message": text}).encode(), "application/json")
        elif style == "html":
            handler.answer(exchange, status, f"<html><pre>{text}</pre></html>".encode(), "text/html")
        else:
            handler.answer(exchange, status, text.encode(), "text/plain")

    return behave


def trickle(*, interval: float = 2.0, limit: int = 64, headers_too: bool = True) -> Behaviour:
    """A 200 that arrives one byte every `interval` seconds (from the status line on, or from the body with
    `headers_too=False`), at most `limit` bytes in all, then the connection closes unfinished."""

    def behave(handler: _Handler, exchange: Exchange) -> None:
        body = b'{"count": 0, "next": null, "previous": null, "results": []}' + b" " * limit
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        data = head + body
        if not headers_too:
            if not handler.write(exchange, head):
                return
            data = body
        for i in range(min(limit, len(data))):
            if handler.hostile.stop.wait(interval if i else 0) or not handler.write(exchange, data[i : i + 1]):
                break
        handler.close_connection = True

    return behave


def huge(size: int, *, chunk: int = 1 << 16, gzipped: bool = False) -> Behaviour:
    """A 200 JSON body of `size` bytes (a list page whose `results` never ends), written as fast as the client
    reads; `gzipped` sends it compressed (a few hundred KB on the wire)."""

    def behave(handler: _Handler, exchange: Exchange) -> None:
        opening = b'{"count": 1, "next": null, "results": [{"id": "'
        head = ["HTTP/1.1 200 OK", "Content-Type: application/json"]
        if gzipped:
            payload = gzip.compress(opening + b"a" * size, compresslevel=9)
            head += ["Content-Encoding: gzip", f"Content-Length: {len(payload)}"]
            handler.write(exchange, ("\r\n".join(head) + "\r\n\r\n").encode() + payload)
            handler.close_connection = True
            return
        head.append(f"Content-Length: {size}")
        if not handler.write(exchange, ("\r\n".join(head) + "\r\n\r\n").encode() + opening):
            return
        left = size - len(opening)
        block = b"a" * chunk
        while left > 0 and not handler.hostile.stop.is_set():
            if not handler.write(exchange, block[: min(chunk, left)]):
                break
            left -= min(chunk, left)
        exchange.finished = left <= 0
        handler.close_connection = True

    return behave


def deep_json(depth: int, *, status: int = 200) -> Behaviour:
    """A JSON document nested `depth` arrays deep (a parser that recurses per level runs out of stack)."""

    def behave(handler: _Handler, exchange: Exchange) -> None:
        handler.answer(exchange, status, b"[" * depth + b"]" * depth, "application/json")

    return behave


def retry_after(seconds: int, *, in_text: bool = True) -> Behaviour:
    """429 with `Retry-After: seconds` (and PostHog's "Expected available in N seconds" text)."""

    def behave(handler: _Handler, exchange: Exchange) -> None:
        detail = f"Request was throttled. Expected available in {seconds} seconds." if in_text else "Slow down."
        data = {"type": "throttled_error", "code": "throttled", "detail": detail, "attr": None}
        handler.answer(exchange, 429, json.dumps(data).encode(), "application/json", [("Retry-After", str(seconds))])

    return behave
