"""Drift: compare manifests with what PostHog has, and report source health. Pure: no HTTP, no environment,
no clock (the caller passes `now`).

Identity is `identity.py`'s (ownership trailer first, then (type, prefix)), the one plan uses, and field
comparison is `plan/diff.py`'s (`diff_config`, `diff_tables`), so drift and plan can never disagree about what
differs. A duplicated owner is one `duplicate-owner` finding; neither source is compared.
Drift only sorts the differences into categories for people on a schedule:

- `changed`   a managed readable field differs (old → new, and who most likely changed it);
- `missing`   declared, not in PostHog;
- `unmanaged` in PostHog, not declared (with an `import` hint);
- `tables`    listed tables whose settings differ or that PostHog lacks, and tables PostHog discovered that
              the manifest does not list (per `unlisted_tables`);
- `health`    Failed / Billing limits statuses (with `latest_error`, secrets redacted) and stale syncs.

Secrets are never compared (PostHog never returns them) and never shown: `latest_error` goes through
`reconciler.secret.redact` before it enters a finding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from reconciler.catalog import DEFAULT_SYNC_FREQUENCY, SYNC_FREQUENCIES, Catalog, SourceType, revenue_analytics_defaults
from reconciler.identity import declared_of, match_sources
from reconciler.manifest.models import DesiredSource, DesiredState
from reconciler.ownership import parse_trailer
from reconciler.plan.diff import diff_config, diff_tables
from reconciler.plan.model import FieldDiff
from reconciler.posthog.models import LiveSource, LiveState
from reconciler.secret import redact, secret_values

__all__ = [
    "CATEGORIES",
    "DRIFT_FORMAT_VERSION",
    "HEALTH_STATUSES",
    "Category",
    "DriftReport",
    "Finding",
    "SourceDrift",
    "build_drift",
    "frequency_interval",
    "import_hint",
    "known_secret_values",
    "parse_categories",
]

#: Version of the JSON form (docs/drift-format.md). Bump on any incompatible change.
DRIFT_FORMAT_VERSION = 1

#: Source and schema statuses that mean "not syncing as it should" (reference/posthog-api.md §6, §7).
HEALTH_STATUSES = ("Failed", "Billing limits", "Billing limits too low")


#: PostHog's value for a table setting nobody set (§7, §8.3): what "default" means for attribution.
_TABLE_DEFAULTS: dict[str, Any] = {
    "should_sync": False,
    "sync_type": None,
    "incremental_field": None,
    "incremental_field_type": None,
    "sync_frequency": DEFAULT_SYNC_FREQUENCY,
    "sync_time_of_day": None,
    "primary_key_columns": None,
    "enabled_columns": None,
    "cdc_table_mode": "consolidated",
}


class Category(Enum):
    """Drift categories, in report order; the values are the stable strings of every output format."""

    CHANGED = "changed"
    MISSING = "missing"
    UNMANAGED = "unmanaged"
    TABLES = "tables"
    HEALTH = "health"


CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)


def parse_categories(spec: str) -> frozenset[Category]:
    """`--fail-on changed,health` → those categories; `all` → every one. ValueError names a bad entry."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise ValueError(f"no categories given; choose from: all, {', '.join(CATEGORIES)}")
    chosen: set[Category] = set()
    for name in names:
        if name == "all":
            chosen.update(Category)
        elif name in CATEGORIES:
            chosen.add(Category(name))
        else:
            raise ValueError(f"unknown drift category {name!r}; choose from: all, {', '.join(CATEGORIES)}")
    return frozenset(chosen)


