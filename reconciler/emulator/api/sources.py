"""Endpoints of the `external_data_sources` collection and items: list, create, retrieve, PATCH, PUT, DELETE.

Each handler: authorise, parse, call the store (or the create pipeline), serialise (STYLE.md §9).
Rules: reference/posthog-api.md §8.1–§8.5.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.emulator.api.auth import authorize
from reconciler.emulator.api.requests import (
    get_state,
    load_source,
    page_params,
    paginated,
    read_object,
    render_sources,
)
from reconciler.emulator.problems import ApiProblem
from reconciler.emulator.rules.config import merge_job_inputs
from reconciler.emulator.rules.create import CREATED_VIA, create_source
from reconciler.emulator.rules.drf_fields import char_field, choice_field
from reconciler.emulator.store import UNSET
from reconciler.emulator.upstreams.types import UpstreamError

__all__ = ["create", "destroy", "list_sources", "partial_update", "put", "retrieve"]


async def list_sources(request: Request) -> Response:
    state = get_state(request)
    ctx = await authorize(request, state.keys, "read")
    limit, offset = page_params(request)
    # DRF SearchFilter: terms split on commas and whitespace (§5).
    terms = request.query_params.get("search", "").replace("\x00", "").replace(",", " ").split()
    count, rows = state.store.list_sources(ctx.team_id, limit=limit, offset=offset, search_terms=terms)
    return JSONResponse(paginated(request, count, render_sources(state, rows), limit, offset))


async def create(request: Request) -> Response:
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    source_id = await create_source(state, ctx.team_id, ctx.key.email, await read_object(request))
    return JSONResponse({"id": source_id}, status_code=201)  # §8.3: only the id


async def retrieve(request: Request) -> Response:
    state = get_state(request)
    ctx = await authorize(request, state.keys, "read")
    source = load_source(request, ctx.team_id)
    return JSONResponse(render_sources(state, [source])[0])


async def partial_update(request: Request) -> Response:
    """§8.4. Serializer fields first, then access_method, prefix, and the job_inputs merge + live check."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    source = load_source(request, ctx.team_id)
    data = await read_object(request)
    if "created_via" in data:  # validated, then ignored: never stored on PATCH
        choice_field(data["created_via"], "created_via", CREATED_VIA, allow_null=True)
    description = UNSET
    if "description" in data:
        description = char_field(data["description"], "description", max_length=400)
    if "access_method" in data and data["access_method"] != source.access_method:
        raise ApiProblem.drf(400, "Access method cannot be changed. Create a new source instead.")
    prefix = UNSET
    if "prefix" in data and source.access_method == "direct":  # warehouse: silently ignored (§8.4 step 2)
        prefix = char_field(data["prefix"], "prefix", max_length=100)
        if not prefix:
            raise ApiProblem.drf(400, "Name is required for direct query sources")
    job_inputs = UNSET
    if "job_inputs" in data:
        st = state.catalog.get(source.source_type)
        upstream = state.upstreams.get(source.source_type)
        if st is None or upstream is None:
            raise ApiProblem.drf(400, "Invalid credentials")
        job_inputs = merge_job_inputs(st, source.job_inputs, data["job_inputs"])
        try:  # §8.4 step 9: any PATCH carrying job_inputs re-probes, even unchanged
            await run_in_threadpool(upstream.check_credentials, source.source_type, job_inputs)
        except UpstreamError as exc:
            raise ApiProblem.drf(400, exc.message or "Invalid credentials") from None
    state.store.update_source(source.id, description=description, prefix=prefix, job_inputs=job_inputs)
    updated = state.store.get_source(ctx.team_id, source.id)
    assert updated is not None
    return JSONResponse(render_sources(state, [updated])[0])


async def put(request: Request) -> Response:
    """PUT is routed but needs the write-only legacy fields (§6, §8.4) — clients must use PATCH."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    load_source(request, ctx.team_id)
    data = await read_object(request)
    for name in ("account_id", "client_secret"):
        if name not in data:
            raise ApiProblem.required(name)
    return await partial_update(request)


async def destroy(request: Request) -> Response:
    """§8.5: soft delete, 204, the prefix is free again."""
    state = get_state(request)
    ctx = await authorize(request, state.keys, "write")
    source = load_source(request, ctx.team_id)
    state.store.soft_delete_source(source.id)
    return Response(status_code=204)
