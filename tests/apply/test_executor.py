"""The executor against the emulator (in-process; over a real socket where a client timeout is the point): plan →
apply → plan again shows nothing to do."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.emulators import posthog_client

from reconciler.apply.executor import Executor, StepStatus
from reconciler.apply.guard import ApplyPolicy, check_plan
from reconciler.catalog import load_catalog
from reconciler.errors import PlanRefused
from reconciler.manifest import LoadOptions, load_desired_state
from reconciler.plan.model import Action, Plan
from reconciler.plan.planner import PlanOptions, build_plan
from reconciler.posthog.client import PostHogClient

ENV = {"STRIPE_KEY": "sk_test_executor4242", "PG_PASSWORD": "pw", "POSTHOG_PERSONAL_API_KEY": "phx_local"}

MANIFEST = """\
stripe_prod:
  type: Stripe
  prefix: stripe_prod
  description: Production Stripe
  config:
    auth_method:
      selection: api_key
      stripe_secret_key: "{{ secret('STRIPE_KEY') }}"
  tables:
    Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
    Charge: {sync: true, sync_type: append, incremental_field: created, incremental_field_type: integer}
    Refund: {sync: false}
  revenue_analytics: {include_invoiceless_charges: false}
zendesk:
  type: Zendesk
  config:
    subdomain: acme
    email_address: ops@acme.test
    api_key: "{{ secret('STRIPE_KEY') }}"
  tables:
    tickets: {sync: true, sync_type: full_refresh}
