"""Control endpoints that edit the emulator's world rather than its traffic, mounted under `/_emulator/` next
to `traffic.py`'s (only with `--control`):

- `PATCH /_emulator/schemas/{id}` `{"status"?, "latest_error"?}`: simulate sync health (Failed, Billing
  limits, Paused = billing-paused team, ...); the source's derived status follows (reference §6).
- `GET|PUT /_emulator/upstreams/{source_type}` `{"tables": [{"name", "columns", "webhook_only", ...}]}`: what a
  simulated API upstream exposes, per server (a table appears or vanishes upstream); the shape is
  `upstreams/table_spec.py`'s, and what GET returns PUT accepts unchanged.
- `PATCH /_emulator/jobs/{id}` `{"status"}`: how a sync ended (Failed, Billing limits, Billing limit too low, ...).
- `PATCH /_emulator/teams/{id}` `{"cdc_enabled": bool}`: the team's CDC feature flag (§9.3).
- `GET /_emulator/integrations`, `PUT /_emulator/integrations/{id}` `{"missing": bool}`: every positive
  integration id exists until marked missing; a source naming a missing one gets PostHog's lookup error.

Errors use `traffic.control_error` (drf-exceptions-hog shape). Reads and writes the shared `EmulatorState`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from reconciler.emulator.api.requests import get_state
from reconciler.emulator.api.serializers import render_job, render_schema
from reconciler.emulator.control.traffic import ControlError, control_error, read_json
from reconciler.emulator.upstreams import SimulatedUpstream
from reconciler.emulator.upstreams.table_spec import TableSpecError, parse_table_specs, table_spec

__all__ = ["JOB_STATUSES", "SCHEMA_STATUSES", "state_control_routes"]

#: Accepted `status` values → stored status. API labels (§7) and model names both work.
SCHEMA_STATUSES: dict[str | None, str | None] = {
    None: None,
    "Running": "Running",
    "Paused": "Paused",
    "Failed": "Failed",
    "Completed": "Completed",
    "Billing limits": "BillingLimitReached",
    "BillingLimitReached": "BillingLimitReached",
    "Billing limits too low": "BillingLimitTooLow",
    "BillingLimitTooLow": "BillingLimitTooLow",
}

#: Accepted job `status` values → stored status; jobs say "Billing limit too low", singular (§8.8).
JOB_STATUSES: dict[str, str] = {
    "Running": "Running",
    "Failed": "Failed",
    "Completed": "Completed",
    "Billing limits": "BillingLimitReached",
    "BillingLimitReached": "BillingLimitReached",
    "Billing limit too low": "BillingLimitTooLow",
    "BillingLimitTooLow": "BillingLimitTooLow",
}


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ControlError("Expected a JSON object.")
    return payload


async def patch_schema(request: Request) -> JSONResponse:
    state = get_state(request)
    schema = state.store.get_schema_any_team(request.path_params["schema_id"])
    if schema is None:
        return control_error(ControlError("Schema not found.", status=404))
    try:
        data = _object(await read_json(request))
        unknown = set(data) - {"status", "latest_error"}
        if unknown:
            raise ControlError(f"Unknown field(s): {', '.join(sorted(unknown))}.", attr=sorted(unknown)[0])
        changes: dict[str, Any] = {}
        if "status" in data:
            if data["status"] not in SCHEMA_STATUSES:
                choices = ", ".join(str(k) for k in SCHEMA_STATUSES if k is not None)
                raise ControlError(f"status must be null or one of: {choices}.", attr="status")
            changes["status"] = SCHEMA_STATUSES[data["status"]]
        if "latest_error" in data:
            if data["latest_error"] is not None and not isinstance(data["latest_error"], str):
                raise ControlError("latest_error must be a string or null.", attr="latest_error")
            changes["latest_error"] = data["latest_error"]
    except ControlError as exc:
        return control_error(exc)
    state.store.update_schemas([(schema.id, changes)])
    fresh = state.store.schemas_by_id([schema.id])[schema.id]
    return JSONResponse(render_schema(fresh))


async def patch_job(request: Request) -> JSONResponse:
    """`{"status"}`: how a sync ended (e.g. stopped by a billing limit), as the jobs list then shows it."""
    state = get_state(request)
    job = state.store.get_job(request.path_params["job_id"])
    if job is None:
        return control_error(ControlError("Job not found.", status=404))
    try:
        data = _object(await read_json(request))
        if set(data) != {"status"} or data["status"] not in JOB_STATUSES:
            raise ControlError(f'Expected {{"status": one of {", ".join(JOB_STATUSES)}}}.', attr="status")
    except ControlError as exc:
        return control_error(exc)
    state.store.set_job_status(job.id, JOB_STATUSES[data["status"]])
    fresh = state.store.get_job(job.id)
    assert fresh is not None
    schema = state.store.schemas_by_id([fresh.schema_id]).get(fresh.schema_id) if fresh.schema_id else None
    return JSONResponse(render_job(fresh, schema))


def _simulated(request: Request) -> SimulatedUpstream:
    source_type = request.path_params["source_type"]
    upstream = get_state(request).upstreams.get(source_type)
    if upstream is None:
        raise ControlError(f"No upstream for source type {source_type!r}.", status=404)
    if not isinstance(upstream, SimulatedUpstream):
        raise ControlError(
            f"{source_type} is a real upstream: change the database it connects to instead.", attr="source_type"
        )
    return upstream


async def get_upstream(request: Request) -> JSONResponse:
    try:
        upstream = _simulated(request)
    except ControlError as exc:
        return control_error(exc)
    return JSONResponse({"tables": [table_spec(t) for t in upstream.tables]})


async def put_upstream(request: Request) -> JSONResponse:
    """Replace the table list; sources see it on their next discovery (refresh_schemas, database_schema,
    incremental_fields, create)."""
    try:
        upstream = _simulated(request)
        tables = parse_table_specs(await read_json(request))
    except TableSpecError as exc:
        return control_error(ControlError(exc.detail, attr=exc.attr))
    except ControlError as exc:
        return control_error(exc)
    upstream.replace_tables(tables)
    return JSONResponse({"tables": [table_spec(t) for t in tables]})


async def patch_team(request: Request) -> JSONResponse:
    state = get_state(request)
    raw = request.path_params["team_id"]
    try:
        if not raw.isdigit() or int(raw) not in state.keys.teams:
            raise ControlError("Team not found.", status=404)
        data = _object(await read_json(request))
        if set(data) != {"cdc_enabled"} or not isinstance(data["cdc_enabled"], bool):
            raise ControlError('Expected {"cdc_enabled": true|false}.', attr="cdc_enabled")
    except ControlError as exc:
        return control_error(exc)
    team_id = int(raw)
    if data["cdc_enabled"]:
        state.cdc_teams.add(team_id)
    else:
        state.cdc_teams.discard(team_id)
    return JSONResponse({"id": team_id, "cdc_enabled": team_id in state.cdc_teams})


async def get_integrations(request: Request) -> JSONResponse:
    return JSONResponse({"missing": get_state(request).upstreams.integrations.missing()})


async def put_integration(request: Request) -> JSONResponse:
    raw = request.path_params["integration_id"]
    try:
        if not raw.isdigit() or int(raw) < 1:
            raise ControlError("An integration id is a positive integer.", attr="integration_id")
        data = _object(await read_json(request))
        if set(data) != {"missing"} or not isinstance(data["missing"], bool):
            raise ControlError('Expected {"missing": true|false}.', attr="missing")
    except ControlError as exc:
        return control_error(exc)
    integrations = get_state(request).upstreams.integrations
    integrations.mark(int(raw), missing=data["missing"])
    return JSONResponse({"id": int(raw), "missing": not integrations.exists(int(raw))})


def state_control_routes() -> list[BaseRoute]:
    """The routes to pass as `control_routes(..., more=...)`, each with and without a trailing slash."""
    table = [
        ("/schemas/{schema_id}", patch_schema, ["PATCH"]),
        ("/jobs/{job_id}", patch_job, ["PATCH"]),
        ("/upstreams/{source_type}", get_upstream, ["GET"]),
        ("/upstreams/{source_type}", put_upstream, ["PUT"]),
        ("/teams/{team_id}", patch_team, ["PATCH"]),
        ("/integrations", get_integrations, ["GET"]),
        ("/integrations/{integration_id}", put_integration, ["PUT"]),
    ]
    out: list[BaseRoute] = []
    for path, endpoint, methods in table:
        out += [Route(path, endpoint, methods=methods), Route(path + "/", endpoint, methods=methods)]
    return out
