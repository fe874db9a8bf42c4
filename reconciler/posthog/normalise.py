"""Bring a source's `job_inputs` to one canonical, typed form, using the catalog's field types.

PostHog stores every scalar leaf as `str(value)` (reference/posthog-api.md §6 "Value types"): a port sent
as 5432 reads back as "5432", `true` as "True". A PATCH response may still show the typed value. Both
the live side (here, on read) and the desired side (the planner) go through `normalise_config`, so
`5432` and `"5432"` compare equal. Pure: no HTTP, no I/O. `Secret` values pass through untouched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.catalog import CDC_KEYS, SSH_TUNNEL_TEXT_KEYS, Field, SourceType
from reconciler.secret import Secret

__all__ = ["normalise_config", "normalise_value", "scrub_sensitive", "to_bool", "to_int", "to_number"]

_INT = re.compile(r"^[+-]?\d+$")
_TEXT_KINDS = frozenset({"text", "email", "search", "url", "password", "time", "textarea"})
_CDC_BOOLS = frozenset({"cdc_enabled", "cdc_auto_drop_slot"})
_CDC_INTS = frozenset({"cdc_lag_warning_threshold_mb", "cdc_lag_critical_threshold_mb"})


def to_bool(value: Any) -> Any:
    """ "True"/"true"/"False"/"false" → bool (PostHog stores `str(True)`); anything else unchanged."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def to_int(value: Any) -> Any:
    """ "5432" → 5432; bools and non-numeric text unchanged."""
    if isinstance(value, str) and _INT.match(value.strip()):
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_number(value: Any) -> Any:
    """ "5432" → 5432, "1.5" → 1.5, 5432.0 → 5432; bools and non-numeric text unchanged."""
    value = to_int(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    return value


def _to_text(value: Any) -> Any:
    # PostHog keeps str(value) of whatever was sent (so YAML `database: 123` is stored "123").
    return str(value) if isinstance(value, bool | int | float) else value


def scrub_sensitive(value: Any, names: frozenset[str]) -> Any:
    """Copy of `value` with every key in `names` removed at any depth (PostHog's name-based rule, §6)."""
    if isinstance(value, Mapping):
        return {k: scrub_sensitive(v, names) for k, v in value.items() if k.replace("-", "_") not in names}
    if isinstance(value, list | tuple):
        return [scrub_sensitive(v, names) for v in value]
    return value


def _normalise_ssh_tunnel(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "auth_type":  # legacy alias of `auth` (§10)
            key = "auth"
        if key == "enabled":
            out[key] = to_bool(item)
        elif key == "port":
            out[key] = to_int(item)
        elif key in SSH_TUNNEL_TEXT_KEYS:
            out[key] = _to_text(item)
        elif key == "auth" and isinstance(item, Mapping):
            auth = {("selection" if k == "type" else k): v for k, v in item.items()}  # legacy auth.type (§6)
            out[key] = {k: (_to_text(v) if k in ("selection", "username") else v) for k, v in auth.items()}
        elif key == "require_tls" and isinstance(item, Mapping):
            out[key] = {k: (to_bool(v) if k == "enabled" else v) for k, v in item.items()}
        else:
            out[key] = item
    return out


def normalise_value(field: Field, value: Any) -> Any:
    """One value of `field`, typed the way the catalog declares it. None and Secrets are left alone."""
    if value is None or isinstance(value, Secret):
        return value
    kind = field.kind
    if kind == "number":
        return to_number(value)
    if kind in _TEXT_KINDS:
        return _to_text(value)
    if kind == "oauth":  # a PostHog integration id
        return to_int(value)
    if kind == "ssh-tunnel" and isinstance(value, Mapping):
        return _normalise_ssh_tunnel(value)
    if kind == "switch-group" and isinstance(value, Mapping):
        return _normalise_mapping(field.children, value)
    if kind == "select":
        if isinstance(value, Mapping):  # an auth container: {"selection": ..., <that option's fields>}
            selection = value.get("selection")
            option = field.option(str(selection)) if selection is not None else None
            scope: Iterable[Field] = (
                option.fields if option is not None else [f for o in field.options for f in o.fields]
            )
            return _normalise_mapping(tuple(scope), value)
        if field.converter == "str_to_bool":
            return to_bool(value)
        if field.converter == "str_to_int":
            return to_int(value)
        if field.converter == "str_to_optional_int":
            return None if value == "" else to_int(value)
        return value
    return value


def _normalise_mapping(fields: Iterable[Field], value: Mapping[str, Any]) -> dict[str, Any]:
    by_name: dict[str, Field] = {}
    for f in fields:
        by_name[f.name] = f
        by_name[f.stored_name] = f
    out: dict[str, Any] = {}
    for key, item in value.items():
        field = by_name.get(key)
        if field is not None:
            out[field.stored_name] = normalise_value(field, item)  # `temporary-dataset` → `temporary_dataset`
        elif key == "enabled":  # switch-group meta key (§6)
            out[key] = to_bool(item)
        elif key == "selection":
            out[key] = _to_text(item)
        elif key in _CDC_BOOLS:
            out[key] = to_bool(item)
        elif key in _CDC_INTS:
            out[key] = to_int(item)
        elif key in CDC_KEYS:
            out[key] = _to_text(item)
        else:
            out[key] = item  # unknown to the catalog: compared as given
    return out


def normalise_config(source_type: SourceType | None, config: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of a whole `job_inputs` / manifest `config` for `source_type`.

    Unknown source types (PostHog has hundreds; the catalog a handful) are returned as a plain copy.
    Omitted keys stay omitted: "not given" is not `None` (STYLE.md, house style).
    """
    if source_type is None:
        return dict(config)
    return _normalise_mapping(source_type.fields, config)
