"""Render store rows as PostHog's JSON objects: the source (§6), schema (§7) and job (§8.8) shapes,
with job_inputs redaction (§6). Field order is part of the contract and is kept exactly.

Reads rows and the catalog only; no HTTP, no writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.catalog import Catalog, SourceType
from reconciler.emulator.store import JobRow, SchemaRow, SourceRow
from reconciler.emulator.upstreams.types import DiscoveredTable

__all__ = [
    "derive_status",
    "redact_job_inputs",
    "render_job",
    "render_schema",
    "render_source",
    "render_table_preview",
]

#: Source `status` derivation (§6): checked in this order over syncing schemas, then active ones.
_SYNCING_STATUSES = (
    ("Failed", "Failed"),
    ("BillingLimitReached", "Billing limits"),
    ("BillingLimitTooLow", "Billing limits too low"),
)
_ACTIVE_STATUSES = ("Paused", "Running", "Completed")
#: Stored schema statuses → their API labels (§7).
_SCHEMA_STATUS_LABELS = {"BillingLimitReached": "Billing limits", "BillingLimitTooLow": "Billing limits too low"}
#: Jobs say "Billing limit too low", singular "limit", unlike schemas (§8.8).
_JOB_STATUS_LABELS = {"BillingLimitReached": "Billing limits", "BillingLimitTooLow": "Billing limit too low"}


def _filter(value: Any, keep: frozenset[str], drop: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        return {k: _filter(v, keep, drop) for k, v in value.items() if k in keep and k not in drop}
    if isinstance(value, list):
        return [_filter(v, keep, drop) for v in value]
    return value


def _normalise_tunnel(tunnel: Any) -> Any:
    """§6: legacy `auth_type` → `auth`, `auth.type` → `auth.selection`, missing `require_tls` filled."""
    if not isinstance(tunnel, Mapping):
        return tunnel
    t = dict(tunnel)
    if "auth_type" in t and "auth" not in t:
        t["auth"] = t.pop("auth_type")
    if isinstance(t.get("auth"), Mapping) and "type" in t["auth"] and "selection" not in t["auth"]:
        auth = dict(t["auth"])
        auth["selection"] = auth.pop("type")
        t["auth"] = auth
    t.setdefault("require_tls", {"enabled": True})
    return t


def redact_job_inputs(source_type: SourceType | None, job_inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Keep a key only if it is readable and not sensitive, recursively and name-based; secrets are
    omitted, never masked; unknown keys dropped; an unknown source type reads as `{}` (§6)."""
    if source_type is None:
        return {}
    values = dict(job_inputs)
    if source_type.has_ssh_tunnel and isinstance(values.get("ssh_tunnel"), Mapping):
        values["ssh_tunnel"] = _normalise_tunnel(values["ssh_tunnel"])  # before filtering: renames keys
    return dict(_filter(values, source_type.readable_names, source_type.sensitive_names))


def derive_status(source: SourceRow, schemas: Sequence[SchemaRow]) -> str:
    """§6 "Status derivation": disabled schemas' failures are ignored; fall back to the stored status."""
    syncing = [s for s in schemas if s.should_sync]
    active = [s for s in schemas if s.should_sync or s.latest_error is not None]
    for stored, label in _SYNCING_STATUSES:
        if any(s.status == stored for s in syncing):
            return label
    for stored in _ACTIVE_STATUSES:
        if any(s.status == stored for s in active):
            return stored
    return source.status