@dataclass(frozen=True)
class Finding:
    """One thing drift found. Which fields are set depends on `kind`:

    - changed / `field`: `path`, `manifest`, `posthog`, `likely_changed_by` ("posthog" | "manifest");
    - missing / `not-in-posthog`; unmanaged / `unmanaged` or `orphaned` (with `hint`);
    - tables / `settings` (`table`, `path`, `manifest`, `posthog`), `not-in-posthog` (`table`),
      `discovered` (`table`, `posthog` = whether PostHog syncs it);
    - health / `source-status`, `table-status` (`status`, `latest_error`), `stale` (`table`,
      `last_synced_at`, `frequency`).
    Values never hold a secret: config diffs come from non-secret fields only and errors are redacted.
    """

    category: Category
    kind: str
    message: str
    path: str | None = None
    table: str | None = None
    manifest: Any = None
    posthog: Any = None
    likely_changed_by: str | None = None
    status: str | None = None
    latest_error: str | None = None
    last_synced_at: str | None = None
    frequency: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class SourceDrift:
    """Everything found about one source. `address` is None for sources no manifest declares."""

    address: str | None
    source_type: str
    prefix: str | None
    source_id: str | None
    findings: tuple[Finding, ...] = ()

    @property
    def label(self) -> str:
        return self.address or f"{self.source_type}:{self.prefix or ''}"


@dataclass(frozen=True)
class DriftReport:
    """The whole drift report; `sources` hold only sources with findings, ordered by label."""

    host: str
    project: str
    checked_at: str
    sources: tuple[SourceDrift, ...] = ()
    warnings: tuple[str, ...] = ()
    declared: int = 0
    live: int = 0

    def findings(self) -> Iterable[Finding]:
        return (f for s in self.sources for f in s.findings)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(CATEGORIES, 0)
        for finding in self.findings():
            counts[finding.category.value] += 1
        return counts

    def found(self, categories: Iterable[Category] = tuple(Category)) -> bool:
        wanted = set(categories)
        return any(f.category in wanted for f in self.findings())


# ---- helpers ---------------------------------------------------------------------------------------------


def frequency_interval(label: str | None) -> timedelta | None:
    """The interval of a `sync_frequency` label; None for `never`, null or an unknown label."""
    return SYNC_FREQUENCIES.get(label or "")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def import_hint(source_type: str, prefix: str | None) -> str:
    """The command that writes a manifest for one live source."""
    return f"reconciler import --select {source_type}:{prefix or ''}"


def _config_default(st: SourceType | None, path: str) -> Any:
    """The catalog default of a dotted `config.<field>[.<child>]` path; None when it declares none."""
    if st is None:
        return None
    parts = path.split(".")[1:]
    if not parts:
        return None
    top = st.field(parts[0]) or next((f for f in st.fields if f.stored_name == parts[0]), None)
    if top is None:
        return None
    if len(parts) == 1:
        return top.default
    if parts[1] == "selection":
        return top.default
    if parts[1] == "enabled":
        return False if top.kind in ("switch-group", "ssh-tunnel") else None
    child = next((f for f in top.walk() if f.stored_name == parts[-1] and f is not top), None)
    return child.default if child is not None else None


def _same_default(value: Any, default: Any) -> bool:
    if value is None or value == "":
        return True
    return value == default or str(value) == str(default)


def _attribution(posthog_value: Any, default: Any) -> str:
    """Who most likely made the difference: PostHog holding a non-default value the manifest does not
    have points at an edit in PostHog (UI or API); PostHog holding the default points at a manifest
    change that was not applied yet (or a reset in PostHog)."""
    return "manifest" if _same_default(posthog_value, default) else "posthog"


