"""The drift report: manifests against one listing of PostHog (`build_drift`). Pure: no HTTP, no environment,
no clock (the caller passes `now`).

Which live source is which address is `identity.py`'s answer, the one plan and apply use: a duplicated owner
is one `duplicate-owner` finding and neither source is compared. Findings come from `compare.py` (changed,
tables) and `health.py`; this module adds `missing` and `unmanaged` and orders the report.
Must not know: rendering, HTTP, writing (drift is read-only by construction).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from reconciler.catalog import Catalog
from reconciler.drift.compare import changed_findings, table_findings
from reconciler.drift.health import health_findings
from reconciler.drift.model import Category, DriftReport, Finding, SourceDrift
from reconciler.identity import Identity, declared_of, match_sources
from reconciler.manifest.models import DesiredSource, DesiredState
from reconciler.posthog.models import LiveSource, LiveState
from reconciler.secret import secret_values

__all__ = ["build_drift", "import_hint", "known_secret_values"]

_ABSENT_BUT_PRESENT = Finding(
    Category.CHANGED,
    "field",
    "state: absent in the manifest, but the source exists in PostHog",
    path="state",
    manifest="absent",
    posthog="present",
    likely_changed_by="manifest",
)
_MISSING = Finding(Category.MISSING, "not-in-posthog", "declared in the manifests, not in PostHog")


def import_hint(source_type: str, prefix: str | None) -> str:
    """The command that writes a manifest for one live source."""
    return f"reconciler import --select {source_type}:{prefix or ''}"


class _Drift:
    def __init__(self, catalog: Catalog, identity: Identity, now: datetime, known_secrets: Sequence[str]) -> None:
        self.catalog = catalog
        self.identity = identity
        self.now = now
        self.known = known_secrets

    def health(self, source: LiveSource) -> list[Finding]:
        return health_findings(source, self.now, self.known)

    def declared(self, spec: DesiredSource) -> SourceDrift:
        """One declared address: its conflict, or its findings against the source it matched (if any)."""
        duplicate = self.identity.duplicated(spec.address)
        if duplicate is not None:  # reported; neither source is compared (as plan and apply do)
            finding = Finding(Category.UNMANAGED, "duplicate-owner", duplicate.message)
            return SourceDrift(spec.address, spec.type, spec.prefix, None, (finding,))
        source = self.identity.source_for(spec.address)
        findings: list[Finding] = []
        if source is None:
            findings += [] if spec.absent else [_MISSING]
        elif spec.absent:
            findings += [_ABSENT_BUT_PRESENT, *self.health(source)]
        else:
            user_text = self.identity.trailer(source).user_text
            findings += changed_findings(spec, self.catalog.get(spec.type), source, user_text)
            findings += [*table_findings(spec, source), *self.health(source)]
        return SourceDrift(spec.address, spec.type, spec.prefix, source.id if source else None, tuple(findings))

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
    identity = match_sources(declared_of((a, s.type, s.prefix) for a, s in desired.sources.items()), live)
    drift = _Drift(catalog, identity, now, known_secrets)
    entries = [drift.declared(spec) for spec in desired.sources.values()]
    entries += [drift.undeclared(s, None) for s in identity.unmanaged]
    entries += [drift.undeclared(s, owner) for owner, s in identity.orphaned]
    entries = [e for e in entries if e.findings]
    # Conflicts not already a finding above: identity conflicts, and duplicated undeclared addresses.
    reported = {s.address for s in entries if s.findings[0].kind == "duplicate-owner"}
    warnings = [c.message for c in identity.conflicts if c.address not in reported]
    ordered = sorted(entries, key=lambda s: (s.address is None, s.label, s.source_id or ""))
    return DriftReport(
        host=host,
        project=project,
        checked_at=now.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        sources=tuple(ordered),
        warnings=tuple(warnings),
        declared=sum(1 for s in desired.sources.values() if not s.absent),
        live=len(live),
    )


def known_secret_values(desired: DesiredState) -> list[str]:
    """The manifests' secret values that are set in the environment, only so `redact` can cut them out
    of error texts PostHog returns (the one reason drift ever reveals a Secret)."""
    return [value for source in desired.sources.values() for value in secret_values(source.config)]
