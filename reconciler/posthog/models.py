"""LiveState: what PostHog has, as frozen dataclasses, normalised from the wire format.

Built only from API responses (`from_wire`), which checks the type of every value it keeps as given
(`shape.py`: a wrong one is a `ShapeError` naming the field); knows nothing of manifests or HTTP. Normalisation
(reference/posthog-api.md §6, §7): stringified scalars typed through the catalog, secrets absent
(PostHog omits them; anything sensitive that still arrives is dropped, never masked), `sync_frequency`
null read as "never", `prefix` "" read as None, schemas sorted and addressable by name. The wire object
is kept in `LiveSource.raw` (with the same secret scrub, and without the embedded schemas, which are
already held once as LiveSchema objects: at 1,000 sources × 50 tables a second copy costs ~100 MB).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import field
from typing import Any

from reconciler.catalog import SCHEMA_WRITABLE_FIELDS, Catalog, load_catalog
from reconciler.posthog.normalise import normalise_config, scrub_sensitive, to_bool
from reconciler.posthog.shape import ShapeError, exact_object, integer, optional_bool, optional_str
from reconciler.records import record

__all__ = [
    "SCHEMA_WRITABLE_FIELDS",
    "IncrementalCandidate",
    "LiveJob",
    "LiveRevenueConfig",
    "LiveSchema",
    "LiveSource",
    "LiveState",
    "PreflightTable",
    "RefreshResult",
]


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _names(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in value)


def _digest(content: Any) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@record(kw_only=True, slots=True)
class LiveSchema:
    """One table of a source (the schema object, §7).

    `sync_frequency` is "never" where the wire says null (§7), and None only when the response did not
    carry the key at all (newer PostHog embeds a trimmed schema shape in lists, §14).
    """

    id: str
    name: str
    label: str | None = None
    should_sync: bool = False
    sync_type: str | None = None
    incremental_field: str | None = None
    incremental_field_type: str | None = None
    sync_frequency: str | None = "never"
    sync_time_of_day: str | None = None
    primary_key_columns: tuple[str, ...] | None = None
    cdc_table_mode: str | None = None
    enabled_columns: tuple[str, ...] | None = None
    available_columns: tuple[str, ...] = ()  # column names PostHog discovered (enabled_columns must be among them)
    status: str | None = None
    latest_error: str | None = None
    last_synced_at: str | None = None
    incremental: bool = False
    has_table: bool = False

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> LiveSchema:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            label=_str_or_none(data.get("label")),
            should_sync=bool(to_bool(data.get("should_sync") or False)),
            sync_type=optional_str(data.get("sync_type"), "sync_type"),
            incremental_field=optional_str(data.get("incremental_field"), "incremental_field"),
            incremental_field_type=optional_str(data.get("incremental_field_type"), "incremental_field_type"),
            # "never" is stored as a null interval and reads back as null (§7).
            sync_frequency=(
                optional_str(data.get("sync_frequency") or "never", "sync_frequency")
                if "sync_frequency" in data
                else None
            ),
            sync_time_of_day=optional_str(data.get("sync_time_of_day"), "sync_time_of_day"),
            primary_key_columns=_names(data.get("primary_key_columns")),
            cdc_table_mode=optional_str(data.get("cdc_table_mode"), "cdc_table_mode"),
            enabled_columns=_names(data.get("enabled_columns")),
            available_columns=tuple(
                str(c["name"]) for c in data.get("available_columns") or () if isinstance(c, Mapping) and "name" in c
            ),
            status=optional_str(data.get("status"), "status"),
            latest_error=optional_str(data.get("latest_error"), "latest_error"),
            last_synced_at=_str_or_none(data.get("last_synced_at")),
            incremental=bool(data.get("incremental") or False),
            has_table=data.get("table") is not None,
        )

    def __hash__(self) -> int:  # by identity: the tuple/dict fields make the generated field hash impossible
        return hash(("LiveSchema", self.id))

    def settings(self) -> dict[str, Any]:
        """The writable settings (§9.3), in the form a schema PATCH takes (lists, not tuples)."""
        out: dict[str, Any] = {}
        for name in SCHEMA_WRITABLE_FIELDS:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


def _embedded_schema(data: Mapping[str, Any]) -> LiveSchema:
    try:
        return LiveSchema.from_wire(data)
    except ShapeError as exc:  # say which `status` it was: a source has one too
        raise exc.within("schemas") from None


@record(kw_only=True, slots=True)
class LiveRevenueConfig:
    enabled: bool
    include_invoiceless_charges: bool

    def settings(self) -> dict[str, bool]:
        """The config in the API's form (`revenue_analytics_config`, §8.12)."""
        return {"enabled": self.enabled, "include_invoiceless_charges": self.include_invoiceless_charges}


