"""Endpoints of the source actions: jobs, reload, refresh_schemas, revenue_analytics_config (item actions),
and database_schema, source_prefix, wizard (collection actions). Rules: reference/posthog-api.md §8.6–§8.12.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.emulator.api.auth import authorize
from reconciler.emulator.api.requests import get_state, load_source, read_object, render_sources
from reconciler.emulator.api.serializers import render_job, render_table_preview
from reconciler.emulator.problems import ApiProblem
from reconciler.emulator.rules.config import (
    invalid_config_message,
    invalid_values,
    missing_required,
    normalise_job_inputs,
    trim_top_level,
)
from reconciler.emulator.rules.create import DIRECT_TYPES, check_prefix_available
from reconciler.emulator.rules.discovery import refresh_source
from reconciler.emulator.rules.drf_fields import parse_bool
from reconciler.emulator.rules.syncs import refuse_if_billing_paused, start_sync
from reconciler.emulator.state import EmulatorState
from reconciler.emulator.store import SourceRow
from reconciler.emulator.upstreams.types import DiscoveredTable, UpstreamError

__all__ = [
    "database_schema",
    "jobs",
    "refresh_schemas",
    "reload",
    "revenue_analytics_config",
    "source_prefix",
    "wizard",
]

JOBS_CAP = 50  # §8.8


def _instant(raw: str | None) -> str | None:
    """An ISO timestamp filter in the store's format (UTC, microseconds, Z); unparseable → no filter."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


async def jobs(request: Request) -> Response:
    """§8.8: plain array, newest first, at most 50, billable only; `after`/`before`/`schemas` filters."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "read")
    source = load_source(request, ctx.team_id)
    q = request.query_params
    rows = state.store.list_jobs(
        source.id,
        after=_instant(q.get("after")),
        before=_instant(q.get("before")),
        schema_names=q.getlist("schemas"),
        limit=JOBS_CAP,
    )
    schemas = state.store.schemas_by_id([j.schema_id for j in rows if j.schema_id])
    return JSONResponse([render_job(j, schemas.get(j.schema_id or "")) for j in rows])


async def reload(request: Request) -> Response:
    """§8.6: start a sync of the enabled schemas; 200 with an empty body; the source reports Running until
    the jobs complete (`--sync-seconds`). A billing-paused team gets 400. On a direct-query source it is a
    schema refresh (§16): `refresh_schemas`' answer, no job."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    source = load_source(request, ctx.team_id)
    if source.access_method == "direct":
        return await _refresh(state, source)
    refuse_if_billing_paused(state.store, ctx.team_id)
    start_sync(state.store, source.id, sync_seconds=state.sync_seconds)
    return Response(status_code=200)


async def refresh_schemas(request: Request) -> Response:
    """§8.7: re-discover and reconcile rows; never syncs. Errors are `{"message": ...}`."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    return await _refresh(state, load_source(request, ctx.team_id))


async def _refresh(state: EmulatorState, source: SourceRow) -> Response:
    if not source.job_inputs:
        raise ApiProblem.message("Source has no configuration.")
    upstream = state.upstreams.get(source.source_type)
    st = state.catalog.get(source.source_type)
    if upstream is None or st is None:
        raise ApiProblem.message("Could not fetch schemas from source.")
    try:
        counts = await run_in_threadpool(refresh_source, state.store, source, st, upstream)
    except UpstreamError as exc:
        raise ApiProblem.message(exc.message) from None
    return JSONResponse(counts)


async def revenue_analytics_config(request: Request) -> Response:
    """§8.12: partial `{enabled?, include_invoiceless_charges?}` → 200 full source object."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    source = load_source(request, ctx.team_id)
    data = await read_object(request)
    changes: dict[str, bool] = {}
    if "enabled" in data:
        changes["revenue_enabled"] = parse_bool(data["enabled"], "enabled")
    if "include_invoiceless_charges" in data:
        changes["revenue_include_invoiceless"] = parse_bool(
            data["include_invoiceless_charges"], "include_invoiceless_charges"
        )
    state.store.update_source(source.id, **changes)
    updated = state.store.get_source(ctx.team_id, source.id)
    assert updated is not None
    return JSONResponse(render_sources(state, [updated])[0])


def _cdc_available(source_type: str, table: DiscoveredTable, team_flag: bool) -> bool | None:
    """§8.9: null unless the team's CDC flag is on; then Postgres tables with a primary-key constraint qualify."""
    return (source_type == "Postgres" and bool(table.key_constraint)) if team_flag else None


async def database_schema(request: Request) -> Response:
    """§8.9: validate a flat config and preview its tables; persists nothing."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    data = await read_object(request)
    source_type = data.get("source_type")
    if not source_type:
        raise ApiProblem.message("Missing required parameter: source_type")
    st = state.catalog.get(source_type) if isinstance(source_type, str) else None
    upstream = state.upstreams.get(source_type) if isinstance(source_type, str) else None
    if st is None or upstream is None:
        raise ApiProblem.server_error()  # §8.9: an unknown type is not caught → 500 [inferred]
    payload = trim_top_level({k: v for k, v in data.items() if k not in ("source_type", "access_method")})
    missing = missing_required(st, payload)
    config = normalise_job_inputs(st, payload)
    invalid = invalid_values(st, config)
    if missing or invalid:
        raise ApiProblem.message(invalid_config_message(missing, invalid))
    try:
        await run_in_threadpool(upstream.check_credentials, source_type, config)
    except UpstreamError as exc:
        raise ApiProblem.message(exc.message or "Invalid credentials") from None
    try:
        tables = await run_in_threadpool(upstream.discover, source_type, config)
    except UpstreamError as exc:
        raise ApiProblem.message(exc.message) from None
    sql_like = st.category == "Databases"
    flag = ctx.team_id in state.cdc_teams
    return JSONResponse(
        [render_table_preview(t, sql_like, cdc_available=_cdc_available(source_type, t, flag)) for t in tables]
    )


async def source_prefix(request: Request) -> Response:
    """§8.10: uniqueness pre-check only (no character rules); 200 with an empty body when acceptable."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    data = await read_object(request)
    source_type = data.get("source_type")
    if not isinstance(source_type, str) or not source_type:
        raise ApiProblem.server_error()  # §8.10: PostHog raises on a missing source_type → 500 [inferred]
    prefix = data.get("prefix")
    if data.get("access_method") == "direct":
        if source_type not in DIRECT_TYPES:
            raise ApiProblem.message("Direct query mode is currently supported only for Postgres and MySQL sources.")
        if not (prefix or "").strip():
            raise ApiProblem.message("Name is required for direct query sources")
        return Response(status_code=200)
    check_prefix_available(state, ctx.team_id, source_type, prefix if isinstance(prefix, str) else None)
    return Response(status_code=200)


async def wizard(request: Request) -> Response:
    """§8.11: every catalogued source's form config, camelCase, keyed by source type."""
    state = get_state(request)
    await authorize(request, state.keys, "read")
    return JSONResponse(state.catalog.wizard())
