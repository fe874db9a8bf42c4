"""Every command-line option, declared once (dbt's `cli/params.py`): commands stack these decorators.

Options that always travel together are groups that hand the command one typed value: `connection`
(--host, --project, --api-path → `Connection`) and `manifests` (PATHS, --catalog, --allow-env,
--allow-secret, --allow-literal-secrets → `ManifestOptions`). Light on purpose: every command's `--help` imports
this, so even `commands/options.py` (dataclasses) is imported only when a command runs.
Must not know: what a command does with its options (that is `commands/`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

__all__ = [
    "allow_delete",
    "allow_env",
    "allow_literal_secrets",
    "allow_secret",
    "auto_approve",
    "catalog",
    "catalog_out",
    "connection",
    "delete_hint",
    "detailed_exitcode",
    "drift_output",
    "environment",
    "fail_on",
    "force",
    "full_plan_hint",
    "import_all",
    "import_out",
    "import_unmanaged",
    "manifests",
    "max_age",
    "max_deletes",
    "output_format",
    "parallelism",
    "paths",
    "planned_manifests",
    "preflight",
    "prune",
    "record_delete_opt_in",
    "repo_config_schema",
    "require_secrets",
    "reviewed",
    "save_plan",
    "select",
    "serve_options",
    "sync",
    "targets",
    "verbose",
]

Command = Callable[..., Any]
Decorator = Callable[[Command], Command]


def _stack(*options: Decorator) -> Decorator:
    """Several options as one decorator, shown in `--help` in the order given."""

    def decorate(command: Command) -> Command:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _grouped(name: str, build: Callable[..., Any], *options: Decorator) -> Decorator:
    """Several options that the command receives as one argument `name`, built by `build(**their values)`."""

    def probe() -> None: ...

    for option in options:
        option(probe)
    keys = [param.name for param in probe.__click_params__]  # type: ignore[attr-defined]

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = build(**{key: kwargs.pop(key) for key in keys})
            return command(*args, **kwargs)

        return _stack(*options)(wrapper)

    return decorate


# ---- where the manifests are and how to read them -----------------------------------------------------

paths = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
catalog = click.option(
    "--catalog",
    "catalog",
    default=None,
    metavar="bundled|live|PATH",
    help="Source-type catalog: the bundled one, the server's (live), or a wizard JSON file "
    "[default: $RECONCILER_CATALOG, else ./reconciler-catalog.json if present, else bundled].",
)
#: `schema --repo-config`: the JSON Schema of reconciler.yaml instead of the manifest's.
repo_config_schema = click.option(
    "--repo-config",
    "repo_config",
    is_flag=True,
    help="Print the JSON Schema of reconciler.yaml (the repository config) instead of the manifest's.",
)
allow_env = click.option(
    "--allow-env",
    "allow_env",
    multiple=True,
    metavar="PATTERN",
    help="Only let env() read variables matching PATTERN (fnmatch; repeatable). env() never reads a secret: "
    "reconciler's own keys, names like *_KEY or *TOKEN, --allow-secret's, or any variable read with secret().",
)
allow_secret = click.option(
    "--allow-secret",
    "allow_secret",
    multiple=True,
    metavar="PATTERN",
    help="Only let secret() read variables matching PATTERN (fnmatch; repeatable). Never reconciler's own keys.",
)
allow_literal_secrets = click.option(
    "--allow-literal-secrets", is_flag=True, help="Accept literal values in secret fields."
)
require_secrets = click.option(
    "--require-secrets", is_flag=True, help="Fail when a secret() variable is unset (as apply does)."
)


def _manifest_options(**values: Any) -> Any:
    from reconciler.commands.options import ManifestOptions

    return ManifestOptions(**values)


#: PATHS and the flags that say how to read them, handed to the command as `manifests: ManifestOptions`.
manifests: Decorator = _grouped(
    "manifests", _manifest_options, paths, catalog, allow_env, allow_secret, allow_literal_secrets
)

# ---- which PostHog ------------------------------------------------------------------------------------

#: `--env NAME` (else $RECONCILER_ENV), handed to the command as `env_name`: the environment of reconciler.yaml
#: to work on (its host, project and variables).
environment = click.option(
    "--env",
    "env_name",
    default=None,
    envvar="RECONCILER_ENV",
    metavar="NAME",
    help="Environment of reconciler.yaml to work on: its host, project and the variables manifests read with var() "
    "[default: $RECONCILER_ENV].",
)

_host = click.option(
    "--host",
    default=None,
    metavar="URL|local",
    help="PostHog host, e.g. https://us.posthog.com; else POSTHOG_HOST. 'local' = embedded "
    "emulator persisted under .reconciler/.",
)
_project = click.option(
    "--project",
    default=None,
    metavar="ID",
    help="Project (environment) id; else POSTHOG_PROJECT_ID, else the manifest's project: (a pin: naming "
    "another project is refused).",
)
_api_path = click.option(
    "--api-path",
    type=click.Choice(["projects", "environments"]),
    default=None,
    help="PostHog's path family (default projects; both reach the same API).",
)


def _connection(**values: Any) -> Any:
    from reconciler.commands.options import Connection

    return Connection(**values)


#: --host / --project / --api-path, handed to the command as `connection: Connection` (the API key comes only
#: from POSTHOG_PERSONAL_API_KEY, never a flag).
connection: Decorator = _grouped("connection", _connection, _host, _project, _api_path)

# ---- what to plan -------------------------------------------------------------------------------------

targets = click.option(
    "--target", "targets", multiple=True, metavar="ADDR", help="Only plan these source addresses (repeatable)."
)
prune = click.option(
    "--prune", is_flag=True, help="Also delete sources reconciler owns whose address no manifest declares any more."
)


def output_format(*choices: str, help: str | None = None) -> Decorator:
    """`--format`, first choice the default (each command renders its own set of formats)."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True, help=help)


