"""Command-line entry point: parse options, call one function per command, map outcomes to exit codes.

Thin by design: no business logic here. Heavy modules (the emulator, uvicorn) are imported lazily
inside their commands so `reconciler --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError

if TYPE_CHECKING:
    from reconciler.catalog import Catalog

__all__ = ["ExitCode", "cli", "main", "run_cli"]


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2  # plan --detailed-exitcode with changes; drift found


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Declarative management of PostHog data-warehouse external data sources."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if ctx.invoked_subcommand != "serve":
        import gc

        # A one-shot command on a large project builds ~10^6 long-lived objects (1,000 sources × 50 tables);
        # with the default thresholds the collector walks them again and again — a third of such a plan's
        # time (docs/performance.md). Collect the young generation rarely and the old one almost never: the
        # process ends long before cycles matter. Not for `serve`, which runs for days.
        gc.set_threshold(1_000_000, 100, 1000)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8010, show_default=True, type=int, help="Port to listen on (0 = any free port).")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file to persist to (default: in memory, lost on exit).",
)
@click.option(
    "--keys",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML list of API keys: {key, teams, scopes}. Default: phx_local, team 1, all scopes.",
)
@click.option(
    "--rate-limit",
    default=None,
    metavar="SPEC",
    help="Throttle per key, e.g. '480/minute,4800/hour' (PostHog Cloud's limits). Default: off.",
)
@click.option(
    "--latency-ms",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Delay every /api/ response by N milliseconds.",
)
@click.option(
    "--control",
    is_flag=True,
    help="Enable the /_emulator/ control API (stats, faults, schema health, upstream tables).",
)
@click.option(
    "--cloud-host-checks",
    is_flag=True,
    help="Refuse internal database hosts as PostHog Cloud does (off: local databases work).",
)
@click.option(
    "--bulk-schemas",
    type=click.Choice(["allowed", "session-only"]),
    default="allowed",
    show_default=True,
    help="session-only: bulk_update_schemas refuses API keys (403), as PostHog at the reference commit.",
)
@click.option(
    "--sync-seconds",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="How long a simulated sync runs (0: reload completes its jobs at once).",
)
def serve(
    host: str,
    port: int,
    db: Path | None,
    keys: Path | None,
    rate_limit: str | None,
    latency_ms: int,
    control: bool,
    cloud_host_checks: bool,
    bulk_schemas: str,
    sync_seconds: float,
) -> None:
    """Run the local PostHog-compatible API (the emulator)."""
    from reconciler.emulator.server import ServeOptions, run_server

    run_server(
        ServeOptions(
            host=host,
            port=port,
            db=db,
            keys=keys,
            rate_limit=rate_limit,
            latency_ms=latency_ms,
            control=control,
            cloud_host_checks=cloud_host_checks,
            bulk_schemas=bulk_schemas,
            sync_seconds=sync_seconds,
        )
    )


def _live_catalog() -> Catalog:
    """`--catalog live` for offline commands: the server's `wizard` (reference/posthog-api.md §8.11), reached
    through POSTHOG_HOST / POSTHOG_PROJECT_ID / POSTHOG_PERSONAL_API_KEY."""
    import os

    from reconciler.catalog import Catalog
    from reconciler.commands.common import connect
    from reconciler.settings import resolve_settings

    with connect(resolve_settings(os.environ)) as client:
        return Catalog.from_wizard(client.wizard())


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format; json is documented in docs/manifest.md.",
)
@click.option(
    "--catalog",
    "catalog_spec",
    default="bundled",
    show_default=True,
    metavar="bundled|live|PATH",
    help="Source-type catalog: the bundled one, the server's (live), or a wizard JSON file.",
)
@click.option(
    "--allow-env",
    "allow_env",
    multiple=True,
    metavar="PATTERN",
    help="Only let env()/secret() read variables matching PATTERN (fnmatch; repeatable).",
)
@click.option("--allow-literal-secrets", is_flag=True, help="Accept literal values in secret fields.")
@click.option("--require-secrets", is_flag=True, help="Fail when a secret() variable is unset (as apply does).")
def validate(
    paths: tuple[Path, ...],
    fmt: str,
    catalog_spec: str,
    allow_env: tuple[str, ...],
    allow_literal_secrets: bool,
    require_secrets: bool,
) -> int:
    """Check manifests offline: parse, render templates, validate against the catalog (exit 0 valid, 1 invalid)."""
    from reconciler.manifest import LoadOptions, ValidateOptions, check_manifests, resolve_catalog

    report = check_manifests(
        paths or (Path("."),),
        catalog=resolve_catalog(catalog_spec, live=_live_catalog),
        load_options=LoadOptions(allow_env=allow_env or None),
        validate_options=ValidateOptions(allow_literal_secrets=allow_literal_secrets),
        require_secrets=require_secrets,
    )
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    elif report.ok:
        count = len(report.state.sources) if report.state else 0
        click.echo(
            f"{count} source{'s' if count != 1 else ''} in {len(report.files)} "
            f"file{'s' if len(report.files) != 1 else ''}: valid"
        )
    else:
        for error in report.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(report.errors)} error{'s' if len(report.errors) != 1 else ''}", err=True)
    return ExitCode.OK if report.ok else ExitCode.ERROR


@cli.command()
@click.option(
    "--catalog",
    "catalog_spec",
    default="bundled",
    show_default=True,
    metavar="bundled|live|PATH",
    help="Source-type catalog whose types get a typed config schema.",
)
def schema(catalog_spec: str) -> int:
    """Print the manifest's JSON Schema (draft 2020-12), e.g. for yaml-language-server."""
    from reconciler.manifest import manifest_schema, resolve_catalog

    click.echo(json.dumps(manifest_schema(resolve_catalog(catalog_spec, live=_live_catalog)), indent=2))
    return ExitCode.OK


