"""`reconciler apply`: plan (from manifests, or a saved plan checked for staleness), refuse what the
blast-radius rules forbid, confirm, execute, report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.apply.executor import ApplyReport, Executor, Reporter, missing_secret_steps
from reconciler.apply.guard import ApplyPolicy, check_plan
from reconciler.apply.stale import ensure_fresh, look_now
from reconciler.commands.common import connect, fingerprint_key
from reconciler.commands.plan import PlanRequest, make_plan
from reconciler.errors import PlanRefused, ReconcilerError
from reconciler.plan.model import Plan
from reconciler.plan.saved import load_plan
from reconciler.settings import Settings

__all__ = ["ApplyOutcome", "ApplyRequest", "run_apply", "saved_plan_path"]


@dataclass(frozen=True)
class ApplyRequest:
    plan: PlanRequest
    saved_plan: Path | None = None
    policy: ApplyPolicy = field(default_factory=ApplyPolicy)
    parallelism: int = 4
    #: Shown the plan; returns whether to go ahead (the CLI asks on a TTY, or --auto-approve).
    confirm: Callable[[Plan], bool] = lambda plan: False
    reporter: Reporter | None = None


@dataclass(frozen=True)
class ApplyOutcome:
    plan: Plan
    report: ApplyReport | None  # None: nothing to do

    @property
    def ok(self) -> bool:
        return self.report is None or self.report.ok


def saved_plan_path(paths: tuple[Path, ...]) -> Path | None:
    """The saved plan `apply` was given (`apply plan.json`), or None when `paths` are manifests. A plan file
    is JSON; manifests are YAML: mixing them is a mistake, whichever was meant."""
    plans = [p for p in paths if p.suffix == ".json" and p.is_file()]
    if plans and len(paths) > 1:
        manifests = [str(p) for p in paths if p not in plans]
        raise ReconcilerError(
            f"give a saved plan or manifests, not both (got the plan {plans[0]} and {', '.join(manifests)})"
            if manifests
            else f"give one saved plan at a time (got {', '.join(map(str, plans))})",
            hint=f"`reconciler apply {plans[0]}` applies the plan as it was reviewed; "
            "`reconciler apply MANIFESTS…` plans afresh and applies",
            reference="plan-and-manifests",
        )
    return plans[0] if plans else None


def run_apply(settings: Settings, request: ApplyRequest, env: Mapping[str, str]) -> ApplyOutcome:
    with connect(settings) as client:
        if request.saved_plan is not None:
            saved = load_plan(request.saved_plan.read_text(encoding="utf-8"), env)
            live = client.fetch_live_state()
            ensure_fresh(saved, host=settings.host, project=settings.project, now=look_now(saved.plan, live))
            plan = saved.plan
        else:
            outcome = make_plan(client, settings, request.plan, env)
            plan = outcome.plan
            # Secrets the steps must send, reported where the manifest asks for them (file:line).
            needed = {s.address for s in missing_secret_steps(plan)}
            if needed:
                outcome.desired.require_secrets(needed)
        if not plan.has_changes and not plan.errors:
            return ApplyOutcome(plan, None)
        check_plan(plan, request.policy)
        if not request.confirm(plan):
            raise PlanRefused("apply cancelled: nothing was changed", reference="apply-cancelled")
        executor = Executor(
            client, parallelism=request.parallelism, reporter=request.reporter, fingerprint_key=fingerprint_key(env)
        )
        return ApplyOutcome(plan, executor.run(plan))