# ---- plan ---------------------------------------------------------------------------------------------

save_plan = click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save the plan (no secret values) for `reconciler apply FILE`.",
)
detailed_exitcode = click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 1 error)."
)
preflight = click.option(
    "--preflight",
    is_flag=True,
    help="Check credentials and table names with PostHog's database_schema (needs secret values).",
)
verbose = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also show each change's API steps (with PostHog ids), as apply will run them.",
)
full_plan_hint = click.option(
    "--full-plan-hint",
    default=None,
    metavar="TEXT",
    help="Markdown only: where the full plan is, said when the comment must be truncated.",
)

record_delete_opt_in = click.option(
    "--allow-delete",
    "allow_delete",
    is_flag=True,
    help="Record the reviewer's opt-in for this plan's deletes and replaces in the saved plan "
    "(`apply --reviewed` lets a delete go ahead only when such a plan showed it).",
)
delete_hint = click.option(
    "--delete-hint",
    default=None,
    metavar="TEXT",
    help="Markdown only: the opt-in deletes and replaces need where this plan is reviewed (e.g. a label).",
)

# ---- apply --------------------------------------------------------------------------------------------

auto_approve = click.option(
    "--auto-approve", is_flag=True, help="Do not ask for confirmation (required without a TTY)."
)
allow_delete = click.option("--allow-delete", is_flag=True, help="Allow deletes and replaces (they drop synced data).")
max_deletes = click.option(
    "--max-deletes",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Refuse plans deleting more sources than this (replaces count).",
)
parallelism = click.option(
    "--parallelism",
    type=click.IntRange(min=1, max=64),
    default=4,
    show_default=True,
    help="Sources changed concurrently (all share one rate limiter).",
)
sync = click.option("--sync", is_flag=True, help="Trigger a sync (reload) of every changed source at the end.")
reviewed = click.option(
    "--reviewed",
    "reviewed",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Saved plans people reviewed (files or directories; repeatable): refuse any change none of them showed, "
    "and deletes not shown with their opt-in (plan --allow-delete).",
)


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from reconciler.commands.options import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-age") from None


