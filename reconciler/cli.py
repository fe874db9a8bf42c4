"""Command-line entry point: declare each command from `cli_params.py`, hand its flags to its task in
`commands/tasks.py`, and turn whatever escapes into one message and an exit code.

Thin by design: no business rules and no output formats here. Tasks, the emulator and uvicorn are imported
inside their commands so `reconciler --help` stays fast.
Must not know: what a command does (commands/), how its output looks (renderers).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import click

from reconciler import __version__
from reconciler import cli_params as p
from reconciler.commands.console import ExitCode

__all__ = ["ExitCode", "cli", "main", "run_cli", "top_level_help"]


class ClickConsole:
    """The `commands.console.Console` of a real run: click's echo and prompt on the process's streams."""

    @property
    def stdout(self) -> TextIO:
        return sys.stdout

    @property
    def stderr(self) -> TextIO:
        return sys.stderr

    def out(self, text: str, *, nl: bool = True) -> None:
        click.echo(text, nl=nl)

    def err(self, text: str) -> None:
        click.echo(text, err=True)

    def color(self, stream: TextIO) -> bool:
        tty = bool(getattr(stream, "isatty", lambda: False)())
        # no-color.org: NO_COLOR set to a non-empty value turns colour off, whatever the value.
        return tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"

    def interactive(self) -> bool:
        return sys.stdin.isatty()

    def ask(self, prompt: str) -> str:
        return str(click.prompt(prompt, default="", show_default=False))


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
        _warnings_to_stderr()


def _warnings_to_stderr() -> None:
    """Warnings from the engine (a long wait announced before it starts, ...) reach stderr as plain lines, through
    click's stderr so in-process runs capture them too. `logging` is imported here, when a command runs:
    `--help` and `--version` never load it (start-up, docs/performance.md)."""
    import logging

    class StderrHandler(logging.Handler):
        name_tag = "reconciler-stderr"

        def emit(self, record: logging.LogRecord) -> None:
            click.echo(self.format(record), err=True)

    logger = logging.getLogger("reconciler")
    if not any(getattr(h, "name_tag", None) == StderrHandler.name_tag for h in logger.handlers):
        logger.addHandler(StderrHandler(logging.WARNING))


@cli.command()
@p.serve_options
def serve(**flags: Any) -> None:
    """Run the local PostHog-compatible API (the emulator)."""
    from reconciler.emulator.server import ServeOptions, run_server

    run_server(ServeOptions(**flags))


@cli.command()
@p.manifests
@p.environment
@p.connection
@p.output_format("text", "json", help="Output format; json is documented in docs/manifest.md.")
@p.require_secrets
def validate(**flags: Any) -> int:
    """Check manifests offline: parse, render templates, validate against the catalog (exit 0 valid, 1 invalid)."""
    from reconciler.commands.tasks import ValidateFlags, validate_task

    return validate_task(ValidateFlags(**flags), ClickConsole())


@cli.command()
@p.catalog
@p.repo_config_schema
def schema(catalog: str | None, repo_config: bool) -> int:
    """Print the manifest's JSON Schema (draft 2020-12), e.g. for yaml-language-server.

    With --repo-config, the JSON Schema of reconciler.yaml instead."""
    from reconciler.commands.tasks import schema_task

    if repo_config and catalog is not None:
        raise click.UsageError("--catalog types the manifest's schema: it does not apply to --repo-config")
    return schema_task(catalog, ClickConsole(), repo_config=repo_config)


@cli.command()
@p.manifests
@p.environment
@p.connection
@p.targets
@p.prune
@p.output_format("text", "markdown", "json")
@p.save_plan
@p.detailed_exitcode
@p.preflight
@p.verbose
@p.full_plan_hint
@p.record_delete_opt_in
@p.delete_hint
def plan(**flags: Any) -> int:
    """Show what apply would change (exit 0; 2 with --detailed-exitcode when changes; 1 on error)."""
    from reconciler.commands.tasks import PlanFlags, plan_task

    return plan_task(PlanFlags(**flags), ClickConsole())


@cli.command()
@p.manifests
@p.environment
@p.connection
@p.targets
@p.prune
@p.auto_approve
@p.allow_delete
@p.max_deletes
@p.parallelism
@p.sync
@p.output_format("text", "json", help="Report format (json is for machines; progress lines still go to stderr).")
@p.reviewed
@p.planned_manifests
@p.max_age
def apply(**flags: Any) -> int:
    """Make PostHog match the manifests, or execute a saved plan (`reconciler apply plan.json`)."""
    from reconciler.commands.tasks import ApplyFlags, apply_task

    if flags["reviewed"] and flags["allow_delete"]:
        raise click.UsageError(
            "--allow-delete cannot be combined with --reviewed: the opt-in is part of a reviewed plan"
        )
    return apply_task(ApplyFlags(**flags), ClickConsole())


@cli.command()
@p.manifests
@p.environment
@p.connection
@p.output_format(
    "text", "markdown", "json", help="json is documented in docs/drift-format.md; markdown fits one issue comment."
)
@p.drift_output
@p.fail_on
def drift(**flags: Any) -> int:
    """Read-only report of differences from the manifests and of source health (exit 0 none, 2 drift, 1 error)."""
    from reconciler.commands.tasks import DriftFlags, drift_task

    return drift_task(DriftFlags(**flags), ClickConsole())


@cli.command(name="import")
@p.environment
@p.connection
@p.select
@p.import_all
@p.import_unmanaged
@p.import_out
@p.force
@p.catalog
def import_(import_all: bool, **flags: Any) -> int:
    """Write manifests from live sources, secrets as secret() placeholders (exit 0, 1 on error)."""
    from reconciler.commands.tasks import ImportFlags, import_task

    if [bool(flags["selects"]), import_all, flags["unmanaged"]].count(True) != 1:
        raise click.UsageError("choose the sources: --select TYPE:PREFIX (repeatable), --all or --unmanaged")
    return import_task(ImportFlags(**flags), ClickConsole())


@cli.group(name="catalog")
def catalog_group() -> None:
    """Keep the source-type catalog in step with a PostHog: pull its wizard into a file, diff it."""


@catalog_group.command(name="pull")
@p.environment
@p.connection
@p.catalog_out
def catalog_pull(**flags: Any) -> int:
    """Write the server's source-type catalog (its wizard) as a file `--catalog FILE` reads (exit 0, 1)."""
    from reconciler.commands.catalog import CatalogPullFlags, catalog_pull_task

    return catalog_pull_task(CatalogPullFlags(**flags), ClickConsole())


