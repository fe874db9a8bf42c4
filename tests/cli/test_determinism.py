"""Every command's output is a function of its inputs: byte-identical across hash seeds (DESIGN.md
"Determinism"). Each run is a fresh process with its own PYTHONHASHSEED (1..5) — sets, frozensets and dict
views built from them iterate in a different order in each — and the same inputs: a copy of one PostHog state
(`--host local`, so the host reads `local`, and the same source ids), the same manifests, and the clock fixed
through SOURCE_DATE_EPOCH. The commands run in-process inside that child (run_cli), so one child per seed
covers them all: validate, schema, plan in each format and saved, apply (report text and JSON), drift in each
format, import, and the generated sources reference.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import run_cli

#: The child: run every command of COMMANDS with run_cli, capturing stdout, and print the outputs as JSON.
DRIVER = r"""
import contextlib, io, json, os, sys
from pathlib import Path
from reconciler.cli import run_cli
from reconciler.docgen import render_sources_doc
from reconciler.catalog import load_catalog

outputs = {}
for name, argv, files in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(argv)
    outputs[name] = {"code": code, "stdout": out.getvalue(),
                     "files": {f: Path(f).read_text(encoding="utf-8") for f in files if Path(f).exists()}}
    if code not in (0, 2) or name.startswith("apply"):
        outputs[name]["stderr"] = err.getvalue()
outputs["docgen"] = {"code": 0, "stdout": render_sources_doc(load_catalog()), "files": {}}
print(json.dumps(outputs))
"""

BASE = """\
version: 1
defaults:
  unlisted_tables: report