planned_manifests = click.option(
    "--manifests",
    "planned_manifests",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="With a saved plan: the manifests it must have been made from (as given to plan; repeatable). "
    "Refused when their files differ from the planned ones.",
)
#: Parsed into a timedelta while the command line is read.
max_age = click.option(
    "--max-age",
    "max_age",
    default=None,
    metavar="DURATION",
    callback=_duration,
    help="With a saved plan: refuse it when it was saved longer ago than this (e.g. 30m, 12h, 7d).",
)

# ---- drift --------------------------------------------------------------------------------------------


def _categories(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    from reconciler.drift.model import parse_categories

    try:
        return parse_categories(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from None


drift_output = click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to FILE instead of stdout.",
)
#: Parsed into a frozenset of drift categories while the command line is read.
fail_on = click.option(
    "--fail-on",
    "fail_on",
    default="changed,missing,unmanaged,tables,health",
    show_default=True,
    metavar="CATEGORIES",
    callback=_categories,
    help="Comma-separated categories that make the exit code 2: changed, missing, unmanaged, tables, unsynced, "
    "health, or all (unsynced: tables PostHog knows but does not sync, its normal state).",
)

# ---- import -------------------------------------------------------------------------------------------

catalog_out = click.option(
    "-o",
    "--out",
    "out_text",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Write the catalog to FILE (e.g. reconciler-catalog.json) instead of stdout.",
)
select = click.option(
    "--select",
    "selects",
    multiple=True,
    metavar="TYPE:PREFIX",
    help="Import this source (repeatable); 'Stripe:' selects a Stripe source without a prefix.",
)
import_all = click.option("--all", "import_all", is_flag=True, help="Import every source of the project.")
import_unmanaged = click.option(
    "--unmanaged",
    is_flag=True,
    help="Import every source nobody owns yet (no ownership trailer): what manifests do not manage.",
)
import_out = click.option(
    "-o",
    "--out",
    "out_text",
    type=click.Path(),
    default=None,
    metavar="FILE|DIR",
    help="Write one FILE, or one file per source into DIR (an existing directory or a path ending "
    "in /). Default: stdout.",
)
force = click.option("--force", is_flag=True, help="Overwrite existing files.")

# ---- serve (names match emulator.server.ServeOptions) -------------------------------------------------

serve_options: Decorator = _stack(
    click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on."),
    click.option("--port", default=8010, show_default=True, type=int, help="Port to listen on (0 = any free port)."),
    click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="SQLite file to persist to (default: in memory, lost on exit).",
    ),
    click.option(
        "--keys",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="YAML list of API keys: {key, teams, scopes}. Default: phx_local, team 1, all scopes.",
    ),
    click.option(
        "--rate-limit",
        default=None,
        metavar="SPEC",
        help="Throttle per key, e.g. '480/minute,4800/hour' (PostHog Cloud's limits). Default: off.",
    ),
    click.option(
        "--latency-ms",
        default=0,
        show_default=True,
        type=click.IntRange(min=0),
        help="Delay every /api/ response by N milliseconds.",
    ),
    click.option(
        "--control",
        is_flag=True,
        help="Enable the /_emulator/ control API (stats, faults, schema health, upstream tables).",
    ),
    click.option(
        "--cloud-host-checks",
        is_flag=True,
        help="Refuse internal database hosts as PostHog Cloud does (off: local databases work).",
    ),
    click.option(
        "--bulk-schemas",
        type=click.Choice(["allowed", "session-only"]),
        default="allowed",
        show_default=True,
        help="session-only: bulk_update_schemas refuses API keys (403), as PostHog at the reference commit.",
    ),
    click.option(
        "--sync-seconds",
        default=0.0,
        show_default=True,
        type=click.FloatRange(min=0),
        help="How long a simulated sync runs (0: reload completes its jobs at once).",
    ),
)
