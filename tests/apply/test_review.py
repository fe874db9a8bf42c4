"""`apply --reviewed`: every write of a fresh plan must have been shown by a reviewed plan (pure checks on plan
objects), and the CLI refuses before any request that writes (against the emulator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.review import Fact, ReviewedPlan, review, write_facts
from reconciler.cli import run_cli
from reconciler.plan.model import Action, Plan, SourceChange
from reconciler.plan.steps import (
    CreateSource,
    DeleteSource,
    OwnedDescription,
    PatchSchemas,
    PatchSource,
    RefreshSchemas,
    SchemaUpdate,
    Step,
)
from reconciler.secret import Secret


def plan(*changes: tuple[str, Action, tuple[Step, ...]]) -> Plan:
    return Plan("h", "1", tuple(SourceChange(a, "Postgres", "p", action, steps) for a, action, steps in changes))


def tables(address: str, **settings: str) -> tuple[str, Action, tuple[Step, ...]]:
    updates = tuple(SchemaUpdate(name, "id-" + name, {"sync_frequency": value}) for name, value in settings.items())
    return (address, Action.UPDATE, (RefreshSchemas(address, "s1"), PatchSchemas(address, "s1", updates)))


def test_writes_are_facts_with_canonical_values() -> None:
    create = CreateSource(
        "db", None, source_type="Postgres", prefix="app", description=OwnedDescription("App", "db", "abc123"),
        payload={"port": 5432, "password": Secret("PG_PASSWORD", None), "ssh": {"enabled": False}},
        schemas=({"name": "t", "should_sync": True},),
    )  # fmt: skip
    facts = write_facts(plan(("db", Action.CREATE, (create,))))
    assert facts == {
        Fact("db", "create", "Postgres, prefix app"),
        Fact("db", "description", "App"),
        Fact("db", "config.port", "5432"),
        Fact("db", "secret.password", "PG_PASSWORD"),
        Fact("db", "config.ssh.enabled", "false"),
        Fact("db", "tables.t.should_sync", "true"),
    }
    patch = PatchSource("db", "s1", {"job_inputs": {"port": "5432"}, "description": OwnedDescription("App", "db", "x")})
    # The same values written by an update are the same facts: a reviewed create covers a later update.
    assert write_facts(plan(("db", Action.UPDATE, (patch,)))) <= facts


def test_pooled_reviews_cover_a_later_plan_and_old_values_do_not_matter() -> None:
    first = ReviewedPlan("pr-1", plan(tables("a", x="1hour")))
    second = ReviewedPlan("pr-2", plan(tables("b", y="6hour")))
    assert review(plan(tables("a", x="1hour"), tables("b", y="6hour")), [first, second]) == []
    (missing,) = review(plan(tables("a", x="1hour"), tables("b", y="12hour")), [first, second])
    assert missing.describe() == "b: tables.y.sync_frequency = 12hour (not in any reviewed plan)"
    assert [u.fact.address for u in review(plan(tables("a", x="1hour")), [])] == ["a"]


def test_a_delete_needs_a_plan_that_showed_it_with_the_opt_in() -> None:
    delete = plan(("old", Action.DELETE, (DeleteSource("old", "s9"),)))
    (without,) = review(delete, [ReviewedPlan("pr", delete)])
    assert without.opt_in_missing and without.describe().endswith("(shown only by plans without the delete opt-in)")
    assert review(delete, [ReviewedPlan("pr", delete), ReviewedPlan("pr2", plan(), allow_delete=True)]) != []
    assert review(delete, [ReviewedPlan("pr", delete, allow_delete=True)]) == []


# ---- through the CLI ------------------------------------------------------------------------------------------

STRIPE = """\
version: 1
sources:
  stripe:
    type: Stripe
    prefix: stripe
    config:
      auth_method: {selection: api_key, stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"}
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: FREQ}
"""


@pytest.fixture
def emu(cli_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    emulator = cli_emulator()
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_CANARYreview")
    return emulator


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert "CANARYreview" not in out + err
    return code, out, err


def test_apply_reviewed_applies_what_was_reviewed_and_refuses_the_rest(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "m" / "sources.yaml"
    manifest.parent.mkdir()
    manifest.write_text(STRIPE.replace("FREQ", "24hour"))
    reviewed = tmp_path / "reviewed"
    reviewed.mkdir()
    assert cli(capsys, "plan", "-o", str(reviewed / "pr-1.json"), str(manifest))[0] == 0
    code, out, err = cli(capsys, "apply", "--auto-approve", "--reviewed", str(reviewed), str(manifest))
    assert code == 0, out + err
    # The manifest moves on without a review: nothing is written, each unreviewed write is named.
    manifest.write_text(STRIPE.replace("FREQ", "6hour"))
    with emu.control() as control:
        control.post("/stats/reset").raise_for_status()
        code, _, err = cli(capsys, "apply", "--auto-approve", "--reviewed", str(reviewed), str(manifest))
        routes = control.get("/stats").json()["by_route"]
    assert code == 1 and "stripe: tables.Customer.sync_frequency = 6hour (not in any reviewed plan)" in err
    assert all(r.startswith("GET ") for r in routes), routes
    # --allow-delete cannot stand in for the reviewed opt-in; a plan for another project cannot vouch.
    code, _, err = cli(capsys, "apply", "--auto-approve", "--allow-delete", "--reviewed", str(reviewed), str(manifest))
    assert code == 1 and "--allow-delete cannot be combined with --reviewed" in err
    foreign = json.loads((reviewed / "pr-1.json").read_text())
    foreign["target"]["project"] = "2"
    (reviewed / "pr-0.json").write_text(json.dumps(foreign))
    code, _, err = cli(capsys, "apply", "--auto-approve", "--reviewed", str(reviewed), str(manifest))
    assert code == 1 and "reviewed plan" in err and "is for project 2" in err
