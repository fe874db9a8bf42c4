"""DesiredState + LiveState + catalog → Plan. Pure: never imports httpx, reads no environment or clock.

Decisions (DESIGN.md "Semantics the planner must get right"):
- identity is `reconciler/identity.py`'s (trailer first, then (type, prefix), which adopts sources made
  in the UI); its conflicts are plan errors, and a duplicated owner gets no change at all;
- immutable `type`/`prefix` force a replace (delete then create, `drops-data`); `protect` forbids it;
- deletes only for `state: absent`, or `--prune` for trailers naming undeclared addresses (never for
  an address more than one live source claims);
- unmanaged sources (no trailer, not declared) are reported, never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field
from typing import Any

from reconciler.catalog import Catalog, SourceType, revenue_analytics_defaults
from reconciler.identity import declared_of, match_sources
from reconciler.manifest.models import DesiredSource, DesiredState
from reconciler.manifest.problems import did_you_mean
from reconciler.plan.diff import against_live, api_table_settings, diff_tables, revenue_changes
from reconciler.plan.fingerprint import values_part, version_part
from reconciler.plan.model import (
    TARGETING_WARNING,
    Action,
    FieldDiff,
    Impact,
    OrphanedSource,
    Plan,
    PlanError,
    SecretStatus,
    SourceChange,
    UnmanagedSource,
)
from reconciler.plan.steps import (
    CreateSource,
    DeleteSource,
    OwnedDescription,
    PatchRevenueConfig,
    PatchSchemas,
    ReloadSource,
    Step,
)
from reconciler.plan.update import schema_updates, update_parts
from reconciler.posthog.models import LiveSource, LiveState
from reconciler.posthog.normalise import normalise_config
from reconciler.records import record
from reconciler.secret import has_secret

__all__ = ["PlanOptions", "build_plan"]


@record
class PlanOptions:
    host: str
    project: str
    targets: frozenset[str] | None = None  # --target: only these addresses
    prune: bool = False  # delete owned sources whose address no manifest declares
    sync: bool = False  # apply --sync: reload changed sources at the end of their chain
    fingerprint_key: bytes | None = field(default=None, repr=False)
    environment: str | None = None  # reconciler.yaml's environment, recorded in the plan


class _Planner:
    def __init__(self, desired: DesiredState, live: LiveState, catalog: Catalog, options: PlanOptions) -> None:
        self.desired = desired
        self.live = live
        self.catalog = catalog
        self.options = options
        self.errors: list[PlanError] = []
        self.warnings: list[str] = list(desired.warnings)
        self.identity = match_sources(
            declared_of((a, spec.type, spec.prefix) for a, spec in desired.sources.items()), live
        )
        self.errors.extend(PlanError(c.message, c.address, c.reference) for c in self.identity.conflicts)

    # ---- per source ---------------------------------------------------------------------------------

    def fingerprint_parts(self, spec: DesiredSource) -> tuple[str, str | None]:
        """(version half, values half or None when it cannot be computed here): see plan/fingerprint.py."""
        return version_part(spec.secrets_version), values_part(spec.secrets(), self.options.fingerprint_key)

    def change_for(self, spec: DesiredSource) -> SourceChange:
        live = self.identity.source_for(spec.address)
        if spec.absent:
            return self.delete_change(spec, live)
        if live is None:
            return self.create_change(spec, reasons=("not in PostHog",))
        replace_reasons = self.replace_reasons(spec, live)
        if replace_reasons:
            return self.replace_change(spec, live, replace_reasons)
        return self.update_change(spec, live, adopted=self.identity.is_adopted(spec.address))

    def replace_reasons(self, spec: DesiredSource, live: LiveSource) -> tuple[str, ...]:
        """Why the live source cannot be updated in place: its immutable fields differ (§11)."""
        reasons = []
        if spec.type != live.source_type:
            reasons.append(f"type {live.source_type} → {spec.type} cannot change in place")
        if (spec.prefix or None) != live.prefix:
            reasons.append(f"prefix {live.prefix!r} → {spec.prefix!r} cannot change in place")
        if live.access_method not in (None, "warehouse"):
            reasons.append(f"access_method {live.access_method!r} → 'warehouse' cannot change in place")
        return tuple(reasons)

    def refuse_if_protected(self, spec: DesiredSource, what: str) -> None:
        if spec.protect:
            self.errors.append(
                PlanError(
                    f"protected (protect: true) and would be {what}; remove "
                    "'protect: true' in its own change first if this is intended",
                    spec.address,
                    "protected",
                )
            )

    def delete_change(self, spec: DesiredSource, live: LiveSource | None) -> SourceChange:
        if live is None:
            return SourceChange(spec.address, spec.type, spec.prefix, Action.NOOP, reasons=("already absent",))
        self.refuse_if_protected(spec, "deleted")
        return SourceChange(
            spec.address,
            live.source_type,
            live.prefix,
            Action.DELETE,
            steps=(DeleteSource(spec.address, live.id),),
            impacts=frozenset({Impact.DROPS_DATA}),
            reasons=("state: absent",),
            protected=spec.protect,
            live_id=live.id,
            live_fingerprint=live.fingerprint(),
        )

    def create_steps(self, spec: DesiredSource) -> tuple[tuple[Step, ...], list[FieldDiff], SecretStatus]:
        st = self.catalog.get(spec.type)
        tables = diff_tables(spec, None)
        self.errors.extend(PlanError(e, spec.address, "invalid-table") for e in tables.errors)
        if not spec.tables:
            self.errors.append(
                PlanError(
                    "list at least one table to create the source (PostHog requires payload.schemas)",
                    spec.address,
                    "no-tables",
                )
            )
        version, values = self.fingerprint_parts(spec)
        fingerprint = version + values if values else version  # the executor completes a bare version half
        steps: list[Step] = [
            CreateSource(
                spec.address,
                None,
                source_type=spec.type,
                prefix=spec.prefix,
                description=OwnedDescription(spec.description, spec.address, fingerprint),
                payload=dict(spec.config),
                schemas=tuple(tables.create_schemas),
            )
        ]
        if tables.updates:
            steps.append(PatchSchemas(spec.address, None, schema_updates(tables.updates)))
        revenue = revenue_changes(spec, revenue_analytics_defaults(spec.type))
        if revenue:
            steps.append(PatchRevenueConfig(spec.address, None, revenue))
        diffs = _config_lines(st, spec)
        # Every setting the new table gets, the ones patched right after the create (frequency) included.
        diffs += [
            FieldDiff(f"tables.{name}", None, api_table_settings(settings))
            for name, settings in sorted(spec.tables.items())
        ]
        secrets = spec.secrets().values()
        status = SecretStatus.RESEND if all(s.available for s in secrets) else SecretStatus.MISSING
        if not secrets:
            status = SecretStatus.UNCHANGED
        return tuple(steps), diffs, status

    def create_change(self, spec: DesiredSource, *, reasons: tuple[str, ...]) -> SourceChange:
        steps, diffs, status = self.create_steps(spec)
        impacts = {Impact.NEXT_SYNC} | _credentials(status)
        return SourceChange(
            spec.address,
            spec.type,
            spec.prefix,
            Action.CREATE,
            steps=self.with_reload(spec, steps),
            impacts=frozenset(impacts),
            reasons=reasons,
            field_diffs=tuple(diffs),
            secret_status=status,
            protected=spec.protect,
        )

    def replace_change(self, spec: DesiredSource, live: LiveSource, reasons: tuple[str, ...]) -> SourceChange:
        self.refuse_if_protected(spec, "replaced (deleted and created again)")
        steps, create_diffs, status = self.create_steps(spec)
        # Old values from the source it deletes: `type`, `prefix`, `access_method` force the replace (IMMUTABLE_FIELDS).
        diffs = [FieldDiff("type", live.source_type, spec.type)] if spec.type != live.source_type else []
        if (spec.prefix or None) != live.prefix:
            diffs.append(FieldDiff("prefix", live.prefix, spec.prefix))
        if live.access_method not in (None, "warehouse"):
            diffs.append(FieldDiff("access_method", live.access_method, "warehouse"))
        old_text = self.identity.trailer(live).user_text
        if old_text is not None or spec.description is not None:
            diffs.append(FieldDiff("description", old_text, spec.description))
        diffs += against_live(create_diffs, live)
        return SourceChange(
            spec.address,
            spec.type,
            spec.prefix,
            Action.REPLACE,
            steps=(DeleteSource(spec.address, live.id), *self.with_reload(spec, steps)),
            impacts=frozenset({Impact.DROPS_DATA} | _credentials(status)),
            reasons=reasons,
            field_diffs=tuple(diffs),
            secret_status=status,
            protected=spec.protect,
            live_id=live.id,
            live_fingerprint=live.fingerprint(),
        )

    def update_change(self, spec: DesiredSource, live: LiveSource, *, adopted: bool) -> SourceChange:
        """Built from its parts (plan/update.py); a no-op when no part has a step."""
        trailer = self.identity.trailer(live)
        st = self.catalog.get(spec.type)
        update = update_parts(spec, st, live, trailer, self.fingerprint_parts(spec), adopted=adopted)
        part = update.part
        self.errors.extend(part.errors)
        reasons = part.reasons
        if not part.steps and update.unlisted and spec.unlisted_tables == "report":
            reasons += (f"{len(update.unlisted)} live table(s) not listed (unlisted_tables: report)",)
        return SourceChange(
            spec.address,
            spec.type,
            spec.prefix,
            Action.UPDATE if part.steps else Action.NOOP,
            steps=self.with_reload(spec, part.steps) if part.steps else (),
            impacts=part.impacts if part.steps else frozenset(),
            reasons=reasons,
            field_diffs=part.diffs,
            secret_status=update.status,
            protected=spec.protect,
            live_id=live.id,
            live_fingerprint=live.fingerprint(),
            unlisted_tables=update.unlisted if spec.unlisted_tables == "report" else (),
        )

    def with_reload(self, spec: DesiredSource, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        return (*steps, ReloadSource(spec.address, _source_id(steps))) if self.options.sync else steps

    # ---- whole plan ---------------------------------------------------------------------------------

    def plan(self) -> Plan:
        targets = self.options.targets
        declared = set(self.desired.sources)
        identity = self.identity
        changes: list[SourceChange] = []
        unmanaged = [UnmanagedSource(s.id, s.source_type, s.prefix) for s in identity.unmanaged]
        orphaned: list[OrphanedSource] = []
        for address, source in identity.orphaned:
            pruned = targets is None or address in targets
            if self.options.prune and pruned and identity.duplicated(address) is None:
                changes.append(
                    SourceChange(
                        address,
                        source.source_type,
                        source.prefix,
                        Action.DELETE,
                        steps=(DeleteSource(address, source.id),),
                        impacts=frozenset({Impact.DROPS_DATA}),
                        reasons=("owned by reconciler, no longer declared (--prune)",),
                        live_id=source.id,
                        live_fingerprint=source.fingerprint(),
                    )
                )
            else:
                orphaned.append(OrphanedSource(source.id, address, source.source_type, source.prefix))
        if targets is not None:
            for unknown in sorted(targets - declared - {c.address for c in changes}):
                known = declared | {o.address for o in orphaned}
                message = f"--target {unknown}: no manifest declares this address{did_you_mean(unknown, sorted(known))}"
                self.errors.append(PlanError(message, unknown, "unknown-target"))
            self.warnings.insert(0, _targeting_notice(targets))
        for address, spec in sorted(self.desired.sources.items()):
            # A duplicated owner is reported (errors) and neither source is compared or touched.
            if (targets is None or address in targets) and identity.duplicated(address) is None:
                changes.append(self.change_for(spec))
        # Deletes (and the delete half of replaces) first, then everything else; stable by address.
        changes.sort(key=lambda c: (not any(isinstance(s, DeleteSource) for s in c.steps), c.address))
        return Plan(
            host=self.options.host,
            project=self.options.project,
            changes=tuple(changes),
            unmanaged=tuple(unmanaged),
            orphaned=tuple(orphaned),
            errors=tuple(self.errors),
            warnings=tuple(self.warnings),
            environment=self.options.environment,
        )


def _credentials(status: SecretStatus) -> set[Impact]:
    """A create (or replace) touches credentials only when it has secrets to send: a Hubspot source with an
    integration id has none."""
    return {Impact.CREDENTIALS} if status is not SecretStatus.UNCHANGED else set()


def _targeting_notice(targets: frozenset[str]) -> str:
    """Terraform's "resource targeting is in effect", in our words: what a targeted plan leaves out."""
    return (
        f"{TARGETING_WARNING} (--target {', '.join(sorted(targets))}): changes to other sources are not "
        "planned, so this plan may not show everything that differs; plan without --target before relying on it"
    )


def _source_id(steps: Iterable[Step]) -> str | None:
    return next((s.source_id for s in steps if s.source_id is not None), None)


def _config_lines(st: SourceType | None, spec: DesiredSource) -> list[FieldDiff]:
    """A create's config as diff lines: non-secret leaves shown, secrets flagged."""
    lines: list[FieldDiff] = []

    def walk(path: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{path}.{k}", v)
        elif has_secret(value):
            lines.append(FieldDiff(path, secret=True))
        else:
            lines.append(FieldDiff(path, None, value))

    for key, value in normalise_config(st, spec.config).items():
        walk(f"config.{key}", value)
    return lines


def build_plan(desired: DesiredState, live: LiveState, catalog: Catalog, options: PlanOptions) -> Plan:
    """The ordered plan that turns `live` into `desired`. Pure."""
    return _Planner(desired, live, catalog, options).plan()
