"""Typed view of the source-type catalog (`source_types.yaml`, read as its compiled `source_types.json`): pure
data, no I/O beyond reading it.

Shared by the emulator and the client side; it knows nothing of HTTP, manifests or storage.
Secret classification follows reference/posthog-api.md §6 ("job_inputs redaction").
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import field
from functools import cache
from typing import Any, NamedTuple

from reconciler.catalog.source_values import SSH_TUNNEL_PUBLIC_NAMES, SSH_TUNNEL_SECRET_NAMES
from reconciler.catalog.tables import TableSpec, parse_tables
from reconciler.records import record

__all__ = [
    "BUNDLED_JSON",
    "CDC_KEYS",
    "INPUT_KINDS",
    "META_KEYS",
    "Catalog",
    "Field",
    "PatternCheck",
    "SelectOption",
    "SourceType",
    "all_source_type_names",
    "bundled_catalog_json",
    "load_catalog",
]

#: Connection-target fields when a type names none (reference/posthog-api.md §8.4 step 4).
DEFAULT_CONNECTION_TARGETS = ("host", "instance_url")
#: Cursor sync types a type with incremental fields supports unless it says otherwise.
DEFAULT_SYNC_MODES = ("incremental", "append")
#: PostHog's message when an integration id names no integration of the team (OAuthMixin).
INTEGRATION_MISSING_ERROR = "Integration not found: {id}"
#: Plain input kinds of the wizard's field union (§8.11).
INPUT_KINDS = frozenset({"text", "email", "search", "url", "password", "time", "number", "textarea"})
#: Keys that are structure, not values: kept on read (§6).
META_KEYS = frozenset({"selection", "enabled"})
#: Postgres CDC keys PostHog keeps readable in job_inputs (§6).
CDC_KEYS = frozenset(
    {
        "cdc_enabled",
        "cdc_management_mode",
        "cdc_slot_name",
        "cdc_publication_name",
        "cdc_auto_drop_slot",
        "cdc_lag_warning_threshold_mb",
        "cdc_lag_critical_threshold_mb",
        "cdc_consistent_point",
    }
)


@record
class SelectOption:
    label: str
    value: str
    fields: tuple[Field, ...] = ()


@record
class Field:
    """One form field. `kind` is the wizard `type`: an input kind, `select`, `switch-group`, `oauth`,
    `file-upload` or `ssh-tunnel`. Kind-specific attributes are empty for other kinds."""

    name: str
    kind: str
    label: str
    required: bool = False
    secret: bool = False
    placeholder: str | None = None
    caption: str | None = None
    default: Any = None
    options: tuple[SelectOption, ...] = ()
    converter: str | None = None
    children: tuple[Field, ...] = ()
    oauth_kind: str | None = None
    file_keys: tuple[str, ...] = ()

    @property
    def stored_name(self) -> str:
        """The key PostHog stores: hyphenated declared names are stored with underscores (§6, §10)."""
        return self.name.replace("-", "_")

    @property
    def is_sensitive(self) -> bool:
        """Password/secret inputs and every file upload are stripped on read (§6)."""
        return self.kind == "file-upload" or self.secret or self.kind == "password"

    @property
    def needed(self) -> bool:
        """Must be given: the form marks it required, or it is an integration id (PostHog's credential check
        refuses a missing one, "Missing integration ID", where the form does not mark it: Stripe's and
        Github's OAuth options)."""
        return self.required or self.kind == "oauth"

    @property
    def is_container(self) -> bool:
        """A select submitted as `{"selection": ..., <option fields>}` (auth containers), not a string."""
        return self.kind == "select" and any(o.fields for o in self.options)

    def option(self, value: str) -> SelectOption | None:
        return next((o for o in self.options if o.value == value), None)

    def walk(self) -> Iterator[Field]:
        """This field and every nested field (select option fields, switch-group children)."""
        yield self
        for child in self.children:
            yield from child.walk()
        for option in self.options:
            for child in option.fields:
                yield from child.walk()


@record
class PatternCheck:
    """A value rule PostHog enforces on one (dotted) field path: values must match `pattern`."""

    field: str
    pattern: str
    message: str
    hint: str | None = None
    #: A value that passes (docs/sources.md's examples use it).
    example: str | None = None


@record
class SourceType:
    name: str
    label: str
    category: str
    fields: tuple[Field, ...]
    connection_targets: tuple[str, ...] = ()
    supports_webhooks: bool = False
    supports_column_selection: bool = False
    engine: str | None = None
    #: Statically known tables (API types whose settings list them); None when discovered at connect time.
    tables: Mapping[str, TableSpec] | None = None
    #: False when PostHog may list more tables than `tables` (a newer PostHog, or facts borrowed by a
    #: pulled wizard): an unknown name is then a warning, not an error.
    tables_complete: bool = True
    table_prefixes: tuple[str, ...] = ()
    is_database: bool = False
    direct_query: bool = False
    cdc: bool = False
    sync_modes: tuple[str, ...] = DEFAULT_SYNC_MODES
    config_checks: tuple[PatternCheck, ...] = ()
    credential_checks: tuple[PatternCheck, ...] = ()
    credential_error: str | None = None
    integration_missing_error: str = INTEGRATION_MISSING_ERROR
    #: Our facts about the type (the `x-` keys), kept so a pulled wizard can borrow them.
    facts: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    wizard: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def unreleased(self) -> bool:
        return bool(self.wizard.get("unreleasedSource"))

    @property
    def beta(self) -> bool:
        """PostHog marks a type beta with `betaSource` or (newer) `releaseStatus: alpha|beta`."""
        return bool(self.wizard.get("betaSource")) or self.wizard.get("releaseStatus") in ("alpha", "beta")

    @property
    def feature_flag(self) -> str | None:
        flag = self.wizard.get("featureFlag")
        return str(flag) if flag else None

    def config_check(self, field_name: str) -> PatternCheck | None:
        """The value rule PostHog applies to a field, by the field's name: ours (`x-configChecks`, worded for
        a manifest), else the one PostHog's credential check applies (`x-credentialChecks`, PostHog's words;
        a dotted path matches by its last part)."""
        found = next((c for c in self.config_checks if c.field == field_name), None)
        return found or next((c for c in self.credential_checks if c.field.split(".")[-1] == field_name), None)

    def integration_fields(self) -> Iterator[Field]:
        """Every PostHog integration id field (`oauth` kind, `*_integration_id`), nested ones included."""
        return (f for f in self.all_fields() if f.kind == "oauth")

    def field(self, name: str) -> Field | None:
        """Top-level field by declared or stored name."""
        return next((f for f in self.fields if name in (f.name, f.stored_name)), None)

    def all_fields(self) -> Iterator[Field]:
        for f in self.fields:
            yield from f.walk()

    @property
    def sensitive_names(self) -> frozenset[str]:
        """Names stripped on read wherever they appear (name-based, not path-based, §6)."""
        names = {f.stored_name for f in self.all_fields() if f.is_sensitive}
        if any(f.kind == "ssh-tunnel" for f in self.all_fields()):
            names |= SSH_TUNNEL_SECRET_NAMES
        return frozenset(names)

    @property
    def readable_names(self) -> frozenset[str]:
        """Names kept on read when not also sensitive (§6): non-secret fields, containers, meta keys."""
        names = {f.stored_name for f in self.all_fields() if not f.is_sensitive} | META_KEYS | CDC_KEYS
        if any(f.kind == "ssh-tunnel" for f in self.all_fields()):
            names |= SSH_TUNNEL_PUBLIC_NAMES
        return frozenset(names)

    @property
    def has_ssh_tunnel(self) -> bool:
        return any(f.kind == "ssh-tunnel" for f in self.fields)


def _parse_field(raw: Mapping[str, Any]) -> Field:
    kind = raw["type"]
    options = tuple(
        SelectOption(
            label=str(o["label"]),
            value=str(o["value"]),
            fields=tuple(_parse_field(f) for f in o.get("fields") or ()),
        )
        for o in raw.get("options") or ()
    )
    return Field(
        name=raw["name"],
        kind=kind,
        label=raw.get("label", raw["name"]),
        required=bool(raw.get("required", False)),
        secret=bool(raw.get("secret", False)),
        placeholder=raw.get("placeholder") or None,  # the wizard writes an unset one as ""
        caption=raw.get("caption"),
        default=raw.get("defaultValue", raw.get("default")),
        options=options,
        converter=raw.get("converter"),
        children=tuple(_parse_field(f) for f in raw.get("fields") or ()) if kind == "switch-group" else (),
        oauth_kind=raw.get("kind"),
        file_keys=tuple((raw.get("fileFormat") or {}).get("keys") or ()),
    )


def _wizard_field(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The wizard's camelCase shape of one field, unset optionals as null (§8.11)."""
    kind = raw["type"]
    out: dict[str, Any] = {"name": raw["name"], "label": raw.get("label", raw["name"]), "type": kind}
    if kind in INPUT_KINDS:
        out |= {
            "required": bool(raw.get("required", False)),
            "placeholder": raw.get("placeholder", ""),
            "caption": raw.get("caption"),
            "secret": bool(raw.get("secret", False)),
        }
    elif kind == "select":
        out |= {
            "required": bool(raw.get("required", False)),
            "defaultValue": raw.get("defaultValue"),
            "options": [
                {
                    "label": o["label"],
                    "value": o["value"],
                    "fields": [_wizard_field(f) for f in o["fields"]] if o.get("fields") else None,
                }
                for o in raw.get("options") or ()
            ],
            "converter": raw.get("converter"),
            "caption": raw.get("caption"),
            "multiple": bool(raw.get("multiple", False)),
        }
    elif kind == "switch-group":
        out |= {
            "default": bool(raw.get("default", False)),
            "caption": raw.get("caption"),
            "fields": [_wizard_field(f) for f in raw.get("fields") or ()],
        }
    elif kind == "oauth":
        out |= {
            "required": bool(raw.get("required", False)),
            "kind": raw["kind"],
            "requiredScopes": raw.get("requiredScopes"),
        }
    elif kind == "oauth-account-select":
        out |= {
            "required": bool(raw.get("required", False)),
            "integrationField": raw.get("integrationField"),
            "integrationKind": raw.get("integrationKind"),
        }
    elif kind == "file-upload":
        out |= {"required": bool(raw.get("required", False)), "fileFormat": raw["fileFormat"]}
    return out


def _wizard_entry(name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "label": raw.get("label"),
        "caption": raw.get("caption"),
        "category": raw.get("category"),
        "iconPath": raw.get("iconPath"),
        "iconClassName": raw.get("iconClassName"),
        "docsUrl": raw.get("docsUrl"),
        "featured": bool(raw.get("featured", False)),
        "betaSource": raw.get("betaSource"),
        "releaseStatus": raw.get("releaseStatus"),
        "unreleasedSource": raw.get("unreleasedSource"),
        "disabledReason": raw.get("disabledReason"),
        "existingSource": raw.get("existingSource"),
        "featureFlag": raw.get("featureFlag"),
        "keywords": raw.get("keywords"),
        "permissionsCaption": raw.get("permissionsCaption"),
        "suggestedTables": raw.get("suggestedTables"),
        "fields": [_wizard_field(f) for f in raw["fields"]],
        "webhookFields": raw.get("webhookFields"),
        "webhookSetupCaption": raw.get("webhookSetupCaption"),
        "webhookManualOnly": raw.get("webhookManualOnly"),
        "supportsColumnSelection": bool(raw.get("supportsColumnSelection", False)),
    }


class Catalog(Mapping[str, SourceType]):
    """Source types by their case-sensitive PostHog name.

    The bundled catalog parses a type the first time it is read: a command reads the few types its manifests
    use, and parsing all ~150 costs ~3 ms of every start-up (docs/performance.md). Any other wizard (a pinned
    file, a server's) is parsed whole up front, so a malformed one is refused where it is loaded."""

    def __init__(self, types: Mapping[str, SourceType | _Unparsed]) -> None:
        self._types = dict(types)

    def __getitem__(self, name: str) -> SourceType:
        found = self._types[name]
        if isinstance(found, _Unparsed):  # idempotent: a racing thread parses the same type to an equal value
            found = self._types[name] = _source_type(name, found.raw, found.facts)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def __contains__(self, name: object) -> bool:  # without parsing (Mapping's would read the type)
        return name in self._types

    def wizard(self) -> dict[str, Any]:
        """The `wizard` endpoint's response body: every source's form config (§8.11). A deep copy: callers edit
        it (the emulator's responses, `catalog diff` inputs), and the catalog behind it is shared and cached."""
        return {name: copy.deepcopy(dict(self[name].wizard)) for name in self}

    @classmethod
    def from_wizard(
        cls, data: Mapping[str, Mapping[str, Any]], *, facts: Catalog | None = None, lazy: bool = False
    ) -> Catalog:
        """Build a catalog from a wizard-shaped mapping (the bundled file or a live `wizard` response).

        A live wizard carries none of our `x-` facts (tables, connection targets, ...): with `facts`, a type
        that has none borrows them from the same type there (typically the bundled catalog). `lazy` (trusted
        data only: the bundled file, which tests parse whole) defers parsing each type to its first read."""
        types: dict[str, SourceType | _Unparsed] = {}
        for name, raw in data.items():
            own = {k: v for k, v in raw.items() if k.startswith("x-")}
            if not own and facts is not None and name in facts:
                own = {**facts[name].facts, "x-tablesOpen": True}
            types[name] = _Unparsed(raw, own) if lazy else _source_type(name, raw, own)
        return cls(types)


class _Unparsed(NamedTuple):
    """A type of the bundled catalog not read yet: its wizard entry and our `x-` facts."""

    raw: Mapping[str, Any]
    facts: Mapping[str, Any]


def _checks(raw: Any) -> tuple[PatternCheck, ...]:
    return tuple(
        PatternCheck(str(c["field"]), str(c["pattern"]), str(c["message"]), c.get("hint"), c.get("example"))
        for c in raw or ()
    )


def _source_type(name: str, raw: Mapping[str, Any], facts: Mapping[str, Any]) -> SourceType:
    targets = facts.get("x-connectionTargets")
    return SourceType(
        name=name,
        label=str(raw.get("label") or name),
        category=str(raw.get("category") or ""),
        fields=tuple(_parse_field(f) for f in raw.get("fields") or ()),
        connection_targets=tuple(targets) if targets is not None else DEFAULT_CONNECTION_TARGETS,
        supports_webhooks=bool(facts.get("x-supportsWebhooks", False)),
        supports_column_selection=bool(raw.get("supportsColumnSelection", False)),
        engine=facts.get("x-engine"),
        tables=parse_tables(
            facts.get("x-tables"),
            webhook=facts.get("x-webhookTables") or (),
            webhook_only=facts.get("x-webhookOnlyTables") or (),
        ),
        tables_complete=not facts.get("x-tablesOpen", False),
        table_prefixes=tuple(facts.get("x-tablePrefixes") or ()),
        is_database=bool(facts.get("x-database", False)),
        direct_query=bool(facts.get("x-directQuery", False)),
        cdc=bool(facts.get("x-cdc", False)),
        sync_modes=tuple(facts.get("x-syncModes") or DEFAULT_SYNC_MODES),
        config_checks=_checks(facts.get("x-configChecks")),
        credential_checks=_checks(facts.get("x-credentialChecks")),
        credential_error=facts.get("x-credentialError"),
        integration_missing_error=str(facts.get("x-integrationMissingError") or INTEGRATION_MISSING_ERROR),
        facts=facts,
        wizard=_wizard_entry(name, raw),
    )


#: The bundled catalog as `load_catalog` reads it: `source_types.yaml` (the one file people edit) compiled to
#: JSON, which loads in about a millisecond where the YAML takes tens even with libyaml (docs/performance.md,
#: "Start-up"). `python -m reconciler.docgen` writes it; tests/catalog keeps it equal to the YAML.
BUNDLED_JSON = "source_types.json"


def _package_text(name: str) -> str:
    """A data file of this package, read through its loader (a zipped install works too). Not
    `importlib.resources`: importing it (and the tempfile/shutil it pulls in) costs ~4 ms of every start-up."""
    data: bytes = __spec__.loader.get_data(os.path.join(os.path.dirname(__file__), name))  # type: ignore[union-attr]
    return data.decode("utf-8")


def bundled_catalog_json() -> str:
    """`source_types.yaml` as the text of `BUNDLED_JSON`."""
    import yaml

    text = _package_text("source_types.yaml")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


@cache
def load_catalog() -> Catalog:
    """The catalog bundled with reconciler (read once per process)."""
    text = _package_text(BUNDLED_JSON)
    return Catalog.from_wizard(json.loads(text), lazy=True)


@cache
def all_source_type_names() -> frozenset[str]:
    """Every `source_type` PostHog's API accepts as a valid choice (its OpenAPI enum), catalogued or not."""
    text = _package_text("all_source_types.txt")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