sources:
  stripe:
    type: Stripe
    prefix: stripe
    description: Billing
    secrets_version: "1"
    config:
      auth_method: {selection: api_key, stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"}
      stripe_account_id: acct_1
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
      Charge: {sync: true, sync_type: incremental, incremental_field: created, incremental_field_type: integer}
      Invoice: {sync: false}
    revenue_analytics: {enabled: true, include_invoiceless_charges: false}
  hubspot:
    type: Hubspot
    prefix: crm
    config: {hubspot_integration_id: 4211}
    tables:
      contacts: {sync: true, sync_type: full_refresh, frequency: 12hour}
      companies: {sync: true, sync_type: full_refresh}
  old:
    type: Zendesk
    prefix: zd
    config: {subdomain: acme, api_key: "{{ secret('ZD_KEY') }}", email_address: ops@example.com}
    tables:
      tickets: {sync: true, sync_type: full_refresh}
"""


def changed() -> str:
    """Updates touching several table settings at once (the ones a frozenset used to order), a create, a delete
    and a secrets_version bump."""
    text = BASE.replace(
        "Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}",
        "Customer: {sync: true, sync_type: incremental, incremental_field: created, incremental_field_type: integer, "
        "frequency: 6hour, sync_time_of_day: '03:30:00'}",
    )
    text = text.replace('secrets_version: "1"', 'secrets_version: "2"').replace(
        "Invoice: {sync: false}", "Invoice: {sync: true, sync_type: full_refresh, frequency: 1hour}"
    )
    text = text.replace(
        "contacts: {sync: true, sync_type: full_refresh, frequency: 12hour}",
        "contacts: {sync: true, sync_type: full_refresh, frequency: 1hour, sync_time_of_day: '01:00:00'}",
    )
    text = text.replace("revenue_analytics: {enabled: true, include_invoiceless_charges: false}",
                        "revenue_analytics: {enabled: false, include_invoiceless_charges: true}")  # fmt: skip
    old = text.index("  old:\n")
    return (
        text[:old]
        + "  old:\n    type: Zendesk\n    prefix: zd\n    state: absent\n"
        + """\
  zendesk:
    type: Zendesk
    prefix: support
    config: {subdomain: acme2, api_key: "{{ secret('ZD_KEY') }}", email_address: ops@example.com}
    tables:
      tickets: {sync: true, sync_type: full_refresh}
      users: {sync: true, sync_type: full_refresh}
"""
    )


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """A `--host local` project with the BASE sources applied and an unmanaged source made in the UI."""
    root = tmp_path / "state"
    (root / "manifests").mkdir(parents=True)
    (root / "manifests" / "sources.yaml").write_text(BASE, encoding="utf-8")
    monkeypatch.chdir(root)
    for name in ("POSTHOG_HOST", "POSTHOG_PROJECT_ID", "POSTHOG_PERSONAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "phx_local")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_CANARYdeterminism")
    monkeypatch.setenv("ZD_KEY", "zd-CANARY-determinism")
    assert run_cli(["apply", "--host", "local", "--auto-approve", "manifests/"]) == 0, capsys.readouterr()
    (root / "ui.yaml").write_text(BASE.split("  hubspot:")[0].replace("prefix: stripe", "prefix: stripe_ui").replace(
        "  stripe:", "  ui_made:"), encoding="utf-8")  # fmt: skip
    assert run_cli(["apply", "--host", "local", "--auto-approve", "ui.yaml"]) == 0, capsys.readouterr()
    (root / "manifests" / "sources.yaml").write_text(changed(), encoding="utf-8")
    capsys.readouterr()
    return root


COMMANDS: list[tuple[str, list[str], list[str]]] = [
    ("validate", ["validate", "manifests/"], []),
    ("validate-json", ["validate", "--format", "json", "manifests/"], []),
    ("schema", ["schema"], []),
    ("plan-text", ["plan", "--host", "local", "manifests/"], []),
    ("plan-markdown", ["plan", "--host", "local", "--format", "markdown", "manifests/"], []),
    ("plan-json", ["plan", "--host", "local", "--format", "json", "manifests/"], []),
    ("plan-saved", ["plan", "--host", "local", "-o", "plan.json", "manifests/"], ["plan.json"]),
    ("drift-text", ["drift", "--host", "local", "manifests/"], []),
    (
        "drift-markdown",
        ["drift", "--host", "local", "--format", "markdown", "--output", "drift.md", "manifests/"],
        ["drift.md"],
    ),
    ("drift-json", ["drift", "--host", "local", "--format", "json", "manifests/"], []),
    ("import", ["import", "--host", "local", "--all"], []),
    # One step at a time, so the step lines on stderr come in plan order; SOURCE_DATE_EPOCH leaves out durations.
    (
        "apply-json",
        [
            "apply",
            "--host",
            "local",
            "--auto-approve",
            "--parallelism",
            "1",
            "--format",
            "json",
            "--target",
            "hubspot",
            "manifests/",
        ],
        [],
    ),
    ("apply", ["apply", "--host", "local", "--auto-approve", "--parallelism", "1", "--allow-delete", "manifests/"], []),
    ("drift-after", ["drift", "--host", "local", "--format", "json", "manifests/"], []),
]


def test_every_command_prints_the_same_bytes_whatever_the_hash_seed(state: Path, tmp_path: Path) -> None:
    runs = {}
    for seed in range(1, 6):
        work = tmp_path / f"seed-{seed}"
        shutil.copytree(state, work)
        env = {
            **os.environ, "PYTHONHASHSEED": str(seed), "SOURCE_DATE_EPOCH": "1767225600", "NO_COLOR": "1",
            "STRIPE_SECRET_KEY": "sk_test_CANARYdeterminism", "ZD_KEY": "zd-CANARY-determinism",
            "POSTHOG_PERSONAL_API_KEY": "phx_local",
        }  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, json.dumps(COMMANDS)],
            cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        runs[seed] = json.loads(done.stdout)
    first = runs[1]
    assert {name: out["code"] for name, out in first.items()} == {
        **{name: 0 for name, _, _ in COMMANDS}, "plan-text": 0, "drift-text": 2, "drift-markdown": 2,
        "drift-json": 2, "drift-after": 2, "docgen": 0,
    }, {name: out.get("stderr") for name, out in first.items()}  # fmt: skip
    # The inputs really exercise the seeds: several table settings change at once, in every format.
    assert "sync_time_of_day" in first["plan-text"]["stdout"] and "users" in first["plan-markdown"]["stdout"]
    assert json.loads(first["plan-saved"]["files"]["plan.json"])["saved_at"] == "2026-01-01T00:00:00+00:00"
    assert '"checked_at": "2026-01-01T00:00:00Z"' in first["drift-json"]["stdout"]
    # Both applies change something: the plan, a line per step (what it changed, no duration) and the report.
    assert json.loads(first["apply-json"]["stdout"])["steps"][0]["effect"].startswith("tables contacts: ")
    assert "hubspot: tables contacts: " in first["apply-json"]["stderr"]
    assert "zendesk: create (Zendesk, prefix support)" in first["apply"]["stderr"]
    assert " … ok\n" in first["apply"]["stderr"] and "s)\n" not in first["apply"]["stderr"]
    assert first["apply"]["stdout"].index("Plan: ") < first["apply"]["stdout"].index("Apply complete")
    for seed in range(2, 6):
        for name, output in first.items():
            assert runs[seed][name] == output, f"{name} differs between PYTHONHASHSEED=1 and {seed}"
    for output in first.values():
        text = output["stdout"] + "".join(output["files"].values())
        assert "CANARY" not in text
