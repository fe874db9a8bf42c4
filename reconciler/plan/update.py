"""An update of one matched source, built from small typed parts, one per concern (in the manner of SQLMesh's
`PlanStagesBuilder`): the config diff, the secret re-send, the job_inputs to send, the description and
ownership trailer, the tables, the revenue config. Each function returns its `Part` (field diffs, impacts,
reasons, errors, source PATCH fields, steps); `update_parts` puts them together in reading order. Pure.

Must not know: identity (the caller passes the matched source and its trailer), HTTP, environment, rendering.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field
from typing import Any

from reconciler.catalog import SourceType, revenue_analytics_defaults
from reconciler.identity import Trailer
from reconciler.manifest.models import DesiredSource
from reconciler.plan.diff import ConfigDiff, diff_config, diff_tables, revenue_changes, secret_patch
from reconciler.plan.fingerprint import UNKNOWN_VALUES, secrets_changed
from reconciler.plan.model import FieldDiff, Impact, PlanError, SecretStatus
from reconciler.plan.steps import (
    OwnedDescription,
    PatchRevenueConfig,
    PatchSchemas,
    PatchSource,
    RefreshSchemas,
    SchemaUpdate,
    Step,
)
from reconciler.posthog.models import LiveSource
from reconciler.records import record
from reconciler.secret import collect_secrets, has_secret

__all__ = [
    "Fingerprint",
    "Part",
    "Resend",
    "Update",
    "adopts_without_secrets",
    "combine",
    "config_part",
    "description_part",
    "job_inputs_part",
    "resend_part",
    "revenue_part",
    "schema_updates",
    "tables_part",
    "trailer_fingerprint",
    "update_parts",
]


#: The manifest's secrets fingerprint: (version half, values half or None when it cannot be computed here),
#: see plan/fingerprint.py.
Fingerprint = tuple[str, str | None]


@record
class Part:
    """One concern's share of a change. `patch` holds fields of the source PATCH (`job_inputs`,
    `description`); `steps` are the API calls after it."""

    diffs: tuple[FieldDiff, ...] = ()
    impacts: frozenset[Impact] = frozenset()
    reasons: tuple[str, ...] = ()
    errors: tuple[PlanError, ...] = ()
    patch: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()


def combine(parts: Iterable[Part]) -> Part:
    """The parts in order: diffs, reasons, errors, patch fields and steps concatenated, impacts joined."""
    parts = list(parts)
    return Part(
        diffs=tuple(d for p in parts for d in p.diffs),
        impacts=frozenset(i for p in parts for i in p.impacts),
        reasons=tuple(r for p in parts for r in p.reasons),
        errors=tuple(e for p in parts for e in p.errors),
        patch={k: v for p in parts for k, v in p.patch.items()},
        steps=tuple(s for p in parts for s in p.steps),
    )


def config_part(config: ConfigDiff) -> Part:
    """Readable config fields that differ: shown, and in effect from the next sync."""
    return Part(diffs=config.diffs, impacts=frozenset({Impact.NEXT_SYNC}) if config.diffs else frozenset())


@record
class Resend:
    """The secret re-send decision: `fields` are the top-level config keys to send again (Secrets inside)."""

    part: Part
    fields: Mapping[str, Any]
    status: SecretStatus


def _resend_reasons(
    config: ConfigDiff, version: str, values: str | None, live_fp: str | None, *, keep: bool
) -> list[str]:
    """Why PostHog must get the secrets again: a new connection target, an auth switch, a moved fingerprint
    (not when adopting with `adopt_without_secrets`: `keep`)."""
    reasons = []
    if config.target_changed:
        reasons.append("connection target changed: PostHog requires the secrets again")
    if config.selection_changed:
        reasons.append("authentication method changed: " + ", ".join(config.selection_changed))
    if not keep and secrets_changed(version, values, live_fp):
        reasons.append(
            "adopting a source reconciler never configured"
            if live_fp is None
            else "secrets fingerprint changed (values or secrets_version)"
        )
    return reasons


def resend_part(
    spec: DesiredSource,
    st: SourceType | None,
    config: ConfigDiff,
    fingerprint: Fingerprint,
    live_fp: str | None,
) -> Resend:
    """Re-send the secrets on a changed fingerprint, a connection-target change or an auth switch. Values not
    set where the plan runs (a pull-request plan has none) are not an error, whatever the cause: the steps name
    the variables, and apply checks they are set before its first write, as for a create or a rotation."""
    keep = adopts_without_secrets(spec, live_fp)
    reasons = _resend_reasons(config, *fingerprint, live_fp, keep=keep)
    fields = secret_patch(spec, st) if reasons else {}
    if not fields:
        quiet = config.target_changed and st is not None and not spec.secrets()
        kept = ("adopting without re-sending secrets (adopt_without_secrets): PostHog keeps the ones it has",)
        reason = ("connection target changed",) if quiet else kept if keep and spec.secrets() else ()
        return Resend(Part(reasons=reason), {}, SecretStatus.UNCHANGED)
    missing = any(not s.available for s in collect_secrets(fields).values())
    part = Part(impacts=frozenset({Impact.CREDENTIALS}), reasons=tuple(reasons))
    return Resend(part, fields, SecretStatus.MISSING if missing else SecretStatus.RESEND)


def adopts_without_secrets(spec: DesiredSource, live_fp: str | None) -> bool:
    """The manifest's opt-in applies: the source is not ours yet (no trailer fingerprint) and it asks to be
    adopted without its secrets. Once the trailer is written the field does nothing."""
    return spec.adopt_without_secrets and live_fp is None


def job_inputs_part(spec: DesiredSource, config: ConfigDiff, resend: Resend) -> Part:
    """The `job_inputs` to PATCH (changed fields plus re-sent secrets); secret fields listed, never shown."""
    job_inputs = {**config.patch, **resend.fields}
    if not job_inputs:
        return Part()
    secret = any(has_secret(v) for v in job_inputs.values())
    diffs = tuple(FieldDiff(f"config.{path}", secret=True) for path in sorted(spec.secrets())) if secret else ()
    return Part(diffs=diffs, patch={"job_inputs": job_inputs})


def trailer_fingerprint(fingerprint: Fingerprint, live_fp: str | None, *, resent: bool) -> str:
    """The fingerprint the trailer should hold after this change: the new one when secrets are sent (a bare
    version half the executor completes), the live one while it still matches, else recomputed."""
    version, values = fingerprint
    if resent:
        return version + values if values else version
    if live_fp is not None and not secrets_changed(version, values, live_fp):
        return live_fp
    return version + (values or UNKNOWN_VALUES)


def description_part(
    spec: DesiredSource, trailer: Trailer, fingerprint: str, *, adopted: bool, resent: bool = False
) -> Part:
    """The description to send (the user's text plus our trailer) when the text, address or fingerprint moved.
    A fingerprint that moves with nothing else (no secrets re-sent, e.g. the first plan after setting
    RECONCILER_FINGERPRINT_KEY on a source without secrets) says so: every change explains itself."""
    want_text = spec.description if "description" in spec.given else trailer.user_text
    if want_text == trailer.user_text and trailer.address == spec.address and fingerprint == trailer.fingerprint:
        return Part()
    diffs: tuple[FieldDiff, ...] = ()
    impacts: set[Impact] = set()
    reasons: tuple[str, ...] = ()
    if want_text != trailer.user_text:
        diffs = (FieldDiff("description", trailer.user_text, want_text),)
        impacts.add(Impact.METADATA)
    if trailer.address != spec.address:
        adopting = adopted or trailer.address is None
        reasons = (
            "adopt: write the ownership trailer"
            if adopting
            else f"ownership trailer names {trailer.address!r}; rewrite it",
        )
        impacts.add(Impact.METADATA)
    elif fingerprint != trailer.fingerprint and not resent:
        reasons = (
            "the ownership trailer in the description records a new secrets fingerprint (secrets_version or "
            "RECONCILER_FINGERPRINT_KEY changed); no setting or secret changes in PostHog",
        )
        impacts.add(Impact.METADATA)
    patch = {"description": OwnedDescription(want_text, spec.address, fingerprint)}
    return Part(diffs=diffs, impacts=frozenset(impacts), reasons=reasons, patch=patch)


def schema_updates(updates: Mapping[str, tuple[str | None, Mapping[str, Any]]]) -> tuple[SchemaUpdate, ...]:
    """`diff_tables`'s updates as step payloads, by table name."""
    return tuple(SchemaUpdate(name, schema_id, dict(changes)) for name, (schema_id, changes) in sorted(updates.items()))


def tables_part(spec: DesiredSource, live: LiveSource) -> tuple[Part, tuple[str, ...]]:
    """Table steps (refresh_schemas first when a listed table is unknown to PostHog, then one patch_schemas)
    and the live tables the manifest does not list."""
    tables = diff_tables(spec, live)
    steps: list[Step] = []
    reasons: tuple[str, ...] = ()
    if tables.needs_refresh:
        steps.append(RefreshSchemas(spec.address, live.id))
        reasons = ("listed tables unknown to PostHog: refresh_schemas first",)
    if tables.updates:
        steps.append(PatchSchemas(spec.address, live.id, schema_updates(tables.updates)))
    errors = tuple(PlanError(e, spec.address, "invalid-table") for e in tables.errors)
    part = Part(tuple(tables.diffs), frozenset(tables.impacts), reasons, errors, steps=tuple(steps))
    return part, tuple(tables.unlisted)


def revenue_part(spec: DesiredSource, live: LiveSource) -> Part:
    """The revenue-analytics keys the manifest writes that differ from PostHog's (its defaults when unset)."""
    default = revenue_analytics_defaults(live.source_type)
    have = live.revenue_analytics.settings() if live.revenue_analytics else default
    changes = revenue_changes(spec, have)
    if not changes:
        return Part()
    return Part(
        diffs=tuple(FieldDiff(f"revenue_analytics.{k}", have.get(k), v) for k, v in changes.items()),
        impacts=frozenset({Impact.METADATA}),
        steps=(PatchRevenueConfig(spec.address, live.id, changes),),
    )


@record
class Update:
    """Everything an update of one source found: the combined part (the source PATCH already a step),
    the secret status and the unlisted live tables."""

    part: Part
    status: SecretStatus
    unlisted: tuple[str, ...]


def update_parts(
    spec: DesiredSource,
    st: SourceType | None,
    live: LiveSource,
    trailer: Trailer,
    fingerprint: Fingerprint,
    *,
    adopted: bool,
) -> Update:
    """The parts of updating `live` to `spec`, in reading order."""
    config = diff_config(st, spec, live)
    resend = resend_part(spec, st, config, fingerprint, trailer.fingerprint)
    # Adopted without its secrets, the trailer must not claim values PostHog may not hold: version half only,
    # so the first plan that has the values and the key sends them once.
    kept = adopts_without_secrets(spec, trailer.fingerprint) and not resend.fields
    owned = trailer_fingerprint(
        (fingerprint[0], None) if kept else fingerprint, trailer.fingerprint, resent=bool(resend.fields)
    )
    source = combine(
        [
            config_part(config),
            resend.part,
            job_inputs_part(spec, config, resend),
            description_part(spec, trailer, owned, adopted=adopted, resent=bool(resend.fields)),
        ]
    )
    patch = Part(steps=(PatchSource(spec.address, live.id, source.patch),)) if source.patch else Part()
    tables, unlisted = tables_part(spec, live)
    whole = combine([source, patch, tables, revenue_part(spec, live)])
    return Update(whole, resend.status, unlisted)
