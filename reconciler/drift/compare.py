"""What differs between one declared source and its live match, as drift findings: `changed` (readable fields,
description, revenue config, type and prefix) and `tables` (settings, tables PostHog lacks, discovered tables),
each with who made the difference where that can be known (type and prefix), else "unknown". Pure.

The comparing itself is plan's (`plan/diff.py`: `diff_config`, `diff_tables`, `revenue_changes`), so drift and
plan cannot disagree about what differs; this module only sorts and words it.
Must not know: identity (it is handed the match), health, rendering, HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.catalog import SourceType, revenue_analytics_defaults
from reconciler.drift.model import Category, Finding
from reconciler.manifest.models import TABLE_KEYS_OF_API, DesiredSource
from reconciler.plan.diff import diff_config, diff_tables, revenue_changes
from reconciler.plan.model import FieldDiff
from reconciler.posthog.models import LiveSource

__all__ = ["changed_findings", "table_findings"]

#: Who made a difference, when drift cannot know: with no history, an edit in PostHog (UI or API) and a manifest
#: change that was not applied yet leave the same two values behind.
UNKNOWN = "unknown"


def _show(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _text(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(_show(value), sort_keys=True, default=str)
    return repr(value) if isinstance(value, str) else str(value)


def _field(path: str, manifest: Any, posthog: Any, who: str) -> Finding:
    return Finding(
        Category.CHANGED,
        "field",
        f"{path}: {_text(manifest)} in the manifest, {_text(posthog)} in PostHog",
        path=path,
        manifest=_show(manifest),
        posthog=_show(posthog),
        likely_changed_by=who,
    )


def changed_findings(
    spec: DesiredSource, st: SourceType | None, source: LiveSource, user_text: str | None
) -> list[Finding]:
    """`changed` findings; `user_text` is the live description without the ownership trailer."""
    out: list[Finding] = []
    # PostHog cannot change type or prefix in place (§11): a difference comes from the manifest.
    if spec.type != source.source_type:
        out.append(_field("type", spec.type, source.source_type, "manifest"))
    if (spec.prefix or None) != source.prefix:
        out.append(_field("prefix", spec.prefix, source.prefix, "manifest"))
    if spec.type != source.source_type:
        return out  # configs of different types cannot be compared field by field
    for diff in diff_config(st, spec, source).diffs:
        if not diff.secret:
            out.append(_field(diff.path, diff.new, diff.old, UNKNOWN))
    if "description" in spec.given and (spec.description or None) != (user_text or None):
        out.append(_field("description", spec.description, user_text, UNKNOWN))
    defaults = revenue_analytics_defaults(source.source_type)
    have = source.revenue_analytics.settings() if source.revenue_analytics is not None else defaults
    for key, want in revenue_changes(spec, have).items():
        out.append(_field(f"revenue_analytics.{key}", want, have.get(key), UNKNOWN))
    return out


def table_findings(spec: DesiredSource, source: LiveSource) -> list[Finding]:
    """`tables` findings: listed tables' settings and presence, and the unlisted tables PostHog syncs; the unlisted
    tables it knows without syncing them are `unsynced` (its normal state after refresh_schemas)."""
    result = diff_tables(spec, source)
    out: list[Finding] = []
    listed = set(spec.tables)
    for diff in result.diffs:
        out.extend(_table_diff(diff, listed))
    for name in (n for n in result.unlisted if n not in listed):
        schema = source.schema_named(name)
        syncing = bool(schema is not None and schema.should_sync)
        if spec.unlisted_tables == "disable" and not syncing:
            continue  # already what the policy asks for
        out.append(
            Finding(
                Category.TABLES if syncing else Category.UNSYNCED,
                "discovered",
                f"table {name} is in PostHog ({'syncing' if syncing else 'not syncing'}) but not listed "
                f"(unlisted_tables: {spec.unlisted_tables})",
                table=name,
                posthog=syncing,
            )
        )
    return out


def _table_diff(diff: FieldDiff, listed: set[str]) -> list[Finding]:
    parts = diff.path.split(".", 2)  # tables.<name>[.<key>]
    name = parts[1]
    if name not in listed:
        return []  # a `disable`-policy change to an unlisted table: reported as discovered
    if len(parts) == 2:
        return [
            Finding(
                Category.TABLES,
                "not-in-posthog",
                f"table {name} is listed but PostHog does not have it",
                table=name,
                manifest=diff.new,
            )
        ]
    key = TABLE_KEYS_OF_API.get(parts[2], parts[2])  # the manifest's word (`frequency`); `path` keeps PostHog's
    return [
        Finding(
            Category.TABLES,
            "settings",
            f"table {name}: {key} is {_text(diff.new)} in the manifest, {_text(diff.old)} in PostHog",
            path=diff.path,
            table=name,
            manifest=_show(diff.new),
            posthog=_show(diff.old),
            likely_changed_by=UNKNOWN,
        )
    ]
