"""Control endpoints that edit the emulator's world rather than its traffic, mounted under `/_emulator/` next
to `traffic.py`'s (only with `--control`):

- `PATCH /_emulator/schemas/{id}` `{"status"?, "latest_error"?}`: simulate sync health (Failed, Billing
  limits, Paused = billing-paused team, ...); the source's derived status follows (reference §6).
- `GET|PUT /_emulator/upstreams/{source_type}` `{"tables": [{"name", "columns", "webhook_only", ...}]}`: what a
  simulated API upstream exposes, per server (a table appears or vanishes upstream).
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
from reconciler.emulator.api.serializers import render_schema
from reconciler.emulator.control.traffic import ControlError, control_error, read_json
from reconciler.emulator.upstreams import SimulatedUpstream
from reconciler.emulator.upstreams.types import Column, DiscoveredTable, IncrementalField

__all__ = ["SCHEMA_STATUSES", "parse_tables", "state_control_routes", "table_spec"]

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
_TABLE_KEYS = frozenset(
    {"name", "columns", "webhook_only", "primary_keys", "incremental_fields", "label", "description",
     "supports_webhooks"}
)  # fmt: skip
#: Column types whose columns can be incremental cursors when a table spec does not list them.
_CURSOR_TYPES = frozenset({"integer", "numeric", "date", "datetime", "timestamp"})


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


def _column(raw: Any, where: str) -> Column:
    if isinstance(raw, str) and raw:
        return Column(raw, "string")
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"]:
        data_type = raw.get("type", raw.get("data_type", "string"))
        nullable = raw.get("nullable", True)
        if not isinstance(data_type, str) or not isinstance(nullable, bool):
            raise ControlError(f"{where}: type must be a string and nullable a boolean.", attr=where)
        return Column(raw["name"], data_type, nullable)
    raise ControlError(f"{where}: a column is a name or {{name, type, nullable}}.", attr=where)


def _names(raw: Any, where: str, columns: dict[str, Column]) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise ControlError(f"{where} must be a list of column names.", attr=where)
    missing = [n for n in raw if n not in columns]
    if missing:
        raise ControlError(f"{where} names unknown column(s): {', '.join(missing)}.", attr=where)
    return list(raw)


def _table(raw: Any, i: int) -> DiscoveredTable:
    where = f"tables__{i}"
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise ControlError(f"{where}: a table is an object with a non-empty name.", attr=where)
    unknown = set(raw) - _TABLE_KEYS
    if unknown:
        raise ControlError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}.", attr=where)
    cols_raw = raw.get("columns", [{"name": "id", "type": "string", "nullable": False}])
    if not isinstance(cols_raw, list):
        raise ControlError(f"{where}__columns must be a list.", attr=f"{where}__columns")
    columns = {c.name: c for c in (_column(c, f"{where}__columns__{j}") for j, c in enumerate(cols_raw))}
    webhook_only = raw.get("webhook_only", False)
    if not isinstance(webhook_only, bool):
        raise ControlError(f"{where}__webhook_only must be a boolean.", attr=f"{where}__webhook_only")
    pks = _names(raw.get("primary_keys", ["id"] if "id" in columns else []), f"{where}__primary_keys", columns)
    default_cursors = [] if webhook_only else [n for n, c in columns.items() if c.data_type in _CURSOR_TYPES]
    cursors = _names(raw.get("incremental_fields", default_cursors), f"{where}__incremental_fields", columns)
    for key in ("label", "description"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ControlError(f"{where}__{key} must be a string or null.", attr=f"{where}__{key}")
    return DiscoveredTable(
        name=raw["name"],
        columns=tuple(columns.values()),
        primary_keys=tuple(pks),
        incremental_fields=tuple(
            IncrementalField(n, columns[n].data_type, n, columns[n].data_type, columns[n].nullable) for n in cursors
        ),
        label=raw.get("label"),
        description=raw.get("description"),
        webhook_only=webhook_only,
        supports_webhooks=bool(raw.get("supports_webhooks", webhook_only)),
        incremental_available=bool(cursors),
        append_available=bool(cursors),
    )


def parse_tables(payload: Any) -> list[DiscoveredTable]:
    """`{"tables": [...]}` → tables; ControlError naming the first bad entry."""
    tables_raw = _object(payload).get("tables")
    if not isinstance(tables_raw, list):
        raise ControlError("tables must be a list.", attr="tables")
    tables = [_table(t, i) for i, t in enumerate(tables_raw)]
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        raise ControlError("table names must be unique.", attr="tables")
    return tables


def table_spec(table: DiscoveredTable) -> dict[str, Any]:
    """A table in the PUT body's shape (what GET shows)."""
    return {
        "name": table.name,
        "columns": [{"name": c.name, "type": c.data_type, "nullable": c.nullable} for c in table.columns],
        "webhook_only": table.webhook_only,
        "primary_keys": list(table.primary_keys),
        "incremental_fields": [f.field for f in table.incremental_fields],
        "label": table.label,
        "description": table.description,
        "supports_webhooks": table.supports_webhooks,
    }


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
        tables = parse_tables(await read_json(request))
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