def render_schema(s: SchemaRow, source: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The schema object (§7), in its asserted field order. `source` is filled only on single retrieve."""
    return {
        "id": s.id,
        "name": s.name,
        "label": s.label,
        "table": s.synced_table,
        "should_sync": s.should_sync,
        "last_synced_at": s.last_synced_at,
        "latest_error": s.latest_error,
        "incremental": s.sync_type == "incremental",
        "status": _SCHEMA_STATUS_LABELS.get(s.status or "", s.status),
        "sync_type": s.sync_type,
        "incremental_field": s.incremental_field,
        "incremental_field_type": s.incremental_field_type,
        "sync_frequency": s.sync_frequency if s.sync_frequency != "never" else None,
        "sync_time_of_day": s.sync_time_of_day,
        "description": s.description,
        "primary_key_columns": s.primary_key_columns,
        "cdc_table_mode": s.cdc_table_mode,
        "enabled_columns": s.enabled_columns,
        "available_columns": s.available_columns,
        "source": source,
    }


def _last_run_at(completed_at: str | None) -> str | None:
    """`last_run_at` is built with isoformat(), so it ends in +00:00, not Z (§1, §6)."""
    return None if completed_at is None else completed_at.removesuffix("Z") + "+00:00"


def render_source(
    source: SourceRow, schemas: Sequence[SchemaRow], catalog: Catalog, last_completed_at: str | None = None
) -> dict[str, Any]:
    """The source object (§6) in its asserted field order."""
    st = catalog.get(source.source_type)
    latest_error = next((s.latest_error for s in schemas if s.latest_error is not None), None)
    return {
        "id": source.id,
        "created_at": source.created_at,
        "created_by": source.created_by,
        "created_via": source.created_via,
        "status": derive_status(source, schemas),
        "source_type": source.source_type,
        "latest_error": latest_error,
        "prefix": source.prefix,
        "description": source.description,
        "access_method": source.access_method,
        "engine": st.engine if st is not None and source.access_method == "direct" else None,
        "last_run_at": _last_run_at(last_completed_at),
        "schemas": [render_schema(s) for s in schemas],
        "job_inputs": redact_job_inputs(st, source.job_inputs),
        "revenue_analytics_config": {
            "enabled": source.revenue_enabled,
            "include_invoiceless_charges": source.revenue_include_invoiceless,
        },
        "user_access_level": "editor",  # §6: "editor" when no access rules apply
        "supports_webhooks": bool(st and st.supports_webhooks),
        "supports_column_selection": bool(st and st.supports_column_selection),
    }


def render_job(job: JobRow, schema: SchemaRow | None) -> dict[str, Any]:
    """A job item (§8.8) with the slim schema shape of §7."""
    slim = None
    if schema is not None:
        slim = {
            "id": schema.id,
            "name": schema.name,
            "label": schema.label,
            "should_sync": schema.should_sync,
            "last_synced_at": schema.last_synced_at,
            "sync_type": schema.sync_type,
        }
    return {
        "id": job.id,
        "created_at": job.created_at,
        "created_by": job.created_by,
        "finished_at": job.finished_at,
        "status": _JOB_STATUS_LABELS.get(job.status, job.status),
        "schema": slim,
        "rows_synced": job.rows_synced,
        "latest_error": job.latest_error,
        "workflow_run_id": job.workflow_run_id,
        "cdc_write_mode": None,
    }


def render_table_preview(
    table: DiscoveredTable, sql_like: bool, *, cdc_available: bool | None = None
) -> dict[str, Any]:
    """One `database_schema` entry (§8.9), in PostHog's key order; SQL-like sources add `nullable` and
    `is_indexed` to each cursor candidate. `incremental_fields` (§9.4) reuses its pieces."""
    fields = []
    for f in table.incremental_fields:
        item: dict[str, Any] = {"label": f.label, "type": f.type, "field": f.field, "field_type": f.field_type}
        if sql_like:
            item |= {"nullable": f.nullable, "is_indexed": f.is_indexed}
        fields.append(item)
    return {
        "table": table.name,
        "label": table.label,
        "should_sync": False,
        "should_sync_default": not table.webhook_only,
        "description": table.description,
        "rows": None,
        "incremental_fields": fields,
        "incremental_available": table.incremental_available,
        "append_available": table.append_available,
        "cdc_available": cdc_available,
        "incremental_field": table.incremental_fields[0].field if table.incremental_fields else None,
        "sync_type": None,
        "supports_webhooks": table.supports_webhooks,
        "webhook_only": table.webhook_only,
        "available_columns": [
            {"field": c.name, "label": c.name, "type": c.data_type, "nullable": c.nullable} for c in table.columns
        ],
        "detected_primary_keys": None if table.primary_keys is None else list(table.primary_keys),
        "permission_error": None,
        "rls_warning": None,
    }
