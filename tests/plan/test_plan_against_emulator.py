"""`reconciler plan` end to end through real HTTP: every action, impact label, policy and output.

The CLI runs in-process; the emulator runs in a thread on a loopback port (with its control API, so the
number of list requests a plan makes is counted by the server itself).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import run_cli
from reconciler.emulator.testing import create_body, stripe_payload

CANARY = "sk_test_CANARYplan5531"
PG_CANARY = "pg-CANARY-plan-pass"


def stripe(
    address: str = "stripe_prod",
    prefix: str = "stripe_prod",
    extra: str = "",
    tables: str = "      Customer: {sync: true, sync_type: full_refresh}\n"
    "      Charge: {sync: true, sync_type: append, incremental_field: created, "
    "incremental_field_type: integer}\n",
) -> str:
    return (
        f"  {address}:\n    type: Stripe\n    prefix: {prefix}\n{extra}    description: Billing\n"
        "    config:\n      auth_method:\n        selection: api_key\n"
        "        stripe_secret_key: \"{{ secret('STRIPE_SECRET_KEY') }}\"\n"
        f"    tables:\n{tables}"
    )


POSTGRES = """\
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
    monkeypatch.setenv("STRIPE_SECRET_KEY", CANARY)
    monkeypatch.setenv("PG_PASSWORD", PG_CANARY)
    return cli_emulator()


@pytest.fixture
def api(emu: Any) -> Iterator[httpx.Client]:
    with emu.client() as client:
        yield client


