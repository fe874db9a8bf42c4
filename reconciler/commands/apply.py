"""`reconciler apply`: plan (from manifests, or a saved plan checked for staleness), refuse what the
blast-radius rules forbid, confirm, execute, report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field, replace
from datetime import timedelta
from pathlib import Path

from reconciler.apply.executor import ApplyReport, Executor, Reporter, missing_secret_steps
from reconciler.apply.guard import ApplyPolicy, check_plan
from reconciler.apply.review import ReviewedPlan, review
from reconciler.apply.stale import ensure_environment, ensure_fresh, ensure_recent, look_now
from reconciler.commands.common import (
    FINGERPRINT_KEY_ENV,
    catalog_for,
    connect,
    fingerprint_key,
    manifest_digest,
    now,
)
from reconciler.commands.plan import PlanRequest, make_plan
from reconciler.errors import PlanRefused, ReconcilerError
from reconciler.manifest.variables import LoadOptions
from reconciler.plan.model import Plan
from reconciler.plan.saved import SavedPlan, load_plan
from reconciler.plan.untrusted import check_untrusted_plan
from reconciler.posthog.client import PostHogClient
from reconciler.records import record
from reconciler.settings import Settings

__all__ = [
    "ApplyOutcome",
    "ApplyRequest",
    "SavedPlanChecks",
    "load_reviewed",
    "refuse_misplaced_flags",
    "run_apply",
    "saved_plan_path",
]


@record
class SavedPlanChecks:
    """What `apply plan.json` is asked to check before any request: the manifests it must come from
    (`--manifests`), its age (`--max-age`), and the allow-lists it must have been made under
    (`--allow-env`/`--allow-secret`: compared with the plan's, never merged). None: not asked."""

    manifests: tuple[Path, ...] | None = None
    max_age: timedelta | None = None
    allow_env: tuple[str, ...] | None = None
    allow_secret: tuple[str, ...] | None = None


@record
class ApplyRequest:
    plan: PlanRequest
    saved_plan: Path | None = None
    policy: ApplyPolicy = field(default_factory=ApplyPolicy)
    parallelism: int = 4
    #: Shown the plan; returns whether to go ahead (the CLI asks on a TTY, or --auto-approve).
    confirm: Callable[[Plan], bool] = lambda plan: False
    reporter: Reporter | None = None
    #: `--reviewed`: saved plans (files, or directories of them) every write of the fresh plan must appear in.
    reviewed: tuple[Path, ...] | None = None
    checks: SavedPlanChecks = field(default_factory=SavedPlanChecks)


@record
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


def refuse_misplaced_flags(saved_plan: Path | None, flags: list[str]) -> None:
    """One error for flags that do not fit (`ApplyFlags.misplaced_flags`), before anything is read or sent."""
    if not flags:
        return
    names = ", ".join(flags)
    if saved_plan is None:
        raise ReconcilerError(
            f"{names} only check a saved plan (`reconciler apply plan.json {flags[0]} …`); none was given",
            hint="to apply manifests, drop them; to apply a saved plan, give the plan file instead of manifests",
            reference="saved-plan-flag",
        )
    raise ReconcilerError(
        f"refusing {names} with the saved plan {saved_plan}: a saved plan is applied exactly as it was reviewed, "
        "and these would change what it does",
        hint="nothing was sent. Plan again with them (`reconciler plan MANIFESTS… -o FILE`), review that plan and "
        "apply it; or apply the manifests directly (`reconciler apply MANIFESTS…`)",
        reference="saved-plan-flag",
    )


def _check_saved(saved: SavedPlan, file: Path, checks: SavedPlanChecks, env: Mapping[str, str]) -> None:
    """The checks `apply plan.json` was asked for, all offline: raise before any request."""
    for flag, given, recorded in (
        ("--allow-env", checks.allow_env, saved.allow_env),
        ("--allow-secret", checks.allow_secret, saved.allow_secret),
    ):
        if given is not None and sorted(set(given)) != sorted(set(recorded or ())):
            made = ", ".join(recorded) if recorded else f"no {flag} (not restricted)"
            raise PlanRefused(
                f"{flag} {', '.join(given)} differs from the list {file} was made under ({made}): refusing it",
                hint="the plan's own list is enforced when it is applied; plan again under the list you expect",
                reference="saved-plan-flag",
            )
    if checks.manifests is not None:
        digest = manifest_digest(checks.manifests)
        if digest != saved.manifest_digest:
            raise PlanRefused(
                f"the manifests in {', '.join(map(str, checks.manifests))} are not the ones {file} was made from "
                f"(digest {digest[:19]}…, the plan's {saved.manifest_digest[:19]}…)",
                hint="nothing was sent. Give the same paths as to `plan` (names count, relative to each directory); "
                "if the manifests changed since, plan again and review the new plan",
                reference="plan-manifests-differ",
            )
    if checks.max_age is not None:
        ensure_recent(saved, checks.max_age, now(env))


def _load_untrusted(file: Path, client: PostHogClient, env: Mapping[str, str], catalog: str | None) -> SavedPlan:
    """Read a saved plan as the untrusted input it is: every field checked against the catalog it was made with
    (`plan/untrusted.py`), every secret it references checked against the allow-list it was made under — and
    never reconciler's own credentials — and only then are those variables read. Nothing is sent before.

    The catalog: `bundled` or `live` as the plan says, else this checkout's own (`catalog`, else the default):
    a file path named by the plan file is never read."""
    text = file.read_text(encoding="utf-8")
    unbound = load_plan(text, {})
    spec = unbound.catalog if unbound.catalog in ("bundled", "live") else catalog
    try:
        references = check_untrusted_plan(unbound.plan, catalog_for(spec, client))
    except ReconcilerError as exc:
        raise ReconcilerError(f"{file}: {exc.message}", hint=exc.hint, reference=exc.reference) from None
    allowed = LoadOptions(allow_secret=unbound.allow_secret)
    for ref in references:
        refusal = allowed.secret_refusal(ref.name)
        if refusal is not None:
            raise PlanRefused(
                f"{file}: {ref.where}: {refusal[0]} (the list the plan was made under)",
                hint=f"nothing was sent. {refusal[1]}",
                reference="secret-not-allowed",
            )
    names = {ref.name for ref in references}
    return load_plan(text, {name: value for name, value in env.items() if name in names})


def load_reviewed(paths: tuple[Path, ...], env: Mapping[str, str], settings: Settings) -> list[ReviewedPlan]:
    """The saved plans under `paths` (a directory means every `*.json` below it, in path order). A plan for
    another host or project is an error, not something to ignore."""
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise ReconcilerError(f"reviewed plan {path} does not exist", reference="plan-format")
        files += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    reviewed = []
    for file in files:
        try:
            saved = load_plan(file.read_text(encoding="utf-8"), {})  # compared by secret names: no value read
        except ReconcilerError as exc:
            raise ReconcilerError(
                f"reviewed plan {file}: {exc.message}", hint=exc.hint, reference=exc.reference
            ) from None
        ensure_environment(saved, settings.environment, f"reviewed plan {file}")
        if (saved.plan.host, saved.plan.project) != (settings.host, settings.project):
            raise PlanRefused(
                f"reviewed plan {file} is for project {saved.plan.project} on {saved.plan.host}, "
                f"not project {settings.project} on {settings.host}",
                reference="reviewed-plan-mismatch",
            )
        reviewed.append(ReviewedPlan(str(file), saved.plan, saved.allow_delete))
    return reviewed


def _check_reviewed(plan: Plan, reviewed: list[ReviewedPlan]) -> ApplyPolicy:
    """Refuse every write no reviewed plan showed; the deletes left were reviewed with the opt-in."""
    unreviewed = review(plan, reviewed)
    if unreviewed:
        shown = [f"  - {u.describe()}" for u in unreviewed[:50]]
        if len(unreviewed) > 50:
            shown.append(f"  - … and {len(unreviewed) - 50} more")
        raise PlanRefused(
            f"refusing to apply: {len(unreviewed)} change(s) no reviewed plan showed "
            f"({len(reviewed)} reviewed plan(s) given):\n" + "\n".join(shown),
            hint="nothing was changed. PostHog or the manifests moved since the plans were reviewed: review a "
            "plan of the current manifests (a new pull request, or a dry run) and apply with it (docs/ci.md)",
            reference="unreviewed-change",
        )
    deletes = len({s.address for s in plan.delete_steps()})
    return ApplyPolicy(allow_delete=True, max_deletes=deletes)


def _saved_plan(
    client: PostHogClient, settings: Settings, request: ApplyRequest, file: Path, env: Mapping[str, str]
) -> Plan:
    """The saved plan to apply, once every check passed: untrusted-input checks, the asked-for checks, fresh
    against PostHog, and with `--manifests`, every write justified by those manifests."""
    saved = _load_untrusted(file, client, env, request.plan.manifests.catalog)
    ensure_environment(saved, settings.environment)
    _check_saved(saved, file, request.checks, env)
    live = client.fetch_live_state()
    ensure_fresh(saved, host=settings.host, project=settings.project, now=look_now(saved.plan, live))
    if request.checks.manifests is not None:
        _ensure_justified(client, settings, saved, request, env)
    return saved.plan


def _ensure_justified(
    client: PostHogClient, settings: Settings, saved: SavedPlan, request: ApplyRequest, env: Mapping[str, str]
) -> None:
    """`--manifests`: the digest recorded in a plan file is only a string its writer chose, so also re-plan from
    those manifests (every source, orphans included) and refuse any write of the saved plan that this plan does
    not make — the same comparison as `--reviewed`, the other way round. Secrets are compared by variable name
    and `secrets_version` (no fingerprint key), as a pull-request plan sees them."""
    paths = request.checks.manifests or ()
    manifests = replace(
        request.plan.manifests, paths=paths, allow_env=saved.allow_env or (), allow_secret=saved.allow_secret or ()
    )
    plan_env = {k: v for k, v in env.items() if k != FINGERPRINT_KEY_ENV}
    fresh = make_plan(client, settings, PlanRequest(manifests=manifests, prune=True), plan_env).plan
    unjustified = review(saved.plan, [ReviewedPlan("the manifests", fresh, allow_delete=True)])
    if unjustified:
        shown = [f"  - {u.fact.address}: {u.fact.describe()}" for u in unjustified[:50]]
        raise PlanRefused(
            f"refusing the saved plan: {len(unjustified)} of its change(s) are not what the manifests in "
            f"{', '.join(map(str, paths))} ask for now:\n" + "\n".join(shown),
            hint="nothing was changed. The plan file was edited, or PostHog or the manifests moved since it was "
            "made: plan again and review the new plan",
            reference="plan-manifests-differ",
        )


def run_apply(settings: Settings, request: ApplyRequest, env: Mapping[str, str]) -> ApplyOutcome:
    policy = request.policy
    with connect(settings) as client:
        if request.saved_plan is not None:
            plan = _saved_plan(client, settings, request, request.saved_plan, env)
        else:
            reviewed = load_reviewed(request.reviewed, env, settings) if request.reviewed is not None else None
            # Checked against reviewed plans, the plan sees secrets as they could: by `secrets_version`, not by
            # their values' fingerprint (the executor still writes the full fingerprint when it sends them).
            plan_env = env if reviewed is None else {k: v for k, v in env.items() if k != FINGERPRINT_KEY_ENV}
            outcome = make_plan(client, settings, request.plan, plan_env)
            plan = outcome.plan
            # Secrets the steps must send, reported where the manifest asks for them (file:line).
            needed = {s.address for s in missing_secret_steps(plan)}
            if needed:
                outcome.desired.require_secrets(needed)
            if reviewed is not None and plan.has_changes and not plan.errors:
                policy = _check_reviewed(plan, reviewed)
        if not plan.has_changes and not plan.errors:
            return ApplyOutcome(plan, None)
        check_plan(plan, policy)
        if not request.confirm(plan):
            raise PlanRefused("apply cancelled: nothing was changed", reference="apply-cancelled")
        executor = Executor(
            client, parallelism=request.parallelism, reporter=request.reporter, fingerprint_key=fingerprint_key(env)
        )
        return ApplyOutcome(plan, executor.run(plan))
