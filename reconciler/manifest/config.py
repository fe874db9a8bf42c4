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

from reconciler.catalog import CDC_KEYS, Field, SourceType
from reconciler.catalog.model import INPUT_KINDS
from reconciler.manifest.config_values import ValidateOptions, ValueChecks
from reconciler.manifest.document import NodePath
from reconciler.manifest.problems import Report, did_you_mean, kind_of, suggest
from reconciler.secret import Secret

__all__ = ["ConfigChecker", "ValidateOptions"]

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


@dataclass
class ConfigChecker(ValueChecks):
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
        extras = _CDC_FIELDS if self.st.cdc else {}
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
                if not f.needed:
                    continue
                if written is None:
                    self.report(
                        path,
                        f"missing required field '{f.name}' for {self.st.name}"
                        + ("" if f.required else ' (PostHog: "Missing integration ID")'),
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
            return self._pattern(f, text, path)
        if kind == "select":
            return self._container(f, item, path) if f.is_container else self._select(f, item, path)
        if kind == "switch-group":
            return self._switch_group(f, item, path)
        if kind == "oauth":
            return self._integration_id(f, item, path)
        if kind == "oauth-account-select":
            return self._pattern(f, self._text(item, path), path)
        if kind == "file-upload":
            return self._file_upload(f, item, path)
        if kind == "ssh-tunnel":
            return self._ssh_tunnel(item, path)
        return item  # a kind this version does not know (live wizard): passed through unchecked

    def _pattern(self, f: Field, text: Any, path: NodePath) -> Any:
        """PostHog's value rule for the field, if any: a value it refuses only when it talks to the upstream
        (a create would fail mid-apply)."""
        check = self.st.config_check(f.name)
        if check is None or not isinstance(text, str) or re.match(check.pattern, text):
            return text
        if check in self.st.config_checks:
            message = f"'{f.name}' {check.message}, got {text!r}"
        else:  # PostHog's own words
            message = f"'{f.name}' must match {check.pattern}, got {text!r} (PostHog: \"{check.message}\")"
        self.report(path, message, hint=check.hint, reference="invalid-value")
        return text

    def _integration_id(self, f: Field, item: Any, path: NodePath) -> Any:
        """An `oauth` field holds the id of a PostHog integration: a positive whole number (docs/sources.md,
        "Integration ids", says where to find it)."""
        if item is None:
            return None
        number = self._number(item, path) if not isinstance(item, Secret) else self._no_secret(item, path)
        if isinstance(number, int) and number <= 0:
            self.report(
                path,
                f"'{f.name}' must be a PostHog integration id (a positive whole number), got {number}",
                hint="find the id under Settings → Integrations in PostHog, or run `reconciler import` on a "
                "source that uses it",
                reference="bad-integration-id",
            )
            return None
        return number if isinstance(number, int) else None

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
