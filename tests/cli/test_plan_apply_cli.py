"""`reconciler plan` and `apply` end to end: the CLI in-process, the emulator over real HTTP."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import run_cli

CANARY = "sk_test_CANARYcli7781"
MANIFEST = """\
version: 1
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod
    description: Production Stripe
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
      Charge: {sync: true, sync_type: append, incremental_field: created, incremental_field_type: integer}
"""


@pytest.fixture
def emu(cli_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("STRIPE_SECRET_KEY", CANARY)
    return cli_emulator(control=False)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(MANIFEST)
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    assert "Traceback" not in err
    return code, out, err


def test_plan_then_apply_then_no_changes(emu: Any, manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "plan", str(manifest))
    assert code == 0
    assert "+ create" in out and "stripe_prod" in out and "Plan: 1 to create" in out
    assert cli(capsys, "plan", "--detailed-exitcode", str(manifest))[0] == 2
    code, out, err = cli(capsys, "apply", "--auto-approve", str(manifest))
    assert code == 0, out + err
    assert "Apply complete" in out and "stripe_prod: create (Stripe, prefix stripe_prod):" in err
    # The plan is printed before the run (the CI log is the audit trail), then the report.
    assert out.index("Plan: 1 to create") < out.index("Apply complete")
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode", str(manifest))
    assert code == 0 and "No changes" in out
    code, out, _ = cli(capsys, "apply", "--auto-approve", str(manifest))
    assert code == 0 and "No changes" in out


def test_plan_shows_api_steps_and_ids_only_with_verbose(
    emu: Any, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "apply", "--auto-approve", str(manifest))[0] == 0
    manifest.write_text(MANIFEST.replace("frequency: 24hour", "frequency: 1hour"))
    code, out, _ = cli(capsys, "plan", "--format", "json", str(manifest))
    (change,) = json.loads(out)["changes"]
    source_id = change["live_id"]
    assert [s["kind"] for s in change["steps"]] == ["patch_schemas"] and source_id in out
    code, out, _ = cli(capsys, "plan", str(manifest))
    assert code == 0 and '~ frequency = "24hour" → "1hour"' in out
    assert source_id not in out and "steps:" not in out and "sync_frequency" not in out
    code, out, _ = cli(capsys, "plan", "--verbose", str(manifest))
    assert f"1. patch_schemas [{source_id}]: Customer: sync_frequency" in out


def test_json_plan_shape(emu: Any, manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "plan", "--format", "json", str(manifest))
    document = json.loads(out)
    assert code == 0 and document["format_version"] == 1
    assert document["target"] == {"host": emu.base_url, "project": "1"}
    [change] = document["changes"]
    assert change["action"] == "create" and change["address"] == "stripe_prod"
    assert document["summary"]["create"] == 1


def test_saved_plan_applies_and_a_stale_one_is_refused(
    emu: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "plan.json"
    assert cli(capsys, "plan", "-o", str(saved), str(manifest))[0] == 0
    assert CANARY not in saved.read_text()
    code, out, err = cli(capsys, "apply", "--auto-approve", str(saved))
    assert code == 0, out + err
    # Plan an update, then change the source behind the plan's back: apply must refuse.
    manifest.write_text(MANIFEST.replace("Production Stripe", "Stripe, production"))
    assert cli(capsys, "plan", "-o", str(saved), str(manifest))[0] == 0
    with httpx.Client(base_url=f"{emu.base_url}/api/projects/1", headers={"Authorization": "Bearer phx_local"}) as h:
        [source] = h.get("/external_data_sources/").json()["results"]
        h.patch(f"/external_data_sources/{source['id']}/", json={"description": "edited in the UI"}).raise_for_status()
    code, _, err = cli(capsys, "apply", "--auto-approve", str(saved))
    assert code == 1 and "stale" in err and "stripe_prod" in err


def test_apply_without_a_terminal_needs_auto_approve(
    emu: Any, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "apply", str(manifest))
    assert code == 1 and "--auto-approve" in err
    with httpx.Client(base_url=f"{emu.base_url}/api/projects/1", headers={"Authorization": "Bearer phx_local"}) as h:
        assert h.get("/external_data_sources/").json()["count"] == 0


def test_delete_needs_allow_delete_and_respects_max_deletes(
    emu: Any, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two = MANIFEST + textwrap.indent(
        textwrap.dedent("""\
        zd:
          type: Zendesk
          config: {subdomain: acme, email_address: a@acme.test, api_key: "{{ secret('STRIPE_SECRET_KEY') }}"}
          tables:
            tickets: {sync: true, sync_type: full_refresh}
        """),
        "  ",
    )
    manifest.write_text(two)
    assert cli(capsys, "apply", "--auto-approve", str(manifest))[0] == 0
    gone = two.replace("    type: Stripe\n", "    type: Stripe\n    state: absent\n").replace(
        "    type: Zendesk\n", "    type: Zendesk\n    state: absent\n"
    )
    manifest.write_text(gone)
    code, _, err = cli(capsys, "apply", "--auto-approve", str(manifest))
    assert code == 1 and "--allow-delete" in err and "nothing was changed" in err
    code, _, err = cli(capsys, "apply", "--auto-approve", "--allow-delete", str(manifest))
    assert code == 1 and "--max-deletes 1" in err
    code, out, err = cli(capsys, "apply", "--auto-approve", "--allow-delete", "--max-deletes", "2", str(manifest))
    assert code == 0, out + err
    with httpx.Client(base_url=f"{emu.base_url}/api/projects/1", headers={"Authorization": "Bearer phx_local"}) as h:
        assert h.get("/external_data_sources/").json()["count"] == 0


def test_no_host_is_a_clear_error(
    manifest: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSTHOG_HOST", raising=False)
    code, _, err = cli(capsys, "plan", str(manifest))
    assert code == 1 and "no PostHog host configured" in err


def test_catalog_live_reads_the_wizard(emu: Any, manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "validate", "--catalog", "live", str(manifest))
    assert code == 0, err
    assert "valid" in out


def test_apply_names_missing_secrets_with_their_location(
    emu: Any, manifest: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    assert cli(capsys, "plan", str(manifest))[0] == 0  # plan works without secret values
    code, _, err = cli(capsys, "apply", "--auto-approve", str(manifest))
    assert code == 1
    assert f"{manifest}:10:28: stripe_prod.config.auth_method.stripe_secret_key" in err
    assert "secret 'STRIPE_SECRET_KEY' is not set" in err
