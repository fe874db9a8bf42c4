"""The pull-request flow through the real CLI against the emulator: a plan made without secret values (as a
pull-request job makes it) and applied later where the values are set.

- a connection-target change (Postgres `host`) is a re-send like a rotation: the saved plan names the variables,
  `--detailed-exitcode` exits 2, `apply plan.json` checks they are set (an empty one counts as unset) before
  its first write, and applies once they are;
- a plan with errors never writes `-o`;
- every error reaches the markdown and JSON outputs with its location and hint (PR comments, CI steps).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import run_cli
from reconciler.plan.render_markdown import escape_markdown

PASSWORD = "pg-CANARY-flow-5521"
MANIFEST = """\
version: 1
sources:
  app_db:
    type: Postgres
    prefix: app
    config:
      host: HOST
      port: 5432
      database: app
      user: reader
      password: "{{ secret('PG_PASSWORD') }}"
      schema: public
    tables:
      customers: {sync: true, sync_type: full_refresh}
"""


@pytest.fixture
def emu(cli_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    emulator = cli_emulator()
    monkeypatch.setenv("NO_COLOR", "1")
    return emulator


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err and "Traceback" not in err
    return code, out, err


def write(tmp_path: Path, host: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(MANIFEST.replace("HOST", host), encoding="utf-8")
    return path


def writes(emu: Any) -> list[str]:
    with emu.control() as control:
        return sorted(r for r in control.get("/stats").json()["by_route"] if not r.startswith("GET "))


def test_a_host_change_planned_without_the_password_is_applied_where_it_is_set(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_PASSWORD", PASSWORD)
    assert cli(capsys, "apply", "--auto-approve", str(write(tmp_path, "db.example.com")))[0] == 0
    monkeypatch.delenv("PG_PASSWORD")  # the pull-request job
    saved = tmp_path / "plan.json"
    code, out, err = cli(
        capsys, "plan", "--detailed-exitcode", "-o", str(saved), str(write(tmp_path, "db2.example.com"))
    )
    assert code == 2, err
    assert "~ password = (secret: will be re-sent, value not set here)" in out and "Error" not in err
    (change,) = [c for c in json.loads(saved.read_text())["changes"] if c["action"] != "no-op"]
    assert change["secrets"] == "missing" and change["steps"][0]["changes"]["job_inputs"]["password"] == {
        "secret": "PG_PASSWORD"
    }
    with emu.control() as control:
        control.post("/stats/reset").raise_for_status()
    # The apply job without the variable, then with it empty: refused before any write, naming it.
    for value in (None, ""):
        if value is not None:
            monkeypatch.setenv("PG_PASSWORD", value)
        code, _, err = cli(capsys, "apply", "--auto-approve", str(saved))
        assert code == 1 and "secret values needed by this apply are not set: PG_PASSWORD" in err
        assert writes(emu) == []
    monkeypatch.setenv("PG_PASSWORD", PASSWORD)
    code, out, err = cli(capsys, "apply", "--auto-approve", str(saved))
    assert code == 0, out + err
    stored = emu.store.get_source(1, change["live_id"])
    assert (stored.job_inputs["host"], stored.job_inputs["password"]) == ("db2.example.com", PASSWORD)
    assert cli(capsys, "plan", "--detailed-exitcode", str(write(tmp_path, "db2.example.com")))[0] == 0


def test_apply_from_manifests_checks_an_empty_secret_before_writing(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_PASSWORD", PASSWORD)
    assert cli(capsys, "apply", "--auto-approve", str(write(tmp_path, "db.example.com")))[0] == 0
    monkeypatch.setenv("PG_PASSWORD", "")  # PostHog would ignore an empty secret on PATCH: never send one
    with emu.control() as control:
        control.post("/stats/reset").raise_for_status()
    code, _, err = cli(capsys, "apply", "--auto-approve", str(write(tmp_path, "db3.example.com")))
    assert code == 1 and "PG_PASSWORD" in err and "sources.yaml:11" in err, err
    assert writes(emu) == []


def test_a_plan_with_errors_writes_no_file(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write(tmp_path, "db.example.com").read_text() + "  extra:\n    type: Postgres\n    prefix: app\n"
    (tmp_path / "sources.yaml").write_text(manifest.replace("customers: {", "customers: {sync: true, bogus: 1, "))
    saved = tmp_path / "plan.json"
    code, _, err = cli(capsys, "plan", "-o", str(saved), str(tmp_path / "sources.yaml"))
    assert code == 1 and not saved.exists()
    # A plan that is made but has errors (a protected source would be replaced) is not saved either.
    protected = (
        write(tmp_path, "db.example.com")
        .read_text()
        .replace("    prefix: app\n", "    prefix: app\n    protect: true\n")
    )
    (tmp_path / "sources.yaml").write_text(protected)
    monkeypatch.setenv("PG_PASSWORD", PASSWORD)
    assert cli(capsys, "apply", "--auto-approve", str(tmp_path / "sources.yaml"))[0] == 0
    (tmp_path / "sources.yaml").write_text(protected.replace("prefix: app", "prefix: app2"))
    code, out, err = cli(capsys, "plan", "-o", str(saved), "--format", "json", str(tmp_path / "sources.yaml"))
    assert code == 1 and [e["reference"] for e in json.loads(out)["errors"]] == ["protected"]
    assert not saved.exists() and "Did not save the plan" in err


def test_every_kind_of_error_reaches_markdown_and_json(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "sources.yaml"
    manifest.write_text(MANIFEST.replace("HOST", "db").replace("schema: public", "schema: public\n      hots: x"))
    code, out, err = cli(capsys, "plan", "--format", "markdown", str(manifest))
    assert code == 1 and out.startswith("### reconciler plan\n") and "**1 error: no plan was made**" in out
    assert f"<code>{escape_markdown(str(manifest))}:13:7</code>" in out and "hots" in out and "did you mean" in out
    assert "hots" in err  # stderr keeps the plain message
    code, out, _ = cli(capsys, "plan", "--format", "json", str(manifest))
    (error,) = json.loads(out)["errors"]
    assert (error["file"], error["line"], error["column"], error["address"], error["reference"]) == (
        str(manifest),
        13,
        7,
        "app_db",
        "unknown-field",
    )
    assert set(error) == {"file", "line", "column", "address", "field", "message", "hint", "reference"}
    # PostHog refusing the key, and PostHog unreachable: no file, the message and its hint.
    write(tmp_path, "db.example.com")
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "phx_wrong")
    code, out, _ = cli(capsys, "plan", "--format", "markdown", str(manifest))
    assert code == 1 and "no plan was made" in out and "permission-denied" in out, out
    monkeypatch.setenv("POSTHOG_HOST", "http://127.0.0.1:9")
    code, out, _ = cli(capsys, "plan", "--format", "json", str(manifest))
    (error,) = json.loads(out)["errors"]
    assert code == 1 and error["file"] is None and error["reference"].startswith("api-")
    monkeypatch.delenv("POSTHOG_HOST")
    code, out, _ = cli(capsys, "plan", "--format", "markdown", str(manifest))
    assert code == 1 and "no plan was made" in out and "<code>no-host</code>" in out and "set POSTHOG_HOST;" in out
