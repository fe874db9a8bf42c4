"""Endpoints of `external_data_schemas` (list, retrieve, PATCH, DELETE, reload, resync, cancel,
incremental_fields) and the source action `bulk_update_schemas`. POST to the collection is no route, so it
gets the app's 405 (after authentication), as the newest PostHog (§9.4).

Rules: reference/posthog-api.md §7, §8.13, §9 (the PATCH rules themselves live in `rules/schema_patch.py`).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.catalog import BULK_SCHEMA_FIELDS, CDC_TABLE_MODES, SYNC_TYPES
from reconciler.emulator.api.auth import AuthContext, authenticate, authorize
from reconciler.emulator.api.requests import get_state, load_source, page_params, paginated, read_object
from reconciler.emulator.api.serializers import render_schema, render_table_preview
from reconciler.emulator.problems import ApiProblem
from reconciler.emulator.rules.drf_fields import char_field, choice_field, parse_bool
from reconciler.emulator.rules.schema_patch import PatchContext, parse_time_field, schema_changes, validate_list_field
from reconciler.emulator.rules.syncs import refuse_if_billing_paused, start_sync
from reconciler.emulator.state import EmulatorState
from reconciler.emulator.store import SchemaRow, SourceRow
from reconciler.emulator.upstreams.types import UpstreamError

__all__ = [
    "bulk_update_schemas",
    "cancel",
    "destroy",
    "incremental_fields",
    "list_schemas",
    "partial_update",
    "reload",
    "resync",
    "retrieve",
]

#: §2: an action mapped to no scope (bulk_update_schemas at the reference commit).
_NO_PERSONAL_KEY = "This action does not support personal API key access"
#: §8.13: the keys a bulk item may carry besides `id` (others are dropped, as DRF drops undeclared keys).
_BULK_KEYS = BULK_SCHEMA_FIELDS


def _load_schema(request: Request, ctx: AuthContext) -> SchemaRow:
    """The live schema in the path, or 404 "Not found." (malformed ids too)."""
    try:
        schema_id = str(uuid.UUID(request.path_params["schema_id"]))
    except ValueError:
        raise ApiProblem.not_found() from None
    schema = get_state(request).store.get_schema(ctx.team_id, schema_id)
    if schema is None:
        raise ApiProblem.not_found()
    return schema


def _source_of(state: EmulatorState, schema: SchemaRow) -> SourceRow:
    source = state.store.get_source(schema.team_id, schema.source_id)
    assert source is not None  # get_schema only returns schemas of live sources
    return source


def _context(state: EmulatorState, source: SourceRow) -> PatchContext:
    return PatchContext(
        cdc_enabled_for_team=source.team_id in state.cdc_teams,
        supports_scheduled_sync=source.access_method != "direct",
        billing_paused=state.store.team_has_schema_status(source.team_id, "Paused"),
    )


def _reloaded(state: EmulatorState, schema_id: str) -> dict[str, Any]:
    row = state.store.schemas_by_id([schema_id])[schema_id]
    return render_schema(row)


async def list_schemas(request: Request) -> Response:
    """§9.1: the team's live schemas across sources, newest first, paginated, `?search=` on name."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "read")
    limit, offset = page_params(request)
    terms = request.query_params.get("search", "").replace("\x00", "").replace(",", " ").split()
    count, rows = state.store.list_schemas(ctx.team_id, limit=limit, offset=offset, search_terms=terms)
    return JSONResponse(paginated(request, count, [render_schema(r) for r in rows], limit, offset))


async def retrieve(request: Request) -> Response:
    """§9.2: the schema object with its `source` summary."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "read")
    schema = _load_schema(request, ctx)
    source = _source_of(state, schema)
    st = state.catalog.get(source.source_type)
    summary = {
        "id": source.id,
        "source_type": source.source_type,
        "supports_column_selection": bool(st and st.supports_column_selection),
        "user_access_level": "editor",  # as the source object (§6): no access rules apply
    }
    return JSONResponse(render_schema(schema, summary))


async def partial_update(request: Request) -> Response:
    """§9.3: 200 with the schema object, or the rule's DRF-family 400."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    schema = _load_schema(request, ctx)
    data = await read_object(request)
    changes = schema_changes(schema, data, _context(state, _source_of(state, schema)))
    state.store.update_schemas([(schema.id, changes)])
    return JSONResponse(_reloaded(state, schema.id))