# ---- plan / apply ----------------------------------------------------------------------------------


def _connection_options(fn: Any) -> Any:
    """--host / --project / --api-path (the API key comes only from POSTHOG_PERSONAL_API_KEY)."""
    fn = click.option(
        "--api-path",
        type=click.Choice(["projects", "environments"]),
        default=None,
        help="PostHog's path family (default projects; both reach the same API).",
    )(fn)
    fn = click.option(
        "--project",
        default=None,
        metavar="ID",
        help="Project (environment) id; else POSTHOG_PROJECT_ID, else the manifest's project:.",
    )(fn)
    fn = click.option(
        "--host",
        default=None,
        metavar="URL|local",
        help="PostHog host, e.g. https://us.posthog.com; else POSTHOG_HOST. 'local' = embedded "
        "emulator persisted under .reconciler/.",
    )(fn)
    return fn


def _manifest_options(fn: Any) -> Any:
    fn = click.option("--allow-literal-secrets", is_flag=True, help="Accept literal values in secret fields.")(fn)
    fn = click.option(
        "--allow-env",
        "allow_env",
        multiple=True,
        metavar="PATTERN",
        help="Only let env()/secret() read variables matching PATTERN (fnmatch; repeatable).",
    )(fn)
    fn = click.option(
        "--catalog",
        "catalog_spec",
        default="bundled",
        show_default=True,
        metavar="bundled|live|PATH",
        help="Source-type catalog to validate against.",
    )(fn)
    fn = click.option(
        "--target", "targets", multiple=True, metavar="ADDR", help="Only plan these source addresses (repeatable)."
    )(fn)
    fn = click.option(
        "--prune", is_flag=True, help="Also delete sources reconciler owns whose address no manifest declares any more."
    )(fn)
    return fn


