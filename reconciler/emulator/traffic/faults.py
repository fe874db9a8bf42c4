"""Fault rules for the emulator: parse and validate them, pick the rule a request triggers, count it down,
and build the response a failing server or proxy would give.

Pure data and bookkeeping, thread-safe; knows nothing of ASGI (the middleware sends what `fault_response`
returns) nor of routes (a rule's `path` is a regex searched in the URL path).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from reconciler.emulator.traffic.ratelimit import throttled_body

__all__ = [
    "DROP_CONNECTION",
    "FaultBook",
    "FaultResponse",
    "FaultRule",
    "FaultRuleError",
    "fault_response",
    "parse_fault_rules",
]

#: `status: 0` means: close the connection without answering.
DROP_CONNECTION = 0

_RULE_KEYS = frozenset({"method", "path", "status", "times", "after_commit", "delay_ms", "wait_seconds"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class FaultRuleError(ValueError):
    """A rule the control API refuses; `attr` names the field (e.g. `rules[0].status`)."""

    def __init__(self, message: str, attr: str | None) -> None:
        super().__init__(message)
        self.attr = attr


@dataclass(eq=False)
class FaultRule:
    """One rule. `method` None = any method; `path` None = any path; `times` None = forever.
    `remaining` counts down from `times`; `fired` counts every time the rule answered a request."""

    status: int
    method: str | None = None
    path: re.Pattern[str] | None = None
    times: int | None = None
    after_commit: bool = False
    delay_ms: int = 0
    wait_seconds: int = 1
    remaining: int | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        if self.remaining is None:
            self.remaining = self.times

    def matches(self, method: str, path: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path is None or self.path.search(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path.pattern if self.path is not None else None,
            "status": self.status,
            "times": self.times,
            "after_commit": self.after_commit,
            "delay_ms": self.delay_ms,
            "wait_seconds": self.wait_seconds,
            "remaining": self.remaining,
            "fired": self.fired,
        }


def _int(rule: dict[str, Any], name: str, attr: str, *, minimum: int, default: int | None) -> int | None:
    value = rule.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FaultRuleError(f"'{name}' must be an integer >= {minimum}.", attr)
    return value


def _parse_rule(raw: Any, where: str) -> FaultRule:
    if not isinstance(raw, dict):
        raise FaultRuleError("A rule must be an object.", where)
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise FaultRuleError(f"Unknown field {unknown[0]!r}; allowed: {', '.join(sorted(_RULE_KEYS))}.", where)
    if "status" not in raw:
        raise FaultRuleError("This field is required.", f"{where}.status")
    status = raw["status"]
    if isinstance(status, bool) or not isinstance(status, int) or not (status == 0 or 400 <= status <= 599):
        raise FaultRuleError("'status' must be 0 (drop the connection) or an HTTP status 400-599.", f"{where}.status")
    method = raw.get("method")
    if method is not None:
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise FaultRuleError(f"'method' must be one of {', '.join(sorted(_METHODS))} or null.", f"{where}.method")
        method = method.upper()
    pattern = raw.get("path")
    compiled: re.Pattern[str] | None = None
    if pattern is not None:
        if not isinstance(pattern, str):
            raise FaultRuleError("'path' must be a regular expression string or null.", f"{where}.path")
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise FaultRuleError(f"'path' is not a valid regular expression: {exc}.", f"{where}.path") from None
    after_commit = raw.get("after_commit", False)
    if not isinstance(after_commit, bool):
        raise FaultRuleError("'after_commit' must be true or false.", f"{where}.after_commit")
    times = _int(raw, "times", f"{where}.times", minimum=1, default=None)
    delay_ms = _int(raw, "delay_ms", f"{where}.delay_ms", minimum=0, default=0)
    wait_seconds = _int(raw, "wait_seconds", f"{where}.wait_seconds", minimum=0, default=1)
    return FaultRule(
        status=status,
        method=method,
        path=compiled,
        times=times,
        after_commit=after_commit,
        delay_ms=delay_ms or 0,
        wait_seconds=1 if wait_seconds is None else wait_seconds,
    )


def parse_fault_rules(payload: Any) -> list[FaultRule]:
    """`{"rules": [rule, ...]}` → rules, or FaultRuleError naming the first bad field."""
    if not isinstance(payload, dict) or not isinstance(payload.get("rules"), list):
        raise FaultRuleError('Expected {"rules": [...]}.', "rules")
    extra = sorted(set(payload) - {"rules"})
    if extra:
        raise FaultRuleError(f"Unknown field {extra[0]!r}.", extra[0])
    return [_parse_rule(raw, f"rules[{i}]") for i, raw in enumerate(payload["rules"])]


class FaultBook:
    """The active rules, in the order they were added. Exhausted rules stay listed (remaining 0)."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules.extend(rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._rules]

    def select(self, method: str, path: str) -> FaultRule | None:
        """The first rule that matches and has firings left; does not count it (see `consume`)."""
        with self._lock:
            return next((rule for rule in self._rules if rule.matches(method, path)), None)

    def consume(self, rule: FaultRule) -> bool:
        """Count one firing of `rule`; False when a concurrent request used its last one (or it was cleared)."""
        with self._lock:
            if not any(r is rule for r in self._rules) or (rule.remaining is not None and rule.remaining <= 0):
                return False
            if rule.remaining is not None:
                rule.remaining -= 1
            rule.fired += 1
            return True


@dataclass(frozen=True)
class FaultResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _proxy_page(status: int) -> bytes:
    # What a load balancer in front of PostHog answers (nginx/ALB style): HTML, not the API's JSON.
    title = f"{status} {HTTPStatus(status).phrase}"
    page = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
    return (page + "</body>\r\n</html>\r\n").encode()


def _drf_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    return {400: "validation_error", 401: "authentication_error", 403: "authentication_error"}.get(
        status, "invalid_request"
    )


def fault_response(rule: FaultRule) -> FaultResponse:
    """The response for a non-drop rule. 500 and 429 are the API's own drf-exceptions-hog bodies
    (reference/posthog-api.md §3, §4: no Retry-After); 502/503/504 are a proxy's HTML page; any other
    status gets a generic drf-shaped body."""
    status = rule.status
    if status in (502, 503, 504):
        return FaultResponse(status, [(b"content-type", b"text/html")], _proxy_page(status))
    if status == 429:
        body: dict[str, Any] = throttled_body(float(rule.wait_seconds))
    elif status == 500:
        body = {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}
    else:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:  # e.g. 499: valid in a rule, unknown to http.HTTPStatus
            phrase = "Error"
        body = {"type": _drf_type(status), "code": "error", "detail": f"{phrase}.", "attr": None}
    encoded = json.dumps(body, separators=(",", ":")).encode()  # compact, like DRF's JSONRenderer
    return FaultResponse(status, [(b"content-type", b"application/json")], encoded)
