"""Command-line entry point: parse options, call one function per command, map outcomes to exit codes.

Thin by design: no business logic here. Heavy modules (the emulator, uvicorn) are imported lazily
inside their commands so `reconciler --help` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError

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
def serve(host: str, port: int, db: Path | None, keys: Path | None, rate_limit: str | None, control: bool) -> None:
    """Run the local PostHog-compatible API (the emulator)."""
    from reconciler.emulator.server import ServeOptions, run_server

    run_server(ServeOptions(host=host, port=port, db=db, keys=keys, rate_limit=rate_limit, control=control))


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
