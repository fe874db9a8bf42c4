"""plan/update.py's small parts, table-driven: the trailer fingerprint an update writes, and how parts combine.
(Whole updates are tested through the planner in test_planner.py.)"""

from __future__ import annotations

import pytest

from reconciler.plan.model import FieldDiff, Impact, PlanError
from reconciler.plan.steps import RefreshSchemas
from reconciler.plan.update import Part, combine, trailer_fingerprint

V, W = "aaaaaa", "bbbbbb"  # two version halves
X, Y = "111111", "222222"  # two values halves


@pytest.mark.parametrize(
    ("fingerprint", "live", "resent", "expected"),
    [
        ((V, X), V + X, False, V + X),  # unchanged: kept
        ((V, None), V + X, False, V + X),  # values unknown here (no key): the live one still matches
        ((V, X), None, True, V + X),  # sent: the new one
        ((V, None), None, True, V),  # sent without a key: the bare version half, completed by the executor
        ((W, None), V + X, False, W + "000000"),  # not sent, moved: recomputed, values unknown
        ((V, Y), V + X, False, V + Y),
    ],
)
def test_trailer_fingerprint(
    fingerprint: tuple[str, str | None], live: str | None, resent: bool, expected: str
) -> None:
    assert trailer_fingerprint(fingerprint, live, resent=resent) == expected


def test_combine_keeps_reading_order_and_joins_impacts() -> None:
    first = Part(
        diffs=(FieldDiff("config.host", "a", "b"),),
        impacts=frozenset({Impact.NEXT_SYNC}),
        reasons=("r1",),
        patch={"job_inputs": {"host": "b"}},
    )
    second = Part(
        diffs=(FieldDiff("description", None, "d"),),
        impacts=frozenset({Impact.METADATA, Impact.NEXT_SYNC}),
        reasons=("r2",),
        errors=(PlanError("e"),),
        patch={"description": "d"},
        steps=(RefreshSchemas("s", "1"),),
    )
    whole = combine([first, Part(), second])
    assert [d.path for d in whole.diffs] == ["config.host", "description"]
    assert whole.impacts == {Impact.NEXT_SYNC, Impact.METADATA}
    assert whole.reasons == ("r1", "r2") and whole.errors == (PlanError("e"),)
    assert list(whole.patch) == ["job_inputs", "description"]
    assert whole.steps == (RefreshSchemas("s", "1"),)
