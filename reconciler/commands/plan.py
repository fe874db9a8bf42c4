"""`reconciler plan`: manifests + one list pass → Plan (optionally preflighted and saved)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import __version__
from reconciler.commands.common import ManifestOptions, connect, fingerprint_key, load_and_list, manifest_digest, now
from reconciler.commands.context import catalog_spec
from reconciler.errors import ManifestError, ReconcilerError
from reconciler.records import record

if TYPE_CHECKING:
    # Imported where they are used, after the list request has gone out (`load_and_list`).
    from reconciler.manifest.models import DesiredState
    from reconciler.plan.model import Plan
    from reconciler.posthog.client import PostHogClient
    from reconciler.settings import Settings

__all__ = ["PlanOutcome", "PlanRequest", "failed_plan", "make_plan", "run_plan"]


@record
class PlanRequest:
    manifests: ManifestOptions
    targets: frozenset[str] | None = None
    prune: bool = False
    sync: bool = False
    preflight: bool = False
    out: Path | None = None
    allow_delete: bool = False  # recorded in the saved plan: the reviewer's opt-in for its deletes and replaces


@record
class PlanOutcome:
    plan: Plan
    desired: DesiredState
    requests: int


def make_plan(client: PostHogClient, settings: Settings, request: PlanRequest, env: Mapping[str, str]) -> PlanOutcome:
    """Load, list once, diff; with `preflight`, check credentials and tables too."""
    before = client.stats.total
    catalog, desired, live = load_and_list(client, request.manifests, env)
    from reconciler.plan.planner import PlanOptions, build_plan

    options = PlanOptions(
        host=settings.host, project=settings.project, targets=request.targets, prune=request.prune,
        sync=request.sync, fingerprint_key=fingerprint_key(env), environment=settings.environment,
    )  # fmt: skip
    plan = build_plan(desired, live, catalog, options)
    if request.preflight:
        from reconciler.preflight import run_preflight

        plan = run_preflight(plan, desired, client)
    return PlanOutcome(plan, desired, client.stats.total - before)


def run_plan(settings: Settings, request: PlanRequest, env: Mapping[str, str]) -> PlanOutcome:
    """Plan, and save it to `request.out` — only when it has no errors: apply could not use it, and CI must not
    publish a file that looks like a reviewable plan."""
    with connect(settings) as client:
        outcome = make_plan(client, settings, request, env)
    if request.out is not None and not outcome.plan.errors:
        from reconciler.plan.saved import save_plan

        text = save_plan(
            outcome.plan,
            tool_version=__version__,
            manifest_digest=manifest_digest(request.manifests.effective_paths),
            saved_at=now(env),
            allow_delete=request.allow_delete,
            allow_env=request.manifests.allow_env or None,
            allow_secret=request.manifests.allow_secret or None,
            catalog=catalog_spec(request.manifests.catalog, env),
        )
        request.out.write_text(text, encoding="utf-8")
    return outcome


def failed_plan(host: str, project: str, error: ReconcilerError, environment: str | None = None) -> Plan:
    """The plan that could not be made, as a Plan holding only its target and `error` — every manifest error
    separately, with file, line, column, field and hint — so markdown and JSON can show them."""
    from reconciler.manifest.models import ManifestInvalid
    from reconciler.plan.model import Plan, PlanError

    items: list[ReconcilerError] = list(error.errors) if isinstance(error, ManifestInvalid) else [error]
    errors = []
    for item in items:
        located = item if isinstance(item, ManifestError) else None
        errors.append(
            PlanError(
                item.message,
                located.address if located else None,
                item.reference,
                file=located.file if located else None,
                line=located.line if located else None,
                column=located.column if located else None,
                field=located.field if located else None,
                hint=item.hint,
            )
        )
    return Plan(host=host, project=project, errors=tuple(errors), environment=environment)