def _settings(host: str | None, project: str | None, api_path: str | None, manifest_paths: Sequence[Path]) -> Any:
    import os

    from reconciler.settings import PROJECT_ENV, resolve_settings

    # The manifest's `project:` only counts when neither --project nor the environment names one: skip
    # reading the manifests twice then (at 1,000 sources that second parse costs seconds).
    named = bool(project and project.strip()) or bool(os.environ.get(PROJECT_ENV, "").strip())
    return resolve_settings(
        os.environ,
        host=host,
        project=project,
        api_path=api_path,
        manifest_project=None if named else _manifest_project(manifest_paths),
    )


def _manifest_project(paths: Sequence[Path]) -> str | None:
    """The `project:` of the first manifest that has one (cheap: YAML only, no validation)."""
    import yaml

    from reconciler.manifest.load import collect_files

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    files, _ = collect_files(paths or (Path("."),))
    for path in files:
        try:
            for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=loader):
                if isinstance(doc, dict) and doc.get("project") is not None:
                    return str(doc["project"])
        except (OSError, yaml.YAMLError):
            return None  # the real load reports it, with its location
    return None


def _use_color(stream: Any) -> bool:
    import os

    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def _plan_request(
    paths: tuple[Path, ...],
    catalog_spec: str,
    allow_env: tuple[str, ...],
    allow_literal_secrets: bool,
    targets: tuple[str, ...],
    prune: bool,
    **extra: Any,
) -> Any:
    from reconciler.commands.common import ManifestOptions
    from reconciler.commands.plan import PlanRequest

    manifests = ManifestOptions(
        paths=paths, catalog=catalog_spec, allow_env=allow_env, allow_literal_secrets=allow_literal_secrets
    )
    return PlanRequest(manifests=manifests, targets=frozenset(targets) or None, prune=prune, **extra)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_connection_options
@_manifest_options
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save the plan (no secret values) for `reconciler apply FILE`.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 1 error).")
@click.option(
    "--preflight",
    is_flag=True,
    help="Check credentials and table names with PostHog's database_schema (needs secret values).",
)
@click.option(
    "--full-plan-hint",
    default=None,
    metavar="TEXT",
    help="Markdown only: where the full plan is, said when the comment must be truncated.",
)
def plan(
    paths: tuple[Path, ...],
    host: str | None,
    project: str | None,
    api_path: str | None,
    catalog_spec: str,
    allow_env: tuple[str, ...],
    allow_literal_secrets: bool,
    targets: tuple[str, ...],
    prune: bool,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    preflight: bool,
    full_plan_hint: str | None,
) -> int:
    """Show what apply would change (exit 0; 2 with --detailed-exitcode when changes; 1 on error)."""
    import os

    from reconciler.commands.plan import run_plan
    from reconciler.plan.render import render

    request = _plan_request(
        paths, catalog_spec, allow_env, allow_literal_secrets, targets, prune, preflight=preflight, out=out
    )
    outcome = run_plan(_settings(host, project, api_path, paths), request, os.environ)
    stdout = sys.stdout
    click.echo(
        render(
            outcome.plan,
            fmt,  # type: ignore[arg-type]
            color=fmt == "text" and _use_color(stdout),
            full_plan_hint=full_plan_hint,
        ),
        nl=False,
    )
    if out is not None:
        click.echo(f"Saved the plan to {out}; apply it with: reconciler apply {out}", err=True)
    if outcome.plan.errors:
        click.echo(f"Error: the plan has {len(outcome.plan.errors)} error(s); see above.", err=True)
        return ExitCode.ERROR
    if detailed_exitcode and outcome.plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_connection_options
