"""cli_params: every option declared once; the `manifests` and `connection` groups hand a command one typed
value; every command that reads manifests or talks to PostHog spells those options the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

from reconciler import cli_params as p
from reconciler.cli import cli
from reconciler.commands.options import Connection, ManifestOptions


def _probe() -> tuple[click.Command, dict[str, Any]]:
    seen: dict[str, Any] = {}

    @click.command()
    @p.manifests
    @p.connection
    @p.prune
    def command(**flags: Any) -> None:
        seen.update(flags)

    return command, seen


def test_groups_hand_the_command_one_typed_value_each() -> None:
    command, seen = _probe()
    argv = ["a.yaml", "b", "--catalog", "live", "--allow-env", "PG_*", "--allow-env", "STRIPE_*"]
    argv += ["--allow-literal-secrets", "--host", "local", "--project", "7", "--api-path", "environments", "--prune"]
    result = CliRunner().invoke(command, argv)
    assert result.exit_code == 0, result.output
    assert seen == {
        "manifests": ManifestOptions(
            paths=(Path("a.yaml"), Path("b")),
            catalog="live",
            allow_env=("PG_*", "STRIPE_*"),
            allow_literal_secrets=True,
        ),
        "connection": Connection(host="local", project="7", api_path="environments"),
        "prune": True,
    }


def test_group_defaults() -> None:
    command, seen = _probe()
    assert CliRunner().invoke(command, []).exit_code == 0
    assert seen == {"manifests": ManifestOptions(), "connection": Connection(), "prune": False}


def test_groups_show_their_options_in_declared_order() -> None:
    command, _ = _probe()
    names = [param.name for param in command.params]
    assert names == [
        "paths",
        "catalog",
        "allow_env",
        "allow_secret",
        "allow_literal_secrets",
        "host",
        "project",
        "api_path",
        "prune",
    ]


def _option(command: str, name: str) -> click.Parameter:
    sub = cli.commands[command]
    return next(param for param in sub.params if param.name == name)


def test_shared_options_are_spelled_once_across_commands() -> None:
    for name in ("catalog", "allow_env", "allow_literal_secrets"):
        spellings = {
            (tuple(_option(c, name).opts), _option(c, name).help) for c in ("validate", "plan", "apply", "drift")
        }
        assert len(spellings) == 1, (name, spellings)
    for name in ("host", "project", "api_path"):
        spellings = {
            (tuple(_option(c, name).opts), _option(c, name).help) for c in ("plan", "apply", "drift", "import")
        }
        assert len(spellings) == 1, (name, spellings)
    assert _option("schema", "catalog").help == _option("import", "catalog").help == _option("plan", "catalog").help