@record(kw_only=True, slots=True)
class LiveSource:
    """One external data source (§6) with its embedded schemas.

    `config` is `job_inputs` normalised through the catalog: typed scalars, underscore names, no secrets.
    """

    id: str
    source_type: str
    prefix: str | None = None
    description: str | None = None
    access_method: str | None = None
    status: str | None = None
    latest_error: str | None = None
    engine: str | None = None
    created_at: str | None = None
    created_by: str | None = None
    created_via: str | None = None
    last_run_at: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    revenue_analytics: LiveRevenueConfig | None = None
    schemas: tuple[LiveSchema, ...] = ()
    supports_webhooks: bool = False
    supports_column_selection: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], catalog: Catalog | None = None) -> LiveSource:
        catalog = catalog if catalog is not None else load_catalog()
        source_type = str(data["source_type"])
        known = catalog.get(source_type)
        job_inputs = data.get("job_inputs")
        job_inputs = job_inputs if isinstance(job_inputs, Mapping) else {}
        if known is not None:
            # PostHog already strips secrets on read (§6); dropping them again means a server that ever
            # slips one through still cannot push it into a plan file or an output.
            job_inputs = scrub_sensitive(job_inputs, known.sensitive_names)
        revenue = data.get("revenue_analytics_config")
        schemas = sorted(
            (_embedded_schema(s) for s in data.get("schemas") or () if isinstance(s, Mapping)),
            key=lambda s: (s.name, s.id),
        )
        raw = {k: v for k, v in data.items() if k != "schemas"}
        raw["job_inputs"] = job_inputs
        prefix = data.get("prefix")
        return cls(
            id=str(data["id"]),
            source_type=source_type,
            # null and "" are the same "no prefix" to PostHog's uniqueness rule (§8.3 step 3).
            prefix=optional_str(prefix or None, "prefix"),
            description=optional_str(data.get("description"), "description"),
            access_method=optional_str(data.get("access_method"), "access_method"),
            status=optional_str(data.get("status"), "status"),
            latest_error=optional_str(data.get("latest_error"), "latest_error"),
            engine=optional_str(data.get("engine"), "engine"),
            created_at=_str_or_none(data.get("created_at")),
            created_by=_str_or_none(data.get("created_by")),
            created_via=optional_str(data.get("created_via"), "created_via"),
            last_run_at=_str_or_none(data.get("last_run_at")),
            config=normalise_config(known, job_inputs),
            revenue_analytics=(
                LiveRevenueConfig(
                    enabled=bool(to_bool(revenue.get("enabled"))),
                    include_invoiceless_charges=bool(to_bool(revenue.get("include_invoiceless_charges"))),
                )
                if isinstance(revenue, Mapping)
                else None
            ),
            schemas=tuple(schemas),
            supports_webhooks=bool(data.get("supports_webhooks") or False),
            supports_column_selection=bool(data.get("supports_column_selection") or False),
            raw=raw,
        )

    def __hash__(self) -> int:  # by identity: `config`/`raw` dicts make the generated field hash impossible
        return hash(("LiveSource", self.id))

    def schema_named(self, name: str) -> LiveSchema | None:
        return next((s for s in self.schemas if s.name == name), None)

    @property
    def schemas_by_name(self) -> dict[str, LiveSchema]:
        return {s.name: s for s in self.schemas}

    def managed_content(self) -> dict[str, Any]:
        """What a saved plan pins: every setting a user manages, none of what syncs change by themselves.

        Included: id, type, prefix, description, access method, normalised non-secret config, revenue
        config, and per schema its id, name and writable settings (§9.3). Excluded: status, errors,
        timestamps, row counts, available columns — they move whenever a sync runs, and a plan saved on a
        pull request must not go stale just because the nightly sync ran.
        """
        return {
            "id": self.id,
            "source_type": self.source_type,
            "prefix": self.prefix,
            "description": self.description,
            "access_method": self.access_method,
            "config": self.config,
            "revenue_analytics": None if self.revenue_analytics is None else self.revenue_analytics.settings(),
            "schemas": [{"id": s.id, "name": s.name, **s.settings()} for s in self.schemas],
        }

    def fingerprint(self) -> str:
        """Stable digest of `managed_content()`: "sha256:<hex>". Same for the GET form ("5432", "True")
        and the PATCH-response form (5432, true) of the same source; never covers a secret."""
        return _digest(self.managed_content())