"""


@pytest.fixture
def client(start_emulator: Any) -> Iterator[tuple[PostHogClient, Any]]:
    with start_emulator() as emu, posthog_client(emu) as c:
        yield c, emu


def desired(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> Any:
    path = tmp_path / "sources.yaml"
    path.write_text("version: 1\nsources:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    return load_desired_state([path], load_options=LoadOptions(environ=ENV if env is None else env))


def plan(client: PostHogClient, state: Any, **options: Any) -> Plan:
    return build_plan(
        state, client.fetch_live_state(), load_catalog(), PlanOptions(host="test", project="1", **options)
    )


def test_apply_creates_then_second_plan_is_empty(tmp_path: Path, client: Any) -> None:
    c, _emu = client
    state = desired(tmp_path, MANIFEST)
    first = plan(c, state)
    assert [ch.action for ch in first.changes] == [Action.CREATE, Action.CREATE]
    report = Executor(c, parallelism=2).run(first)
    assert report.ok, report
    # Attempts are per step, even with workers sharing the client: every call here succeeded first time.
    assert [r.attempts for r in report.results] == [1] * len(report.results)
    second = plan(c, state)
    assert not second.has_changes, [(ch.address, ch.field_diffs, ch.reasons) for ch in second.changes]
    live = {s.prefix: s for s in c.list_sources()}
    stripe = live["stripe_prod"]
    assert stripe.description is not None and stripe.description.startswith("Production Stripe\n[managed by")
    assert stripe.schema_named("Customer").sync_frequency == "24hour"  # type: ignore[union-attr]
    assert stripe.revenue_analytics is not None and not stripe.revenue_analytics.include_invoiceless_charges
    # Minimum requests: 2 creates, 1 shared list for new table ids, 1 table patch (Customer frequency), 1 revenue.
    assert report.requests == 5


def test_update_in_place_patches_only_what_differs(tmp_path: Path, client: Any) -> None:
    c, _emu = client
    Executor(c).run(plan(c, desired(tmp_path, MANIFEST)))
    changed = MANIFEST.replace("Refund: {sync: false}", "Refund: {sync: true, sync_type: full_refresh}").replace(
        "description: Production Stripe", "description: Stripe (prod)"
    )
    state = desired(tmp_path, changed)
    p = plan(c, state)
    stripe = next(ch for ch in p.changes if ch.address == "stripe_prod")
    assert stripe.action is Action.UPDATE
    report = Executor(c).run(p)
    assert report.ok and report.requests == 2  # one source PATCH (description) + one table update
    assert not plan(c, state).has_changes


def test_new_table_triggers_refresh_then_patch(tmp_path: Path, client: Any) -> None:
    c, _emu = client
    Executor(c).run(plan(c, desired(tmp_path, MANIFEST)))
    state = desired(
        tmp_path,
        MANIFEST.replace(
            "    Refund: {sync: false}\n",
            "    Refund: {sync: false}\n    Invoice: {sync: true, sync_type: full_refresh, frequency: 1hour}\n",
        ),
    )
    p = plan(c, state)
    report = Executor(c).run(p)
    assert report.ok, report.results
    assert not plan(c, state).has_changes
    invoice = c.find_source("Stripe", "stripe_prod").schema_named("Invoice")  # type: ignore[union-attr]
    assert invoice is not None and invoice.should_sync and invoice.sync_frequency == "1hour"


def test_replace_on_prefix_change_deletes_first(tmp_path: Path, client: Any) -> None:
    c, _emu = client
    Executor(c).run(plan(c, desired(tmp_path, MANIFEST)))
    old_id = c.find_source("Stripe", "stripe_prod").id  # type: ignore[union-attr]
    state = desired(tmp_path, MANIFEST.replace("prefix: stripe_prod", "prefix: stripe_main"))
    p = plan(c, state)
    with pytest.raises(PlanRefused, match="--allow-delete"):
        check_plan(p, ApplyPolicy())
    check_plan(p, ApplyPolicy(allow_delete=True))
    assert Executor(c).run(p).ok
    sources = c.list_sources()
    assert [s.prefix for s in sources if s.source_type == "Stripe"] == ["stripe_main"]
    assert old_id not in {s.id for s in sources}


def test_failed_step_stops_its_chain_and_others_go_on(tmp_path: Path, client: Any) -> None:
    c, _emu = client
    # PostHog checks the key with Zendesk at create: the emulator refuses one containing "invalid".
    bad = MANIFEST.replace("api_key: \"{{ secret('STRIPE_KEY') }}\"", "api_key: \"{{ secret('ZD_KEY') }}\"")
    env = {**ENV, "ZD_KEY": "zd-invalid-key"}
    p = plan(c, desired(tmp_path, bad, env))
    report = Executor(c).run(p)
    assert not report.ok
    by = report.by_address()
    assert [r.status for r in by["zendesk"]] == [StepStatus.FAILED]
    assert "Invalid credentials" in (by["zendesk"][0].error or "")
    assert all(r.status is StepStatus.SUCCEEDED for r in by["stripe_prod"])
    # A re-run plans only what is left.
    again = plan(c, desired(tmp_path, bad, env))
    assert [ch.address for ch in again.changes if ch.action is not Action.NOOP] == ["zendesk"]


def test_missing_secret_refused_before_any_write(tmp_path: Path, client: Any) -> None:
    c, _emu = client
    p = plan(c, desired(tmp_path, MANIFEST, env={}))
    with pytest.raises(PlanRefused, match="STRIPE_KEY"):
        check_plan(p, ApplyPolicy())


def test_ambiguous_create_is_resolved_by_relisting(tmp_path: Path, client: Any) -> None:
    """The create commits, then the connection drops: apply must find it, not create it twice."""
    c, _emu = client
    state = desired(tmp_path, MANIFEST)
    p = plan(c, state)
    real_send = c._http.send
    lost = {"done": False}

    def send(request: httpx.Request, **kw: Any) -> httpx.Response:
        response = real_send(request, **kw)
        if request.method == "POST" and request.url.path.endswith("/external_data_sources/") and not lost["done"]:
            lost["done"] = True
            raise httpx.ReadError("connection dropped after the server committed")
        return response

    c._http.send = send  # type: ignore[method-assign]
    report = Executor(c, parallelism=1).run(p)
    assert report.ok, report.results
    assert any(r.note and "found the new source" in r.note for r in report.results)
    assert len(c.list_sources()) == 2
    assert not plan(c, state).has_changes


def test_bulk_refused_to_api_keys_falls_back_per_schema(tmp_path: Path, start_emulator: Any) -> None:
    with start_emulator(bulk_schemas="session-only", control=True) as emu, posthog_client(emu) as c:
        state = desired(tmp_path, MANIFEST)
        report = Executor(c).run(plan(c, state))
        assert report.ok, report.results
        notes = [r.note for r in report.results if r.note]
        assert any("one table at a time" in n for n in notes)
        assert not plan(c, state).has_changes
        # Learned once: the second source's table patch did not try bulk again.
        assert c.stats.by_operation["bulk_update_schemas"] == 1


def test_primary_key_change_bypasses_bulk_which_would_drop_it(tmp_path: Path, client: Any) -> None:
    c, _emu = client
    Executor(c).run(plan(c, desired(tmp_path, MANIFEST)))
    state = desired(
        tmp_path,
        MANIFEST.replace(
            "incremental_field_type: integer}", "incremental_field_type: integer, primary_key_columns: [id, created]}"
        ),
    )
    report = Executor(c).run(plan(c, state))
    assert report.ok, report.results
    charge = c.find_source("Stripe", "stripe_prod").schema_named("Charge")  # type: ignore[union-attr]
    assert charge is not None and charge.primary_key_columns == ("id", "created")
    assert not plan(c, state).has_changes


def test_secret_rotation_through_secrets_version(tmp_path: Path, client: Any) -> None:
    c, emu = client
    Executor(c).run(plan(c, desired(tmp_path, MANIFEST)))
    rotated_env = {**ENV, "STRIPE_KEY": "sk_test_rotated0001"}
    versioned = MANIFEST.replace("  prefix: stripe_prod\n", "  prefix: stripe_prod\n  secrets_version: '2'\n")
    state = desired(tmp_path, versioned, env=rotated_env)
    p = plan(c, state)
    change = next(ch for ch in p.changes if ch.address == "stripe_prod")
    assert change.action is Action.UPDATE and change.secret_status.value == "will be re-sent"
    assert Executor(c).run(p).ok
    assert not plan(c, state).has_changes
    # PostHog now holds the new key (the emulator's store is the upstream's view of it).
    source = c.find_source("Stripe", "stripe_prod")
    assert source is not None
    row = emu.store.get_source(1, source.id)
    assert row is not None and row.job_inputs["auth_method"]["stripe_secret_key"] == "sk_test_rotated0001"


def test_create_still_running_after_a_client_timeout_is_found_not_duplicated(
    tmp_path: Path, serve_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server commits 0.6 s after the request; the client gives up at 0.3 s. Re-sending at once would race
    the first create; the executor waits, re-lists, and finds it."""
    monkeypatch.setattr("reconciler.posthog.session.SLOW_READ_TIMEOUT", 0.3)
    with serve_emulator(control=True) as emu, emu.control() as control:
        control.post(
            "/faults",
            json={
                "rules": [
                    {
                        "method": "POST",
                        "path": "external_data_sources/$",
                        "status": 502,
                        "times": 1,
                        "after_commit": True,
                        "delay_ms": 600,
                    }
                ]
            },
        )
        with posthog_client(emu, timeout=0.3) as c:
            state = desired(tmp_path, MANIFEST.split("zendesk:")[0])
            report = Executor(c, parallelism=1).run(plan(c, state))
            assert report.ok, report.results
            assert any(r.note and "found the new source" in r.note for r in report.results)
            assert [s.prefix for s in c.list_sources()] == ["stripe_prod"]
        # One create was sent: PostHog's prefix check is not transactional, so a second one racing the first
        # could have made a duplicate there (the emulator's check is stricter and would hide it).
        creates = control.get("/stats").json()["by_route"]["POST /api/projects/{project_id}/external_data_sources/"]
        assert creates == 1
