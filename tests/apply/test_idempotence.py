"""apply then plan shows no changes: for the shipped example, and for random manifests (hypothesis),
including a second random manifest applied on top of the first (updates, refreshes, disables)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.emulators import in_process, posthog_client

from reconciler.apply.executor import Executor
from reconciler.catalog import load_catalog
from reconciler.manifest import LoadOptions, load_desired_state
from reconciler.plan.model import Plan
from reconciler.plan.planner import PlanOptions, build_plan
from reconciler.posthog.client import PostHogClient

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "POSTHOG_PERSONAL_API_KEY": "phx_local",
    "SECRET": "sk_test_idem9921",
    "STRIPE_SECRET_KEY": "sk_test_ex1",
    "APP_DB_PASSWORD": "unused-under-trust-auth",
}
FREQUENCIES = ["5min", "15min", "30min", "1hour", "6hour", "12hour", "24hour", "7day", "30day", "never"]
#: table name -> cursor (field, type) or None, per type, as the emulator's simulated upstreams offer them.
TABLES: dict[str, dict[str, tuple[str, str] | None]] = {
    "Stripe": {t: ("created", "integer") for t in ("Customer", "Charge", "Invoice", "Refund", "Subscription")},
    "Zendesk": {
        "brands": None,
        "users": None,
        "tickets": ("generated_timestamp", "integer"),
        "ticket_events": ("timestamp", "integer"),
    },
    "Hubspot": {"contacts": None, "companies": None, "deals": None},
    "Salesforce": {"Account": None, "Contact": None, "Lead": None},
}
CONFIGS: dict[str, dict[str, Any]] = {
    "Stripe": {"auth_method": {"selection": "api_key", "stripe_secret_key": "{{ secret('SECRET') }}"}},
    "Zendesk": {"subdomain": "acme", "email_address": "ops@acme.test", "api_key": "{{ secret('SECRET') }}"},
    "Hubspot": {"hubspot_integration_id": 42},
    "Salesforce": {"salesforce_integration_id": 7},
}


def plan_for(client: PostHogClient, path: Path) -> Plan:
    state = load_desired_state([path], load_options=LoadOptions(environ=ENV))
    return build_plan(state, client.fetch_live_state(), load_catalog(), PlanOptions(host="h", project="1"))


@st.composite
def table_settings(draw: st.DrawFn, cursor: tuple[str, str] | None) -> dict[str, Any]:
    if not draw(st.booleans()):
        return {"sync": False}
    kinds = ["full_refresh"] + (["append"] if cursor else [])
    settings_: dict[str, Any] = {"sync": True, "sync_type": draw(st.sampled_from(kinds))}
    if settings_["sync_type"] == "append" and cursor:
        settings_.update(incremental_field=cursor[0], incremental_field_type=cursor[1])
    if draw(st.booleans()):
        settings_["frequency"] = draw(st.sampled_from(FREQUENCIES))
    if draw(st.booleans()):
        settings_["sync_time_of_day"] = f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 15, 30])):02d}:00"
    return settings_


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    sources: dict[str, Any] = {}
    for source_type in draw(st.lists(st.sampled_from(sorted(TABLES)), min_size=1, max_size=4, unique=True)):
        tables = TABLES[source_type]
        names = draw(st.lists(st.sampled_from(sorted(tables)), min_size=1, max_size=len(tables), unique=True))
        source: dict[str, Any] = {
            "type": source_type,
            "prefix": f"{source_type.lower()}_main",
            "config": CONFIGS[source_type],
            "tables": {name: draw(table_settings(tables[name])) for name in names},
            "unlisted_tables": draw(st.sampled_from(["ignore", "report", "disable"])),
        }
        if draw(st.booleans()):
            # No "{": manifests are jinja templates, and `{{`, `{%`, `{#` in plain text are template syntax.
            chars = st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"], exclude_characters="{")
            source["description"] = draw(st.text(chars, max_size=40)).strip() or None
        sources[f"{source_type.lower()}_src"] = source
    return {"version": 1, "sources": sources}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=manifests(), second=manifests())
def test_random_manifests_converge_in_one_apply(
    tmp_path_factory: pytest.TempPathFactory, first: dict[str, Any], second: dict[str, Any]
) -> None:
    path = tmp_path_factory.mktemp("idem") / "sources.yaml"
    with in_process() as emu, posthog_client(emu) as client:
        for manifest in (first, second):
            path.write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
            plan = plan_for(client, path)
            assert not plan.errors, plan.errors
            report = Executor(client).run(plan)
            assert report.ok, [(r.step, r.error) for r in report.results if r.error]
            again = plan_for(client, path)
            assert not again.has_changes, [(c.address, c.field_diffs, c.reasons) for c in again.changes if c.steps]


@pytest.fixture
def example_tables() -> None:
    """The shipped example's Postgres source reads tables `accounts` and `events` of database `test`."""
    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test", autocommit=True) as conn:
        conn.execute((ROOT / "examples" / "app_db.sql").read_text())


def test_shipped_example_applies_then_shows_no_changes(example_tables: None, tmp_path: Path) -> None:
    """The README's main job, against a real Postgres upstream: apply, then plan says nothing to do."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    cli = [str(Path(shutil.which("reconciler") or ROOT / ".venv" / "bin" / "reconciler"))]
    env = {"PATH": "/usr/bin:/bin", **ENV, "HOME": str(tmp_path)}
    apply = subprocess.run(
        [*cli, "apply", "--host", "local", "--auto-approve", "examples/sources.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert "Apply complete" in apply.stdout
    plan = subprocess.run(
        [*cli, "plan", "--host", "local", "--detailed-exitcode", "examples/sources.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout
    assert (tmp_path / ".reconciler" / "emulator.db").is_file()
