"""Every Step kind, defined once: its typed payload, its stable `kind` string, the one line that describes it
(the API call: plan steps, apply reports and the JSON report use the same words), what it changes in the
manifest's words (`effect`: the apply log's line per step), the fields of its serial form, and the Secrets its
request body carries. The text and markdown renderers, the executor, the apply reports and the JSON codec all read a
step through this module, so adding a kind means adding one class here (and its executor handler).

Pure data. `describe()` returns raw text: each output escapes it for its medium (`render_text.clean`).
Must not know: JSON, files, HTTP, rendering.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, ClassVar, Protocol

from reconciler.manifest.models import TABLE_KEYS_OF_API, TableSettings
from reconciler.records import record
from reconciler.secret import SECRET_MASK, Secret, collect_secrets

__all__ = [
    "STEP_KINDS",
    "STEP_TYPES",
    "CreateSource",
    "DeleteSource",
    "FieldReader",
    "OwnedDescription",
    "PatchRevenueConfig",
    "PatchSchemas",
    "PatchSource",
    "RefreshSchemas",
    "ReloadSource",
    "SchemaUpdate",
    "Step",
    "describe_effect",
    "describe_step",
    "source_label",
    "step_kind",
]


@record
class OwnedDescription:
    """A description to send: the user's text plus the ownership trailer (reconciler.ownership).

    `fingerprint` is the 12-hex secrets fingerprint (plan/fingerprint.py), or only its 6-hex version half
    when the values half could not be computed at plan time (no key, or secret values absent — e.g. a plan
    saved on a pull request): the executor then completes it from the values it sends."""

    user_text: str | None
    address: str
    fingerprint: str


class FieldReader(Protocol):
    """What a step needs to read its serial fields back (the codec's reader, which knows where it is)."""

    def string(self, key: str) -> str: ...

    def opt_string(self, key: str) -> str | None: ...

    def mapping(self, key: str) -> dict[str, Any]: ...

    def mappings(self, key: str) -> list[dict[str, Any]]: ...

    def items(self, key: str) -> Sequence[FieldReader]: ...

    def obj(self, key: str) -> FieldReader: ...

    def description(self, key: str) -> OwnedDescription: ...

    def has_object(self, key: str) -> bool: ...


def source_label(source_type: str, prefix: str | None) -> str:
    """`Stripe, prefix stripe_prod` / `Stripe, no prefix`."""
    return f"{source_type}, " + (f"prefix {prefix}" if prefix else "no prefix")


def _names(items: Iterable[Any]) -> str:
    return ", ".join(str(i) for i in items)


# ---- effects: what a step changes, in the manifest's words ----------------------------------------------

#: The manifest's order of table settings (`sync`, `sync_type`, …, `frequency`, …).
_TABLE_ORDER = {key: n for n, key in enumerate(TableSettings.FIELDS)}
_BARE = re.compile(r"[\w.:/@+-]+")
#: The `old` mapping lacks a path: the value before is not known (shown as `= new`).
_UNKNOWN = object()


def _shown(value: Any) -> str:
    """A value as a person reads it in a log line: bare words bare (`1hour`, `true`), other text quoted, a
    Secret as `(secret)` whatever it holds."""
    if isinstance(value, Secret):
        return SECRET_MASK
    if isinstance(value, OwnedDescription):
        return _shown(value.user_text)
    if isinstance(value, Enum):
        return _shown(value.value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if _BARE.fullmatch(value) else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def _table_rank(api_name: str) -> tuple[int, str]:
    """Where a table setting (PostHog's name) comes in the manifest's order; unknown ones last, by name."""
    return _TABLE_ORDER.get(TABLE_KEYS_OF_API.get(api_name, api_name), len(_TABLE_ORDER)), api_name


def _change(name: str, path: str, new: Any, old: Mapping[str, Any]) -> str:
    """`frequency 6hour → 1hour`; `frequency = 1hour` when the value before is not known."""
    before = old.get(path, _UNKNOWN)
    if isinstance(new, Secret):
        return f"{name} (secret)"
    if before is _UNKNOWN:
        return f"{name} = {_shown(new)}"
    return f"{name} {_shown(before)} → {_shown(new)}"


# ---- the steps: the exact API calls apply will make, in order within a chain --------------------------


@record
class Step:
    """Base of all steps. `address` names the manifest source; `source_id` is the live id, or None
    when it is only known after this chain's CreateSource has run (the executor resolves it)."""

    kind: ClassVar[str]

    address: str
    source_id: str | None

    @property
    def target(self) -> str:
        """`[<live id>]`, or `[new]` when the id comes from this chain's create_source at apply time."""
        return f"[{self.source_id}]" if self.source_id else "[new]"

    def describe(self) -> str:
        """One line naming the API call and what it touches (field and table names, never values)."""
        return f"{self.kind} {self.target}"

    def fields(self) -> dict[str, Any]:
        """The payload's serial fields beyond kind, address and source_id (values as held: the codec encodes)."""
        return {}

    @classmethod
    def from_fields(cls, address: str, source_id: str | None, reader: FieldReader) -> Step:
        return cls(address, source_id)

    def secrets(self) -> list[Secret]:
        """The Secrets this step's request body carries."""
        return []

    def writes(self) -> list[tuple[str, Any]]:
        """What the request changes in PostHog, as (field, new value) pairs: `config.<path>`, `secret.<path>`
        (the value a Secret), `tables.<name>.<setting>`, `revenue_analytics.<key>`, `description` (the
        user's text), `create` and `delete`. Nothing for calls that set no value (refresh, reload)."""
        return []

    def effect(self, old: Mapping[str, Any]) -> str:
        """What the step changes, in the manifest's words (see `describe_effect`)."""
        return self.kind.replace("_", " ")


def _config_writes(prefix: str, values: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Config leaves under `prefix`, nested mappings walked; a Secret leaf is `secret.<path>`."""
    out: list[tuple[str, Any]] = []
    for key, value in sorted(values.items()):
        path = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            out += _config_writes(path, value)
        else:
            out.append(("secret" + path[len("config") :] if isinstance(value, Secret) else path, value))
    return out


@record
class DeleteSource(Step):
    kind = "delete_source"

    def writes(self) -> list[tuple[str, Any]]:
        return [("delete", None)]

    def effect(self, old: Mapping[str, Any]) -> str:
        return f"delete the source {self.target} and its synced tables"


@record
class CreateSource(Step):
    """POST with `payload.schemas` for the listed tables. `payload` may hold Secret objects, revealed only
    by the client when the body is built."""

    kind = "create_source"

    source_type: str
    prefix: str | None
    description: OwnedDescription
    payload: Mapping[str, Any]
    schemas: tuple[Mapping[str, Any], ...]

    def describe(self) -> str:
        detail = source_label(self.source_type, self.prefix)
        if self.payload:
            detail += f"; fields: {_names(self.payload)}"
        tables = [s.get("name", "?") for s in self.schemas]
        detail += f"; tables: {_names(tables)}" if tables else "; no tables"
        return f"{self.kind} ({detail})"

    def fields(self) -> dict[str, Any]:
        return {
            "source_type": self.source_type,
            "prefix": self.prefix,
            "description": self.description,
            "payload": self.payload,
            "schemas": self.schemas,
        }

    @classmethod
    def from_fields(cls, address: str, source_id: str | None, reader: FieldReader) -> Step:
        return cls(
            address=address,
            source_id=source_id,
            source_type=reader.string("source_type"),
            prefix=reader.opt_string("prefix"),
            description=reader.description("description"),
            payload=reader.mapping("payload"),
            schemas=tuple(reader.mappings("schemas")),
        )

    def secrets(self) -> list[Secret]:
        return list(collect_secrets(self.payload).values())

    def effect(self, old: Mapping[str, Any]) -> str:
        detail = f"create ({source_label(self.source_type, self.prefix)})"
        parts = [f"config {_names(self.payload)}"] if self.payload else []
        tables = [str(s.get("name", "?")) for s in self.schemas]
        parts.append(f"tables {_names(tables)}" if tables else "no tables")
        return f"{detail}: {'; '.join(parts)}"

    def writes(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = [("create", source_label(self.source_type, self.prefix))]
        out.append(("description", self.description.user_text))
        out += _config_writes("config", self.payload)
        for schema in self.schemas:
            name = schema.get("name")
            out += [(f"tables.{name}.{key}", value) for key, value in sorted(schema.items()) if key != "name"]
        return out


@record
class PatchSource(Step):
    """Only the fields that differ: `description` (an OwnedDescription) and/or `job_inputs` (may hold
    Secrets; PostHog shallow-merges it, §8.4)."""

    kind = "patch_source"

    changes: Mapping[str, Any]

    def describe(self) -> str:
        parts = []
        for key, value in self.changes.items():
            parts.append(f"{key} ({_names(value)})" if isinstance(value, Mapping) and value else str(key))
        return f"{self.kind} {self.target}: {', '.join(parts)}"

    def fields(self) -> dict[str, Any]:
        return {"changes": self.changes}

    @classmethod
    def from_fields(cls, address: str, source_id: str | None, reader: FieldReader) -> Step:
        changes = reader.mapping("changes")
        if reader.obj("changes").has_object("description"):  # an OwnedDescription, written as an object
            changes["description"] = reader.obj("changes").description("description")
        return cls(address, source_id, changes)

    def secrets(self) -> list[Secret]:
        return list(collect_secrets(self.changes.get("job_inputs") or {}).values())

    def effect(self, old: Mapping[str, Any]) -> str:
        """Changed fields old → new; secrets by name (`secrets re-sent: …`). Values sent along unchanged (PostHog
        wants a whole container back) are left out when `old` says which fields change."""
        parts: list[str] = []
        config: list[str] = []
        secrets: list[str] = []
        for path, new in self.writes():
            name = path.partition(".")[2]
            if path == "description":
                parts.append(_change("description", path, new, old))
            elif isinstance(new, Secret):
                secrets.append(name)
            elif not old or f"config.{name}" in old:
                config.append(_change(name, f"config.{name}", new, old))
        if config:
            parts.append(f"config {', '.join(config)}")
        if secrets:
            parts.append(f"secrets re-sent: {', '.join(secrets)}")
        return "; ".join(parts) or "patch the source (values unchanged)"

    def writes(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if "description" in self.changes:
            description = self.changes["description"]
            out.append(("description", getattr(description, "user_text", description)))
        out += _config_writes("config", self.changes.get("job_inputs") or {})
        return out


@record
class RefreshSchemas(Step):
    """Needed before table steps when a listed table is not yet known to PostHog."""

    kind = "refresh_schemas"

    def effect(self, old: Mapping[str, Any]) -> str:
        return "discover the upstream's tables (new ones are added, not synced)"


@record
class SchemaUpdate:
    """Settings to PATCH on one table. `schema_id` None = resolve by `name` at apply time."""

    name: str
    schema_id: str | None
    changes: Mapping[str, Any]


@record
class PatchSchemas(Step):
    """The tables' settings, in one bulk_update_schemas call where PostHog allows it (the client falls back
    to one PATCH per table)."""

    kind = "patch_schemas"

    updates: tuple[SchemaUpdate, ...]

    def describe(self) -> str:
        per_table = "; ".join(f"{u.name}: {_names(u.changes) or 'no settings'}" for u in self.updates)
        return f"{self.kind} {self.target}: {per_table}"

    def fields(self) -> dict[str, Any]:
        return {"updates": [{"name": u.name, "schema_id": u.schema_id, "changes": u.changes} for u in self.updates]}

    def writes(self) -> list[tuple[str, Any]]:
        return [(f"tables.{u.name}.{key}", value) for u in self.updates for key, value in sorted(u.changes.items())]

    def effect(self, old: Mapping[str, Any]) -> str:
        per_table = []
        for u in self.updates:
            keys = sorted(u.changes, key=_table_rank)
            settings = [_change(TABLE_KEYS_OF_API.get(k, k), f"tables.{u.name}.{k}", u.changes[k], old) for k in keys]
            per_table.append(f"{u.name}: {', '.join(settings) or 'no settings'}")
        return f"tables {'; '.join(per_table)}"

    @classmethod
    def from_fields(cls, address: str, source_id: str | None, reader: FieldReader) -> Step:
        updates = tuple(
            SchemaUpdate(name=u.string("name"), schema_id=u.opt_string("schema_id"), changes=u.mapping("changes"))
            for u in reader.items("updates")
        )
        return cls(address, source_id, updates)


@record
class PatchRevenueConfig(Step):
    kind = "patch_revenue_config"

    changes: Mapping[str, Any]

    def describe(self) -> str:
        return f"{self.kind} {self.target}: {_names(self.changes)}"

    def fields(self) -> dict[str, Any]:
        return {"changes": self.changes}

    @classmethod
    def from_fields(cls, address: str, source_id: str | None, reader: FieldReader) -> Step:
        return cls(address, source_id, reader.mapping("changes"))

    def writes(self) -> list[tuple[str, Any]]:
        return [(f"revenue_analytics.{key}", value) for key, value in sorted(self.changes.items())]

    def effect(self, old: Mapping[str, Any]) -> str:
        return "revenue_analytics " + ", ".join(
            _change(path.partition(".")[2], path, v, old) for path, v in self.writes()
        )


@record
class ReloadSource(Step):
    """`apply --sync`: trigger a sync of the enabled tables."""

    kind = "reload_source"

    def effect(self, old: Mapping[str, Any]) -> str:
        return "start a sync of the synced tables"


#: Every step kind, in chain order; `kind` string -> class for readers of the serial form.
STEP_TYPES: Mapping[str, type[Step]] = {
    cls.kind: cls
    for cls in (CreateSource, PatchSource, RefreshSchemas, PatchSchemas, PatchRevenueConfig, DeleteSource, ReloadSource)
}
#: Step class -> its stable `kind` string.
STEP_KINDS: Mapping[type[Step], str] = {cls: kind for kind, cls in STEP_TYPES.items()}


def step_kind(step: Step) -> str:
    """The `kind` of a step; raises on a step class this module does not define (never guess)."""
    try:
        return STEP_KINDS[type(step)]
    except KeyError:
        raise TypeError(f"step type {type(step).__name__} has no serial form; define it in plan/steps.py") from None


def describe_step(step: Step) -> str:
    """The one description of a step, for plans, progress lines and apply reports."""
    step_kind(step)
    return step.describe()


def describe_effect(step: Step, old: Mapping[str, Any] | None = None) -> str:
    """What `step` changes, in the manifest's words: the apply log's line (`tables accounts: frequency 6hour →
    1hour`), where `describe_step` names the API call. `old` maps a field path as the plan's field diffs name it
    (`config.host`, `tables.accounts.sync_frequency`, `description`, `revenue_analytics.enabled`) to its value
    before the step; a path it lacks is shown with its new value only (`frequency = 1hour`). Raw text: each
    output escapes it for its medium."""
    step_kind(step)
    return step.effect(old or {})
