"""What each command imports, checked in a fresh interpreter: the start-up budget of issue 18 ("load only what
the command needs"), so a module-level import that drags a heavy package into `--help`, `validate`, `plan` or
`drift` fails here. Not a timing test: it asserts which modules are loaded, never how long anything took
(the timings are bench/bench_startup.py's, in docs/performance.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from support.emulators import in_process

from reconciler.emulator.testing import Emulator

#: Runs the CLI in-process in a fresh interpreter and prints every module loaded (a None entry — an import
#: blocked on purpose, such as httpx._main — does not count).
PROBE = """
import contextlib, io, json, sys
from reconciler.cli import run_cli
with contextlib.redirect_stdout(io.StringIO()):
    code = run_cli(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(n for n, m in sys.modules.items() if m is not None)}))
"""

#: Never needed by these commands against a remote server: the emulator's stack, the database drivers,
#: httpx's command-line client (click is reconciler's own), rich (apply's progress display only).
NEVER = ("starlette", "uvicorn", "psycopg", "pymysql", "sqlite3", "rich", "pygments", "httpx._main")
#: What validate and --help must not load: nothing that talks HTTP.
NO_HTTP = ("httpx", "httpcore", "h11", "ssl", "reconciler.posthog.client", "reconciler.posthog.session")

MANIFEST = """version: 1
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod_
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
"""


def loaded(args: Sequence[str], env: dict[str, str] | None = None) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, 2), done.stderr
    return set(result["modules"])


def offending(modules: set[str], forbidden: Sequence[str]) -> list[str]:
    """Each forbidden package or module found, itself or any module under it."""
    return sorted(n for n in modules if any(n == f or n.startswith(f + ".") for f in forbidden))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("budget") / "sources.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def remote() -> Iterator[Emulator]:
    """An emulator on a loopback socket: to the CLI child process, a remote PostHog."""
    with in_process() as emu:
        yield emu


def remote_env(emu: Emulator) -> dict[str, str]:
    return {
        "POSTHOG_HOST": emu.base_url,
        "POSTHOG_PROJECT_ID": "1",
        "POSTHOG_PERSONAL_API_KEY": emu.default_key,
        "STRIPE_SECRET_KEY": "sk_test_budget",
    }


def test_help_loads_click_and_nothing_heavy() -> None:
    modules = loaded(["--help"])
    heavy = ("pydantic", "pydantic_core", "yaml", "jinja2", "reconciler.manifest", "reconciler.catalog", "logging")
    assert offending(modules, (*NEVER, *NO_HTTP, *heavy)) == []
    assert "click" in modules


@pytest.mark.parametrize("command", ["plan", "apply", "import", "catalog"])
def test_a_commands_help_loads_neither_its_option_types_nor_the_error_tree(command: str) -> None:
    """Every command's `--help` loads cli.py and cli_params.py; what a run needs (the typed option groups, the
    error tree it reports) loads when the command runs. (The top-level `--help` does not load click at all:
    tests/cli/test_entry.py.)"""
    modules = loaded([command, "--help"])
    assert offending(modules, ("reconciler.commands.options", "reconciler.errors", "dataclasses")) == []
    assert {"click", "reconciler.cli_params"} <= modules


def test_a_command_that_runs_loads_its_option_types(manifest: Path) -> None:
    """The check above can fail: validate builds `ManifestOptions`."""
    assert {"reconciler.commands.options", "reconciler.errors"} <= loaded(["validate", str(manifest)])


def test_validate_loads_no_http_stack_and_no_template_engine(manifest: Path) -> None:
    modules = loaded(["validate", str(manifest)])
    plan_side = ("jinja2", "reconciler.plan", "reconciler.emulator", "reconciler.drift.report")
    assert offending(modules, (*NEVER, *NO_HTTP, *plan_side, "pydantic", "pydantic_core")) == []
    assert {"yaml", "reconciler.manifest.models", "reconciler.manifest.fields"} <= modules


def test_a_template_beyond_secret_and_env_loads_jinja2(tmp_path: Path) -> None:
    """The check above can fail: the same command on a manifest with a loop loads the template engine."""
    path = tmp_path / "loop.yaml"
    path.write_text(MANIFEST.replace("prefix: stripe_prod_", 'prefix: "{% for x in [1] %}stripe_prod_{% endfor %}"'))
    assert "jinja2" in loaded(["validate", str(path)])


@pytest.mark.parametrize("command", [["plan"], ["drift"]])
def test_plan_and_drift_against_a_remote_server_load_only_their_own_code(
    remote: Emulator, manifest: Path, command: list[str]
) -> None:
    modules = loaded([*command, str(manifest)], remote_env(remote))
    unused = (
        "jinja2",
        "pydantic",
        "pydantic_core",
        "reconciler.emulator",
        "reconciler.preflight",
        "reconciler.plan.saved",
    )
    assert offending(modules, (*NEVER, *unused)) == []
    if command == ["plan"]:  # drift's text renderer shares the markdown module's escaping helpers
        assert offending(modules, ("reconciler.plan.render_markdown",)) == []
    assert {"httpx", "reconciler.posthog.models"} <= modules


def test_markdown_output_loads_the_markdown_renderer(remote: Emulator, manifest: Path) -> None:
    modules = loaded(["plan", "--format", "markdown", str(manifest)], remote_env(remote))
    assert "reconciler.plan.render_markdown" in modules
