"""The emulator's ASGI app: one visible route table, mounted under both path families, and the error
rendering. `create_app` is a factory; nothing is module-level state (STYLE.md §9).

Both `/api/projects/{project_id}` and `/api/environments/{project_id}` serve the same routes, each with
and without a trailing slash (reference/posthog-api.md §1). Unknown paths → 404 "Endpoint not found.".
The traffic middleware (stats, latency, faults, rate limit) wraps every route; `/_emulator/` is optional.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from reconciler.catalog import Catalog, load_catalog
from reconciler.emulator.api import actions, schemas, sources
from reconciler.emulator.api.auth import authenticate
from reconciler.emulator.api.guard import RequestGuard
from reconciler.emulator.control.traffic import control_routes
from reconciler.emulator.control.world import state_control_routes
from reconciler.emulator.keys import KeyRing
from reconciler.emulator.problems import ApiProblem, render_problem
from reconciler.emulator.state import BULK_SCHEMAS_MODES, EmulatorState
from reconciler.emulator.store import Store
from reconciler.emulator.traffic.middleware import TrafficControl, TrafficMiddleware
from reconciler.emulator.upstreams import UpstreamRegistry

__all__ = ["API_ROUTES", "PATH_FAMILIES", "create_app"]

PATH_FAMILIES = ("/api/projects/{project_id}", "/api/environments/{project_id}")


def _route(path: str, endpoint: Callable[..., Any], method: str) -> list[Route]:
    """The route with and without its trailing slash (§1: the slash is optional everywhere)."""
    return [Route(path, endpoint, methods=[method]), Route(path + "/", endpoint, methods=[method])]


_SOURCES = "/external_data_sources"
_ITEM = _SOURCES + "/{source_id}"
_SCHEMAS = "/external_data_schemas"
_SCHEMA = _SCHEMAS + "/{schema_id}"

#: Collection actions come before `{source_id}` so their names are not taken for ids.
API_ROUTES: list[BaseRoute] = [
    *_route(_SOURCES, sources.list_sources, "GET"),
    *_route(_SOURCES, sources.create, "POST"),
    *_route(_SOURCES + "/wizard", actions.wizard, "GET"),
    *_route(_SOURCES + "/database_schema", actions.database_schema, "POST"),
    *_route(_SOURCES + "/source_prefix", actions.source_prefix, "POST"),
    *_route(_ITEM, sources.retrieve, "GET"),
    *_route(_ITEM, sources.partial_update, "PATCH"),
    *_route(_ITEM, sources.put, "PUT"),
    *_route(_ITEM, sources.destroy, "DELETE"),
    *_route(_ITEM + "/jobs", actions.jobs, "GET"),
    *_route(_ITEM + "/reload", actions.reload, "POST"),
    *_route(_ITEM + "/refresh_schemas", actions.refresh_schemas, "POST"),
    *_route(_ITEM + "/revenue_analytics_config", actions.revenue_analytics_config, "PATCH"),
    *_route(_ITEM + "/bulk_update_schemas", schemas.bulk_update_schemas, "PATCH"),
    *_route(_SCHEMAS, schemas.list_schemas, "GET"),
    *_route(_SCHEMA, schemas.retrieve, "GET"),
    *_route(_SCHEMA, schemas.partial_update, "PATCH"),
    *_route(_SCHEMA, schemas.destroy, "DELETE"),
    *_route(_SCHEMA + "/reload", schemas.reload, "POST"),
    *_route(_SCHEMA + "/resync", schemas.resync, "POST"),
    *_route(_SCHEMA + "/cancel", schemas.cancel, "POST"),
    *_route(_SCHEMA + "/incremental_fields", schemas.incremental_fields, "POST"),
]


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no route, wrong method) in drf-exceptions-hog shape. DRF authenticates
    before it answers 405, so a known route with a wrong method still says 401 without a valid key."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        try:
            await authenticate(request, request.app.state.emulator.keys)
        except ApiProblem as unauthorized:
            return render_problem(request, unauthorized)
        problem = ApiProblem.method_not_allowed(request.method)
    elif exc.status_code == 404:
        problem = ApiProblem.endpoint_not_found()
    else:
        problem = ApiProblem.drf(exc.status_code, str(exc.detail), code="error", type="invalid_request")
    return render_problem(request, problem)


def _server_error(request: Request, exc: Exception) -> Response:
    return render_problem(request, ApiProblem.server_error())


def create_app(
    store: Store,
    *,
    keys: KeyRing,
    upstreams: UpstreamRegistry,
    catalog: Catalog | None = None,
    extra_routes: Iterable[BaseRoute] = (),
    middleware: Sequence[Middleware] = (),
    options: dict[str, Any] | None = None,
    traffic: TrafficControl | None = None,
    control: bool = False,
    sync_seconds: float = 0,
    bulk_schemas: str = "allowed",
    cdc_teams: Iterable[int] = (),
) -> Starlette:
    """Build the emulator app.

    `traffic`: rate limit, latency, faults and stats (reference/posthog-api.md §4), applied to `/api/` by
    `TrafficMiddleware`; default: none of them, stats only. `control`: mount the `/_emulator/` control API
    (traffic endpoints of `control/traffic.py`, world endpoints of `control/world.py`). `extra_routes` are mounted at
    the root before the API; `middleware` wraps everything inside the traffic middleware. `sync_seconds`,
    `bulk_schemas`, `cdc_teams`: see `EmulatorState`."""
    if bulk_schemas not in BULK_SCHEMAS_MODES:
        raise ValueError(f"bulk_schemas must be one of {BULK_SCHEMAS_MODES}, not {bulk_schemas!r}")
    if sync_seconds < 0:
        raise ValueError("sync_seconds must be >= 0")
    traffic = traffic or TrafficControl()
    state = EmulatorState(
        store=store,
        keys=keys,
        upstreams=upstreams,
        catalog=catalog or load_catalog(),
        options=dict(options or {}),
        sync_seconds=sync_seconds,
        bulk_schemas=bulk_schemas,
        cdc_teams=set(cdc_teams),
    )
    routes: list[BaseRoute] = [
        *control_routes(traffic, enabled=control, more=state_control_routes()),
        *extra_routes,
        *(Mount(prefix, routes=API_ROUTES) for prefix in PATH_FAMILIES),
    ]
    traffic_layer = Middleware(TrafficMiddleware, control=traffic, is_known_key=lambda k: keys.get(k) is not None)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestGuard), traffic_layer, *middleware],
        exception_handlers={ApiProblem: render_problem, HTTPException: _http_exception, Exception: _server_error},
    )
    app.state.emulator = state
    app.state.traffic = traffic
    return app
