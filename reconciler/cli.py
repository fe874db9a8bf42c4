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
from typing import TYPE_CHECKING

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


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8010, show_default=True, type=int, help="Port to listen on (0 = any free port).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite file to persist to (default: in memory, lost on exit).")
@click.option("--keys", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="YAML list of API keys: {key, teams, scopes}. Default: phx_local, team 1, all scopes.")
@click.option("--rate-limit", default=None, metavar="SPEC",
              help="Throttle per key, e.g. '480/minute,4800/hour' (PostHog Cloud's limits). Default: off.")
@click.option("--control", is_flag=True, help="Enable the /_emulator/ control API (faults, stats).")
@click.option("--cloud-host-checks", is_flag=True,
              help="Refuse internal database hosts as PostHog Cloud does (off: local databases work).")
def serve(
    host: str,
    port: int,
    db: Path | None,
    keys: Path | None,
    rate_limit: str | None,
    control: bool,
    cloud_host_checks: bool,
) -> None:
    """Run the local PostHog-compatible API (the emulator)."""
    from reconciler.emulator.server import ServeOptions, run_server

    run_server(ServeOptions(host=host, port=port, db=db, keys=keys, rate_limit=rate_limit, control=control,
                            cloud_host_checks=cloud_host_checks))


def _live_catalog() -> Catalog:
    """Hook for `--catalog live`: the server's `wizard` (reference/posthog-api.md §8.11) as a Catalog.

    Not wired yet: needs the API client and connection settings. Replace this body to enable it.
    """
    from reconciler.manifest import LiveCatalogUnavailable

    raise LiveCatalogUnavailable(
        "--catalog live is not available yet in this build", hint="use --catalog bundled or --catalog WIZARD.json"
    )


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format; json is documented in docs/manifest.md.")
@click.option("--catalog", "catalog_spec", default="bundled", show_default=True, metavar="bundled|live|PATH",
              help="Source-type catalog: the bundled one, the server's (live), or a wizard JSON file.")
@click.option("--allow-env", "allow_env", multiple=True, metavar="PATTERN",
              help="Only let env()/secret() read variables matching PATTERN (fnmatch; repeatable).")
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
        click.echo(f"{count} source{'s' if count != 1 else ''} in {len(report.files)} "
                   f"file{'s' if len(report.files) != 1 else ''}: valid")
    else:
        for error in report.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(report.errors)} error{'s' if len(report.errors) != 1 else ''}", err=True)
    return ExitCode.OK if report.ok else ExitCode.ERROR


@cli.command()
@click.option("--catalog", "catalog_spec", default="bundled", show_default=True, metavar="bundled|live|PATH",
              help="Source-type catalog whose types get a typed config schema.")
def schema(catalog_spec: str) -> int:
    """Print the manifest's JSON Schema (draft 2020-12), e.g. for yaml-language-server."""
    from reconciler.manifest import manifest_schema, resolve_catalog

    click.echo(json.dumps(manifest_schema(resolve_catalog(catalog_spec, live=_live_catalog)), indent=2))
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