@_manifest_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (required without a TTY).")
@click.option("--allow-delete", is_flag=True, help="Allow deletes and replaces (they drop synced data).")
@click.option(
    "--max-deletes",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Refuse plans deleting more sources than this (replaces count).",
)
@click.option(
    "--parallelism",
    type=click.IntRange(min=1, max=64),
    default=4,
    show_default=True,
    help="Sources changed concurrently (all share one rate limiter).",
)
@click.option("--sync", is_flag=True, help="Trigger a sync (reload) of every changed source at the end.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Report format (json is for machines; progress lines still go to stderr).",
)
def apply(
    paths: tuple[Path, ...],
    host: str | None,
    project: str | None,
    api_path: str | None,
    catalog_spec: str,
    allow_env: tuple[str, ...],
    allow_literal_secrets: bool,
    targets: tuple[str, ...],
    prune: bool,
    auto_approve: bool,
    allow_delete: bool,
    max_deletes: int,
    parallelism: int,
    sync: bool,
    fmt: str,
) -> int:
    """Make PostHog match the manifests, or execute a saved plan (`reconciler apply plan.json`)."""
    import os

    from reconciler.apply.guard import ApplyPolicy
    from reconciler.apply.report import LineReporter, ProgressReporter, render_report_json, render_report_text
    from reconciler.commands.apply import ApplyRequest, run_apply
    from reconciler.plan.render import render_text

    saved = paths[0] if len(paths) == 1 and paths[0].suffix == ".json" and paths[0].is_file() else None
    stdout, stderr = sys.stdout, sys.stderr

    def confirm(plan: Any) -> bool:
        if auto_approve:
            return True
        if not sys.stdin.isatty():
            raise ReconcilerError(
                "refusing to apply without confirmation: no terminal to ask on",
                hint="review the plan, then pass --auto-approve (CI must be explicit)",
                reference="confirmation-required",
            )
        click.echo(render_text(plan, color=_use_color(stdout)), nl=False)
        return click.prompt("Apply these changes? Only 'yes' is accepted", default="", show_default=False) == "yes"

    request = ApplyRequest(
        plan=_plan_request(
            () if saved else paths, catalog_spec, allow_env, allow_literal_secrets, targets, prune, sync=sync
        ),
        saved_plan=saved,
        policy=ApplyPolicy(allow_delete=allow_delete, max_deletes=max_deletes),
        parallelism=parallelism,
        confirm=confirm,
        reporter=ProgressReporter(stderr) if _use_color(stderr) else LineReporter(stderr),
    )
    outcome = run_apply(_settings(host, project, api_path, () if saved else paths), request, os.environ)
    if outcome.report is None:
        click.echo(
            "No changes. PostHog already matches the manifests."
            if fmt == "text"
            else '{"format_version": 1, "ok": true, "requests": 0, "summary": {}, "steps": []}'
        )
        return ExitCode.OK
    click.echo(render_report_json(outcome.report) if fmt == "json" else render_report_text(outcome.report), nl=False)
    return ExitCode.OK if outcome.ok else ExitCode.ERROR


# ---- drift / import --------------------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_connection_options
@click.option(
    "--catalog",
    "catalog_spec",
    default="bundled",
    show_default=True,
    metavar="bundled|live|PATH",
    help="Source-type catalog to validate against.",
)
@click.option(
    "--allow-env",
    "allow_env",
    multiple=True,
    metavar="PATTERN",
    help="Only let env()/secret() read variables matching PATTERN (fnmatch; repeatable).",
)
@click.option("--allow-literal-secrets", is_flag=True, help="Accept literal values in secret fields.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="json is documented in docs/drift-format.md; markdown fits one issue comment.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to FILE instead of stdout.",
)
@click.option(
    "--fail-on",
    "fail_on",
    default="all",
    show_default=True,
    metavar="CATEGORIES",
    help="Comma-separated categories that make the exit code 2: changed, missing, unmanaged, tables, health (or all).",
)
def drift(
    paths: tuple[Path, ...],
    host: str | None,
    project: str | None,
    api_path: str | None,
    catalog_spec: str,
    allow_env: tuple[str, ...],
    allow_literal_secrets: bool,
    fmt: str,
    output: Path | None,
    fail_on: str,
) -> int:
    """Read-only report of differences from the manifests and of source health (exit 0 none, 2 drift, 1 error)."""
    import os

    from reconciler.commands.common import ManifestOptions
    from reconciler.commands.drift import DriftRequest, run_drift
    from reconciler.drift import parse_categories
    from reconciler.drift_render import render_drift

    try:
        categories = parse_categories(fail_on)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from None
    manifests = ManifestOptions(
        paths=paths, catalog=catalog_spec, allow_env=allow_env, allow_literal_secrets=allow_literal_secrets
    )
    outcome = run_drift(_settings(host, project, api_path, paths), DriftRequest(manifests, categories), os.environ)
    text = render_drift(
        outcome.report,
        fmt,  # type: ignore[arg-type]
        fail_on=categories,
        color=fmt == "text" and output is None and _use_color(sys.stdout),
    )
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote the drift report to {output}", err=True)
    else:
        click.echo(text, nl=False)
    return ExitCode.CHANGES if outcome.failed else ExitCode.OK


