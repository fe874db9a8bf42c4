"""`DesiredState` → manifest YAML (the inverse of load + validate, for round trips and `import`).

Pure: returns text. Secrets are written back as `{{ secret('NAME') }}`; a literal secret or a secret
combined from several variables cannot be written back and raises ValueError rather than print a value.
Every other string is a value, not a template: it is written so that it loads back to itself and never
evaluates (`literal_template`), whoever wrote it (`import` writes text anyone with PostHog UI access chose).
"""

from __future__ import annotations

from typing import Any

import yaml

from reconciler.manifest.models import DesiredSource, DesiredState
from reconciler.manifest.templates import literal_template
from reconciler.secret import Secret

__all__ = ["dump_manifest", "manifest_data"]

_ORDER = (
    "type",
    "prefix",
    "description",
    "protect",
    "secrets_version",
    "adopt_without_secrets",
    "state",
    "unlisted_tables",
    "config",
    "tables",
    "revenue_analytics",
)


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        if value.name.startswith("literal:") or "+" in value.name:
            raise ValueError(f"secret {value.name!r} cannot be written back as secret('NAME')")
        return "{{ secret('" + value.name + "') }}"
    if isinstance(value, str):
        return literal_template(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _source(source: DesiredSource) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _ORDER:
        if key not in source.given and key != "type":
            continue
        value = getattr(source, key)
        if key == "tables":
            value = {name: t.given_values() for name, t in value.items()}
        elif key == "revenue_analytics" and value is not None:
            value = value.given_values()
        out[key] = _plain(value)
    return out


def manifest_data(state: DesiredState) -> list[dict[str, Any]]:
    """The YAML documents (as data) that load back to `state`: one per `unlisted_tables` default in use."""
    groups: dict[str, dict[str, Any]] = {}
    first = "report"
    for source in state.sources.values():
        default = first if "unlisted_tables" in source.given else source.unlisted_tables
        groups.setdefault(default, {})[source.address] = _source(source)
    if not groups:
        groups[first] = {}
    documents = []
    for default, sources in groups.items():
        doc: dict[str, Any] = {"version": 1}
        if state.project is not None:
            doc["project"] = state.project
        doc["defaults"] = {"unlisted_tables": default}
        doc["sources"] = sources
        documents.append(doc)
    return documents


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if "{{" in value else ("|" if "\n" in value else None)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(tuple, lambda d, v: d.represent_list(list(v)))


def dump_manifest(state: DesiredState) -> str:
    """YAML text (several documents when sources use different `unlisted_tables` defaults)."""
    return yaml.dump_all(manifest_data(state), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
