"""The task behind each CLI command: its parsed flags in, the pipeline run, the output written, the exit code out.

`cli.py` parses the command line (options from `cli_params.py`) into one frozen `*Flags` value and calls the
task; the task builds the request, calls `run_*` (the pipeline, in this package), renders to the `Console`
and returns an `ExitCode`. Must not know: click or how flags are spelled on the command line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reconciler.commands.console import Console, ExitCode
from reconciler.commands.context import (
    load_options,
    offline_catalog,
    open_repository,
    settings_for,
    validate_options,
)
from reconciler.commands.options import Connection, ManifestOptions
from reconciler.errors import ReconcilerError
from reconciler.records import record
from reconciler.wording import count

if TYPE_CHECKING:
    from reconciler.commands.context import Repository
    from reconciler.drift.model import Category
    from reconciler.manifest import ValidationReport
    from reconciler.plan.model import Plan
    from reconciler.settings import Settings

__all__ = [
    "ApplyFlags",
    "DriftFlags",
    "ImportFlags",
    "PlanFlags",
    "ValidateFlags",
    "apply_task",
    "drift_task",
    "import_task",
    "plan_task",
    "schema_task",
    "validate_task",
]


# ---- validate / schema ----------------------------------------------------------------------------------


@record
class ValidateFlags:
    manifests: ManifestOptions
    connection: Connection = field(default_factory=Connection)  # only `--catalog live` connects
    fmt: Literal["text", "json"] = "text"
    require_secrets: bool = False
    env_name: str | None = None


def _validate(repo: Repository, flags: ValidateFlags) -> ValidationReport:
    from reconciler.manifest import check_manifests

    manifests = repo.manifests
    return check_manifests(
        manifests.effective_paths,
        catalog=offline_catalog(
            manifests.catalog, os.environ, lambda: settings_for(flags.connection, repo, os.environ)
        ),
        load_options=load_options(manifests),
        validate_options=validate_options(manifests),
        require_secrets=flags.require_secrets,
    )


def validate_task(flags: ValidateFlags, console: Console) -> ExitCode:
    """With no `--env` where reconciler.yaml declares environments, the manifests are checked under every one of
    them (what each environment sees differs: its variables, the sources it has): pre-commit needs no flag."""
    from reconciler.manifest import merge_reports

    repo = open_repository(flags.manifests, flags.env_name, os.environ, need_env=False)
    names = sorted(repo.config.environments) if repo.config is not None and flags.env_name is None else []
    if names:
        each = [open_repository(flags.manifests, n, os.environ) for n in names]
        report = merge_reports([_validate(r, flags) for r in each])
    else:
        report = _validate(repo, flags)
    if flags.fmt == "json":
        console.out(json.dumps(report.to_json(), indent=2))
    elif report.ok:
        for warning in report.warnings:
            console.err(f"warning: {warning}")
        sources = len(report.state.sources) if report.state else 0
        console.out(f"{count(sources, 'source')} in {count(len(report.files), 'file')}: valid")
    else:
        for error in report.errors:
            console.err(str(error))
        console.err(count(len(report.errors), "error"))
    return ExitCode.OK if report.ok else ExitCode.ERROR


def schema_task(catalog: str | None, console: Console, *, repo_config: bool = False) -> ExitCode:
    """The manifest's JSON Schema for the catalog in use, or (`repo_config`) reconciler.yaml's, which reads no
    file: it is what helps fix a broken one."""
    if repo_config:
        from reconciler.manifest import repo_config_schema

        console.out(json.dumps(repo_config_schema(), indent=2))
        return ExitCode.OK
    from reconciler.manifest import manifest_schema

    spec = open_repository(ManifestOptions(catalog=catalog), None, os.environ, need_manifests=False, need_env=False)
    console.out(json.dumps(manifest_schema(offline_catalog(spec.manifests.catalog, os.environ)), indent=2))
    return ExitCode.OK


# ---- plan ---------------------------------------------------------------------------------------------


@record
class PlanFlags:
    manifests: ManifestOptions
    connection: Connection
    targets: tuple[str, ...] = ()
    prune: bool = False
    fmt: Literal["text", "markdown", "json"] = "text"
    out: Path | None = None
    detailed_exitcode: bool = False
    preflight: bool = False
    verbose: bool = False  # each change's API steps too
    full_plan_hint: str | None = None
    allow_delete: bool = False  # recorded in the saved plan: the reviewer's opt-in for deletes and replaces
    delete_hint: str | None = None
    env_name: str | None = None


def _plan_request(manifests: ManifestOptions, targets: tuple[str, ...], prune: bool, **extra: Any) -> Any:
    from reconciler.commands.plan import PlanRequest

    return PlanRequest(manifests=manifests, targets=frozenset(targets) or None, prune=prune, **extra)


def plan_task(flags: PlanFlags, console: Console) -> ExitCode:
    from reconciler.commands.plan import run_plan

    settings = None
    try:
        repo = open_repository(flags.manifests, flags.env_name, os.environ)
        request = _plan_request(
            repo.manifests, flags.targets, flags.prune, preflight=flags.preflight, out=flags.out,
            allow_delete=flags.allow_delete,
        )  # fmt: skip
        settings = settings_for(flags.connection, repo, os.environ)
        outcome = run_plan(settings, request, os.environ)
    except ReconcilerError as exc:
        if flags.fmt != "text":  # a pull-request comment or a CI step reads stdout: the errors go there too
            console.out(_failed_plan(flags, settings, exc), nl=False)
        raise
    from reconciler.plan.render import render

    color = flags.fmt == "text" and console.color(console.stdout)
    markdown = None
    if flags.fmt == "markdown":
        from reconciler.plan.render_markdown import MarkdownOptions

        markdown = MarkdownOptions(allow_delete=flags.allow_delete, delete_hint=flags.delete_hint)
    console.out(
        render(
            outcome.plan,
            flags.fmt,
            color=color,
            verbose=flags.verbose,
            full_plan_hint=flags.full_plan_hint,
            markdown=markdown,
        ),
        nl=False,
    )
    if outcome.plan.errors:
        if flags.out is not None:
            console.err(f"Did not save the plan to {flags.out}: it has errors, so apply could not use it.")
        console.err(f"Error: the plan has {count(len(outcome.plan.errors), 'error')}; see above.")
        return ExitCode.ERROR
    if flags.out is not None:
        console.err(f"Saved the plan to {flags.out}; apply it with: reconciler apply {flags.out}")
    if flags.detailed_exitcode and outcome.plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


def _failed_plan(flags: PlanFlags, settings: Settings | None, error: ReconcilerError) -> str:
    """The markdown or JSON of a plan that could not be made: its target as far as known, and the errors."""
    from reconciler.commands.plan import failed_plan
    from reconciler.plan.render import render_failed

    if settings is not None:
        host, project, environment = settings.host, settings.project, settings.environment
    else:
        host = flags.connection.host or os.environ.get("POSTHOG_HOST") or "(no host)"
        project = flags.connection.project or "(no project)"
        environment = flags.env_name
    return render_failed(failed_plan(host, project, error, environment), flags.fmt)


# ---- apply --------------------------------------------------------------------------------------------


@record
class ApplyFlags:
    manifests: ManifestOptions
    connection: Connection
    targets: tuple[str, ...] = ()
    prune: bool = False
    auto_approve: bool = False
    allow_delete: bool = False
    max_deletes: int = 1
    parallelism: int = 4
    sync: bool = False
    fmt: Literal["text", "json"] = "text"
    reviewed: tuple[Path, ...] = ()  # saved plans every write must appear in (`--reviewed`)
    planned_manifests: tuple[Path, ...] = ()  # `--manifests`: what a saved plan must have been made from
    max_age: timedelta | None = None  # `--max-age`: refuse a saved plan saved longer ago
    env_name: str | None = None

    @property
    def saved_plan(self) -> Path | None:
        """`apply plan.json`: an existing `.json` file is a saved plan, not a manifest (and never given with
        manifests: `saved_plan_path` refuses that)."""
        from reconciler.commands.apply import saved_plan_path

        return saved_plan_path(self.manifests.paths)

    def misplaced_flags(self, saved: bool) -> list[str]:
        """The flags given that do not fit: with a saved plan, every flag that would shape the plan (it is
        applied as reviewed; `--allow-env`/`--allow-secret` are compared with the plan's own lists instead);
        without one, the flags that only check a saved plan."""
        if not saved:
            return [name for name, on in (("--manifests", self.planned_manifests), ("--max-age", self.max_age)) if on]
        shaping = (
            ("--target", self.targets),
            ("--prune", self.prune),
            ("--sync", self.sync),
            ("--catalog", self.manifests.catalog),
            ("--allow-literal-secrets", self.manifests.allow_literal_secrets),
            ("--reviewed", self.reviewed),
        )
        return [name for name, on in shaping if on]


def _confirmer(flags: ApplyFlags, console: Console) -> Callable[[Plan], bool]:
    """Show the plan (as `plan` renders it: the CI log is the audit trail of what was approved), then ask, or go
    ahead with --auto-approve. With `--format json` the plan goes to stderr, so stdout stays one JSON document."""
    from reconciler.plan.render import render

    def confirm(plan: Plan) -> bool:
        if not flags.auto_approve and not console.interactive():
            raise ReconcilerError(
                "refusing to apply without confirmation: no terminal to ask on",
                hint="review the plan, then pass --auto-approve (CI must be explicit)",
                reference="confirmation-required",
            )
        stream = console.stdout if flags.fmt == "text" else console.stderr
        shown = render(plan, "text", color=console.color(stream))
        if flags.fmt == "text":
            console.out(shown, nl=False)
        else:
            console.err(shown.removesuffix("\n"))
        return flags.auto_approve or console.ask("Apply these changes? Only 'yes' is accepted") == "yes"

    return confirm


def apply_task(flags: ApplyFlags, console: Console) -> ExitCode:
    from reconciler.apply.executor import ApplyReport
    from reconciler.apply.guard import ApplyPolicy
    from reconciler.apply.report import LineReporter, ProgressReporter, render_report_json, render_report_text
    from reconciler.commands.apply import ApplyRequest, SavedPlanChecks, refuse_misplaced_flags, run_apply
    from reconciler.commands.common import clock_fixed

    saved = flags.saved_plan
    refuse_misplaced_flags(saved, flags.misplaced_flags(saved is not None))
    repo = open_repository(flags.manifests, flags.env_name, os.environ, need_manifests=saved is None)
    if saved:
        repo = replace(repo, manifests=replace(repo.manifests, paths=()))
    manifests = repo.manifests
    stderr = console.stderr
    timings = not clock_fixed(os.environ)  # durations are measurements: none when the clock is fixed
    request = ApplyRequest(
        checks=SavedPlanChecks(
            manifests=flags.planned_manifests or None,
            max_age=flags.max_age,
            allow_env=flags.manifests.allow_env or None,
            allow_secret=flags.manifests.allow_secret or None,
        ),
        reviewed=flags.reviewed or None,
        plan=_plan_request(manifests, flags.targets, flags.prune, sync=flags.sync),
        saved_plan=saved,
        policy=ApplyPolicy(allow_delete=flags.allow_delete, max_deletes=flags.max_deletes),
        parallelism=flags.parallelism,
        confirm=_confirmer(flags, console),
        reporter=(ProgressReporter if console.color(stderr) else LineReporter)(stderr, timings=timings),
    )
    # A saved plan records its project and environment (apply refuses it elsewhere); no manifests are read for it.
    outcome = run_apply(settings_for(flags.connection, repo, os.environ), request, os.environ)
    if outcome.report is None:
        if flags.fmt == "text":
            console.out("No changes. PostHog already matches the manifests.")
        else:
            console.out(render_report_json(ApplyReport(())), nl=False)
        return ExitCode.OK
    report = outcome.report
    text = (
        render_report_json(report, outcome.plan, timings=timings) if flags.fmt == "json" else render_report_text(report)
    )
    console.out(text, nl=False)
    return ExitCode.OK if outcome.ok else ExitCode.ERROR


# ---- drift --------------------------------------------------------------------------------------------


@record
class DriftFlags:
    manifests: ManifestOptions
    connection: Connection
    fail_on: frozenset[Category]  # parsed with the command line
    fmt: Literal["text", "markdown", "json"] = "text"
    output: Path | None = None
    env_name: str | None = None


def drift_task(flags: DriftFlags, console: Console) -> ExitCode:
    from reconciler.commands.drift import DriftRequest, run_drift
    from reconciler.drift.render import render_drift

    repo = open_repository(flags.manifests, flags.env_name, os.environ)
    settings = settings_for(flags.connection, repo, os.environ)
    outcome = run_drift(settings, DriftRequest(repo.manifests, flags.fail_on), os.environ)
    color = flags.fmt == "text" and flags.output is None and console.color(console.stdout)
    text = render_drift(outcome.report, flags.fmt, fail_on=flags.fail_on, color=color)
    if flags.output is not None:
        flags.output.write_text(text, encoding="utf-8")
        console.err(f"Wrote the drift report to {flags.output}")
    else:
        console.out(text, nl=False)
    return ExitCode.CHANGES if outcome.failed else ExitCode.OK


# ---- import -------------------------------------------------------------------------------------------


@record
class ImportFlags:
    connection: Connection
    selects: tuple[str, ...] = ()  # empty: --all or --unmanaged
    unmanaged: bool = False  # `--unmanaged`: every source nobody owns yet
    out_text: str | None = None
    force: bool = False
    catalog: str | None = None
    env_name: str | None = None


def import_task(flags: ImportFlags, console: Console) -> ExitCode:
    from reconciler.commands.importer import ImportRequest, run_import
    from reconciler.importer import parse_selector

    selectors = tuple(parse_selector(s) for s in flags.selects) if flags.selects else None
    out = Path(flags.out_text) if flags.out_text is not None else None
    out_is_dir = out is not None and (str(flags.out_text).endswith(("/", "\\")) or out.is_dir())
    repo = open_repository(ManifestOptions(catalog=flags.catalog), flags.env_name, os.environ, need_manifests=False)
    request = ImportRequest(
        selectors=selectors, out=out, force=flags.force, catalog=repo.manifests.catalog, out_is_dir=out_is_dir,
        unmanaged_only=flags.unmanaged,
    )  # fmt: skip
    # Importing into a manifest tree (or over a file) that pins `project:` honours the pin, as plan does.
    if out is not None and out.exists():
        repo = replace(repo, manifests=replace(repo.manifests, paths=(out,)))
    settings = settings_for(flags.connection, repo, os.environ)
    outcome = run_import(settings, request)
    for warning in outcome.warnings:
        console.err(f"Warning: {warning}")
    if outcome.text is not None:
        console.out(outcome.text, nl=False)
    for path in outcome.written:
        console.err(f"Wrote {path}")
    names = sorted({v.name for s in outcome.imported for v in s.variables if v.required})
    if names:
        console.err(f"Set {count(len(names), 'secret variable')} before plan/apply: {', '.join(names)}")
    return ExitCode.OK
