"""What every endpoint needs from a request: the emulator state, the JSON body, a source by id, a page.

HTTP plumbing only; the rules live in `rules/`, the shapes in `serializers.py`, the shared state in `state.py`.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from starlette.requests import Request

from reconciler.emulator.api.guard import decode_json
from reconciler.emulator.api.serializers import render_source
from reconciler.emulator.problems import ApiProblem
from reconciler.emulator.rules.syncs import settle
from reconciler.emulator.state import EmulatorState
from reconciler.emulator.store import SourceRow

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "get_state",
    "load_source",
    "page_params",
    "paginated",
    "read_object",
    "render_sources",
]

DEFAULT_PAGE_SIZE = 100  # §5: LimitOffsetPagination, PAGE_SIZE 100, no max_limit


def get_state(request: Request) -> EmulatorState:
    """The app's state. With `sync_seconds` > 0 it first completes the simulated syncs that are due, so every
    endpoint sees jobs as they are at this request's time."""
    state: EmulatorState = request.app.state.emulator
    if state.sync_seconds > 0:
        settle(state.store, state.sync_seconds)
    return state


async def read_object(request: Request) -> dict[str, Any]:
    """The JSON body as an object. An empty body is `{}` whatever its type (DRF); otherwise `decode_json`'s
    rules (415 unless `application/json`, malformed or too deep → parse error); any other JSON value is DRF's
    non-field "Invalid data" error (§3)."""
    raw = await request.body()
    if not raw:
        return {}
    data = decode_json(raw, request.headers.get("content-type", ""))
    if not isinstance(data, dict):
        kind = {list: "list", str: "str", int: "int", float: "float", bool: "bool"}.get(type(data), "NoneType")
        raise ApiProblem.drf(400, f"Invalid data. Expected a dictionary, but got {kind}.")
    return data


def load_source(request: Request, team_id: int) -> SourceRow:
    """The live source named in the path, or DRF's 404 "Not found." (malformed ids too, §8.2)."""
    raw = request.path_params["source_id"]
    try:
        source_id = str(uuid.UUID(raw))
    except ValueError:
        raise ApiProblem.not_found() from None
    source = get_state(request).store.get_source(team_id, source_id)
    if source is None:
        raise ApiProblem.not_found()
    return source


def render_sources(state: EmulatorState, sources: list[SourceRow]) -> list[dict[str, Any]]:
    """Render several sources with two batch queries (schemas, last completed job)."""
    ids = [s.id for s in sources]
    schemas = state.store.schemas_of(ids)
    last = state.store.last_completed_job_at(ids)
    return [render_source(s, schemas[s.id], state.catalog, last.get(s.id)) for s in sources]


def _positive_int(raw: str | None, default: int, *, strict: bool) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    if value < 0 or (strict and value == 0):
        return default
    return value


def page_params(request: Request) -> tuple[int, int]:
    """(limit, offset): invalid or non-positive limit → 100; invalid offset → 0 (§5)."""
    q = request.query_params
    return _positive_int(q.get("limit"), DEFAULT_PAGE_SIZE, strict=True), _positive_int(
        q.get("offset"), 0, strict=False
    )


def _with_query(url: str, **params: int | None) -> str:
    """DRF's replace/remove_query_param: set (or drop, for None) params; keys come out sorted."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    for key, value in params.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = [str(value)]
    return urlunsplit(parts._replace(query=urlencode(sorted(query.items()), doseq=True)))


def paginated(request: Request, count: int, results: list[Any], limit: int, offset: int) -> dict[str, Any]:
    """`{"count", "next", "previous", "results"}` with absolute next/previous URLs (§5)."""
    url = str(request.url)
    next_url = None if offset + limit >= count else _with_query(url, limit=limit, offset=offset + limit)
    previous = None
    if offset > 0:
        previous = _with_query(url, limit=limit, offset=None if offset - limit <= 0 else offset - limit)
    return {"count": count, "next": next_url, "previous": previous, "results": results}
