"""`POST /external_data_sources/`: PostHog's create pipeline, step by step (reference/posthog-api.md §8.3).

Validation order is the contract: serializer fields (DRF family), direct-mode rules, prefix rules, billing
pause, config shape, live credential check, discovery, `payload.schemas` checks, then one atomic insert — so a
failed create never leaves a row. Business-rule failures use the `{"message": ...}` family. What each row
keeps is `schema_rows.py`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from reconciler.catalog import SYNC_TYPES_NEEDING_CURSOR, SourceType, all_source_type_names, revenue_analytics_defaults
from reconciler.emulator.problems import ApiProblem
from reconciler.emulator.rules.config import (
    invalid_config_message,
    invalid_values,
    missing_required,
    normalise_job_inputs,
    prefix_error,
    trim_top_level,
)
from reconciler.emulator.rules.drf_fields import char_field, choice_field, required_field
from reconciler.emulator.rules.schema_rows import RowContext, created_row
from reconciler.emulator.rules.syncs import refuse_if_billing_paused
from reconciler.emulator.state import EmulatorState
from reconciler.emulator.store import PrefixConflict
from reconciler.emulator.upstreams.types import DiscoveredTable, Upstream, UpstreamError

__all__ = [
    "ACCESS_METHODS",
    "CREATED_VIA",
    "DIRECT_TYPES",
    "CreateRequest",
    "check_prefix_available",
    "create_source",
    "not_emulated",
    "parse_create",
]

ACCESS_METHODS = ("warehouse", "direct")
CREATED_VIA = ("web", "api", "mcp")
DIRECT_TYPES = ("Postgres", "MySQL")
_PREFIX_MESSAGES = {"required": "Source type already exists. Prefix is required", "exists": "Prefix already exists"}


@dataclass(frozen=True)
class CreateRequest:
    source_type: str
    payload: dict[str, Any]
    prefix: str | None
    description: str | None
    access_method: str
    created_via: str


def parse_create(data: Mapping[str, Any]) -> CreateRequest:
    """Step 1, the serializer: first failing field wins, in this order."""
    source_type = choice_field(required_field(data, "source_type"), "source_type", all_source_type_names())
    payload = required_field(data, "payload")
    if not isinstance(payload, dict):
        raise ApiProblem.drf(
            400,
            f'Expected a dictionary of items but got type "{type(payload).__name__}".',
            code="not_a_dict",
            attr="payload",
        )
    prefix = char_field(data.get("prefix"), "prefix", max_length=100)
    description = char_field(data.get("description"), "description", max_length=400)
    access_method = choice_field(data.get("access_method", "warehouse"), "access_method", ACCESS_METHODS)
    created_via = choice_field(data.get("created_via", "api"), "created_via", CREATED_VIA)
    assert source_type is not None and access_method is not None and created_via is not None
    return CreateRequest(source_type, payload, prefix, description, access_method, created_via)


def check_prefix_available(state: EmulatorState, team_id: int, source_type: str, prefix: str | None) -> None:
    """Uniqueness per (team, source_type) among live sources (§8.3 step 3, §8.10)."""
    conflict = state.store.prefix_conflict(team_id, source_type, prefix)
    if conflict:
        raise ApiProblem.message(_PREFIX_MESSAGES[conflict])


def not_emulated(source_type: str) -> ApiProblem:
    """A valid PostHog type the bundled catalog does not describe: refused openly, never faked."""
    return ApiProblem.message(f"Source type '{source_type}' is not supported by the local emulator.")


def _cdc_names(items: Sequence[Mapping[str, Any]]) -> list[str]:
    """The enabled items asking for CDC, sorted (PostHog names them as a sorted set)."""
    return sorted({i["name"] for i in items if i.get("should_sync") and i.get("sync_type") == "cdc"})


def _check_schemas(items: Any, tables: Mapping[str, DiscoveredTable], cdc_enabled: bool) -> list[dict[str, Any]]:
    """Step 11: `payload.schemas` rules, in PostHog's order. A CDC table needs CDC on for the source (the
    payload's `cdc_enabled`, a Postgres source, the team's CDC flag) and a real primary-key constraint
    upstream: PostHog queries the constraints, so neither an `id` column nor the item's
    `primary_key_columns` counts (§16)."""
    if not isinstance(items, list) or not items:
        raise ApiProblem.message("Schemas not given")
    named = [i if isinstance(i, dict) else {} for i in items]
    if any(not isinstance(i.get("name"), str) or i["name"] not in tables for i in named):
        raise ApiProblem.message("Schemas given do not exist in source")
    cdc = _cdc_names(named)
    if cdc and not cdc_enabled:
        raise ApiProblem.message(
            "CDC must be enabled on the source before selecting it as a sync type. "
            f"The following schemas requested CDC: {', '.join(cdc)}."
        )
    no_pk = [n for n in cdc if not tables[n].key_constraint]
    if no_pk:
        raise ApiProblem.message(
            f"CDC requires a primary key on each table. The following tables have no primary key: {', '.join(no_pk)}."
        )
    for item in named:
        if item.get("should_sync") and item.get("sync_type") in SYNC_TYPES_NEEDING_CURSOR:
            if not item.get("incremental_field"):
                raise ApiProblem.message("Incremental schemas given do not have an incremental field set")
            if not item.get("incremental_field_type"):
                raise ApiProblem.message("Incremental schemas given do not have an incremental field type set")
    return named


def _check_prefix(state: EmulatorState, team_id: int, req: CreateRequest) -> None:
    """Steps 2–4: direct query only for Postgres and MySQL, where the trimmed prefix is the display name;
    warehouse prefixes follow the character and uniqueness rules, and a billing-paused team creates none."""
    if req.access_method == "direct":
        if req.source_type not in DIRECT_TYPES:
            raise ApiProblem.message("Direct query mode is currently supported only for Postgres and MySQL sources.")
        if not req.prefix:
            raise ApiProblem.message("Name is required for direct query sources")
        return
    problem = prefix_error(req.prefix)
    if problem:
        raise ApiProblem.drf(400, problem)
    check_prefix_available(state, team_id, req.source_type, req.prefix)
    refuse_if_billing_paused(state.store, team_id)


async def _discover(st: SourceType, upstream: Upstream, job_inputs: Mapping[str, Any]) -> list[DiscoveredTable]:
    """Step 8, the live credential check, then step 10, discovery."""
    try:
        await run_in_threadpool(upstream.check_credentials, st.name, job_inputs)
    except UpstreamError as exc:
        raise ApiProblem.message(exc.message or "Invalid credentials") from None
    try:
        return await run_in_threadpool(upstream.discover, st.name, job_inputs)
    except UpstreamError:
        raise ApiProblem.server_error() from None  # §8.3 step 10: not caught by PostHog → 500


async def create_source(state: EmulatorState, team_id: int, created_by: str | None, data: Mapping[str, Any]) -> str:
    """Run the create pipeline for `team_id` (the caller authorised it); returns the new source id or raises
    ApiProblem."""
    req = parse_create(data)
    _check_prefix(state, team_id, req)
    # Step 5: top-level strings trimmed. Step 7: required fields (presence only).
    payload = trim_top_level(req.payload)
    st: SourceType | None = state.catalog.get(req.source_type)
    upstream = state.upstreams.get(req.source_type)
    if st is None or upstream is None:
        raise not_emulated(req.source_type)
    missing = missing_required(st, payload)
    job_inputs = normalise_job_inputs(st, payload)
    invalid = invalid_values(st, job_inputs)
    if missing or invalid:
        raise ApiProblem.message(invalid_config_message(missing, invalid))
    tables = {t.name: t for t in await _discover(st, upstream, job_inputs)}
    cdc_enabled = bool(payload.get("cdc_enabled")) and st.cdc and team_id in state.cdc_teams
    items = _check_schemas(payload.get("schemas"), tables, cdc_enabled)
    direct = req.access_method == "direct"
    ctx = RowContext(direct=direct, column_selection=st.supports_column_selection)
    try:
        source = state.store.create_source(
            team_id=team_id,
            source_type=req.source_type,
            prefix=req.prefix,
            description=req.description,
            access_method=req.access_method,
            created_via=req.created_via,
            created_by=created_by,
            job_inputs=job_inputs,
            revenue_enabled=revenue_analytics_defaults(req.source_type)["enabled"],  # §6
            schemas=[created_row(i, tables[i["name"]], ctx) for i in items],
            check_prefix=not direct,
        )
    except PrefixConflict as exc:  # lost a race with a concurrent create
        raise ApiProblem.message(_PREFIX_MESSAGES[exc.kind]) from None
    return source.id
