"""Stale-plan detection: does PostHog still look like what a saved plan was made against? Pure.

`apply plan.json` re-lists, asks `identity.py` which live source each of the plan's addresses is now
(the same answer plan gives), and refuses when the plan targets another project, when an address is now
claimed by more than one live source (a duplicated owner: touch neither), or when any source's fingerprint
moved, appeared or vanished (DESIGN.md "Saved plans"). Only the sources the plan touches count: the plan
writes nothing else, so an edit to another source cannot be undone by it. A refusal names each source that
moved and says when PostHog already holds every value the plan would write there (the plan looks applied:
by an earlier run, or by hand). A no-op entry of the plan is not touched either; but an identity conflict on
any of the plan's addresses refuses it. `--max-age` is checked here too (`ensure_recent`, the clock passed in).

Must not know: the saved file's format (it reads a `SavedPlan`), HTTP, rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import datetime, timedelta
from typing import Any

from reconciler.apply.review import canonical, write_facts
from reconciler.errors import PlanRefused
from reconciler.identity import Conflict, declared_of, match_sources
from reconciler.ownership import parse_trailer
from reconciler.plan.model import Plan
from reconciler.plan.saved import SavedPlan
from reconciler.posthog.models import LiveSource, LiveState
from reconciler.records import record
from reconciler.wording import count

__all__ = ["LiveNow", "StaleSource", "ensure_environment", "ensure_fresh", "ensure_recent", "look_now", "stale_sources"]

_UNKNOWN = object()  # a live value this check cannot read (a secret, a setting the listing does not carry)


@record
class LiveNow:
    """What the plan's addresses match in PostHog now: address -> fingerprint (None: no live source), the
    identity conflicts among the plan's addresses, and the addresses whose live source already holds every
    value the plan would write there (`applied`)."""

    fingerprints: Mapping[str, str | None] = field(default_factory=dict)
    conflicts: tuple[Conflict, ...] = ()
    applied: frozenset[str] = frozenset()
    ids: Mapping[str, str | None] | None = None  # address -> live id matched now (None: not looked at)


def look_now(plan: Plan, live: LiveState) -> LiveNow:
    """Match the plan's addresses against `live` exactly as plan does (trailer first, then (type, prefix))."""
    identity = match_sources(declared_of((c.address, c.source_type, c.prefix) for c in plan.changes), live)
    fingerprints: dict[str, str | None] = {}
    ids: dict[str, str | None] = {}
    facts: dict[str, list[tuple[str, str]]] = {}
    for fact in sorted(write_facts(plan)):
        facts.setdefault(fact.address, []).append((fact.field, fact.value))
    applied = set()
    for change in plan.changes:
        source = identity.source_for(change.address)
        fingerprints[change.address] = source.fingerprint() if source is not None else None
        ids[change.address] = source.id if source is not None else None
        if all(_holds(source, name, value) for name, value in facts.get(change.address, ())):
            applied.add(change.address)
    addresses = {c.address for c in plan.changes}
    conflicts = tuple(c for c in identity.conflicts if c.address in addresses)
    return LiveNow(fingerprints, conflicts, frozenset(applied), ids)


def _holds(source: LiveSource | None, name: str, value: str) -> bool:
    """Whether `source` already holds one write of the plan (`review.Fact`'s field and canonical value)."""
    if name == "delete":
        return source is None
    if source is None:
        return False
    if name == "create" or name.startswith("secret."):
        return True  # it exists; secret values are never readable, so they cannot disprove it
    found = _live_value(source, name)
    # PostHog returns stored scalars as strings ("5432", "True"): compare spellings, not types.
    return found is not _UNKNOWN and canonical(found).lower() == value.lower()


def _live_value(source: LiveSource, name: str) -> Any:
    head, _, rest = name.partition(".")
    if head == "description":
        return parse_trailer(source.description)[0]
    if head == "config":
        node: Any = source.config
        for part in rest.split("."):
            node = node.get(part, _UNKNOWN) if isinstance(node, Mapping) else _UNKNOWN
        return node
    if head == "tables":
        table, _, setting = rest.rpartition(".")
        schema = source.schema_named(table)
        return schema.settings().get(setting, _UNKNOWN) if schema is not None else _UNKNOWN
    if head == "revenue_analytics" and source.revenue_analytics is not None:
        return source.revenue_analytics.settings().get(rest, _UNKNOWN)
    return _UNKNOWN


@record
class StaleSource:
    """One source whose live object moved since the plan was saved. `was`/`now` are fingerprints, None
    meaning "no live source"."""

    address: str
    was: str | None
    now: str | None

    @property
    def why(self) -> str:
        if self.was is None:
            return "created in PostHog since the plan was made"
        if self.now is None:
            return "deleted in PostHog since the plan was made"
        return "changed in PostHog since the plan was made"


