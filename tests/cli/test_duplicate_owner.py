"""A duplicated owner gets one answer from every command: report the conflict, compare neither source,
touch neither. Two live sources claim `stripe_prod` after a "UI copy" kept the ownership trailer; the CLI
runs in-process, the emulator over real HTTP. Once per consumer: plan, apply of a saved plan (stale-plan
check), drift, import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import run_cli

KEY = "sk_test_CANARYdup4410"
MANIFEST = """\
version: 1
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod
    description: {description}
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{{{ secret('STRIPE_SECRET_KEY') }}}}"
    tables:
      Customer: {{sync: true, sync_type: full_refresh}}
"""


@pytest.fixture
def env(emulator: Any, team: int, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in emulator.cli_env(team).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    monkeypatch.delenv("NO_COLOR", raising=False)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert KEY not in out + err
    assert "Traceback" not in err
    return code, out, err


def manifest(tmp_path: Path, description: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(MANIFEST.format(description=description))
    return path


def sources(api: httpx.Client) -> dict[str, dict[str, Any]]:
    return {s["prefix"]: s for s in api.get("/external_data_sources/").json()["results"]}


def copy_in_the_ui(api: httpx.Client, original: dict[str, Any]) -> str:
    """A second Stripe source with another prefix and the original's description, trailer included."""
    body = {
        "source_type": "Stripe",
        "prefix": "stripe_copy",
        "description": original["description"],
        "payload": {
            "auth_method": {"selection": "api_key", "stripe_secret_key": KEY},
            "schemas": [{"name": "Customer", "should_sync": True, "sync_type": "full_refresh"}],
        },
    }
    response = api.post("/external_data_sources/", json=body)
    response.raise_for_status()
    return str(response.json()["id"])


@pytest.fixture
def duplicated(env: None, api: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Applied `stripe_prod`, its UI copy, and a manifest whose description now differs from both (so
    without the conflict plan would update, drift would report `changed`)."""
    path = manifest(tmp_path, "Production Stripe")
    code, out, err = cli(capsys, "apply", "--auto-approve", str(path))
    assert code == 0, out + err
    original = sources(api)["stripe_prod"]
    copy_id = copy_in_the_ui(api, original)
    path = manifest(tmp_path, "Stripe, production")
    message = (
        f"2 live sources claim address 'stripe_prod' ({', '.join(sorted([original['id'], copy_id], key=order(api)))})"
        "; delete the extra one in PostHog"
    )
    return {"manifest": path, "original": original, "copy_id": copy_id, "message": message}


def order(api: httpx.Client) -> Any:
    """Sort key: PostHog's list order (newest first), which is the order identity reports ids in."""
    listed = [s["id"] for s in api.get("/external_data_sources/").json()["results"]]
    return listed.index


def unchanged(api: httpx.Client, case: dict[str, Any]) -> None:
    now = sources(api)
    assert now["stripe_prod"]["description"] == case["original"]["description"]
    assert now["stripe_copy"]["description"] == case["original"]["description"]


def test_plan_reports_the_conflict_and_plans_nothing_for_either_source(
    duplicated: dict[str, Any], api: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "plan", "--format", "json", str(duplicated["manifest"]))
    assert code == 1, out + err
    document = json.loads(out)
    assert document["errors"] == [
        {
            "file": None,
            "line": None,
            "column": None,
            "address": "stripe_prod",
            "field": None,
            "message": duplicated["message"],
            "hint": None,
            "reference": "duplicate-owner",
        }
    ]
    assert document["changes"] == [] and document["unmanaged"] == [] and document["orphaned"] == []
    code, out, _ = cli(capsys, "plan", str(duplicated["manifest"]))
    assert code == 1 and "update" not in out and f"error[duplicate-owner] stripe_prod: {duplicated['message']}" in out
    code, _, err = cli(capsys, "apply", "--auto-approve", str(duplicated["manifest"]))
    assert code == 1 and duplicated["message"] in err
    unchanged(api, duplicated)


def test_apply_of_a_saved_plan_refuses_when_the_owner_was_duplicated_since(
    env: None, api: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = manifest(tmp_path, "Production Stripe")
    assert cli(capsys, "apply", "--auto-approve", str(path))[0] == 0
    saved = tmp_path / "plan.json"
    code, out, err = cli(capsys, "plan", "-o", str(saved), str(manifest(tmp_path, "Stripe, production")))
    assert code == 0 and "~ update" in out, out + err
    original = sources(api)["stripe_prod"]
    copy_id = copy_in_the_ui(api, original)  # the planned source itself did not move: only a copy appeared
    code, out, err = cli(capsys, "apply", "--auto-approve", str(saved))
    assert code == 1, out + err
    ids = ", ".join(sorted([original["id"], copy_id], key=order(api)))
    assert (
        f"Error: the saved plan cannot be applied: 2 live sources claim address 'stripe_prod' ({ids}); "
        "delete the extra one in PostHog" in err
    )
    unchanged(api, {"original": original})


def test_drift_reports_one_conflict_finding_and_compares_neither_source(
    duplicated: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "drift", "--format", "json", str(duplicated["manifest"]))
    assert code == 2, out + err
    report = json.loads(out)
    assert [(s["address"], s["source_id"]) for s in report["sources"]] == [("stripe_prod", None)]
    [source] = report["sources"]
    assert [(f["category"], f["kind"], f["message"]) for f in source["findings"]] == [
        ("unmanaged", "duplicate-owner", duplicated["message"])
    ]
    assert report["warnings"] == []


def test_import_skips_both_claimants_and_refuses_to_select_one(
    duplicated: dict[str, Any], api: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    zendesk = {
        "source_type": "Zendesk",
        "payload": {
            "subdomain": "acme",
            "api_key": "zd-CANARY-dup",
            "email_address": "ops@example.com",
            "schemas": [{"name": "tickets", "should_sync": False}],
        },
    }
    api.post("/external_data_sources/", json=zendesk).raise_for_status()
    code, out, err = cli(capsys, "import", "--all")
    assert code == 0, out + err
    assert f"Warning: skipped: {duplicated['message']}" in err
    assert "type: Zendesk" in out and "Stripe" not in out
    code, out, err = cli(capsys, "import", "--select", "Stripe:stripe_copy")
    assert code == 1 and out == ""
    assert f"--select Stripe:stripe_copy: {duplicated['message']}" in err
