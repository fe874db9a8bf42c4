"""Stale-plan detection: does PostHog still look like what a saved plan was made against? Pure.

`apply plan.json` re-lists, asks `identity.py` which live source each of the plan's addresses is now
(the same answer plan gives), and refuses when the plan targets another project, when an address is now
claimed by more than one live source (a duplicated owner: touch neither), or when any source's fingerprint
moved, appeared or vanished (DESIGN.md "Saved plans").

Must not know: the saved file's format (it reads a `SavedPlan`), HTTP, rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.errors import PlanRefused
from reconciler.identity import Conflict, declared_of, match_sources
from reconciler.plan.model import Plan
from reconciler.plan.saved import SavedPlan
from reconciler.posthog.models import LiveState
from reconciler.wording import count

__all__ = ["LiveNow", "StaleSource", "ensure_fresh", "look_now", "stale_sources"]


@dataclass(frozen=True)
class LiveNow:
    """What the plan's addresses match in PostHog now: address -> fingerprint (None: no live source), and
    the identity conflicts among the plan's addresses."""

    fingerprints: Mapping[str, str | None] = field(default_factory=dict)
    conflicts: tuple[Conflict, ...] = ()


def look_now(plan: Plan, live: LiveState) -> LiveNow:
    """Match the plan's addresses against `live` exactly as plan does (trailer first, then (type, prefix))."""
    identity = match_sources(declared_of((c.address, c.source_type, c.prefix) for c in plan.changes), live)
    fingerprints: dict[str, str | None] = {}
    for change in plan.changes:
        source = identity.source_for(change.address)
        fingerprints[change.address] = source.fingerprint() if source is not None else None
    addresses = {c.address for c in plan.changes}
    return LiveNow(fingerprints, tuple(c for c in identity.conflicts if c.address in addresses))


@dataclass(frozen=True)
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
    """The plan's sources whose live fingerprint moved, appeared or vanished, in plan order.

    `current_fingerprints` maps address -> fingerprint of the live source matched now; an address
    missing from it means no live source any more."""
    stale = []
    for address, was in saved.live_fingerprints.items():
        now = current_fingerprints.get(address)
        if now != was:
            stale.append(StaleSource(address, was, now))
    return stale


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
        lines = "; ".join(f"{s.address}: {s.why}" for s in stale)
        raise PlanRefused(
            f"the saved plan is stale ({count(len(stale), 'source')} moved): {lines}",
            hint="run `reconciler plan -o FILE` again and review the new plan",
            reference="stale-plan",
        )
