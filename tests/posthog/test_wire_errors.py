"""Both PostHog error families (reference/posthog-api.md §3) become one typed ApiStatusError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.errors import (
    ApiStatusError,
    NotFound,
    PermissionDenied,
    PersonalKeyNotAllowed,
    RateLimited,
    Rejected,
    ServerError,
)
from reconciler.posthog.errors import error_from_response, parse_retry_after, parse_throttle_wait


@pytest.mark.parametrize(
    ("status", "body", "cls", "detail", "code", "attr"),
    [
        # A: drf-exceptions-hog
        (
            400,
            {
                "type": "validation_error",
                "code": "invalid_input",
                "detail": "Access method cannot be changed. Create a new source instead.",
                "attr": None,
            },
            Rejected,
            "Access method cannot be changed. Create a new source instead.",
            "invalid_input",
            None,
        ),
        (
            400,
            {
                "type": "validation_error",
                "code": "invalid_choice",
                "detail": '"web2" is not a valid choice.',
                "attr": "created_via",
            },
            Rejected,
            '"web2" is not a valid choice.',
            "invalid_choice",
            "created_via",
        ),
        (
            404,
            {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None},
            NotFound,
            "Not found.",
            "not_found",
            None,
        ),
        (
            401,
            {
                "type": "authentication_error",
                "code": "authentication_failed",
                "detail": "Personal API key found in request Authorization header is invalid.",
                "attr": None,
            },
            PermissionDenied,
            "Personal API key found in request Authorization header is invalid.",
            "authentication_failed",
            None,
        ),
        (
            403,
            {
                "type": "authentication_error",
                "code": "permission_denied",
                "detail": "API key missing required scope 'external_data_source:write'",
                "attr": None,
            },
            PermissionDenied,
            "API key missing required scope 'external_data_source:write'",
            "permission_denied",
            None,
        ),
        (
            403,
            {
                "type": "authentication_error",
                "code": "permission_denied",
                "detail": "This action does not support personal API key access",
                "attr": None,
            },
            PersonalKeyNotAllowed,
            "This action does not support personal API key access",
            "permission_denied",
            None,
        ),
        (
            500,
            {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None},
            ServerError,
            "A server error occurred.",
            "error",
            None,
        ),
        # B: ad hoc {"message"}
        (400, {"message": "Prefix already exists"}, Rejected, "Prefix already exists", None, None),
        (
            400,
            {"message": "Invalid source configuration", "details": {"x": 1}},
            Rejected,
            "Invalid source configuration",
            None,
            None,
        ),
        (400, {"success": False, "error": "Webhook failed"}, Rejected, "Webhook failed", None, None),
        # C: bare {"detail"}
        (400, {"detail": "No running sync to cancel."}, Rejected, "No running sync to cancel.", None, None),
        # not PostHog's shapes, still one line
        (
            400,
            {"prefix": ["Ensure this field has no more than 100 characters."]},
            Rejected,
            "Ensure this field has no more than 100 characters.",
            None,
            "prefix",
        ),
        (400, ["Schemas not given"], Rejected, "Schemas not given", None, None),
        (502, "<html><body><h1>502 Bad Gateway</h1>\n</body></html>", ServerError, "502 Bad Gateway", None, None),
        (503, "", ServerError, "HTTP 503 Service Unavailable", None, None),
    ],
)
def test_error_families(status: int, body: object, cls: type, detail: str, code: str | None, attr: str | None) -> None:
    reason = {503: "Service Unavailable"}.get(status, "")
    error = error_from_response(status, body, method="PATCH", path="/api/projects/1/x/", reason=reason)
    assert type(error) is cls
    assert isinstance(error, ApiStatusError)
    assert (error.status, error.detail, error.code, error.attr) == (status, detail, code, attr)
    # The status is said once: a proxy page or the fallback already starts with it.
    said = detail.removeprefix("HTTP ").startswith(str(status))
    assert str(error).startswith(f"PATCH /api/projects/1/x/: {'' if said else f'{status}: '}{detail}")


def test_a_proxy_page_is_read_from_its_title() -> None:
    page = (
        "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
        "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center></body></html>"
    )
    error = error_from_response(503, page, method="GET", path="/api/projects/1/x/")
    assert str(error) == "GET /api/projects/1/x/: 503 Service Temporarily Unavailable"


def test_project_not_found_names_the_project_and_host() -> None:
    body = {"type": "invalid_request", "code": "not_found", "detail": "Project not found.", "attr": None}
    error = error_from_response(
        404, body, method="GET", path="/api/projects/77/external_data_sources/", origin="https://eu.posthog.com"
    )
    assert error.hint is not None and error.hint.startswith("is there a project 77 on https://eu.posthog.com?")
    other = error_from_response(404, {"detail": "Not found."}, method="GET", path="/api/projects/77/x/")
    assert other.hint is None


def test_field_is_named_in_the_message() -> None:
    error = error_from_response(
        400,
        {
            "type": "validation_error",
            "code": "required",
            "detail": "This field is required.",
            "attr": "job_inputs__auth_method",
        },
    )
    assert str(error) == "400: This field is required. (field job_inputs__auth_method)"


@pytest.mark.parametrize(
    ("detail", "seconds"),
    [
        ("Request was throttled. Expected available in 37 seconds.", 37.0),
        ("Request was throttled. Expected available in 1 second.", 1.0),
        ("Request was throttled. Expected available in 2.5 seconds.", 2.5),
        ("Request was throttled.", None),
    ],
)
def test_throttle_wait_parsing(detail: str, seconds: float | None) -> None:
    assert parse_throttle_wait(detail) == seconds
    error = error_from_response(429, {"type": "throttled_error", "code": "throttled", "detail": detail, "attr": None})
    assert isinstance(error, RateLimited)
    assert error.retry_after == seconds


def test_retry_after_header_and_detail_take_the_longer_wait() -> None:
    body = {"type": "throttled_error", "code": "throttled", "detail": "Expected available in 3 seconds.", "attr": None}
    error = error_from_response(429, body, headers={"retry-after": "10"})
    assert isinstance(error, RateLimited) and error.retry_after == 10.0
    error = error_from_response(429, {"detail": "slow down"}, headers={"retry-after": "4"})
    assert isinstance(error, RateLimited) and error.retry_after == 4.0


def test_retry_after_http_date() -> None:
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 26 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


def test_hints_point_at_the_fix() -> None:
    unauthorised = error_from_response(401, {"detail": "Authentication credentials were not provided."})
    assert "hint: check POSTHOG_PERSONAL_API_KEY" in str(unauthorised)
    forbidden = error_from_response(403, {"detail": "You don't have access to the project."})
    assert "external_data_source" in str(forbidden)
