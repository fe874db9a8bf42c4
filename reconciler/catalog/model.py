"""Typed view of the source-type catalog (`source_types.yaml`): pure data, no I/O beyond reading it.

Shared by the emulator and the client side; it knows nothing of HTTP, manifests or storage.
Secret classification follows reference/posthog-api.md §6 ("job_inputs redaction").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from reconciler.catalog.source_values import SSH_TUNNEL_PUBLIC_NAMES, SSH_TUNNEL_SECRET_NAMES

__all__ = [
    "CDC_KEYS",
    "INPUT_KINDS",
    "META_KEYS",
    "Catalog",
    "Field",
    "SelectOption",
    "SourceType",
    "all_source_type_names",
    "load_catalog",
]

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


@dataclass(frozen=True)
class SelectOption:
    label: str
    value: str
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class SourceType:
    name: str
    label: str
    category: str
    fields: tuple[Field, ...]
    connection_targets: tuple[str, ...] = ()
    supports_webhooks: bool = False
    supports_column_selection: bool = False
    engine: str | None = None
    wizard: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

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
        placeholder=raw.get("placeholder"),
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
        out |= {"required": bool(raw.get("required", False)), "kind": raw["kind"], "requiredScopes": None}
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
    """Source types by their case-sensitive PostHog name."""

    def __init__(self, types: Mapping[str, SourceType]) -> None:
        self._types = dict(types)

    def __getitem__(self, name: str) -> SourceType:
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def wizard(self) -> dict[str, Any]:
        """The `wizard` endpoint's response body: every source's form config (§8.11)."""
        return {name: dict(st.wizard) for name, st in self._types.items()}

    @classmethod
    def from_wizard(cls, data: Mapping[str, Mapping[str, Any]]) -> Catalog:
        """Build a catalog from a wizard-shaped mapping (the bundled file or a live `wizard` response)."""
        types = {}
        for name, raw in data.items():
            types[name] = SourceType(
                name=name,
                label=str(raw.get("label") or name),
                category=str(raw.get("category") or ""),
                fields=tuple(_parse_field(f) for f in raw.get("fields") or ()),
                connection_targets=tuple(raw.get("x-connectionTargets") or ("host", "instance_url")),
                supports_webhooks=bool(raw.get("x-supportsWebhooks", False)),
                supports_column_selection=bool(raw.get("supportsColumnSelection", False)),
                engine=raw.get("x-engine"),
                wizard=_wizard_entry(name, raw),
            )
        return cls(types)


@cache
def load_catalog() -> Catalog:
    """The catalog bundled with reconciler (read once per process)."""
    text = resources.files(__package__).joinpath("source_types.yaml").read_text(encoding="utf-8")
    return Catalog.from_wizard(yaml.safe_load(text))


@cache
def all_source_type_names() -> frozenset[str]:
    """Every `source_type` PostHog's API accepts as a valid choice (its OpenAPI enum), catalogued or not."""
    text = resources.files(__package__).joinpath("all_source_types.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