async def destroy(request: Request) -> Response:
    """§9.4: soft delete, 204; the next refresh_schemas restores the same row if the table still exists."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    schema = _load_schema(request, ctx)
    state.store.soft_delete_schema(schema.id)
    return Response(status_code=204)


async def reload(request: Request) -> Response:
    """§9.4: sync this schema now (enabled or not); 200 with an empty body."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    schema = _load_schema(request, ctx)
    refuse_if_billing_paused(state.store, ctx.team_id)
    start_sync(state.store, schema.source_id, sync_seconds=state.sync_seconds, schema_ids=[schema.id])
    return Response(status_code=200)


async def resync(request: Request) -> Response:
    """§9.4: cancel a running job, then a full re-import; 200 with an empty body."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    schema = _load_schema(request, ctx)
    refuse_if_billing_paused(state.store, ctx.team_id)
    latest = state.store.latest_job_of_schema(schema.id)
    if latest is not None and latest.status == "Running":
        state.store.cancel_job(latest.id)
    start_sync(state.store, schema.source_id, sync_seconds=state.sync_seconds, schema_ids=[schema.id])
    return Response(status_code=200)


async def cancel(request: Request) -> Response:
    """§9.4: 200, or 400 `{"detail": "No running sync to cancel."}` (family C, §3) when the newest job of
    the schema is not running."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    schema = _load_schema(request, ctx)
    latest = state.store.latest_job_of_schema(schema.id)
    if latest is None or latest.status != "Running" or not latest.workflow_run_id:
        return JSONResponse({"detail": "No running sync to cancel."}, status_code=400)
    state.store.cancel_job(latest.id)
    return Response(status_code=200)


