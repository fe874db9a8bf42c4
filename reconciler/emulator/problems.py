"""Error responses of the emulator: one exception type handlers raise, one renderer for both PostHog families.

Family A is the DRF / drf-exceptions-hog body `{"type", "code", "detail", "attr"}`; family B is the ad-hoc
`{"message": ...}` of business rules (reference/posthog-api.md §3). Knows nothing of routes or storage.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["ApiProblem", "render_problem"]

#: drf-exceptions-hog's `type` per status (§3): 401 and 403 are both authentication errors.
_TYPE_BY_STATUS = {
    400: "validation_error",
    401: "authentication_error",
    403: "authentication_error",
    404: "invalid_request",
    405: "invalid_request",
    415: "invalid_request",
    429: "throttled_error",
    500: "server_error",
}


class ApiProblem(Exception):
    """An error response. Build it with `drf()` or `message()`; the exception handler renders `body`."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    @classmethod
    def drf(
        cls,
        status: int,
        detail: str,
        *,
        code: str = "invalid_input",
        attr: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> ApiProblem:
        """Family A. DRF's generic code `invalid` is always rewritten to `invalid_input` (§3)."""
        body = {
            "type": type or _TYPE_BY_STATUS.get(status, "validation_error"),
            "code": "invalid_input" if code == "invalid" else code,
            "detail": detail,
            "attr": attr,
        }
        return cls(status, body, headers)

    @classmethod
    def message(cls, text: str, status: int = 400) -> ApiProblem:
        """Family B: `{"message": text}` (§3 B)."""
        return cls(status, {"message": text})

    # Common DRF bodies, named once so their wording cannot drift between handlers.
    @classmethod
    def not_found(cls) -> ApiProblem:
        return cls.drf(404, "Not found.", code="not_found")

    @classmethod
    def endpoint_not_found(cls) -> ApiProblem:
        return cls.drf(404, "Endpoint not found.", code="not_found")

    @classmethod
    def method_not_allowed(cls, method: str) -> ApiProblem:
        return cls.drf(405, f'Method "{method}" not allowed.', code="method_not_allowed")

    @classmethod
    def required(cls, attr: str) -> ApiProblem:
        return cls.drf(400, "This field is required.", code="required", attr=attr)

    @classmethod
    def server_error(cls) -> ApiProblem:
        return cls.drf(500, "A server error occurred.", code="error")


def render_problem(request: Request, exc: Exception) -> Response:
    """The one exception handler body: render an ApiProblem as PostHog would."""
    assert isinstance(exc, ApiProblem)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)
