"""`reconciler drift` end to end: the CLI in-process, the emulator (with its control API) over real HTTP.

Drift is provoked the ways it happens for real: UI-style edits through the PostHog API, schemas failed and
upstream tables added through the emulator's control API. Drift must stay read-only: the emulator's own
request statistics must show nothing but GETs.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import run_cli
from reconciler.commands.common import ManifestOptions
from reconciler.commands.drift import DriftRequest, run_drift
from reconciler.emulator.testing import Emulator
from reconciler.settings import resolve_settings

CANARY = "sk_test_CANARYdriftcli5521"
ZENDESK_CANARY = "zd-CANARY-drift-5522"
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
      stripe_account_id: acct_1
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
      Charge: {sync: true, sync_type: append, incremental_field: created, incremental_field_type: integer}
"""
MISSING = """\
  stripe_eu:
    type: Stripe
    prefix: stripe_eu
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_EU_KEY') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh}
"""


@pytest.fixture
def emu(cli_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("STRIPE_SECRET_KEY", CANARY)
    monkeypatch.delenv("STRIPE_EU_KEY", raising=False)
    return cli_emulator()  # type: ignore[no-any-return]


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(MANIFEST)
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert CANARY not in out + err and ZENDESK_CANARY not in out + err
    assert "Traceback" not in err
    return code, out, err


def applied(emu: Emulator, manifest: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = cli(capsys, "apply", "--auto-approve", str(manifest))
    assert code == 0, out + err
    with emu.client() as api:
        [source] = api.get("/external_data_sources/").json()["results"]
    return dict(source)


def schema_id(source: dict[str, Any], name: str) -> str:
    return str(next(s["id"] for s in source["schemas"] if s["name"] == name))


def stats(emu: Emulator) -> dict[str, int]:
    with emu.control() as control:
        return dict(control.get("/stats").json()["by_route"])


def reset_stats(emu: Emulator) -> None:
    with emu.control() as control:
        control.post("/stats/reset").raise_for_status()


def test_no_drift_right_after_apply(emu: Emulator, manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    applied(emu, manifest, capsys)
    code, out, _ = cli(capsys, "drift", str(manifest))
    assert code == 0
    assert out.endswith("No drift: 1 declared source(s) match PostHog, 1 live source(s) checked.\n")


def test_every_category_through_the_api_and_the_control_api(
    emu: Emulator, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = applied(emu, manifest, capsys)
    manifest.write_text(MANIFEST + MISSING)
    with emu.client() as api, emu.control() as control:
        # UI edits: a readable config field and a table setting.
        api.patch(
            f"/external_data_sources/{source['id']}/", json={"job_inputs": {"stripe_account_id": "acct_UI"}}
        ).raise_for_status()
        api.patch(
            f"/external_data_schemas/{schema_id(source, 'Customer')}/", json={"sync_frequency": "1hour"}
        ).raise_for_status()
        # A source made in the UI: unmanaged.
        api.post(
            "/external_data_sources/",
            json={
                "source_type": "Zendesk",
                "prefix": "support",
                "created_via": "web",
                "payload": {
                    "subdomain": "acme",
                    "api_key": ZENDESK_CANARY,
                    "email_address": "ops@acme.test",
                    "schemas": [{"name": "tickets", "should_sync": False}],
                },
            },
        ).raise_for_status()
        # A sync failing, with the secret in its error text (control API).
        control.patch(
            f"/schemas/{schema_id(source, 'Charge')}",
            json={
                "status": "Failed",
                "latest_error": f"Invalid API Key provided: {CANARY}",
            },
        ).raise_for_status()
        # A table appearing upstream, picked up by PostHog's discovery (control API, then refresh_schemas).
        tables = control.get("/upstreams/Stripe").json()["tables"]
        tables.append({"name": "Quote", "columns": [{"name": "id", "type": "string", "nullable": False}]})
        control.put("/upstreams/Stripe", json={"tables": tables}).raise_for_status()
        api.post(f"/external_data_sources/{source['id']}/refresh_schemas/").raise_for_status()
    reset_stats(emu)

    code, out, err = cli(capsys, "drift", "--format", "json", str(manifest))
    assert code == 2, err
    # Read-only: nothing but GETs reached the server.
    assert stats(emu) == {"GET /api/projects/{project_id}/external_data_sources/": 1}
    report = json.loads(out)
    assert report["format_version"] == 1 and report["drift"] is True and report["failed"] is True
    assert report["summary"] == {
        "changed": 1,
        "missing": 1,
        "unmanaged": 1,
        "tables": report["summary"]["tables"],
        "unsynced": report["summary"]["unsynced"],
        "health": 2,
        "sources_declared": 2,
        "sources_live": 2,
    }
    by_address = {s["address"]: s for s in report["sources"]}
    assert list(by_address) == ["stripe_eu", "stripe_prod", None]
    assert [f["kind"] for f in by_address["stripe_eu"]["findings"]] == ["not-in-posthog"]
    prod = by_address["stripe_prod"]["findings"]
    changed = [f for f in prod if f["category"] == "changed"]
    assert [(f["path"], f["manifest"], f["posthog"], f["likely_changed_by"]) for f in changed] == [
        ("config.stripe_account_id", "acct_1", "acct_UI", "unknown")
    ]
    settings = [f for f in prod if f["kind"] == "settings"]
    assert [(f["table"], f["path"], f["manifest"], f["posthog"]) for f in settings] == [
        ("Customer", "tables.Customer.sync_frequency", "24hour", "1hour")
    ]
    discovered = sorted(f["table"] for f in prod if f["kind"] == "discovered")
    assert "Quote" in discovered
    assert all(f["category"] == "unsynced" for f in prod if f["kind"] == "discovered")  # none of them syncs
    assert (report["summary"]["tables"], report["summary"]["unsynced"]) == (1, len(discovered))
    health = [f for f in prod if f["category"] == "health"]
    assert [(f["kind"], f["table"], f["status"]) for f in health] == [
        ("source-status", None, "Failed"),
        ("table-status", "Charge", "Failed"),
    ]
    assert health[1]["latest_error"] == "Invalid API Key provided: [redacted]"
    [unmanaged] = by_address[None]["findings"]
    assert unmanaged["hint"] == "reconciler import --select Zendesk:support"

    # The same report as text and as markdown.
    code, out, _ = cli(capsys, "drift", str(manifest))
    assert code == 2
    assert (
        "  ~ changed   config.stripe_account_id: 'acct_1' in the manifest, 'acct_UI' in PostHog (who changed "
        "it: unknown)\n" in out
    )
    assert "  ! health    table Charge status is Failed: Invalid API Key provided: [redacted]\n" in out
    assert (
        "  ? unmanaged in PostHog, not declared in any manifest; import it with: reconciler import --select "
        "Zendesk:support\n" in out
    )
    assert "  - missing   declared in the manifests, not in PostHog\n" in out
    report_file = tmp_path / "drift.md"
    code, out, err = cli(capsys, "drift", "--format", "markdown", "--output", str(report_file), str(manifest))
    assert code == 2 and out == "" and f"Wrote the drift report to {report_file}" in err
    markdown = report_file.read_text()
    assert markdown.startswith("### reconciler drift\n")
    assert "| Changed | Missing | Unmanaged | Tables | Unsynced | Health |" in markdown
    assert CANARY not in markdown and len(markdown) <= 65_536
    assert stats(emu)["GET /api/projects/{project_id}/external_data_sources/"] == 3
    assert all(key.startswith("GET ") for key in stats(emu))


def test_latest_error_is_redacted_of_the_manifests_secret_values(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "zendesk.yaml"
    manifest.write_text("""\
version: 1
sources:
  support:
    type: Zendesk
    config: {subdomain: acme, email_address: ops@acme.test, api_key: "{{ secret('ZD_KEY') }}"}
    tables:
      tickets: {sync: true, sync_type: full_refresh}
""")
    monkeypatch.setenv("ZD_KEY", ZENDESK_CANARY)
    source = applied(emu, manifest, capsys)
    with emu.control() as control:
        control.patch(
            f"/schemas/{schema_id(source, 'tickets')}",
            json={
                "status": "Billing limits",
                "latest_error": f"upstream said: bad key {ZENDESK_CANARY}!",
            },
        ).raise_for_status()
    code, out, _ = cli(capsys, "drift", "--format", "json", str(manifest))
    findings = json.loads(out)["sources"][0]["findings"]
    assert code == 2
    assert [(f["kind"], f["status"], f["latest_error"]) for f in findings] == [
        ("source-status", "Billing limits", "upstream said: bad key [redacted]!"),
        ("table-status", "Billing limits", "upstream said: bad key [redacted]!"),
    ]


def test_fail_on_selects_the_categories_that_exit_2(
    emu: Emulator, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = applied(emu, manifest, capsys)
    with emu.client() as api:
        api.patch(
            f"/external_data_schemas/{schema_id(source, 'Customer')}/", json={"sync_frequency": "12hour"}
        ).raise_for_status()
    assert cli(capsys, "drift", "--fail-on", "health,changed", str(manifest))[0] == 0
    assert cli(capsys, "drift", "--fail-on", "tables", str(manifest))[0] == 2
    code, out, _ = cli(capsys, "drift", "--format", "json", "--fail-on", "health", str(manifest))
    report = json.loads(out)
    assert code == 0 and report["drift"] is True and report["failed"] is False and report["fail_on"] == ["health"]
    code, _, err = cli(capsys, "drift", "--fail-on", "helth", str(manifest))
    assert code == 1 and "unknown drift category 'helth'" in err


def test_stale_sync_is_health(emu: Emulator, manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = applied(emu, manifest, capsys)
    with emu.client() as api:
        api.post(f"/external_data_sources/{source['id']}/reload/").raise_for_status()
        synced = {
            s["name"]: s["last_synced_at"] for s in api.get(f"/external_data_sources/{source['id']}/").json()["schemas"]
        }
    assert synced["Customer"] is not None
    settings = resolve_settings(os.environ)
    request = DriftRequest(ManifestOptions(paths=(manifest,)))
    at = datetime.fromisoformat(synced["Customer"].replace("Z", "+00:00"))
    fresh = run_drift(settings, request, os.environ, now=at + timedelta(hours=11))
    assert not fresh.report.found()
    charge = run_drift(settings, request, os.environ, now=at + timedelta(hours=13))
    assert [(f.kind, f.table) for f in charge.report.findings()] == [("stale", "Charge")]
    stale = run_drift(settings, request, os.environ, now=at + timedelta(hours=49))
    # Customer syncs every 24 hours, Charge every 6 (PostHog's default): both are stale after 49 hours.
    assert [(f.kind, f.table, f.frequency) for f in stale.report.findings()] == [
        ("stale", "Charge", "6hour"),
        ("stale", "Customer", "24hour"),
    ]
    assert stale.failed and stale.requests == 1
    assert datetime.now(UTC) > at


def test_drift_errors_exit_1(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsources:\n  x:\n    type: Strip\n")
    code, _, err = cli(capsys, "drift", str(bad))
    assert code == 1 and "Strip" in err
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "phx_wrong")
    (tmp_path / "bad.yaml").unlink()
    (tmp_path / "ok.yaml").write_text(MANIFEST)
    code, _, err = cli(capsys, "drift", str(tmp_path))
    assert code == 1 and "Error:" in err
    with httpx.Client(base_url=emu.base_url) as plain:
        assert plain.get("/_emulator/stats").status_code == 200
