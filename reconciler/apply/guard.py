"""Blast-radius checks, before the first write (DESIGN.md "Blast radius"). Pure.

`apply` refuses: any plan error; more than `max_deletes` deletes (replaces count: they delete too);
any delete or replace without `allow_delete`; anything destructive on a `protect: true` source; secrets
the steps must send but whose values are not set.
"""

from __future__ import annotations

from reconciler.apply.executor import missing_secrets
from reconciler.errors import PlanRefused
from reconciler.plan.model import Plan
from reconciler.records import record

__all__ = ["ApplyPolicy", "check_plan"]


@record
class ApplyPolicy:
    allow_delete: bool = False
    max_deletes: int = 1


def check_plan(plan: Plan, policy: ApplyPolicy) -> None:
    """Raise PlanRefused naming every reason this plan may not be applied."""
    problems: list[str] = [f"{e.address + ': ' if e.address else ''}{e.message}" for e in plan.errors]
    destructive = [c for c in plan.changes if c.action.is_destructive]
    said = {e.address for e in plan.errors if e.reference == "protected"}  # the planner's error says it already
    for change in destructive:
        if change.protected and change.address not in said:
            problems.append(f"{change.address} is protected (protect: true): refusing to {change.action.value} it")
    if destructive and not policy.allow_delete:
        names = ", ".join(f"{c.address} ({c.action.value})" for c in destructive)
        problems.append(f"the plan deletes data: {names}; pass --allow-delete to allow it")
    if len(destructive) > policy.max_deletes:
        problems.append(f"the plan deletes {len(destructive)} sources, more than --max-deletes {policy.max_deletes}")
    missing = sorted({s.name for s in missing_secrets(plan)})
    if missing:
        problems.append("secret values needed by this apply are not set: " + ", ".join(missing))
    if problems:
        raise PlanRefused(
            "refusing to apply:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="nothing was changed",
            reference="apply-refused",
        )
