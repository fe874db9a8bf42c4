"""apply/guard.py, table-driven from literal plans: which plans apply refuses before any write, and the exact
reasons it names. Pure: no emulator."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from reconciler.apply.guard import ApplyPolicy, check_plan
from reconciler.errors import PlanRefused
from reconciler.plan.model import Action, Plan, PlanError, SourceChange
from reconciler.plan.steps import CreateSource, DeleteSource, OwnedDescription, PatchSource, Step
from reconciler.secret import Secret

OWNED = OwnedDescription(None, "a", "0" * 12)


def change(address: str, action: Action, *steps: Step, protected: bool = False) -> SourceChange:
    return SourceChange(address, "Stripe", address, action, steps=steps, protected=protected)


def delete(address: str, *, protected: bool = False) -> SourceChange:
    return change(address, Action.DELETE, DeleteSource(address, f"id-{address}"), protected=protected)


def replace(address: str, *, protected: bool = False) -> SourceChange:
    create = CreateSource(address, None, "Stripe", address, OWNED, {}, ())
    return change(address, Action.REPLACE, DeleteSource(address, f"id-{address}"), create, protected=protected)


def sends(address: str, *secrets: Secret) -> SourceChange:
    payload = {"auth_method": {"selection": "api_key", **{f"k{i}": s for i, s in enumerate(secrets)}}}
    return change(address, Action.UPDATE, PatchSource(address, f"id-{address}", {"job_inputs": payload}))


@dataclass(frozen=True)
class Case:
    name: str
    changes: tuple[SourceChange, ...]
    policy: ApplyPolicy
    problems: tuple[str, ...]  # () = allowed
    errors: tuple[PlanError, ...] = ()


CASES = [
    Case("an update with its secrets set", (sends("a", Secret("KEY", "v")),), ApplyPolicy(), ()),
    Case("a delete allowed once", (delete("a"),), ApplyPolicy(allow_delete=True), ()),
    Case(
        "a delete needs --allow-delete",
        (delete("a"),),
        ApplyPolicy(),
        ("the plan deletes data: a (delete); pass --allow-delete to allow it",),
    ),
    Case(
        "a replace deletes too, and counts against --max-deletes",
        (replace("a"), delete("b")),
        ApplyPolicy(allow_delete=True, max_deletes=1),
        ("the plan deletes 2 sources, more than --max-deletes 1",),
    ),
    Case(
        "--max-deletes 0 refuses any delete",
        (delete("a"),),
        ApplyPolicy(allow_delete=True, max_deletes=0),
        ("the plan deletes 1 sources, more than --max-deletes 0",),
    ),
    Case(
        "a protected source is never deleted, --allow-delete or not",
        (delete("a", protected=True),),
        ApplyPolicy(allow_delete=True),
        ("a is protected (protect: true): refusing to delete it",),
    ),
    Case(
        "the planner's own protect error is not repeated",
        (replace("a", protected=True),),
        ApplyPolicy(allow_delete=True),
        ("a: protected (protect: true) and would be replaced",),
        errors=(PlanError("protected (protect: true) and would be replaced", "a", "protected"),),
    ),
    Case(
        "missing secret values, each named once, sorted",
        (sends("a", Secret("ZED", None), Secret("ALPHA", None)), sends("b", Secret("ZED", None))),
        ApplyPolicy(),
        ("secret values needed by this apply are not set: ALPHA, ZED",),
    ),
    Case(
        "every reason at once, plan errors first",
        (delete("a", protected=True), sends("b", Secret("KEY", None))),
        ApplyPolicy(),
        (
            "2 live sources claim address 'x' (1, 2); delete the extra one in PostHog",
            "a is protected (protect: true): refusing to delete it",
            "the plan deletes data: a (delete); pass --allow-delete to allow it",
            "secret values needed by this apply are not set: KEY",
        ),
        errors=(PlanError("2 live sources claim address 'x' (1, 2); delete the extra one in PostHog"),),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_plan(case: Case) -> None:
    plan = Plan("h", "1", changes=case.changes, errors=case.errors)
    if not case.problems:
        check_plan(plan, case.policy)
        return
    with pytest.raises(PlanRefused) as caught:
        check_plan(plan, case.policy)
    assert caught.value.reference == "apply-refused"
    assert caught.value.hint == "nothing was changed"
    assert caught.value.message == "refusing to apply:\n" + "\n".join(f"  - {p}" for p in case.problems)
