"""`config` checking: one source's `config` mapping against its catalog `SourceType` → typed values.

Pure: no files, environment or HTTP. Knows the catalog's field kinds (reference/posthog-api.md §8.11) and
value shapes (§10: auth containers, switch-groups, file uploads, SSH tunnels, Postgres CDC keys); reports
problems through a callback that locates them, and returns the typed config (see DesiredSource.config).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.catalog import (
    CDC_KEYS,
    SSH_TUNNEL_AUTH_KEYS,
    SSH_TUNNEL_AUTH_SECRET,
    SSH_TUNNEL_AUTH_SELECTIONS,
    SSH_TUNNEL_ENABLED_NEEDS,
    SSH_TUNNEL_KEYS,
    SSH_TUNNEL_SECRET_NAMES,
    TEXT_RULES,
    Field,
    SourceType,
)
from reconciler.catalog.model import INPUT_KINDS
from reconciler.manifest.document import NodePath
from reconciler.manifest.problems import Report, did_you_mean, dotted, kind_of, suggest
from reconciler.secret import Secret

__all__ = ["ConfigChecker", "ValidateOptions"]

_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_BOOL_TEXT = {"true": True, "false": False}
#: Postgres CDC extras accepted in a create payload (reference/posthog-api.md §10 Postgres).
_CDC_FIELDS: dict[str, str] = {
    "cdc_enabled": "bool",
    "cdc_management_mode": "posthog|self_managed",
    "cdc_slot_name": "text",
    "cdc_publication_name": "text",
    "cdc_auto_drop_slot": "bool",
    "cdc_lag_warning_threshold_mb": "number",
    "cdc_lag_critical_threshold_mb": "number",
}
assert set(_CDC_FIELDS) <= CDC_KEYS


@dataclass(frozen=True)
class ValidateOptions:
    """`allow_literal_secrets`: accept a literal value in a secret field (it is wrapped in a Secret)."""

    allow_literal_secrets: bool = False


@dataclass
class ConfigChecker:
    """Checks one source's `config` against its SourceType; returns typed values."""

    st: SourceType
    report: Report
    base: NodePath
    options: ValidateOptions
    absent: bool

    def check(self, config: Any) -> dict[str, Any]:
        if not isinstance(config, dict):
            self.report(self.base, f"expected a mapping of {self.st.name} fields, got {kind_of(config)}")
            return {}
        extras = _CDC_FIELDS if self.st.engine == "postgres" else {}
        return self._fields(self.st.fields, config, self.base, extras=extras, top=True)

    # Unknown names: suggest among this level's names first, then among every name of the type.
    def _unknown(self, key: str, path: NodePath, level: Iterable[str], *, top: bool) -> None:
        level = list(level)
        everywhere = {f.name: f for f in self.st.all_fields()}
        best = suggest(key, level)
        hint = None
        if best is None and top:
            nested = suggest(key, everywhere)
            if nested is not None:
                best = nested
                parent = self._parent_of(nested)
                hint = f"'{nested}' goes inside '{parent}'" if parent else None
        message = f"unknown field '{key}' for {self.st.name}" + (f"; did you mean '{best}'?" if best else "")
        self.report(path, message, key=True, hint=hint, reference="unknown-field")

    def _parent_of(self, name: str) -> str | None:
        for top in self.st.fields:
            for inner in top.walk():
                if inner is not top and inner.name == name:
                    return top.name
        return None

    def _fields(
        self,
        fields: tuple[Field, ...],
        value: dict[str, Any],
        path: NodePath,
        *,
        extras: Mapping[str, str] | None = None,
        skip: tuple[str, ...] = (),
        top: bool = False,
        foreign: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        by_name: dict[str, Field] = {}
        for f in fields:
            by_name[f.name] = f
            by_name.setdefault(f.stored_name, f)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in skip:
                continue
            child = (*path, key)
            known = by_name.get(key)
            if known is None:
                if extras and key in extras:
                    out[key] = self._extra(extras[key], item, child)
                elif foreign and key in foreign:
                    self.report(child, foreign[key], key=True, reference="unknown-field")
                else:
                    self._unknown(key, child, [*(g.name for g in fields), *(extras or ())], top=top)
                continue
            if known.name in out:
                self.report(child, f"'{key}' is given twice (as '{known.name}' and '{known.stored_name}')", key=True)
                continue
            out[known.name] = self._value(known, item, child)
        if not self.absent:
            for f in fields:
                written = next((k for k in (f.name, f.stored_name) if k in value), None)
                if not f.required:
                    continue
                if written is None:
                    self.report(
                        path,
                        f"missing required field '{f.name}' for {self.st.name}",
                        key=True,
                        reference="missing-field",
                    )
                elif value[written] is None:
                    self.report((*path, written), f"'{f.name}' is required for {self.st.name} and may not be null")
        return out

    def _extra(self, kind: str, item: Any, path: NodePath) -> Any:
        if kind == "bool":
            return self._bool(item, path)
        if kind == "number":
            return self._number(item, path)
        if kind == "text":
            return self._text(item, path)
        choices = kind.split("|")
        if item not in choices:
            self.report(
                path,
                f"invalid value {item!r}; expected one of: {', '.join(choices)}"
                + (did_you_mean(item, choices) if isinstance(item, str) else ""),
            )
        return item

    # --- scalars --------------------------------------------------------------------------------------
    def _no_secret(self, item: Any, path: NodePath) -> bool:
        if isinstance(item, Secret):
            self.report(
                path,
                f"'{path[-1]}' is not a secret field of {self.st.name}: its value is readable in PostHog and "
                "shown in plans, so secret() is refused",
                hint="use env('NAME') for a non-secret value from the environment",
                reference="secret-not-allowed",
            )
            return False
        return True

    def _bool(self, item: Any, path: NodePath) -> Any:
        if not self._no_secret(item, path):
            return None
        if isinstance(item, bool) or item is None:
            return item
        if isinstance(item, str) and item.lower() in _BOOL_TEXT:
            return _BOOL_TEXT[item.lower()]
        self.report(path, f"expected true or false, got {kind_of(item)}")
        return None

    def _number(self, item: Any, path: NodePath) -> Any:
        if not self._no_secret(item, path):
            return None
        if item is None or (isinstance(item, int) and not isinstance(item, bool)):
            return item
        if isinstance(item, str) and _INT_RE.match(item.strip()):
            return int(item)
        if isinstance(item, float) and item.is_integer():
            return int(item)
        self.report(path, f"expected a whole number, got {kind_of(item)}")
        return None

    def _text(self, item: Any, path: NodePath) -> Any:
        if not self._no_secret(item, path):
            return None
        if item is None or isinstance(item, str):
            return item
        if isinstance(item, int | float) and not isinstance(item, bool):
            return str(item)
        self.report(path, f"expected a string, got {kind_of(item)}" + (" (quote it)" if isinstance(item, bool) else ""))
        return None

    def _secret(self, item: Any, path: NodePath, label: str) -> Any:
        if isinstance(item, Secret) or item is None:
            return item
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            if self.options.allow_literal_secrets:
                return Secret(f"literal:{dotted(path[2:])}", str(item))
            self.report(
                path,
                f"'{label}' is a secret field: write \"{{{{ secret('NAME') }}}}\" instead of a literal value",
                hint="literal secrets end up in Git; pass --allow-literal-secrets to accept them anyway",
                reference="literal-secret",
            )
            return None
        self.report(path, f"expected a secret('NAME') value, got {kind_of(item)}")
        return None

    # --- one field -------------------------------------------------------------------------------------
    def _value(self, f: Field, item: Any, path: NodePath) -> Any:
        kind = f.kind
        if kind in INPUT_KINDS:
            if f.is_sensitive:
                return self._secret(item, path, f.name)
            if kind == "number":
                return self._number(item, path)
            text = self._text(item, path)
            if kind == "email" and isinstance(text, str) and "@" not in text:
                self.report(path, f"'{f.name}' must be an email address")
            rule = TEXT_RULES.get((self.st.name, f.name))
            if rule is not None and isinstance(text, str) and not rule.pattern.match(text):
                self.report(path, f"'{f.name}' {rule.message}, got {text!r}", hint=rule.hint)
            return text
        if kind == "select":
            return self._container(f, item, path) if f.is_container else self._select(f, item, path)
        if kind == "switch-group":
            return self._switch_group(f, item, path)
        if kind == "oauth":
            if item is None:
                return None
            number = self._number(item, path) if not isinstance(item, Secret) else self._no_secret(item, path)
            return number if isinstance(number, int) else None
        if kind == "file-upload":
            return self._file_upload(f, item, path)
        if kind == "ssh-tunnel":
            return self._ssh_tunnel(item, path)
        return item  # a kind this version does not know (live wizard): passed through unchecked

    def _select(self, f: Field, item: Any, path: NodePath) -> Any:
        if not self._no_secret(item, path) or item is None:
            return None
        values = [o.value for o in f.options]
        text = str(item).lower() if isinstance(item, bool) else str(item) if isinstance(item, int | float) else item
        if not isinstance(text, str):
            self.report(path, f"expected one of: {', '.join(values)}; got {kind_of(item)}")
            return None
        if text not in values:
            self.report(
                path,
                f"invalid value {text!r} for {f.name}; expected one of: {', '.join(values)}"
                + did_you_mean(text, values),
                reference="invalid-choice",
            )
            return None
        return text

    def _container(self, f: Field, item: Any, path: NodePath) -> Any:
        values = [o.value for o in f.options]
        if item is None:
            return None
        if not isinstance(item, dict):
            # reference/posthog-api.md §8.4 step 6: a non-object auth container is refused by PostHog.
            self.report(path, f"'{f.name}' must be a mapping with 'selection: <{'|'.join(values)}>' and its fields")
            return None
        selection = item.get("selection")
        if "selection" not in item:
            self.report(
                path, f"'{f.name}' needs 'selection' (one of: {', '.join(values)})", key=True, reference="missing-field"
            )
            return None
        option = f.option(str(selection)) if isinstance(selection, str) else None
        if option is None:
            self.report(
                (*path, "selection"),
                f"invalid selection {selection!r} for {f.name}; expected one of: "
                f"{', '.join(values)}" + (did_you_mean(selection, values) if isinstance(selection, str) else ""),
                reference="invalid-choice",
            )
            return None
        foreign = {
            g.name: f"'{g.name}' belongs to {f.name} selection '{o.value}', not '{option.value}'"
            for o in f.options
            if o is not option
            for g in o.fields
            if all(g.name != mine.name for mine in option.fields)
        }
        return {
            "selection": option.value,
            **self._fields(option.fields, item, path, skip=("selection",), foreign=foreign),
        }

    def _switch_group(self, f: Field, item: Any, path: NodePath) -> Any:
        if item is None:
            return None
        if not isinstance(item, dict):
            self.report(path, f"'{f.name}' must be a mapping with 'enabled: true|false' and its fields")
            return None
        if "enabled" not in item:
            self.report(
                path, f"'{f.name}' needs 'enabled: true' or 'enabled: false'", key=True, reference="missing-field"
            )
            return None
        enabled = self._bool(item["enabled"], (*path, "enabled"))
        was_absent = self.absent
        if enabled is not True:
            self.absent = True  # children of a disabled group are not required
        try:
            children = self._fields(f.children, item, path, skip=("enabled",))
        finally:
            self.absent = was_absent
        return {"enabled": enabled, **children}

    def _file_upload(self, f: Field, item: Any, path: NodePath) -> Any:
        if item is None:
            return None
        if not isinstance(item, dict):
            self.report(
                path,
                f"'{f.name}' must be a mapping of the key file's fields ({', '.join(f.file_keys)}), each from secret()",
            )
            return None
        out: dict[str, Any] = {}
        for key, value in item.items():
            if key not in f.file_keys:
                self.report(
                    (*path, key),
                    f"unknown key '{key}' in {f.name}{did_you_mean(key, f.file_keys)}",
                    key=True,
                    reference="unknown-field",
                )
                continue
            out[key] = self._secret(value, (*path, key), f"{f.name}.{key}")
        if not self.absent:
            for key in f.file_keys:
                if key not in item:
                    self.report(path, f"missing required key '{key}' in {f.name}", key=True, reference="missing-field")
        return out

    def _ssh_tunnel(self, item: Any, path: NodePath) -> Any:
        if item is None:
            return None
        if not isinstance(item, dict):
            self.report(path, "ssh_tunnel must be a mapping: {enabled, host, port, auth, require_tls}")
            return None
        out: dict[str, Any] = {}
        for key in item:
            if key not in SSH_TUNNEL_KEYS:
                self.report(
                    (*path, key),
                    f"unknown ssh_tunnel key '{key}'{did_you_mean(key, SSH_TUNNEL_KEYS)}",
                    key=True,
                    reference="unknown-field",
                )
        if "enabled" not in item:
            self.report(
                path, "ssh_tunnel needs 'enabled: true' or 'enabled: false'", key=True, reference="missing-field"
            )
        else:
            out["enabled"] = self._bool(item["enabled"], (*path, "enabled"))
        enabled = out.get("enabled") is True and not self.absent
        if "host" in item:
            out["host"] = self._text(item["host"], (*path, "host"))
        if "port" in item:
            port = self._number(item["port"], (*path, "port"))
            # reference/posthog-api.md §10: ports 80/443 and out-of-range ports are rejected.
            if isinstance(port, int) and (port in (80, 443) or not 1 <= port <= 65535):
                self.report((*path, "port"), f"ssh_tunnel port {port} is not allowed (1-65535, not 80 or 443)")
            out["port"] = port
        if "auth" in item:
            out["auth"] = self._ssh_auth(item["auth"], (*path, "auth"), enabled)
        if "require_tls" in item:
            tls = item["require_tls"]
            if isinstance(tls, dict) and set(tls) <= {"enabled"}:
                out["require_tls"] = {"enabled": self._bool(tls.get("enabled"), (*path, "require_tls", "enabled"))}
            else:
                self.report((*path, "require_tls"), "require_tls must be a mapping {enabled: true|false}")
        if enabled:
            for key in SSH_TUNNEL_ENABLED_NEEDS:
                if item.get(key) is None:
                    self.report(path, f"an enabled ssh_tunnel needs '{key}'", key=True, reference="missing-field")
        return out

    def _ssh_auth(self, auth: Any, path: NodePath, enabled: bool) -> Any:
        if auth is None:
            return None
        if not isinstance(auth, dict):
            self.report(path, "ssh_tunnel.auth must be a mapping {selection: password|keypair, username, ...}")
            return None
        out: dict[str, Any] = {}
        for key, value in auth.items():
            if key not in SSH_TUNNEL_AUTH_KEYS:
                self.report(
                    (*path, key),
                    f"unknown ssh_tunnel.auth key '{key}'{did_you_mean(key, SSH_TUNNEL_AUTH_KEYS)}",
                    key=True,
                    reference="unknown-field",
                )
            elif key == "selection":
                if value not in SSH_TUNNEL_AUTH_SELECTIONS:
                    self.report(
                        (*path, key),
                        f"invalid ssh_tunnel auth selection {value!r}; expected one of: "
                        + ", ".join(SSH_TUNNEL_AUTH_SELECTIONS),
                        reference="invalid-choice",
                    )
                out[key] = value
            elif key in SSH_TUNNEL_SECRET_NAMES:
                out[key] = self._secret(value, (*path, key), f"ssh_tunnel.auth.{key}")
            else:
                out[key] = self._text(value, (*path, key))
        if enabled:
            needed = ["selection", "username"]
            secret = SSH_TUNNEL_AUTH_SECRET.get(str(out.get("selection")))
            needed += [secret] if secret is not None else []
            for key in needed:
                if auth.get(key) is None:
                    self.report(path, f"ssh_tunnel.auth needs '{key}'", key=True, reference="missing-field")
        return out