@catalog_group.command(name="diff")
@p.environment
@p.connection
@click.argument("file", required=False, type=click.Path(dir_okay=False))
def catalog_diff(**flags: Any) -> int:
    """Show what FILE (default: the server's wizard) adds, removes or changes against the bundled catalog
    (exit 0 same, 2 different, 1 error)."""
    from reconciler.commands.catalog import CatalogDiffFlags, catalog_diff_task

    return catalog_diff_task(CatalogDiffFlags(**flags), ClickConsole())


def top_level_help(width: int) -> str:
    """What `reconciler --help` prints when click wraps help at `width` columns (reconciler/help.txt, which
    entry.py prints without loading click, is this at entry.HELP_WIDTH)."""
    ctx = click.Context(cli, info_name="reconciler", terminal_width=width, **cli.context_settings)
    return cli.get_help(ctx) + "\n"


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
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return ExitCode.ERROR
    except Exception as exc:
        from reconciler.errors import ReconcilerError  # here, not at the top: `--help` never needs it

        if isinstance(exc, ReconcilerError):
            click.echo(f"Error: {exc}", err=True)
            return ExitCode.ERROR
        if debug:
            raise
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc}", err=True)
        click.echo("This is a bug in reconciler; rerun with --debug for the traceback.", err=True)
        return ExitCode.ERROR
    return int(result) if isinstance(result, int) else ExitCode.OK


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run_cli(sys.argv[1:] if argv is None else argv))