def stale_sources(saved: SavedPlan, current_fingerprints: Mapping[str, str | None]) -> list[StaleSource]:
    """The sources the plan writes to whose live fingerprint moved, appeared or vanished, in plan order.
    A no-op change (no steps) does not count: the plan sends nothing there, so an edit cannot be undone by it.

    `current_fingerprints` maps address -> fingerprint of the live source matched now; an address
    missing from it means no live source any more."""
    written = {c.address for c in saved.plan.changes if c.steps}
    stale = []
    for address, was in saved.live_fingerprints.items():
        now = current_fingerprints.get(address)
        if address in written and now != was:
            stale.append(StaleSource(address, was, now))
    return stale


def ensure_environment(saved: SavedPlan, environment: str | None, what: str = "the saved plan") -> None:
    """Raise PlanRefused (`environment-mismatch`) unless the saved plan was made for `environment` (the one of
    reconciler.yaml selected now; None: none): a plan never crosses environments. Checked before any request."""
    made_for = saved.plan.environment
    if made_for == environment:
        return
    was = f"environment '{made_for}'" if made_for is not None else "no environment"
    now = f"environment '{environment}'" if environment is not None else "no environment (no --env)"
    raise PlanRefused(
        f"{what} was made for {was}; this apply is for {now}",
        hint=f"apply it with --env {made_for}" if made_for is not None else "apply it without --env / RECONCILER_ENV",
        reference="environment-mismatch",
    )


def ensure_fresh(saved: SavedPlan, *, host: str, project: str, now: LiveNow) -> None:
    """Raise PlanRefused if the saved plan targets another host/project (`stale-plan`), one of its addresses
    is now in an identity conflict (that conflict's reference) or any source moved (`stale-plan`)."""
    target = saved.plan
    if (target.host, target.project) != (host, project):
        raise PlanRefused(
            f"the saved plan is for project {target.project} on {target.host}, not project {project} on {host}",
            reference="stale-plan",
        )
    if now.conflicts:
        lines = "; ".join(c.message for c in now.conflicts)
        raise PlanRefused(
            f"the saved plan cannot be applied: {lines}",
            hint="nothing was changed; run `reconciler plan -o FILE` again once the conflict is resolved",
            reference=now.conflicts[0].reference,
        )
    stale = stale_sources(saved, now.fingerprints)
    if stale:
        lines = "; ".join(
            f"{s.address}: {s.why}"
            + (" (it already holds what the plan would write)" if s.address in now.applied else "")
            for s in stale
        )
        done = all(c.address in now.applied for c in target.changes if c.steps)
        raise PlanRefused(
            f"the saved plan is stale ({count(len(stale), 'source')} moved): {lines}"
            + (". The plan looks already applied: PostHog holds every value it would write" if done else ""),
            hint="nothing was changed; "
            + (
                "run `reconciler plan` to confirm nothing is left to do"
                if done
                else "plan again and review the new plan"
            ),
            reference="stale-plan",
        )
    _ensure_same_ids(target, now)


def _ensure_same_ids(plan: Plan, now: LiveNow) -> None:
    """Each change that writes must act on the live source its address matches now (checked once the
    fingerprints agree): a plan file edited to point an update at another source's id, keeping the matched
    source's fingerprint, is refused."""
    if now.ids is None:
        return
    for change in plan.changes:
        if change.steps and change.live_id != now.ids.get(change.address):
            raise PlanRefused(
                f"the saved plan's {change.address} acts on source {change.live_id}, but {change.address} is "
                f"source {now.ids.get(change.address)} in PostHog",
                hint="nothing was changed; plan again (`reconciler plan -o FILE`) and review the new plan",
                reference="stale-plan",
            )


def ensure_recent(saved: SavedPlan, max_age: timedelta, now: datetime) -> None:
    """Raise PlanRefused (`plan-too-old`) if the plan was saved more than `max_age` before `now`, or does not
    say when it was saved."""
    if saved.saved_at is None:
        raise PlanRefused(
            "the saved plan does not say when it was saved (saved_at is null), so --max-age cannot accept it",
            hint="plan again with this reconciler (`reconciler plan -o FILE`)",
            reference="plan-too-old",
        )
    age = now - saved.saved_at
    if age > max_age:
        raise PlanRefused(
            f"the saved plan is {_age(age)} old (saved {saved.saved_at.isoformat()}), "
            f"older than --max-age {_age(max_age)}",
            hint="nothing was sent; plan again (`reconciler plan -o FILE`) and review the new plan",
            reference="plan-too-old",
        )


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return "".join(parts) or "0s"
