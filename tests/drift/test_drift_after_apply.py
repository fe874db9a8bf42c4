"""Plan and drift agree: right after any successful apply, drift of the same manifests exits 0 — whatever the
unlisted-table policy, after a table was added (refresh_schemas makes PostHog know every upstream table,
disabled), with revenue settings and descriptions. Tables PostHog knows but does not sync are reported as
`unsynced` and fail the check only when asked (`--fail-on unsynced` or `all`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import run_cli

STRIPE = """\
version: 1
defaults:
  unlisted_tables: POLICY
sources:
  stripe:
    type: Stripe
    prefix: stripe
    description: Billing
    config:
      auth_method: {selection: api_key, stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"}
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
EXTRA
    revenue_analytics: {enabled: true, include_invoiceless_charges: false}
  crm:
    type: Hubspot
    prefix: crm
    config: {hubspot_integration_id: 4211}
    tables:
      contacts: {sync: true, sync_type: full_refresh}
"""


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert "CANARY" not in out + err
    return code, out, err


@pytest.mark.parametrize("policy", ["report", "ignore", "disable"])
def test_drift_is_clean_after_every_successful_apply(
    policy: str, cli_emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_emulator()
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_CANARYafterapply")
    manifest = tmp_path / "sources.yaml"
    steps = [
        "",  # create
        "      Charge: {sync: true, sync_type: full_refresh}",  # a table PostHog does not know yet: refresh first
        "      Charge: {sync: false}\n      Invoice: {sync: true, sync_type: full_refresh, frequency: 1hour}",
    ]
    for extra in steps:
        manifest.write_text(STRIPE.replace("POLICY", policy).replace("EXTRA\n", extra + "\n" if extra else ""))
        code, out, err = cli(capsys, "apply", "--auto-approve", str(manifest))
        assert code == 0, out + err
        code, out, err = cli(capsys, "drift", "--format", "json", str(manifest))
        report = json.loads(out)
        assert code == 0, out + err
        assert report["drift"] is False and report["failed"] is False
        assert {f["category"] for s in report["sources"] for f in s["findings"]} <= {"unsynced"}
        assert cli(capsys, "plan", "--detailed-exitcode", str(manifest))[0] == 0  # plan agrees: nothing to do
    unsynced = report["summary"]["unsynced"]
    if policy == "report":
        assert unsynced > 0  # Stripe's other tables, known since the refresh, not syncing: reported
        code, out, _ = cli(capsys, "drift", "--fail-on", "unsynced", str(manifest))
        assert code == 2 and "unsynced" in out
        assert cli(capsys, "drift", "--fail-on", "all", str(manifest))[0] == 2
    else:
        assert unsynced == 0  # ignore: not reported; disable: exactly what the policy asks for