@record(kw_only=True, slots=True)
class LiveState:
    """Every source of one project, as one list pass returned them (newest first, like PostHog, §5)."""

    sources: tuple[LiveSource, ...] = ()

    def __iter__(self) -> Iterator[LiveSource]:
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)

    def by_id(self, source_id: str) -> LiveSource | None:
        return next((s for s in self.sources if s.id == source_id), None)

    def find(self, source_type: str, prefix: str | None) -> LiveSource | None:
        """The source PostHog identifies by (type, prefix) — unique per project (§8.3); "" means no prefix."""
        prefix = prefix or None
        return next((s for s in self.sources if s.source_type == source_type and s.prefix == prefix), None)

    def fingerprints(self) -> dict[str, str]:
        """Source id → `LiveSource.fingerprint()`, for saved plans."""
        return {s.id: s.fingerprint() for s in self.sources}


@record(kw_only=True, slots=True)
class RefreshResult:
    """`refresh_schemas` response (§8.7)."""

    added: int
    deleted: int
    total_tables_seen: int

    @classmethod
    def from_wire(cls, data: Any) -> RefreshResult:
        """Exactly these three counts; an integer's text ("3") is read as the integer."""
        row = exact_object(data, ("added", "deleted", "total_tables_seen"))
        return cls(
            added=integer(row["added"], "added"),
            deleted=integer(row["deleted"], "deleted"),
            total_tables_seen=integer(row["total_tables_seen"], "total_tables_seen"),
        )


@record(kw_only=True, slots=True)
class IncrementalCandidate:
    """A cursor PostHog offers; send `field`/`field_type`, show `label`/`type` (they differ for Stripe, §10)."""

    label: str
    type: str | None = None
    field: str
    field_type: str | None = None


@record(kw_only=True, slots=True)
class PreflightTable:
    """One entry of the `database_schema` preflight response (§8.9)."""

    table: str
    label: str | None = None
    incremental_fields: tuple[IncrementalCandidate, ...] = ()
    incremental_available: bool = False
    append_available: bool = False
    cdc_available: bool | None = None
    supports_webhooks: bool = False
    webhook_only: bool = False
    available_columns: tuple[str, ...] = ()
    detected_primary_keys: tuple[str, ...] = ()
    permission_error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> PreflightTable:
        return cls(
            table=str(data["table"]),
            label=_str_or_none(data.get("label")),
            incremental_fields=tuple(
                IncrementalCandidate(
                    label=str(f.get("label") or f["field"]),
                    type=optional_str(f.get("type"), "incremental_fields.type"),
                    field=str(f["field"]),
                    field_type=optional_str(f.get("field_type"), "incremental_fields.field_type"),
                )
                for f in data.get("incremental_fields") or ()
                if isinstance(f, Mapping) and "field" in f
            ),
            incremental_available=bool(data.get("incremental_available") or False),
            append_available=bool(data.get("append_available") or False),
            cdc_available=optional_bool(data.get("cdc_available"), "cdc_available"),
            supports_webhooks=bool(data.get("supports_webhooks") or False),
            webhook_only=bool(data.get("webhook_only") or False),
            available_columns=tuple(
                str(c.get("field") or c.get("name"))
                for c in data.get("available_columns") or ()
                if isinstance(c, Mapping) and (c.get("field") or c.get("name"))
            ),
            detected_primary_keys=tuple(str(k) for k in data.get("detected_primary_keys") or ()),
            permission_error=_str_or_none(data.get("permission_error")),
            raw=dict(data),
        )

    def incremental_field_names(self) -> frozenset[str]:
        return frozenset(c.field for c in self.incremental_fields)


@record(kw_only=True, slots=True)
class LiveJob:
    """One sync job of a source (`jobs`, §8.8), newest first."""

    id: str
    status: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
    schema_name: str | None = None
    rows_synced: int | None = None
    latest_error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> LiveJob:
        schema = data.get("schema")
        rows = data.get("rows_synced")
        return cls(
            id=str(data["id"]),
            status=optional_str(data.get("status"), "status"),
            created_at=_str_or_none(data.get("created_at")),
            finished_at=_str_or_none(data.get("finished_at")),
            schema_name=_str_or_none(schema.get("name")) if isinstance(schema, Mapping) else None,
            rows_synced=int(rows) if isinstance(rows, int | str) and str(rows).isdecimal() else None,
            latest_error=optional_str(data.get("latest_error"), "latest_error"),
            raw=dict(data),
        )