async def incremental_fields(request: Request) -> Response:
    """§9.4: a live lookup of this table's sync options (write scope, POST)."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    schema = _load_schema(request, ctx)
    source = _source_of(state, schema)
    if not source.job_inputs:
        raise ApiProblem.message("Missing job inputs")
    upstream = state.upstreams.get(source.source_type)
    st = state.catalog.get(source.source_type)
    if upstream is None or st is None:
        raise ApiProblem.message("Missing source type")
    try:
        await run_in_threadpool(upstream.check_credentials, source.source_type, source.job_inputs)
    except UpstreamError as exc:
        raise ApiProblem.message(exc.message or "Invalid credentials") from None
    try:
        tables = await run_in_threadpool(upstream.discover, source.source_type, source.job_inputs)
    except UpstreamError as exc:
        raise ApiProblem.message(exc.message) from None
    table = next((t for t in tables if t.name == schema.name), None)
    if table is None:
        raise ApiProblem.message(f"Schema with name {schema.name} not found")
    cdc_on = ctx.team_id in state.cdc_teams and str(source.job_inputs.get("cdc_enabled")).lower() == "true"
    preview = render_table_preview(table, st.category == "Databases")
    return JSONResponse(
        {
            "incremental_fields": preview["incremental_fields"],
            "incremental_available": table.incremental_available,
            "append_available": table.append_available,
            "cdc_available": (source.source_type == "Postgres" and bool(table.key_constraint)) if cdc_on else None,
            "full_refresh_available": not table.webhook_only,
            "supports_webhooks": table.supports_webhooks,
            "webhook_only": table.webhook_only,
            "available_columns": preview["available_columns"],
            "detected_primary_keys": preview["detected_primary_keys"],
        }
    )


# ---- bulk_update_schemas (§8.13) ------------------------------------------------------------------------


def _bulk_fields(item: dict[str, Any], where: str) -> None:
    """The bulk item serializer's own fields (§8.13), attrs nested under `where`. `incremental_field_type` and
    `sync_frequency` are plain strings there: their choices are checked by the §9.3 rules (attr unprefixed)."""
    if "should_sync" in item:
        if item["should_sync"] is None:
            raise ApiProblem.drf(400, "This field may not be null.", code="null", attr=f"{where}__should_sync")
        parse_bool(item["should_sync"], f"{where}__should_sync")
    if "sync_type" in item:
        choice_field(item["sync_type"], f"{where}__sync_type", SYNC_TYPES, allow_null=True)
    for name in ("incremental_field", "incremental_field_type", "sync_frequency"):
        if name in item:
            char_field(item[name], f"{where}__{name}")
    if "sync_time_of_day" in item:
        parse_time_field(item["sync_time_of_day"], f"{where}__sync_time_of_day")
    if "cdc_table_mode" in item:
        choice_field(item["cdc_table_mode"], f"{where}__cdc_table_mode", CDC_TABLE_MODES, allow_null=True)
    if "enabled_columns" in item:
        validate_list_field(item["enabled_columns"], f"{where}__enabled_columns")


def _bulk_items(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The bulk serializer: `schemas` a non-empty list of objects with a UUID `id`; attrs are nested
    (`schemas__0__id`). Returns (id, item without undeclared keys)."""
    if "schemas" not in data:
        raise ApiProblem.required("schemas")
    items = data["schemas"]
    if items is None:
        raise ApiProblem.drf(400, "This field may not be null.", code="null", attr="schemas")
    if not isinstance(items, list):
        raise ApiProblem.drf(
            400, f'Expected a list of items but got type "{type(items).__name__}".', code="not_a_list", attr="schemas"
        )
    if not items:
        raise ApiProblem.drf(400, "This list may not be empty.", code="empty", attr="schemas")
    out: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(items):
        where = f"schemas__{i}"
        if not isinstance(item, dict):
            kind = {list: "list", str: "str", int: "int", float: "float", bool: "bool"}.get(type(item), "NoneType")
            raise ApiProblem.drf(400, f"Invalid data. Expected a dictionary, but got {kind}.", attr=where)
        if "id" not in item:
            raise ApiProblem.required(f"{where}__id")
        try:
            schema_id = str(uuid.UUID(str(item["id"])))
        except ValueError:
            raise ApiProblem.drf(400, "Must be a valid UUID.", attr=f"{where}__id") from None
        _bulk_fields(item, where)
        out.append((schema_id, {k: item[k] for k in _BULK_KEYS if k in item}))
    return out


async def bulk_update_schemas(request: Request) -> Response:
    """§8.13: every item through the §9.3 rules, all written in one transaction or none; 200 = the updated
    schema objects in request order. With `--bulk-schemas session-only`, API keys get PostHog's 403."""
    state = get_state(request)
    if state.bulk_schemas == "session-only":
        await authenticate(request, state.keys)
        raise ApiProblem.drf(403, _NO_PERSONAL_KEY, code="permission_denied")
    ctx = await authorize(request, state.keys, "write")
    source = load_source(request, ctx.team_id)
    items = _bulk_items(await read_object(request))
    ids = [schema_id for schema_id, _ in items]
    if len(set(ids)) != len(ids):
        raise ApiProblem.drf(400, "Schema updates must contain unique ids")
    # PostHog's lookup filters on team and source only, so soft-deleted rows of this source are found too.
    rows = {
        k: v for k, v in state.store.schemas_by_id(ids).items() if v.source_id == source.id and v.team_id == ctx.team_id
    }
    if len(rows) != len(ids):
        raise ApiProblem.drf(400, "One or more schemas could not be found for this source")
    patch_ctx = _context(state, source)
    updates = [(schema_id, schema_changes(rows[schema_id], item, patch_ctx)) for schema_id, item in items]
    state.store.update_schemas(updates)
    fresh = state.store.schemas_by_id(ids)
    return JSONResponse([render_schema(fresh[schema_id]) for schema_id in ids])
