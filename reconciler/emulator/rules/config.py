"""job_inputs and prefix rules checked against the source-type catalog: normalise, required fields, value kinds
and options, PATCH merge.

Pure functions over dicts and `reconciler.catalog` types; no HTTP, no storage. PATCH failures raise
`ApiProblem` (DRF family) because that is their only use. Rules: reference/posthog-api.md §8.3 (steps 3, 5, 7),
§8.4 (steps 3–8) and §6 (normalisation through the config class).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.catalog import CDC_KEYS, SSH_TUNNEL_SECRET_NAMES, Field, SourceType
from reconciler.emulator.problems import ApiProblem

__all__ = [
    "invalid_config_message",
    "invalid_values",
    "merge_job_inputs",
    "missing_required",
    "normalise_job_inputs",
    "prefix_error",
    "trim_top_level",
]

_PREFIX_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def prefix_error(prefix: str | None) -> str | None:
    """Warehouse prefix character rules (§8.3): blank is fine; strip underscores, rest must be non-empty;
    the whole must be letters/digits/underscores starting with a letter or underscore. Note the rest after
    stripping is what is checked, so `_1abc` fails (its rest starts with a digit)."""
    if not prefix:
        return None
    rest = prefix.strip("_")
    if not rest:
        return "Prefix cannot consist of only underscores"
    if not _PREFIX_RE.match(rest):
        return "Prefix must contain only letters, numbers, and underscores, and start with a letter or underscore"
    return None


def trim_top_level(payload: Mapping[str, Any]) -> dict[str, Any]:
    """§8.3 step 5: top-level strings trimmed; nested values stored verbatim (test-asserted)."""
    return {k: v.strip() if isinstance(v, str) else v for k, v in payload.items()}


def _lookup(values: Mapping[str, Any], f: Field) -> Any:
    """A value by declared or stored name (`temporary-dataset` ↔ `temporary_dataset`)."""
    if f.stored_name in values:
        return values[f.stored_name]
    return values.get(f.name)


def _has(values: Mapping[str, Any], f: Field) -> bool:
    return f.stored_name in values or f.name in values


def _normalise_fields(fields: tuple[Field, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        out[f.stored_name] = _normalise_value(f, _lookup(values, f))
    return out


def _normalise_value(f: Field, value: Any) -> Any:
    if value is None:
        return None
    if f.is_container and isinstance(value, Mapping):
        option = f.option(str(value.get("selection")))
        return {"selection": value.get("selection"), **_normalise_fields(option.fields if option else (), value)}
    if f.kind == "switch-group" and isinstance(value, Mapping):
        return {"enabled": value.get("enabled"), **_normalise_fields(f.children, value)}
    if f.kind == "file-upload" and isinstance(value, Mapping) and f.file_keys:
        return {k: value[k] for k in f.file_keys if k in value}
    return value


def normalise_job_inputs(source_type: SourceType, values: Mapping[str, Any]) -> dict[str, Any]:
    """Only declared config keys are kept, declared-but-absent optional keys become null (§6); undeclared
    keys (`schemas`, a stray `source_type`, typos) are dropped. Postgres keeps its CDC keys."""
    out = _normalise_fields(source_type.fields, values)
    if source_type.name == "Postgres":
        out |= {k: values[k] for k in sorted(CDC_KEYS) if k in values}
    return out


def _missing(fields: tuple[Field, ...], values: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for f in fields:
        value = _lookup(values, f)
        if value is None:
            if f.required:
                names.append(f.name)
            continue
        if f.is_container:
            if not isinstance(value, Mapping):
                names.append(f.name)
                continue
            option = f.option(str(value.get("selection")))
            names += _missing(option.fields if option else (), value)
        elif f.kind == "switch-group" and isinstance(value, Mapping):
            if str(value.get("enabled")).lower() == "true":
                names += _missing(f.children, value)
        elif f.kind == "file-upload" and isinstance(value, Mapping):
            names += [k for k in f.file_keys if value.get(k) is None]
    return names


def missing_required(source_type: SourceType, values: Mapping[str, Any]) -> list[str]:
    """Presence-only check of required config fields, nested ones included (§8.3 step 7)."""
    return _missing(source_type.fields, values)


def invalid_config_message(missing: Sequence[str], invalid: Sequence[str] = ()) -> str:
    problems = [f"Required field '{name}' is missing" for name in missing] + list(invalid)
    return "Invalid source config: " + ", ".join(problems)


def _whole(value: Any) -> bool:
    text = str(value).strip()
    return not isinstance(value, bool) and text.lstrip("+-").isdigit()


def _choice(f: Field, value: Any) -> str | None:
    values = [o.value for o in f.options]
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if not values or text in values or (isinstance(value, bool) and text in (v.lower() for v in values)):
        return None
    return f"Field '{f.name}' must be one of: {', '.join(values)}"


def _field_problems(f: Field, value: Any) -> list[str]:
    if f.is_container or f.kind in ("switch-group", "file-upload"):
        if not isinstance(value, Mapping):  # a container's missing fields say it already
            return [] if f.is_container else [f"Field '{f.name}' must be an object"]
        if f.kind == "switch-group":
            on = str(value.get("enabled")).lower() == "true"
            return _value_problems(f.children, value) if on else []
        if f.kind == "file-upload":
            return []
        option = f.option(str(value.get("selection")))
        if option is None:
            return [f"Field '{f.name}' must be one of: {', '.join(o.value for o in f.options)}"]
        return _value_problems(option.fields, value)
    if f.kind == "select":
        problem = _choice(f, value)
        return [problem] if problem else []
    if f.kind in ("number", "oauth") and not _whole(value):
        return [f"Field '{f.name}' must be a whole number"]
    return []


def _value_problems(fields: tuple[Field, ...], values: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for f in fields:
        value = _lookup(values, f)
        if value is not None and value != "" and f.kind != "ssh-tunnel":
            out += _field_problems(f, value)
    return out


def invalid_values(source_type: SourceType, values: Mapping[str, Any]) -> list[str]:
    """Values the form could never send: a select value outside its options, a non-object where the form
    nests fields, a number or integration id that is not a whole number. Emulator strictness: PostHog's
    config validation checks presence only (docs/emulator.md)."""
    return _value_problems(source_type.fields, values)


# ---- PATCH (§8.4) ------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _same(a: Any, b: Any) -> bool:
    """Values compared as strings, as PostHog does for stored (stringified) vs incoming (typed) ones."""
    return (None if a is None else str(a)) == (None if b is None else str(b))


def _tunnel_key(tunnel: Any) -> tuple[str, str, str]:
    t = tunnel if isinstance(tunnel, Mapping) else {}
    enabled = t.get("enabled")
    return (
        "True" if str(enabled).lower() == "true" else "False",
        "" if t.get("host") is None else str(t.get("host")),
        "" if t.get("port") is None else str(t.get("port")),
    )


def _carried_secrets(st: SourceType, stored: Mapping[str, Any], incoming: Mapping[str, Any]) -> bool:
    """Would any stored secret be kept only because the request did not re-send it? (§8.4 step 4;
    `connection_string` is excluded; the SSH tunnel's own secrets are handled by step 7.)"""
    for f in st.fields:
        if f.stored_name == "connection_string" or f.kind == "ssh-tunnel":
            continue
        old = stored.get(f.stored_name)
        new = _lookup(incoming, f) if _has(incoming, f) else None
        if f.is_sensitive and not _blank(old) and _blank(new):
            return True
        if f.is_container and isinstance(old, Mapping):
            if isinstance(new, Mapping) and not _same(new.get("selection", old.get("selection")), old.get("selection")):
                continue  # a different selection replaces the container: nothing is carried over
            new_c = new if isinstance(new, Mapping) else {}
            for name in st.sensitive_names:
                if not _blank(old.get(name)) and _blank(new_c.get(name)):
                    return True
    return False


def _gate(st: SourceType, stored: Mapping[str, Any], incoming: Mapping[str, Any]) -> None:
    """Connection-target gate (§8.4 step 4)."""
    tunnel_changed = "ssh_tunnel" in incoming and _tunnel_key(incoming["ssh_tunnel"]) != _tunnel_key(
        stored.get("ssh_tunnel")
    )
    target_changed = any(t in incoming and not _same(incoming[t], stored.get(t)) for t in st.connection_targets)
    if not (tunnel_changed or target_changed) or not _carried_secrets(st, stored, incoming):
        return
    if tunnel_changed:
        raise ApiProblem.drf(400, "Changing the SSH tunnel requires re-entering your database credentials.")
    raise ApiProblem.drf(400, "Changing the connection host requires re-entering your credentials.")


def _preserve(old: Mapping[str, Any], new: Mapping[str, Any], secret_names: frozenset[str]) -> dict[str, Any]:
    """Shallow merge keeping stored secrets the request left missing/null/empty (§8.4 step 5)."""
    merged = {**old, **new}
    for name in secret_names:
        if not _blank(old.get(name)) and _blank(new.get(name)):
            merged[name] = old[name]
    return merged


def _merge_tunnel(stored: Any, incoming: Any) -> Any:
    """§8.4 step 7: host change needs an auth block; else auth secrets are preserved."""
    if not isinstance(incoming, Mapping) or not isinstance(stored, Mapping):
        return incoming
    host_changed = "host" in incoming and not _same(incoming.get("host"), stored.get("host"))
    new_auth = incoming.get("auth", incoming.get("auth_type"))
    if host_changed and not isinstance(new_auth, Mapping):
        raise ApiProblem.drf(400, "Changing the SSH tunnel host requires re-entering your SSH credentials.")
    merged = {**stored, **incoming}
    old_auth = stored.get("auth", stored.get("auth_type"))
    if isinstance(new_auth, Mapping) and isinstance(old_auth, Mapping) and not host_changed:
        merged["auth"] = _preserve(old_auth, new_auth, SSH_TUNNEL_SECRET_NAMES)
        merged.pop("auth_type", None)
    return merged


def merge_job_inputs(st: SourceType, stored: Mapping[str, Any], incoming: Any) -> dict[str, Any]:
    """The PATCH merge (§8.4 steps 3–8): returns the normalised config to store, or raises ApiProblem."""
    if not isinstance(incoming, Mapping):
        raise ApiProblem.drf(400, "Must be an object.", attr="job_inputs")
    # Declared hyphenated names (`temporary-dataset`) are stored with underscores (§6).
    renames = {f.name: f.stored_name for f in st.fields if f.name != f.stored_name}
    incoming = {renames.get(k, k): v for k, v in incoming.items()}
    for f in st.fields:
        if f.is_container and _has(incoming, f) and not isinstance(_lookup(incoming, f), Mapping):
            raise ApiProblem.drf(400, "Must be an object.", attr=f"job_inputs__{f.stored_name}")
    _gate(st, stored, incoming)
    top_secrets = frozenset(f.stored_name for f in st.fields if f.is_sensitive)
    merged = _preserve(stored, dict(incoming), top_secrets)
    for f in st.fields:
        if not _has(incoming, f):
            continue
        old, new = stored.get(f.stored_name), _lookup(incoming, f)
        if f.is_container and isinstance(old, Mapping) and isinstance(new, Mapping):
            if _same(new.get("selection", old.get("selection")), old.get("selection")):
                merged[f.stored_name] = _preserve(old, new, st.sensitive_names)
            else:
                merged[f.stored_name] = dict(new)  # a different selection replaces the container wholesale
        elif f.kind == "ssh-tunnel":
            merged[f.stored_name] = _merge_tunnel(old, new)
    normalised = normalise_job_inputs(st, merged)
    missing, invalid = missing_required(st, normalised), invalid_values(st, normalised)
    if missing or invalid:
        raise ApiProblem.drf(400, invalid_config_message(missing, invalid))
    return normalised
