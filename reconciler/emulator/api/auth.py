"""Request authentication and authorisation: personal API key → (key, team), or an ApiProblem.

Order and bodies follow reference/posthog-api.md §1–§2: authenticate, check the action's scope,
check a key's project restriction, resolve the team (404), check membership (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request

from reconciler.emulator.api.guard import decode_json
from reconciler.emulator.keys import SCOPE_OBJECT, ApiKey, KeyRing
from reconciler.emulator.problems import ApiProblem

__all__ = ["AuthContext", "authenticate", "authorize"]

Access = Literal["read", "write"]


@dataclass(frozen=True)
class AuthContext:
    key: ApiKey
    team_id: int


def _unauthorized(detail: str, code: str, request: Request) -> ApiProblem:
    base = str(request.base_url).rstrip("/")
    # §2: 401s carry WWW-Authenticate (newest wrapper's value).
    header = f'Bearer resource_metadata="{base}/.well-known/oauth-protected-resource"'
    return ApiProblem.drf(401, detail, code=code, headers={"WWW-Authenticate": header})


async def _presented_key(request: Request) -> tuple[str, str] | None:
    """(key, where) from the Authorization header, else the JSON body, else the query string (§2)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), "Authorization header"
    if request.method in ("POST", "PATCH", "PUT"):
        # PostHog reads `request.data` here: a body DRF cannot parse fails the request (415, 400) before the key
        # in the query string is tried.
        raw = await request.body()
        body = decode_json(raw, request.headers.get("content-type", "")) if raw else None
        if isinstance(body, dict) and isinstance(body.get("personal_api_key"), str):
            return body["personal_api_key"], "body"
    if "personal_api_key" in request.query_params:
        return request.query_params["personal_api_key"], "query string"
    return None


def _team_id(raw: str, key: ApiKey) -> int | None:
    if raw == "@current":  # §1: resolves to the caller's current team
        return min(key.teams) if key.teams else None
    return int(raw) if raw.isdigit() else None


async def authenticate(request: Request, keys: KeyRing) -> ApiKey:
    """The presented personal API key, or 401 (§2)."""
    presented = await _presented_key(request)
    if presented is None:
        raise _unauthorized("Authentication credentials were not provided.", "not_authenticated", request)
    value, where = presented
    key = keys.get(value)
    if key is None:
        raise _unauthorized(f"Personal API key found in request {where} is invalid.", "authentication_failed", request)
    return key


async def authorize(request: Request, keys: KeyRing, access: Access) -> AuthContext:
    key = await authenticate(request, keys)
    scope = f"{SCOPE_OBJECT}:{access}"
    if not key.allows(scope):
        raise ApiProblem.drf(403, f"API key missing required scope '{scope}'", code="permission_denied")
    raw_team = request.path_params.get("project_id", "")
    team_id = _team_id(raw_team, key)
    if team_id is not None and key.scoped_teams is not None and team_id not in key.scoped_teams:
        raise ApiProblem.drf(
            403, f"API key does not have access to the requested project: ID {team_id}.", code="permission_denied"
        )
    if team_id is None or team_id not in keys.teams:
        raise ApiProblem.drf(404, "Project not found.", code="not_found")
    if team_id not in key.teams:
        raise ApiProblem.drf(403, "You don't have access to the project.", code="permission_denied")
    return AuthContext(key, team_id)
