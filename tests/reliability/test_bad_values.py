"""The five inputs that reached "unexpected … This is a bug" (issue 17, item 8) each end in one clear message,
exit 1, no traceback and no API write: a template that outputs reconciler's internal secret-slot marker, a
5000-digit number, bytes that are not UTF-8 in a secret or in the API key, and a deeply nested JSON answer.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_kit import Rule, deep_json, hostile_server
from reliability_kit import ProjectApi

from reconciler.cli import run_cli
from reconciler.emulator.testing import Emulator, running_emulator

SOURCE = """\
version: 1
sources:
  db:
    type: Postgres
    prefix: db
    description: {description}
    config:
      host: db.example.com
      port: {port}
      database: app
      user: reader
      password: "{{{{ secret('PG_PASSWORD') }}}}"
      schema: public
    tables:
      customers: {{sync: true, sync_type: full_refresh}}
"""


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running_emulator(control=True) as emulator:
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Iterator[ProjectApi]:
    project = ProjectApi(emu.base_url, 1, key="phx_local")
    project.control("POST", "/stats/reset")
    yield project
    project.close()


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(list(argv))
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text and "This is a bug" not in text, text
    return code, err.getvalue()


@pytest.fixture
def workdir(tmp_path: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name, value in emu.cli_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PG_PASSWORD", "pg-password")
    return tmp_path


COMMANDS = [("validate", "--require-secrets"), ("plan",), ("apply", "--auto-approve")]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    ("description", "port", "message"),
    [
        ("\"{{ '\\\\x00S0\\\\x00' }}\"", "5432", "6:18: db.description: a template may not output NUL characters"),
        ("\"{{ 'a\\\\x00b' }}\"", "5432", "6:18: db.description: a template may not output NUL characters"),
        ("plain", "9" * 5000, "9:13: db.config.port: number with 5000 characters is too long"),
    ],
    ids=["slot-marker", "nul", "5000-digits"],
)
def test_bad_manifest_values_are_one_located_error(
    command: tuple[str, ...], description: str, port: str, message: str, workdir: Path, api: ProjectApi
) -> None:
    (workdir / "m.yaml").write_text(SOURCE.format(description=description, port=port))
    code, err = run(*command, "m.yaml")
    assert code == 1 and f"m.yaml:{message}" in err, err
    assert api.writes() == {}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_secret_that_is_not_utf8_is_a_located_error_and_never_sent(
    command: tuple[str, ...], workdir: Path, api: ProjectApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_PASSWORD", "pg-\udcff-password")  # os.environ's form of the byte 0xff
    (workdir / "m.yaml").write_text(SOURCE.format(description="plain", port="5432"))
    code, err = run(*command, "m.yaml")
    assert code == 1
    assert "m.yaml:12:17: db.config.password: environment variable 'PG_PASSWORD' holds bytes that are not UTF-8" in err
    assert "pg-" not in err
    assert api.writes() == {}


@pytest.mark.parametrize("command", ["plan", "drift", "apply", "import"])
def test_an_api_key_that_is_not_utf8_is_refused_without_showing_it(
    command: str, workdir: Path, api: ProjectApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "phx_KEYPART\udcffKEYEND")
    (workdir / "m.yaml").write_text(SOURCE.format(description="plain", port="5432"))
    argv = {"plan": ["plan", "m.yaml"], "drift": ["drift", "m.yaml"], "apply": ["apply", "--auto-approve", "m.yaml"]}
    code, err = run(*argv.get(command, ["import", "--all"]))
    assert code == 1 and "POSTHOG_PERSONAL_API_KEY contains a non-ASCII character (or bytes that are not UTF-8)" in err
    assert "KEYPART" not in err and "KEYEND" not in err


@pytest.mark.parametrize("command", ["plan", "drift", "import"])
def test_a_deeply_nested_answer_is_a_clear_error(
    command: str, workdir: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "m.yaml").write_text(SOURCE.format(description="plain", port="5432"))
    with hostile_server(Rule("GET", r"/external_data_sources/$", deep_json(200_000)), upstream=emu.base_url) as server:
        monkeypatch.setenv("POSTHOG_HOST", server.url)
        code, err = run(*([command, "m.yaml"] if command != "import" else ["import", "--all"]))
    assert code == 1 and "the server answered with JSON nested too deeply to read" in err, err