def write(tmp_path: Path, *sources: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text("version: 1\nsources:\n" + "".join(sources))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert CANARY not in out + err and PG_CANARY not in out + err
    assert "Traceback" not in err
    return code, out, err


def plan_json(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> dict[str, Any]:
    code, out, err = run(capsys, "plan", "--format", "json", *extra, str(path))
    document = json.loads(out)
    assert code == (1 if document["errors"] else 0), err
    return document


def by_address(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["address"]: c for c in document["changes"]}


def apply(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> None:
    code, out, err = run(capsys, "apply", "--auto-approve", *extra, str(path))
    assert code == 0, out + err


def test_each_action_and_impact(tmp_path: Path, emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write(tmp_path, stripe(), stripe("old", "old_stripe"))
    created = by_address(plan_json(capsys, manifest))
    assert {a: c["action"] for a, c in created.items()} == {"stripe_prod": "create", "old": "create"}
    assert created["stripe_prod"]["impact"] == ["next-sync", "credentials"]
    assert [s["kind"] for s in created["stripe_prod"]["steps"]] == ["create_source"]
    apply(capsys, manifest)
    assert {c["action"] for c in plan_json(capsys, manifest)["changes"]} == {"no-op"}

    cases = {
        "metadata": stripe().replace("description: Billing", "description: Billing (EU)"),
        "next-sync": stripe(
            tables="      Customer: {sync: false}\n      Charge: {sync: true, sync_type: append, "
            "incremental_field: created, incremental_field_type: integer}\n"
        ),
        "credentials": stripe(extra="    secrets_version: '2026-12'\n"),
        "full-resync": stripe(
            tables="      Customer: {sync: true, sync_type: full_refresh}\n"
            "      Charge: {sync: true, sync_type: full_refresh}\n"
        ),
    }
    for impact, source in cases.items():
        change = by_address(plan_json(capsys, write(tmp_path, source, stripe("old", "old_stripe"))))["stripe_prod"]
        assert change["action"] == "update", impact
        assert change["impact"][-1] == impact, (impact, change["impact"])
    replaced = by_address(
        plan_json(capsys, write(tmp_path, stripe(prefix="stripe_main"), stripe("old", "old_stripe")))
    )["stripe_prod"]
    assert replaced["action"] == "replace" and replaced["impact"][-1] == "drops-data"
    assert [s["kind"] for s in replaced["steps"]][:2] == ["delete_source", "create_source"]
    tomb = "  old:\n    type: Stripe\n    prefix: old_stripe\n    state: absent\n"
    deleted = by_address(plan_json(capsys, write(tmp_path, stripe(), tomb)))["old"]
    assert deleted["action"] == "delete" and deleted["impact"] == ["drops-data"]


def test_plan_lists_once_and_never_writes(tmp_path: Path, emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write(tmp_path, stripe())
    apply(capsys, manifest)
    with emu.control() as control:
        control.post("/stats/reset").raise_for_status()
        plan_json(capsys, write(tmp_path, stripe().replace("Billing", "Billing 2")))
        stats = control.get("/stats").json()
    assert stats["total"] == 1
    assert list(stats["by_route"]) == ["GET /api/projects/{project_id}/external_data_sources/"]


def test_host_change_resends_secrets_and_records_their_names_when_unset(
    tmp_path: Path, emu: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(capsys, write(tmp_path, POSTGRES.replace("HOST", "db.example.com")))
    moved = write(tmp_path, POSTGRES.replace("HOST", "db2.example.com"))
    change = by_address(plan_json(capsys, moved))["app_db"]
    assert change["secrets"] == "will be re-sent" and "credentials" in change["impact"]
    assert change["diff"]["config.host"] == {"old": "db.example.com", "new": "db2.example.com"}
    assert change["steps"][0]["changes"]["job_inputs"]["password"] == {"secret": "PG_PASSWORD"}
    apply(capsys, moved)  # PostHog accepts the new host because the password travels with it
    monkeypatch.delenv("PG_PASSWORD")
    # Without the value (a pull-request plan) it is a re-send like a rotation: no error, the variable named.
    change = by_address(plan_json(capsys, write(tmp_path, POSTGRES.replace("HOST", "db3.example.com"))))["app_db"]
    assert change["secrets"] == "missing" and "credentials" in change["impact"]
    assert change["steps"][0]["changes"]["job_inputs"]["password"] == {"secret": "PG_PASSWORD"}


def test_protect_refuses_replace_and_unmanaged_is_left_alone(
    tmp_path: Path, emu: Any, api: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    body = create_body("Stripe", stripe_payload(), prefix="ui_made")
    api.post("/external_data_sources/", json=body).raise_for_status()
    manifest = write(tmp_path, stripe(extra="    protect: true\n"))
    apply(capsys, manifest)
    document = plan_json(capsys, write(tmp_path, stripe(prefix="renamed", extra="    protect: true\n")))
    assert [e["reference"] for e in document["errors"]] == ["protected"]
    assert [(u["type"], u["prefix"]) for u in document["unmanaged"]] == [("Stripe", "ui_made")]
    code, _, err = run(capsys, "apply", "--auto-approve", "--allow-delete", str(tmp_path / "sources.yaml"))
    assert code == 1 and "protected" in err
    prefixes = sorted(s["prefix"] for s in api.get("/external_data_sources/").json()["results"])
    assert prefixes == ["stripe_prod", "ui_made"]


@pytest.mark.parametrize("policy", ["ignore", "report", "disable"])
def test_unlisted_table_policies(
    tmp_path: Path, emu: Any, api: httpx.Client, capsys: pytest.CaptureFixture[str], policy: str
) -> None:
    manifest = write(tmp_path, stripe(extra=f"    unlisted_tables: {policy}\n"))
    apply(capsys, manifest)
    [source] = api.get("/external_data_sources/").json()["results"]
    api.post(f"/external_data_sources/{source['id']}/refresh_schemas/").raise_for_status()  # all 16 tables now
    coupon = next(
        s for s in api.get(f"/external_data_sources/{source['id']}/").json()["schemas"] if s["name"] == "Coupon"
    )
    api.patch(
        f"/external_data_schemas/{coupon['id']}/", json={"should_sync": True, "sync_type": "full_refresh"}
    ).raise_for_status()  # enabled in the UI
    change = by_address(plan_json(capsys, manifest))["stripe_prod"]
    if policy == "ignore":
        assert change["action"] == "no-op" and change["unlisted_tables"] == []
    elif policy == "report":
        assert change["action"] == "no-op" and "Coupon" in change["unlisted_tables"]
        assert len(change["unlisted_tables"]) == 14
    else:
        [step] = change["steps"]
        assert step["updates"] == [{"name": "Coupon", "schema_id": coupon["id"], "changes": {"should_sync": False}}]
        apply(capsys, manifest)
        assert by_address(plan_json(capsys, manifest))["stripe_prod"]["action"] == "no-op"


def test_listed_table_unknown_to_posthog_refreshes_first(
    tmp_path: Path, emu: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    apply(capsys, write(tmp_path, stripe()))
    more = write(
        tmp_path,
        stripe(
            tables="      Customer: {sync: true, sync_type: full_refresh}\n      Charge: "
            "{sync: true, sync_type: append, incremental_field: created, "
            "incremental_field_type: integer}\n      Invoice: {sync: true, "
            "sync_type: full_refresh}\n"
        ),
    )
    change = by_address(plan_json(capsys, more))["stripe_prod"]
    assert [s["kind"] for s in change["steps"]] == ["refresh_schemas", "patch_schemas"]
    apply(capsys, more)
    assert by_address(plan_json(capsys, more))["stripe_prod"]["action"] == "no-op"


def test_targets(tmp_path: Path, emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write(tmp_path, stripe(), stripe("second", "second"))
    assert [c["address"] for c in plan_json(capsys, manifest, "--target", "second")["changes"]] == ["second"]
    apply(capsys, manifest, "--target", "second")
    assert {c["address"]: c["action"] for c in plan_json(capsys, manifest)["changes"]} == {
        "second": "no-op",
        "stripe_prod": "create",
    }


def test_preflight_failures_carry_the_servers_message(
    tmp_path: Path, emu: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stripe's offline table list is open (newer PostHog versions list more), so only preflight can say
    # that this PostHog has no such table; a cursor the catalog knows is wrong is refused before any request.
    manifest = write(tmp_path, stripe(tables="      Custmer: {sync: true, sync_type: full_refresh}\n"))
    document = plan_json(capsys, manifest, "--preflight")
    messages = [e["message"] for e in document["errors"]]
    assert any("table 'Custmer' does not exist upstream; did you mean 'Customer'?" in m for m in messages)
    bad_cursor = (
        "      Charge: {sync: true, sync_type: append, incremental_field: amount, incremental_field_type: integer}\n"
    )
    (tmp_path / "bad").mkdir()
    code, _, err = run(capsys, "plan", "--preflight", str(write(tmp_path / "bad", stripe(tables=bad_cursor))))
    assert code == 1 and "'amount' is not an incremental field of Stripe table 'Charge'" in err
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_invalid_key")
    document = plan_json(capsys, manifest, "--preflight")
    assert [e["reference"] for e in document["errors"]] == ["preflight-failed"]
    assert "Invalid Stripe credentials" in document["errors"][0]["message"]
    monkeypatch.setenv("STRIPE_SECRET_KEY", CANARY)
    assert plan_json(capsys, write(tmp_path, stripe()), "--preflight")["errors"] == []


def test_preflight_checks_enabled_columns_against_the_discovered_columns(
    tmp_path: Path, emu: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostHog refuses unknown columns only when the table is patched, mid-apply: preflight says it first."""
    wrong = "      customers: {sync: true, sync_type: full_refresh, enabled_columns: [id, emial, created]}\n"
    source = POSTGRES.replace("HOST", "db.example.com").replace(
        "      customers: {sync: true, sync_type: full_refresh}\n", wrong
    )
    document = plan_json(capsys, write(tmp_path, source), "--preflight")
    assert [(e["reference"], e["message"]) for e in document["errors"]] == [
        (
            "preflight-failed",
            "preflight: customers.enabled_columns names columns the upstream table does not have: 'emial', "
            "'created'; did you mean 'email', 'created_at'? (columns: created_at, email, id, updated_at)",
        )
    ]
    right = source.replace("[id, emial, created]", "[id, email]")
    assert plan_json(capsys, write(tmp_path, right), "--preflight")["errors"] == []


def test_three_outputs_and_markdown_fits_one_comment(
    tmp_path: Path, emu: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write(tmp_path, *(stripe(f"s{i:03d}", f"p{i:03d}") for i in range(300)))
    code, text, _ = run(capsys, "plan", str(manifest))
    assert code == 0 and "Plan: 300 to create, 0 to update" in text
    code, markdown, _ = run(
        capsys, "plan", "--format", "markdown", "--full-plan-hint", "the CI artifact", str(manifest)
    )
    assert code == 0 and len(markdown) <= 65_536
    assert "the CI artifact" in markdown and markdown.count("<details") == markdown.count("</details>")
    assert json.loads(run(capsys, "plan", "--format", "json", str(manifest))[1])["summary"]["create"] == 300
