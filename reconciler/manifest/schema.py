"""JSON Schema (draft 2020-12) of the manifest format, with a `config` schema per catalogued source type.

Pure: catalog in, dict out. For editors (yaml-language-server) and CI linters; `reconciler validate` stays
the authority (some rules need the whole manifest set, e.g. prefix uniqueness, or the environment).
Any string holding a `{{ … }}` template is accepted where a scalar goes, since it renders later.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.catalog import (
    SSH_TUNNEL_AUTH_KEYS,
    SSH_TUNNEL_AUTH_SELECTIONS,
    SSH_TUNNEL_ENABLED_NEEDS,
    SSH_TUNNEL_KEYS,
    SSH_TUNNEL_SECRET_NAMES,
    Catalog,
    Field,
    SourceType,
    load_catalog,
)
from reconciler.catalog.model import INPUT_KINDS
from reconciler.manifest.models import (
    CDC_TABLE_MODE_VALUES,
    FREQUENCY_VALUES,
    INCREMENTAL_FIELD_TYPE_VALUES,
    SYNC_TYPE_VALUES,
    UNLISTED_POLICIES,
)
from reconciler.ownership import ADDRESS_PATTERN, max_user_description_length

__all__ = ["SCHEMA_ID", "manifest_schema"]

SCHEMA_ID = "https://posthog-reconciler.dev/schema/manifest-v1.json"
_TEMPLATE = {"$ref": "#/$defs/template"}
_SECRET = {"$ref": "#/$defs/secret"}
_NULL = {"type": "null"}


def _t(schema: dict[str, Any], *, nullable: bool = True) -> dict[str, Any]:
    """`schema`, or a template string (or null when nullable)."""
    options = [schema, _TEMPLATE]
    if nullable:
        options.append(_NULL)
    return {"anyOf": options}


_BOOL = _t({"type": "boolean"}, nullable=False)
_NUMBER = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*[+-]?[0-9]+\s*$"}, _TEMPLATE, _NULL]}
_TEXT = {"type": ["string", "number", "null"]}
#: A PostHog integration id: a positive whole number (docs/sources.md, "Integration ids").
_INTEGRATION_ID = {
    "anyOf": [
        {"type": "integer", "minimum": 1},
        {"type": "string", "pattern": r"^\s*\+?0*[1-9][0-9]*\s*$"},
        _TEMPLATE,
        _NULL,
    ]
}


def _field(f: Field) -> dict[str, Any]:
    kind = f.kind
    if kind in INPUT_KINDS:
        if f.is_sensitive:
            return {"anyOf": [_SECRET, _NULL], "description": f"{f.label} (secret: use secret('NAME'))"}
        base = _NUMBER if kind == "number" else _TEXT
        return {**base, "description": f.label}
    if kind == "select":
        values = [o.value for o in f.options]
        if not f.is_container:
            extra = [v == "true" for v in values if v in ("true", "false")]
            return {"anyOf": [{"enum": values + extra}, _TEMPLATE, _NULL], "description": f.label}
        return {
            "description": f.label,
            "type": ["object", "null"],
            "required": ["selection"],
            "properties": {"selection": {"enum": values}},
            "allOf": [
                {
                    "if": {"properties": {"selection": {"const": o.value}}, "required": ["selection"]},
                    "then": _object({"selection": {"const": o.value}}, o.fields, ["selection"]),
                }
                for o in f.options
            ],
        }
    if kind == "switch-group":
        group = _object({"enabled": _BOOL}, f.children, ["enabled"], required_children=False)
        needed = [c.name for c in f.children if c.required]
        if needed:
            group["if"] = {"properties": {"enabled": {"const": True}}, "required": ["enabled"]}
            group["then"] = {"required": needed}
        return {**group, "type": ["object", "null"], "description": f.label}
    if kind == "oauth":
        return {**_INTEGRATION_ID, "description": f"{f.label} (PostHog integration id: Settings → Integrations)"}
    if kind == "oauth-account-select":
        return {**_TEXT, "description": f"{f.label} (an account of the connected integration)"}
    if kind == "file-upload":
        return {
            "type": ["object", "null"],
            "properties": {k: _SECRET for k in f.file_keys},
            "required": list(f.file_keys),
            "additionalProperties": False,
            "description": f.label,
        }
    if kind == "ssh-tunnel":
        return {"$ref": "#/$defs/ssh_tunnel", "description": f.label}
    return {}


def _object(
    fixed: dict[str, Any], fields: tuple[Field, ...], required: list[str], *, required_children: bool = True
) -> dict[str, Any]:
    props = dict(fixed)
    for f in fields:
        props[f.name] = _field(f)
        if f.stored_name != f.name:
            props[f.stored_name] = _field(f)
    req = list(required) + ([f.name for f in fields if f.needed] if required_children else [])
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if req:
        out["required"] = req
    return out


def _config(st: SourceType) -> dict[str, Any]:
    schema = _object({}, st.fields, [])
    if st.cdc:
        schema["properties"] |= {
            "cdc_enabled": _BOOL,
            "cdc_management_mode": _t({"enum": ["posthog", "self_managed"]}),
            "cdc_slot_name": _TEXT,
            "cdc_publication_name": _TEXT,
            "cdc_auto_drop_slot": _BOOL,
            "cdc_lag_warning_threshold_mb": _NUMBER,
            "cdc_lag_critical_threshold_mb": _NUMBER,
        }
    schema["title"] = f"{st.label} ({st.name}) config"
    return schema


def _table() -> dict[str, Any]:
    strings = {"anyOf": [{"type": "array", "items": {"type": "string"}}, _NULL]}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "sync": _BOOL,
            "sync_type": _t({"enum": list(SYNC_TYPE_VALUES)}),
            "incremental_field": {"type": ["string", "null"]},
            "incremental_field_type": _t({"enum": list(INCREMENTAL_FIELD_TYPE_VALUES)}),
            "frequency": _t({"enum": list(FREQUENCY_VALUES)}, nullable=False),
            "sync_time_of_day": {
                "anyOf": [
                    {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"},
                    _TEMPLATE,
                    _NULL,
                ]
            },
            "primary_key_columns": strings,
            "enabled_columns": strings,
            "cdc_table_mode": _t({"enum": list(CDC_TABLE_MODE_VALUES)}, nullable=False),
        },
        "allOf": [
            {
                "if": {
                    "properties": {"sync_type": {"enum": ["incremental", "append"]}, "sync": {"not": {"const": False}}},
                    "required": ["sync_type"],
                },
                "then": {
                    "required": ["incremental_field", "incremental_field_type"],
                    "properties": {"incremental_field": {"type": "string"}, "incremental_field_type": {"not": _NULL}},
                },
            },
            {
                "if": {"properties": {"frequency": {"const": "1min"}}, "required": ["frequency"]},
                "then": {"properties": {"sync_type": {"const": "cdc"}}, "required": ["sync_type"]},
            },
        ],
    }


def _ssh_tunnel() -> dict[str, Any]:
    auth_shapes: dict[str, Any] = {"selection": _t({"enum": list(SSH_TUNNEL_AUTH_SELECTIONS)}), "username": _TEXT}
    auth = {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {
            key: auth_shapes.get(key, {"anyOf": [_SECRET, _NULL]} if key in SSH_TUNNEL_SECRET_NAMES else _TEXT)
            for key in SSH_TUNNEL_AUTH_KEYS
        },
    }
    shapes: dict[str, Any] = {
        "enabled": _BOOL,
        "host": _TEXT,
        "port": _NUMBER,
        "auth": auth,
        "require_tls": {"type": "object", "additionalProperties": False, "properties": {"enabled": _BOOL}},
    }
    return {
        "type": ["object", "null"],
        "additionalProperties": False,
        "required": ["enabled"],
        "properties": {key: shapes[key] for key in SSH_TUNNEL_KEYS},
        "if": {"properties": {"enabled": {"const": True}}, "required": ["enabled"]},
        "then": {"required": list(SSH_TUNNEL_ENABLED_NEEDS)},
    }


def manifest_schema(catalog: Catalog | None = None) -> dict[str, Any]:
    """The manifest's JSON Schema, `config` typed per source type of `catalog` (default: the bundled one)."""
    catalog = catalog if catalog is not None else load_catalog()
    absent = {"properties": {"state": {"const": "absent"}}, "required": ["state"]}
    per_type = []
    for name, st in catalog.items():
        then: dict[str, Any] = {"properties": {"config": {"$ref": f"#/$defs/config_{name}"}}}
        if st.tables is not None:
            names: list[dict[str, Any]] = [{"enum": list(st.tables)}]
            names += [{"pattern": "^" + re.escape(p)} for p in st.table_prefixes]
            then["properties"]["tables"] = {"propertyNames": {"anyOf": names} if len(names) > 1 else names[0]}
        if any(f.required for f in st.fields):
            then["required"] = ["config"]
        per_type.append(
            {"if": {"properties": {"type": {"const": name}}, "required": ["type"], "not": absent}, "then": then}
        )
    source = {
        "type": "object",
        "required": ["type"],
        "additionalProperties": False,
        "properties": {
            "type": {"enum": sorted(catalog), "description": "PostHog source_type (case-sensitive)"},
            "prefix": {
                "anyOf": [{"type": "string", "maxLength": 100, "pattern": r"^(_*[A-Za-z][A-Za-z0-9_]*)?$"}, _NULL],
                "description": "Table prefix; (type, prefix) is the source's identity in PostHog",
            },
            "description": {
                "type": ["string", "null"],
                "maxLength": max_user_description_length("a"),
                "description": "Your text; reconciler appends its ownership trailer (shorter for long addresses)",
            },
            "protect": _t({"type": "boolean"}, nullable=False),
            "secrets_version": {"type": ["string", "integer", "null"]},
            "adopt_without_secrets": _t(
                {
                    "type": "boolean",
                    "description": "Adopt this source, if reconciler does not own it yet, without re-sending its "
                    "secrets: PostHog keeps the ones it has",
                },
                nullable=False,
            ),
            "config": {"type": ["object", "null"]},
            "tables": {"type": ["object", "null"], "additionalProperties": {"$ref": "#/$defs/table"}},
            "unlisted_tables": {"anyOf": [{"enum": list(UNLISTED_POLICIES)}, _NULL]},
            "revenue_analytics": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": {"enabled": _BOOL, "include_invoiceless_charges": _BOOL},
            },
            "state": {"enum": ["present", "absent"]},
            "environments": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"},
                "description": "The environments of reconciler.yaml this source exists in (omitted: every one)",
            },
        },
        "allOf": per_type,
        "if": absent,
        "then": {"properties": {"protect": {"not": {"const": True}}}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "reconciler manifest (PostHog data-warehouse sources)",
        "type": "object",
        "required": ["version"],
        "additionalProperties": False,
        "patternProperties": {"^x-": {"description": "free-form extension key, e.g. for YAML anchors"}},
        "properties": {
            "version": {"const": 1},
            "project": {"type": ["string", "integer", "null"]},
            "defaults": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"unlisted_tables": {"enum": list(UNLISTED_POLICIES)}},
            },
            "sources": {
                "type": ["object", "null"],
                "propertyNames": {"pattern": f"^{ADDRESS_PATTERN}$"},
                "additionalProperties": {"$ref": "#/$defs/source"},
            },
        },
        "$defs": {
            "template": {"type": "string", "pattern": r"\{\{|\{%", "description": "a jinja2 template string"},
            "secret": {
                "type": "string",
                "pattern": r"\{\{.*secret\(",
                "description": "a template using secret('NAME'), e.g. \"{{ secret('STRIPE_KEY') }}\"",
            },
            "source": source,
            "table": _table(),
            "ssh_tunnel": _ssh_tunnel(),
            **{f"config_{name}": _config(st) for name, st in catalog.items()},
        },
    }
