"""Turn a PostHog error response into one typed `ApiStatusError`. Pure: status, headers and body in.

PostHog answers errors in three shapes (reference/posthog-api.md §3):

* A. drf-exceptions-hog: `{"type", "code", "detail", "attr"}` — validation, auth, 404, 429, PATCH errors;
* B. ad hoc `{"message": ...}` (sometimes with extra keys) — business rules in create, `source_prefix`,
  `database_schema`, `refresh_schemas`, `reload`; rarely `{"success": false, "error": ...}`;
* C. bare `{"detail": ...}` — schema `cancel`.

Anything else (an HTML 502 from a load balancer, a plain DRF field-error dict) is still reduced to a
status, a one-line detail and, when there is one, the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from reconciler.errors import (
    ApiStatusError,
    NotFound,
    PermissionDenied,
    PersonalKeyNotAllowed,
    RateLimited,
    Rejected,
    ServerError,
)

__all__ = ["connect_failure", "error_from_response", "parse_error_body", "parse_retry_after", "parse_throttle_wait"]

# DRF's throttle text; "second" is singular when the wait is 1 (§4).
_THROTTLE_WAIT = re.compile(r"Expected available in (\d+(?:\.\d+)?) seconds?\b")
# §2: the text PostHog uses when an action is not mapped to a personal-API-key scope.
_NO_PERSONAL_KEY = "does not support personal API key access"
_TAGS = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_TEXT = 200
#: PostHog's answer when the project id names no project the host knows (§1).
_NO_PROJECT = "Project not found."
_PROJECT_IN_PATH = re.compile(r"/api/(?:projects|environments)/([^/]+)/")


def parse_throttle_wait(detail: str) -> float | None:
    """Seconds from "Request was throttled. Expected available in N second(s).", or None."""
    match = _THROTTLE_WAIT.search(detail)
    return float(match.group(1)) if match else None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date. None when absent or unparseable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _one_line(text: str) -> str:
    """A text or HTML body as one short line: an HTML page's <title> when it has one (a proxy's error page
    repeats its title as the heading), else the text without tags."""
    title = _TITLE.search(text)
    flat = " ".join(_TAGS.sub(" ", title.group(1) if title else text).split())
    return flat if len(flat) <= _MAX_TEXT else flat[: _MAX_TEXT - 1] + "…"


def _no_project_hint(path: str, origin: str | None) -> str:
    match = _PROJECT_IN_PATH.search(path)
    project = f"project {match.group(1)}" if match else "the project"
    where = f" on {origin}" if origin else ""
    return (
        f"is there a {project}{where}? Check --project (or POSTHOG_PROJECT_ID, the manifest's project:) and "
        "--host (PostHog Cloud projects are on us.posthog.com or eu.posthog.com); the key's user must be a "
        "member of the project"
    )


def parse_error_body(body: Any, *, fallback: str) -> tuple[str, str | None, str | None]:
    """(detail, code, attr) from any of PostHog's error shapes; `fallback` when the body says nothing."""
    if isinstance(body, Mapping):
        if isinstance(body.get("detail"), str):  # A and C
            code, attr = body.get("code"), body.get("attr")
            return body["detail"], code if isinstance(code, str) else None, attr if isinstance(attr, str) else None
        if isinstance(body.get("message"), str):  # B
            return body["message"], None, None
        if isinstance(body.get("error"), str):  # B, {"success": false, "error": ...}
            return body["error"], None, None
        for key, value in body.items():  # plain DRF field errors: {"prefix": ["Ensure ..."]}
            first = value[0] if isinstance(value, list) and value else value
            if isinstance(first, str):
                return first, None, None if key == "non_field_errors" else str(key)
    if isinstance(body, list) and body and isinstance(body[0], str):  # DRF ValidationError(["..."])
        return body[0], None, None
    if isinstance(body, str) and body.strip():
        return _one_line(body), None, None
    return fallback, None, None


def error_from_response(
    status: int,
    body: Any,
    *,
    headers: Mapping[str, str] | None = None,
    method: str | None = None,
    path: str | None = None,
    reason: str = "",
    origin: str | None = None,
) -> ApiStatusError:
    """The typed error for one non-2xx response. `body` is the decoded JSON, or the raw text if not JSON;
    `origin` (scheme://host) is named in hints that are about the host."""
    detail, code, attr = parse_error_body(body, fallback=f"HTTP {status} {reason}".strip())
    where = {"code": code, "attr": attr, "method": method, "path": path}
    error: ApiStatusError
    if status == 429:
        retry_after = parse_retry_after((headers or {}).get("retry-after"))
        from_detail = parse_throttle_wait(detail)
        waits = [w for w in (retry_after, from_detail) if w is not None]
        error = RateLimited(status, detail, retry_after=max(waits) if waits else None, **where)
        error.hint = (
            "PostHog throttles each personal API key at 480/minute and 4800/hour, counting every program that "
            "uses it; wait, or lower RECONCILER_RATE_LIMIT"
        )
    elif status == 404:
        error = NotFound(status, detail, **where)
        if detail == _NO_PROJECT:
            error.hint = _no_project_hint(path or "", origin)
    elif status in (401, 403):
        if _NO_PERSONAL_KEY in detail:
            error = PersonalKeyNotAllowed(status, detail, **where)
        else:
            error = PermissionDenied(status, detail, **where)
            error.hint = (
                "check POSTHOG_PERSONAL_API_KEY"
                if status == 401
                else "the key needs the external_data_source:read/write scopes and access to this project"
            )
    elif status >= 500:
        error = ServerError(status, detail, **where)
    else:
        error = Rejected(status, detail, **where)
    return error


# ---- failures before any answer ------------------------------------------------------------------------

_TLS_MISMATCH = ("wrong version number", "record layer failure", "http request", "unexpected eof", "packet length")
_NO_NAME = ("name or service not known", "nodename nor servname", "name resolution", "getaddrinfo", "no address")
_REFUSED = ("connection refused", "actively refused", "errno 111", "errno 61")
_UNTRUSTED = ("certificate verify failed", "certificate_verify_failed")


def connect_failure(url: str, error_text: str, *, loopback: bool) -> tuple[str, str]:
    """(what went wrong, what to do) for a connection to `url` that failed with `error_text` (the transport's
    own words). The causes users meet: a typo in the host, nothing listening, TLS spoken to a plain-HTTP
    port (`--host 127.0.0.1:8010` means https://), and an untrusted certificate."""
    parts = urlsplit(url)
    netloc, host = parts.netloc, parts.hostname or parts.netloc
    text = error_text.lower()
    if parts.scheme == "https" and any(m in text for m in _TLS_MISMATCH):
        hint = (
            f"it answers in plain HTTP: use --host http://{netloc} (a bare host means https://)"
            if loopback
            else "is this PostHog's HTTPS port? a bare host means https://; plain http:// is only accepted "
            "for this machine"
        )
        return "the server does not speak TLS", hint
    if any(m in text for m in _UNTRUSTED):
        return "the server's TLS certificate is not trusted", (
            "check the host name; behind a TLS-inspecting proxy, point SSL_CERT_FILE at its CA bundle"
        )
    if any(m in text for m in _NO_NAME):
        return f"the host name {host!r} could not be resolved", (
            "check its spelling (PostHog Cloud is https://us.posthog.com or https://eu.posthog.com) and the "
            "network's DNS"
        )
    if any(m in text for m in _REFUSED):
        where = f"nothing listens on {netloc}"
        return "connection refused", where + (": is `reconciler serve` running?" if loopback else ": check the port")
    return error_text, "check --host / POSTHOG_HOST and the network"
