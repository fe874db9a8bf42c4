"""Which live source is which manifest address: the one place identity is decided. Pure.

DESIGN.md "Identity": a live source is matched by the address in its ownership trailer first, then by
(type, prefix), which adopts sources made in the UI. plan, stale-plan checking, drift and import all ask
this module, so they cannot disagree. A duplicated owner (two live sources whose trailers name one address,
e.g. a UI copy that kept the trailer) is a conflict: neither source is matched, compared or touched.

Must not know: plans, steps, rendering, HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field
from typing import Literal

from reconciler.ownership import parse_trailer
from reconciler.posthog.models import LiveSource, LiveState
from reconciler.records import record

__all__ = ["Conflict", "Declared", "Identity", "Trailer", "declared_of", "match_sources"]

ConflictKind = Literal["duplicate-owner", "identity-conflict"]


@record
class Declared:
    """What identity needs to know of one address: the (type, prefix) it may adopt."""

    address: str
    source_type: str
    prefix: str | None


@record
class Trailer:
    """A live description split by `ownership.parse_trailer`: the user's text, address and fingerprint."""

    user_text: str | None
    address: str | None
    fingerprint: str | None


@record
class Conflict:
    """An address identity cannot settle. `reference` is the error reference plan uses for it."""

    reference: ConflictKind
    address: str
    source_ids: tuple[str, ...]
    message: str


@record
class Identity:
    """The answer for one live state, per live source: `owned` (its trailer names a declared address),
    `adopted` (matched by (type, prefix); no trailer, or one naming an undeclared address), `unmanaged`
    (no trailer, matched by nothing) or `orphaned` (its trailer names an undeclared address). A source
    in a `duplicate-owner` conflict is never owned or adopted; for an undeclared address it is still
    listed as orphaned (reported, never pruned)."""

    owned: Mapping[str, LiveSource] = field(default_factory=dict)
    adopted: Mapping[str, LiveSource] = field(default_factory=dict)
    unmanaged: tuple[LiveSource, ...] = ()
    orphaned: tuple[tuple[str, LiveSource], ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    trailers: Mapping[str, Trailer] = field(default_factory=dict, repr=False)

    def source_for(self, address: str) -> LiveSource | None:
        """The live source `address` is matched to (owned or adopted), or None."""
        return self.owned.get(address) or self.adopted.get(address)

    def is_adopted(self, address: str) -> bool:
        return address in self.adopted

    def conflict_for(self, address: str) -> Conflict | None:
        return next((c for c in self.conflicts if c.address == address), None)

    def duplicated(self, address: str) -> Conflict | None:
        """The duplicate-owner conflict of `address` (declared or not): its sources are never touched."""
        conflict = self.conflict_for(address)
        return conflict if conflict is not None and conflict.reference == "duplicate-owner" else None

    def duplicate_of(self, source: LiveSource) -> Conflict | None:
        """The duplicate-owner conflict `source` is one of the claimants of, if any."""
        return next((c for c in self.conflicts if c.reference == "duplicate-owner" and source.id in c.source_ids), None)

    def trailer(self, source: LiveSource) -> Trailer:
        return self.trailers.get(source.id) or _parse(source)


def _parse(source: LiveSource) -> Trailer:
    return Trailer(*parse_trailer(source.description))


def declared_of(items: Iterable[tuple[str, str, str | None]]) -> dict[str, Declared]:
    """`{address: Declared}` from (address, type, prefix) triples, e.g. a DesiredState's sources or a saved
    plan's changes."""
    return {address: Declared(address, source_type, prefix) for address, source_type, prefix in items}


def _duplicate(address: str, claimed: list[LiveSource]) -> Conflict:
    ids = tuple(s.id for s in claimed)
    return Conflict(
        "duplicate-owner",
        address,
        ids,
        f"{len(ids)} live sources claim address {address!r} ({', '.join(ids)}); delete the extra one in PostHog",
    )


def _held_by_duplicate(spec: Declared, candidate: LiveSource, conflict: Conflict) -> Conflict:
    return Conflict(
        "identity-conflict",
        spec.address,
        (candidate.id,),
        f"{spec.source_type} source with prefix {spec.prefix!r} carries the trailer of {conflict.address!r}, "
        f"which {len(conflict.source_ids)} live sources claim; delete the extra one in PostHog",
    )


def match_sources(declared: Mapping[str, Declared], live: LiveState) -> Identity:
    """Match every live source to at most one declared address (trailer first, then (type, prefix)).

    Conflicts, in address order: `duplicate-owner` for every address (declared or not) that more than one
    live source claims; `identity-conflict` for a declared address whose (type, prefix) is held by one of
    those sources. A conflicted address is matched to nothing. A (type, prefix) held by a source another
    declared address owns is simply not adopted (that address's replace frees it)."""
    trailers = {s.id: _parse(s) for s in live}
    by_address: dict[str, list[LiveSource]] = {}
    for source in live:
        address = trailers[source.id].address
        if address is not None:
            by_address.setdefault(address, []).append(source)
    conflicts = {a: _duplicate(a, claimed) for a, claimed in by_address.items() if len(claimed) > 1}
    owned = {a: claimed[0] for a, claimed in by_address.items() if a in declared and a not in conflicts}
    taken = {s.id for s in owned.values()}
    duplicated = {i: c for c in conflicts.values() for i in c.source_ids}
    adopted: dict[str, LiveSource] = {}
    for address, spec in declared.items():
        if address in owned or address in conflicts:
            continue
        candidate = live.find(spec.source_type, spec.prefix)
        if candidate is None:
            continue
        if candidate.id in duplicated:
            conflicts[address] = _held_by_duplicate(spec, candidate, duplicated[candidate.id])
        elif candidate.id not in taken:  # taken: its trailer names another declared address (a replace frees it)
            adopted[address] = candidate
            taken.add(candidate.id)
    unmanaged = tuple(s for s in live if s.id not in taken and trailers[s.id].address is None)
    # Sources of a duplicated *undeclared* address stay listed as orphaned (reported); plan never prunes them.
    orphaned = tuple(
        (address, s)
        for s in live
        if s.id not in taken and (address := trailers[s.id].address) is not None and address not in declared
    )
    return Identity(
        owned=owned,
        adopted=adopted,
        unmanaged=unmanaged,
        orphaned=orphaned,
        conflicts=tuple(conflicts[a] for a in sorted(conflicts)),
        trailers=trailers,
    )