@cli.command(name="import")
@_connection_options
@click.option(
    "--select",
    "selects",
    multiple=True,
    metavar="TYPE:PREFIX",
    help="Import this source (repeatable); 'Stripe:' selects a Stripe source without a prefix.",
)
@click.option("--all", "import_all", is_flag=True, help="Import every source of the project.")
@click.option(
    "-o",
    "--out",
    "out_text",
    type=click.Path(),
    default=None,
    metavar="FILE|DIR",
    help="Write one FILE, or one file per source into DIR (an existing directory or a path ending "
    "in /). Default: stdout.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option(
    "--catalog",
    "catalog_spec",
    default="bundled",
    show_default=True,
    metavar="bundled|live|PATH",
    help="Source-type catalog used to restore field types.",
)
def import_(
    host: str | None,
    project: str | None,
    api_path: str | None,
    selects: tuple[str, ...],
    import_all: bool,
    out_text: str | None,
    force: bool,
    catalog_spec: str,
) -> int:
    """Write manifests from live sources, secrets as secret() placeholders (exit 0, 1 on error)."""
    from reconciler.commands.importer import ImportRequest, run_import
    from reconciler.importer import parse_selector

    if bool(selects) == import_all:
        raise click.UsageError("choose the sources: --select TYPE:PREFIX (repeatable) or --all")
    selectors = tuple(parse_selector(s) for s in selects) if selects else None
    out = Path(out_text) if out_text is not None else None
    out_is_dir = out is not None and (out_text.endswith(("/", "\\")) or out.is_dir())  # type: ignore[union-attr]
    request = ImportRequest(selectors=selectors, out=out, force=force, catalog=catalog_spec, out_is_dir=out_is_dir)
    import os

    from reconciler.settings import resolve_settings

    # No manifests are read: the project comes from --project or POSTHOG_PROJECT_ID only.
    outcome = run_import(resolve_settings(os.environ, host=host, project=project, api_path=api_path), request)
    for warning in outcome.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if outcome.text is not None:
        click.echo(outcome.text, nl=False)
    for path in outcome.written:
        click.echo(f"Wrote {path}", err=True)
    names = sorted({v.name for s in outcome.imported for v in s.variables if v.required})
    if names:
        click.echo(f"Set {len(names)} secret variable(s) before plan/apply: {', '.join(names)}", err=True)
    return ExitCode.OK


def run_cli(argv: Sequence[str]) -> int:
    """Run the CLI in-process and return its exit code (tests use click's CliRunner on top of this)."""
    debug = "--debug" in argv
    try:
        result = cli.main(args=list(argv), prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return ExitCode.ERROR
    except click.ClickException as exc:
        # Usage errors exit 1, not click's 2: 2 means "changes" / "drift" in this tool.
        exc.show()
        return ExitCode.ERROR
    except ReconcilerError as exc:
        click.echo(f"Error: {exc}", err=True)
        return ExitCode.ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return ExitCode.ERROR
    except Exception as exc:
        if debug:
            raise
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc}", err=True)
        click.echo("This is a bug in reconciler; rerun with --debug for the traceback.", err=True)
        return ExitCode.ERROR
    return int(result) if isinstance(result, int) else ExitCode.OK


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run_cli(sys.argv[1:] if argv is None else argv))
