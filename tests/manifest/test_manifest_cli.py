"""`reconciler validate` and `reconciler schema` end to end (in-process, through run_cli)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sources.yaml"
VALID = Path(__file__).parent / "valid"
CANARY = "canary-secret-5d1c-should-never-print"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_valid_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "validate", str(EXAMPLE), str(VALID)) == (0, "12 sources in 3 files: valid\n", "")


def test_default_path_is_the_manifests_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "manifests").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "manifests" / "sources.yaml")
    (tmp_path / "docker-compose.yaml").write_text("services: {}\n")  # not a manifest: never read
    monkeypatch.chdir(tmp_path)
    assert _run(capsys, "validate") == (0, "4 sources in 1 file: valid\n", "")


def test_no_path_and_no_manifests_directory_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(EXAMPLE, tmp_path / "sources.yaml")
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "validate")
    assert (code, out) == (1, "")
    assert err.startswith("Error: no manifests given: no manifests/ here\n  hint: pass files or directories")


def test_valid_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "validate", "--format", "json", str(EXAMPLE))
    assert code == 0 and err == ""
    body = json.loads(out)
    assert body == {
        "format_version": 1,
        "valid": True,
        "files": [str(EXAMPLE)],
        "sources": [
            {
                "address": "stripe_prod",
                "type": "Stripe",
                "prefix": "stripe_prod",
                "state": "present",
                "file": str(EXAMPLE),
                "line": 11,
            },
            {
                "address": "app_db",
                "type": "Postgres",
                "prefix": "app",
                "state": "present",
                "file": str(EXAMPLE),
                "line": 30,
            },
            {
                "address": "hubspot",
                "type": "Hubspot",
                "prefix": "hubspot",
                "state": "present",
                "file": str(EXAMPLE),
                "line": 58,
            },
            {
                "address": "old_mysql",
                "type": "MySQL",
                "prefix": "legacy",
                "state": "absent",
                "file": str(EXAMPLE),
                "line": 70,
            },
        ],
        "warnings": [],
        "errors": [],
    }


def test_require_secrets_passes_when_all_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", CANARY)
    monkeypatch.setenv("APP_DB_PASSWORD", CANARY)
    assert _run(capsys, "validate", "--require-secrets", str(EXAMPLE))[0] == 0


def test_no_secret_value_in_any_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("STRIPE_SECRET_KEY", "APP_DB_PASSWORD", "SNOWFLAKE_KEY", "ZENDESK_API_KEY", "BQ_PRIVATE_KEY"):
        monkeypatch.setenv(name, CANARY)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nsources:\n  z:\n    type: Zendesk\n    description: \"{{ secret('ZENDESK_API_KEY') }}\"\n"
        "    config:\n      subdomain: \"{{ secret('ZENDESK_API_KEY') }}\"\n"
        "      api_key: \"{{ secret('ZENDESK_API_KEY') | trim }}\"\n      email_address: 1\n"
    )
    outputs = []
    for argv in (
        ["validate", str(EXAMPLE), str(VALID)],
        ["validate", "--format", "json", str(EXAMPLE), str(VALID)],
        ["validate", str(bad)],
        ["validate", "--format", "json", str(bad)],
    ):
        _, out, err = _run(capsys, *argv)
        outputs.append(out + err)
    assert outputs[2].count("\n") > 3
    assert not any(CANARY in text for text in outputs)


def test_catalog_live_without_a_host_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSTHOG_HOST", raising=False)
    code, out, err = _run(capsys, "validate", "--catalog", "live", str(EXAMPLE))
    assert code == 1 and out == ""
    assert err.startswith("Error: no PostHog host configured")


def test_catalog_file_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    code, _, err = _run(capsys, "validate", "--catalog", str(tmp_path / "bad.json"), str(EXAMPLE))
    assert (
        code == 1
        and err
        == f"Error: --catalog {tmp_path / 'bad.json'}: not JSON (Expecting property name "
        "enclosed in double quotes at line 1)\n"
    )
    code, _, err = _run(capsys, "validate", "--catalog", str(tmp_path / "none.json"), str(EXAMPLE))
    assert code == 1 and "no such file" in err


def test_allow_env_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("APP_DB_HOST", "db.example.com")
    code, _, err = _run(capsys, "validate", "--allow-env", "STRIPE_*", str(EXAMPLE))
    assert code == 1
    assert f"{EXAMPLE}:35:13: app_db.config.host: env('APP_DB_HOST') is not allowed" in err
    assert _run(capsys, "validate", "--allow-env", "STRIPE_*", "--allow-env", "APP_DB_*", str(EXAMPLE))[0] == 0


def test_bad_format_option_exits_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "validate", "--format", "yaml", str(EXAMPLE))
    assert code == 1 and "Invalid value for '--format'" in err
