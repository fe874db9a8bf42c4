"""Did anyone review this? Compare a fresh plan with the saved plans people reviewed (`apply --reviewed`). Pure.

The GitOps apply job re-plans from the merged main instead of applying one pull request's file, so a cancelled
or skipped run loses nothing (docs/ci.md). What keeps that safe is this check: every *write* the fresh plan
would make must have been shown by one of the reviewed plans. A write is read from the plan's steps — what the
executor will send — as (address, field, value) facts: a table setting, a config value, a secret re-sent
(by variable name), the user's description, a create (type and prefix), a delete. Reviewed plans may be
several (every pull request merged since the last apply): their facts are pooled. A delete (and the delete half
of a replace) counts as reviewed only when the plan that showed it carries the delete opt-in
(`plan --allow-delete`, recorded in the saved plan).

What it deliberately does not compare: live ids, the old values (PostHog may have moved *towards* the reviewed
state since: a previous apply ran), `refresh_schemas` and reloads (they write no setting), and the ownership
trailer's secrets fingerprint (bookkeeping). What a step writes is the step's own knowledge (`Step.writes`).
Must not know: files, HTTP, the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.plan.model import Plan
from reconciler.records import record
from reconciler.secret import Secret

__all__ = ["Fact", "ReviewedPlan", "Unreviewed", "canonical", "review", "write_facts"]


@dataclass(frozen=True, order=True)
class Fact:
    """One write of a plan: `field` is `create`, `delete`, `description`, `config.<path>`, `secret.<path>`,
    `tables.<name>.<setting>` or `revenue_analytics.<key>`; `value` a canonical string."""

    address: str
    field: str
    value: str

    def describe(self) -> str:
        if self.field == "delete":
            return "delete the source"
        if self.field == "create":
            return f"create it ({self.value})"
        if self.field.startswith("secret."):
            return f"send secret {self.field[len('secret.') :]} from {self.value}"
        return f"{self.field} = {self.value}"


@record
class ReviewedPlan:
    """A plan someone reviewed, and whether the delete opt-in was part of it. `name` says where it came from."""

    name: str
    plan: Plan
    allow_delete: bool = False


@record
class Unreviewed:
    """A write no reviewed plan showed (or a delete shown without the opt-in: `opt_in_missing`)."""

    fact: Fact
    opt_in_missing: bool = False

    def describe(self) -> str:
        why = "shown only by plans without the delete opt-in" if self.opt_in_missing else "not in any reviewed plan"
        return f"{self.fact.address}: {self.fact.describe()} ({why})"


def canonical(value: Any) -> str:
    """One spelling per value: PostHog stores scalars as strings (§6), so 5432 and "5432" are the same write."""
    if isinstance(value, Secret):
        return value.name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return {"secret": value.name}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write_facts(plan: Plan) -> set[Fact]:
    """Every write the plan's steps would make (`Step.writes`), as facts."""
    return {
        Fact(step.address, name, canonical(value) if name != "delete" else "")
        for change in plan.changes
        for step in change.steps
        for name, value in step.writes()
    }


def review(plan: Plan, reviewed: Sequence[ReviewedPlan]) -> list[Unreviewed]:
    """The writes of `plan` that no reviewed plan showed, sorted by address and field. Empty: go ahead."""
    shown: set[Fact] = set()
    opted_in: set[Fact] = set()
    for item in reviewed:
        facts = write_facts(item.plan)
        shown |= facts
        if item.allow_delete:
            opted_in |= facts
    out = []
    for fact in sorted(write_facts(plan)):
        if fact not in shown:
            out.append(Unreviewed(fact))
        elif fact.field == "delete" and fact not in opted_in:
            out.append(Unreviewed(fact, opt_in_missing=True))
    return out
