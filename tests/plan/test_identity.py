"""Identity (reconciler/identity.py), table-driven from literal live sources: which address each source is,
and the conflicts. Pure: no emulator."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from reconciler.identity import Identity, declared_of, match_sources
from reconciler.ownership import format_trailer
from reconciler.posthog.models import LiveSource, LiveState

FP = "abcdef012345"


def src(id: str, prefix: str | None, owner: str | None = None, source_type: str = "Stripe") -> LiveSource:
    description = f"text\n{format_trailer(owner, FP)}" if owner else "made in the UI"
    return LiveSource(id=id, source_type=source_type, prefix=prefix, description=description)


@dataclass(frozen=True)
class Case:
    name: str
    declared: list[tuple[str, str, str | None]]
    live: list[LiveSource]
    owned: dict[str, str] = field(default_factory=dict)  # address -> source id
    adopted: dict[str, str] = field(default_factory=dict)
    unmanaged: list[str] = field(default_factory=list)
    orphaned: list[tuple[str, str]] = field(default_factory=list)  # (address, source id)
    conflicts: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)  # (reference, address, ids)


CASES = [
    Case("trailer first", [("a", "Stripe", "p")], [src("1", "other", "a")], owned={"a": "1"}),
    Case("adopt by type and prefix", [("a", "Stripe", "p")], [src("1", "p")], adopted={"a": "1"}),
    Case(
        "adopt a source whose trailer names an undeclared address (a renamed address)",
        [("b", "Stripe", "p")],
        [src("1", "p", "old")],
        adopted={"b": "1"},
    ),
    Case(
        "prefix alone never adopts across types",
        [("a", "Stripe", "p")],
        [src("1", "p", source_type="Zendesk")],
        unmanaged=["1"],
    ),
    Case(
        "unmanaged and orphaned", [], [src("1", "p"), src("2", "q", "gone")], unmanaged=["1"], orphaned=[("gone", "2")]
    ),
    Case(
        "trailer beats adoption: the (type, prefix) a declared owner holds is not adopted (its replace frees it)",
        [("x", "Stripe", "q"), ("y", "Stripe", "p")],
        [src("1", "p", "x")],
        owned={"x": "1"},
    ),
    Case(
        "duplicated declared owner: neither matched, neither listed, one conflict",
        [("a", "Stripe", "p")],
        [src("2", "copy", "a"), src("1", "p", "a")],
        conflicts=[("duplicate-owner", "a", ("2", "1"))],
    ),
    Case(
        "duplicated undeclared owner: a conflict, both still listed as orphaned",
        [],
        [src("1", "p", "gone"), src("2", "q", "gone")],
        orphaned=[("gone", "1"), ("gone", "2")],
        conflicts=[("duplicate-owner", "gone", ("1", "2"))],
    ),
    Case(
        "a declared (type, prefix) held by a duplicated owner's copy is a conflict too",
        [("a", "Stripe", "p"), ("b", "Stripe", "copy")],
        [src("1", "p", "a"), src("2", "copy", "a")],
        conflicts=[("duplicate-owner", "a", ("1", "2")), ("identity-conflict", "b", ("2",))],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_identity(case: Case) -> None:
    found = match_sources(declared_of(case.declared), LiveState(sources=tuple(case.live)))
    assert {a: s.id for a, s in found.owned.items()} == case.owned
    assert {a: s.id for a, s in found.adopted.items()} == case.adopted
    assert [s.id for s in found.unmanaged] == case.unmanaged
    assert [(a, s.id) for a, s in found.orphaned] == case.orphaned
    assert [(c.reference, c.address, c.source_ids) for c in found.conflicts] == case.conflicts
    for address, _, _ in case.declared:
        expected = case.owned.get(address) or case.adopted.get(address)
        source = found.source_for(address)
        assert (source.id if source else None) == expected


def test_conflict_messages_name_every_claimant_and_the_fix() -> None:
    live = LiveState(sources=(src("1", "p", "a"), src("2", "copy", "a")))
    found = match_sources(declared_of([("a", "Stripe", "p"), ("b", "Stripe", "copy")]), live)
    assert [c.message for c in found.conflicts] == [
        "2 live sources claim address 'a' (1, 2); delete the extra one in PostHog",
        "Stripe source with prefix 'copy' carries the trailer of 'a', which 2 live sources claim; delete the "
        "extra one in PostHog",
    ]
    assert found.duplicated("a") is found.conflicts[0] and found.duplicated("b") is None
    assert found.duplicate_of(live.sources[1]) is found.conflicts[0]


def test_trailers_are_parsed_once_and_kept() -> None:
    found: Identity = match_sources({}, LiveState(sources=(src("1", "p", "a"),)))
    trailer = found.trailer(found.orphaned[0][1])
    assert (trailer.user_text, trailer.address, trailer.fingerprint) == ("text", "a", FP)