def _show(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# ---- per source ------------------------------------------------------------------------------------------


class _Drift:
    def __init__(
        self, desired: DesiredState, live: LiveState, catalog: Catalog, now: datetime, known_secrets: Sequence[str]
    ) -> None:
        self.desired = desired
        self.live = live
        self.catalog = catalog
        self.now = now
        self.known = known_secrets

    def changed(self, spec: DesiredSource, source: LiveSource) -> list[Finding]:
        st = self.catalog.get(spec.type)
        out: list[Finding] = []
        # PostHog cannot change type or prefix in place (§11): a difference comes from the manifest.
        if spec.type != source.source_type:
            out.append(self._field("type", spec.type, source.source_type, "manifest"))
        if (spec.prefix or None) != source.prefix:
            out.append(self._field("prefix", spec.prefix, source.prefix, "manifest"))
        if spec.type != source.source_type:
            return out  # configs of different types cannot be compared field by field
        for diff in diff_config(st, spec, source).diffs:
            if diff.secret:
                continue
            out.append(
                self._field(diff.path, diff.new, diff.old, _attribution(diff.old, _config_default(st, diff.path)))
            )
        user_text = parse_trailer(source.description)[0]
        if "description" in spec.given and (spec.description or None) != (user_text or None):
            out.append(self._field("description", spec.description, user_text, _attribution(user_text, None)))
        if spec.revenue_analytics is not None:
            defaults = revenue_analytics_defaults(source.source_type)
            have = source.revenue_analytics.model_dump() if source.revenue_analytics is not None else defaults
            for key in sorted(spec.revenue_analytics.given):
                want = getattr(spec.revenue_analytics, key)
                if have.get(key) != want:
                    out.append(
                        self._field(
                            f"revenue_analytics.{key}", want, have.get(key), _attribution(have.get(key), defaults[key])
                        )
                    )
        return out

    @staticmethod
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

    def tables(self, spec: DesiredSource, source: LiveSource) -> list[Finding]:
        result = diff_tables(spec, source)
        out: list[Finding] = []
        listed = set(spec.tables)
        for diff in result.diffs:
            out.extend(self._table_diff(diff, listed, source))
        unlisted = [name for name in result.unlisted if name not in listed]
        for name in unlisted:
            schema = source.schema_named(name)
            syncing = bool(schema is not None and schema.should_sync)
            if spec.unlisted_tables == "disable" and not syncing:
                continue  # already what the policy asks for
            out.append(
                Finding(
                    Category.TABLES,
                    "discovered",
                    f"table {name} is in PostHog ({'syncing' if syncing else 'not syncing'}) but not listed "
                    f"(unlisted_tables: {spec.unlisted_tables})",
                    table=name,
                    posthog=syncing,
                )
            )
        return out

    def _table_diff(self, diff: FieldDiff, listed: set[str], source: LiveSource) -> list[Finding]:
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
        key = parts[2]
        who = _attribution(diff.old, _TABLE_DEFAULTS.get(key))
        if key == "should_sync":
            who = "posthog" if diff.old is False and diff.new is True else who
        return [
            Finding(
                Category.TABLES,
                "settings",
                f"table {name}: {key} is {_text(diff.new)} in the manifest, {_text(diff.old)} in PostHog",
                path=diff.path,
                table=name,
                manifest=_show(diff.new),
                posthog=_show(diff.old),
                likely_changed_by=who,
            )
        ]

    def health(self, source: LiveSource) -> list[Finding]:
        out: list[Finding] = []
        if source.status in HEALTH_STATUSES:
            error = redact(source.latest_error, self.known, credential_shapes=True)
            out.append(
                Finding(
                    Category.HEALTH,
                    "source-status",
                    f"source status is {source.status}",
                    status=source.status,
                    latest_error=error,
                )
            )
        for schema in source.schemas:
            if not schema.should_sync:
                continue  # PostHog ignores disabled tables' failures too (§6 "Status derivation")
            if schema.status in HEALTH_STATUSES:
                out.append(
                    Finding(
                        Category.HEALTH,
                        "table-status",
                        f"table {schema.name} status is {schema.status}",
                        table=schema.name,
                        status=schema.status,
                        latest_error=redact(schema.latest_error, self.known, credential_shapes=True),
                    )
                )
            interval = frequency_interval(schema.sync_frequency)
            synced = _parse_time(schema.last_synced_at)
            if interval is not None and synced is not None and self.now - synced > 2 * interval:
                out.append(
                    Finding(
                        Category.HEALTH,
                        "stale",
                        f"table {schema.name} last synced {schema.last_synced_at}, more than twice its "
                        f"{schema.sync_frequency} frequency ago",
                        table=schema.name,
                        last_synced_at=schema.last_synced_at,
                        frequency=schema.sync_frequency,
                    )
                )
        return out

    def declared(self, spec: DesiredSource, source: LiveSource | None) -> list[Finding]:
        """Findings for one declared address matched to `source` (None: nothing matched)."""
        findings: list[Finding] = []
        if spec.absent:
            if source is not None:
                findings.append(
                    Finding(
                        Category.CHANGED,
                        "field",
                        "state: absent in the manifest, but the source exists in PostHog",
                        path="state",
                        manifest="absent",
                        posthog="present",
                        likely_changed_by="manifest",
                    )
                )
        elif source is None:
            findings.append(Finding(Category.MISSING, "not-in-posthog", "declared in the manifests, not in PostHog"))
        else:
            findings += self.changed(spec, source)
            findings += self.tables(spec, source)
        if source is not None:
            findings += self.health(source)
        return findings

    def undeclared(self, source: LiveSource, owner: str | None) -> SourceDrift:
        hint = import_hint(source.source_type, source.prefix)
        if owner is not None:
            first = Finding(
                Category.UNMANAGED,
                "orphaned",
                f"owned by reconciler as {owner!r}, but no manifest declares it (plan --prune would delete it)",
                hint=hint,
            )
        else:
            first = Finding(Category.UNMANAGED, "unmanaged", "in PostHog, not declared in any manifest", hint=hint)
        return SourceDrift(None, source.source_type, source.prefix, source.id, (first, *self.health(source)))

    def report(self, host: str, project: str) -> DriftReport:
        declared = declared_of((a, spec.type, spec.prefix) for a, spec in self.desired.sources.items())
        identity = match_sources(declared, self.live)
        entries: list[SourceDrift] = []
        for address, spec in self.desired.sources.items():
            duplicate = identity.duplicated(address)
            if duplicate is not None:  # reported; neither source is compared (as plan and apply do)
                finding = Finding(Category.UNMANAGED, "duplicate-owner", duplicate.message)
                entries.append(SourceDrift(address, spec.type, spec.prefix, None, (finding,)))
                continue
            source = identity.source_for(address)
            findings = self.declared(spec, source)
            if findings:
                entries.append(
                    SourceDrift(address, spec.type, spec.prefix, source.id if source else None, tuple(findings))
                )
        entries += [self.undeclared(s, None) for s in identity.unmanaged]
        entries += [self.undeclared(s, owner) for owner, s in identity.orphaned]
        # Conflicts not already a finding above: identity conflicts, and duplicated undeclared addresses.
        reported = {s.address for s in entries if s.findings[0].kind == "duplicate-owner"}
        warnings = [c.message for c in identity.conflicts if c.address not in reported]
        ordered = sorted(entries, key=lambda s: (s.address is None, s.label, s.source_id or ""))
        checked_at = self.now.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return DriftReport(
            host=host,
            project=project,
            checked_at=checked_at,
            sources=tuple(ordered),
            warnings=tuple(warnings),
            declared=sum(1 for s in self.desired.sources.values() if not s.absent),
            live=len(self.live),
        )


def _text(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(_show(value), sort_keys=True, default=str)
    return repr(value) if isinstance(value, str) else str(value)


def build_drift(
    desired: DesiredState,
    live: LiveState,
    catalog: Catalog,
    *,
    host: str,
    project: str,
    now: datetime,
    known_secrets: Sequence[str] = (),
) -> DriftReport:
    """The drift report for `desired` against `live` at `now`. `known_secrets` are secret values to redact
    from error texts (the manifests' secrets that happen to be set); they never appear in the report."""
    return _Drift(desired, live, catalog, now, known_secrets).report(host, project)


def known_secret_values(desired: DesiredState) -> list[str]:
    """The manifests' secret values that are set in the environment, only so `redact` can cut them out
    of error texts PostHog returns (the one reason drift ever reveals a Secret)."""
    return [value for source in desired.sources.values() for value in secret_values(source.config)]
