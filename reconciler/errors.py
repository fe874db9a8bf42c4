"""The one error tree of reconciler. A leaf module: it imports nothing from the project.

    ReconcilerError                  anything the CLI reports as one message + exit 1
    ├── ManifestError                bad input: file:line:column, address, field, hint
    ├── ConfigError                  host / project / key settings missing or unsafe
    ├── PlanRefused                  protect, --max-deletes, stale saved plan, ...
    └── ApiError                     talking to PostHog failed
        ├── ApiUnavailable           never completed (network, timeout): retryable for idempotent calls
        │   ├── RequestNotSent       the connection was never made: nothing reached the server
        │   └── DeadlineExceeded     the answer did not complete within the request's total deadline
        ├── ResponseTooLarge         the answer is larger than the response-size cap
        ├── WaitTooLong              a wait (pacing, or one the server asked for) would pass the wait cap
        ├── AmbiguousCreate          a create may or may not have happened: re-list, match (type, prefix)
        └── ApiStatusError           the server said no (status, code, detail, attr)
            ├── RateLimited          429, with the seconds to wait
            ├── NotFound             404
            ├── PermissionDenied     401 / 403
            │   └── PersonalKeyNotAllowed   403: the action refuses personal API keys (bulk_update_schemas)
            ├── Rejected             400 and other 4xx
            └── ServerError          5xx

Every error carries a kebab-case `reference` (listed in docs) so users can look it up.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousCreate",
    "ApiError",
    "ApiStatusError",
    "ApiUnavailable",
    "ConfigError",
    "DeadlineExceeded",
    "ManifestError",
    "NotFound",
    "PermissionDenied",
    "PersonalKeyNotAllowed",
    "PlanRefused",
    "RateLimited",
    "ReconcilerError",
    "Rejected",
    "RequestNotSent",
    "ResponseTooLarge",
    "ServerError",
    "WaitTooLong",
]


class ReconcilerError(Exception):
    """Base of every error the CLI turns into one stderr message and exit code 1."""

    reference = "error"

    def __init__(self, message: str, *, hint: str | None = None, reference: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if reference is not None:
            self.reference = reference

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\n  hint: {self.hint}"


class ManifestError(ReconcilerError):
    """Invalid manifest input, located as precisely as we can."""

    reference = "invalid-manifest"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        address: str | None = None,
        field: str | None = None,
        hint: str | None = None,
        reference: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, reference=reference)
        self.file = file
        self.line = line
        self.column = column
        self.address = address
        self.field = field

    @property
    def location(self) -> str:
        """`file:line:column`, as much of it as is known."""
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        subject = ".".join(p for p in (self.address, self.field) if p)
        text = f"{self.location}: {subject + ': ' if subject else ''}{self.message}"
        return text if self.hint is None else f"{text}\n  hint: {self.hint}"


class ConfigError(ReconcilerError):
    reference = "bad-config"


class PlanRefused(ReconcilerError):
    reference = "plan-refused"


class ApiError(ReconcilerError):
    reference = "api-error"


class ApiUnavailable(ApiError):
    """The request never completed (connection refused/dropped, timeout). Safe to retry reads."""

    reference = "api-unavailable"


class RequestNotSent(ApiUnavailable):
    """The connection could not be made (refused, connect timeout, pool timeout): the server never saw
    the request, so even a create may be sent again."""

    reference = "api-unreachable"


class DeadlineExceeded(ApiUnavailable):
    """The server kept the request going past its total deadline (a trickling or stalled answer). Not retried:
    a server that cannot answer within minutes will not do better at once; a create is ambiguous."""

    reference = "deadline-exceeded"


class ResponseTooLarge(ApiError):
    """The answer was larger than the response-size cap; reading stopped there."""

    reference = "response-too-large"


class WaitTooLong(ApiError):
    """A single wait (client-side pacing) would be longer than the cap on any one wait."""

    reference = "wait-too-long"


class AmbiguousCreate(ApiError):
    """A create may or may not have happened (timeout after sending, dropped connection, 5xx).

    Never replayed blindly: re-list and look for (`source_type`, `prefix`) before deciding to create again.
    """

    reference = "ambiguous-create"

    def __init__(self, message: str, *, source_type: str, prefix: str | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.source_type = source_type
        self.prefix = prefix


class ApiStatusError(ApiError):
    """The server answered with an error status; fields come from either PostHog error family."""

    reference = "api-status"

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        attr: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        where = f"{method} {path}: " if method and path else ""
        # A proxy's page already starts with its status ("503 Service Unavailable"): do not say it twice.
        said = detail.removeprefix("HTTP ").startswith(str(status))
        super().__init__(f"{where}{'' if said else f'{status}: '}{detail}" + (f" (field {attr})" if attr else ""))
        self.status = status
        self.detail = detail
        self.code = code
        self.attr = attr
        self.method = method
        self.path = path


class RateLimited(ApiStatusError):
    reference = "rate-limited"

    def __init__(self, status: int, detail: str, *, retry_after: float | None = None, **kw: str | None) -> None:
        super().__init__(status, detail, **kw)
        self.retry_after = retry_after


class NotFound(ApiStatusError):
    reference = "not-found"


class PermissionDenied(ApiStatusError):
    reference = "permission-denied"


class PersonalKeyNotAllowed(PermissionDenied):
    """403 "This action does not support personal API key access": callers fall back to another call."""

    reference = "personal-key-not-allowed"


class Rejected(ApiStatusError):
    reference = "rejected"


class ServerError(ApiStatusError):
    """5xx: the server failed. Retryable for idempotent calls; ambiguous for a create."""

    reference = "server-error"
