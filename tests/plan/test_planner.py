"""Planner, table-driven from literal manifests and live wire objects. No HTTP: the planner is pure."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from reconciler.catalog import load_catalog
from reconciler.manifest import LoadOptions, load_desired_state
from reconciler.ownership import format_trailer
from reconciler.plan.fingerprint import UNKNOWN_VALUES, values_part, version_part
from reconciler.plan.model import Action, Impact, Plan, SecretStatus, SourceChange
from reconciler.plan.planner import PlanOptions, build_plan
from reconciler.plan.steps import (
    CreateSource,
    DeleteSource,
    PatchRevenueConfig,
    PatchSchemas,
    PatchSource,
    RefreshSchemas,
)
from reconciler.posthog.models import LiveSource, LiveState
from reconciler.secret import Secret

ENV = {"STRIPE_KEY": "sk_test_abc", "PG_PASSWORD": "pw"}
VERSION_FP = version_part(None) + UNKNOWN_VALUES  # what apply writes with no fingerprint key configured


def desired(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> Any:
    path = tmp_path / "sources.yaml"
    path.write_text("version: 1\nsources:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    return load_desired_state([path], load_options=LoadOptions(environ=ENV if env is None else env))


def schema(name: str, **kw: Any) -> dict[str, Any]:
    base = {
        "id": f"sch-{name}",
        "name": name,
        "should_sync": False,
        "sync_type": None,
        "incremental_field": None,
        "incremental_field_type": None,
        "sync_frequency": "6hour",
        "sync_time_of_day": None,
        "primary_key_columns": None,
        "cdc_table_mode": "consolidated",
        "enabled_columns": None,
    }
    return base | kw


def live_source(
    source_type: str = "Stripe",
    prefix: str | None = "stripe_prod",
    *,
    id: str = "src-1",
    description: str | None = None,
    job_inputs: dict[str, Any] | None = None,
    schemas: list[dict[str, Any]] | None = None,
    revenue: dict[str, bool] | None = None,
) -> LiveSource:
    return LiveSource.from_wire(
        {
            "id": id,
            "source_type": source_type,
            "prefix": prefix,
            "description": description,
            "access_method": "warehouse",
            "status": "Completed",
            "job_inputs": job_inputs
            if job_inputs is not None
            else {"auth_method": {"selection": "api_key"}, "stripe_account_id": None},
            "schemas": schemas or [],
            "revenue_analytics_config": revenue
            or {"enabled": source_type == "Stripe", "include_invoiceless_charges": True},
        },
        load_catalog(),
    )


def plan_for(state: Any, *live: LiveSource, **options: Any) -> Plan:
    return build_plan(
        state,
        LiveState(sources=tuple(live)),
        load_catalog(),
        PlanOptions(host="http://127.0.0.1:8010", project="1", **options),
    )


def only(plan: Plan, address: str) -> SourceChange:
    return next(c for c in plan.changes if c.address == address)


STRIPE = """\
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
"""


def owned(text: str | None, address: str = "stripe_prod", fp: str | None = None) -> str:
    trailer = format_trailer(address, fp or VERSION_FP or "")
    return f"{text}\n{trailer}" if text else trailer


def test_create_posts_listed_tables_then_patches_frequency(tmp_path: Path) -> None:
    plan = plan_for(desired(tmp_path, STRIPE))
    change = only(plan, "stripe_prod")
    assert change.action is Action.CREATE and not plan.errors
    create, patch = change.steps
    assert isinstance(create, CreateSource) and isinstance(patch, PatchSchemas)
    assert create.source_type == "Stripe" and create.prefix == "stripe_prod"
    assert [s["name"] for s in create.schemas] == ["Charge", "Customer"]
    assert create.schemas[0] == {
        "name": "Charge",
        "should_sync": True,
        "sync_type": "append",
        "incremental_field": "created",
        "incremental_field_type": "integer",
    }
    assert isinstance(create.payload["auth_method"]["stripe_secret_key"], Secret)
    # No key: only the version half is known; the executor completes it when it sends the values.
    assert create.description.user_text == "Production Stripe" and create.description.fingerprint == version_part(None)
    # sync_frequency is ignored at create (§8.3): one patch after, resolved by name.
    assert [(u.name, u.schema_id, dict(u.changes)) for u in patch.updates] == [
        ("Customer", None, {"sync_frequency": "24hour"})
    ]
    assert change.secret_status is SecretStatus.RESEND
    assert Impact.CREDENTIALS in change.impacts
    assert plan.summary() == {"create": 1, "update": 0, "replace": 0, "delete": 0, "unchanged": 0}


def test_matching_live_source_is_a_noop_despite_stringified_scalars(tmp_path: Path) -> None:
    state = desired(
        tmp_path,
        """\
        pg:
          type: Postgres
          prefix: app
          config: {host: db.internal, port: 5432, database: app, user: ro, password: "{{ secret('PG_PASSWORD') }}"}
          tables:
            public.users: {sync: true, sync_type: full_refresh}
        """,
    )
    live = live_source(
        "Postgres",
        "app",
        description=owned(None, "pg"),
        job_inputs={
            "host": "db.internal",
            "port": "5432",
            "database": "app",
            "user": "ro",
            "schema": None,
            "ssh_tunnel": None,
        },
        schemas=[schema("public.users", should_sync=True, sync_type="full_refresh")],
    )
    change = only(plan_for(state, live), "pg")
    assert change.action is Action.NOOP, change
    assert change.steps == () and change.secret_status is SecretStatus.UNCHANGED


def test_ui_made_source_is_adopted_by_type_and_prefix(tmp_path: Path) -> None:
    live = live_source(
        description="made in the UI",
        schemas=[
            schema("Customer", should_sync=True, sync_type="full_refresh", sync_frequency="24hour"),
            schema(
                "Charge",
                should_sync=True,
                sync_type="append",
                incremental_field="created",
                incremental_field_type="integer",
            ),
        ],
    )
    change = only(plan_for(desired(tmp_path, STRIPE), live), "stripe_prod")
    assert change.action is Action.UPDATE
    (patch,) = change.steps
    assert isinstance(patch, PatchSource)
    assert patch.changes["description"].user_text == "Production Stripe"
    assert patch.changes["description"].address == "stripe_prod"
    # Never configured by us: the secrets are re-sent, and the fingerprint written.
    assert isinstance(patch.changes["job_inputs"]["auth_method"]["stripe_secret_key"], Secret)
    assert change.secret_status is SecretStatus.RESEND
    assert any("adopt" in r for r in change.reasons)


def test_unmanaged_and_orphaned_sources_are_reported_not_touched(tmp_path: Path) -> None:
    ui = live_source("Zendesk", None, id="z", job_inputs={"subdomain": "acme", "email_address": "a@b.c"})
    orphan = live_source("Stripe", "old", id="o", description=owned(None, "old_stripe"))
    plan = plan_for(desired(tmp_path, STRIPE), ui, orphan)
    assert [u.source_id for u in plan.unmanaged] == ["z"]
    assert [(o.source_id, o.address) for o in plan.orphaned] == [("o", "old_stripe")]
    assert not any(isinstance(s, DeleteSource) for c in plan.changes for s in c.steps)
    pruned = plan_for(desired(tmp_path, STRIPE), ui, orphan, prune=True)
    assert pruned.changes[0].action is Action.DELETE and pruned.changes[0].steps == (DeleteSource("old_stripe", "o"),)
    assert [u.source_id for u in pruned.unmanaged] == ["z"]


def test_prefix_change_is_a_replace_with_delete_first_and_protect_refuses(tmp_path: Path) -> None:
    live = live_source(prefix="stripe_old", description=owned("Production Stripe"))
    plan = plan_for(desired(tmp_path, STRIPE), live)
    change = only(plan, "stripe_prod")
    assert change.action is Action.REPLACE and Impact.DROPS_DATA in change.impacts
    assert isinstance(change.steps[0], DeleteSource) and isinstance(change.steps[1], CreateSource)
    assert plan.delete_steps() == (DeleteSource("stripe_prod", "src-1"),)
    assert not plan.errors
    protected = plan_for(desired(tmp_path, STRIPE.replace("  type: Stripe", "  type: Stripe\n  protect: true")), live)
    assert [e.reference for e in protected.errors] == ["protected"]


def test_host_change_resends_secrets_and_names_them_without_values(tmp_path: Path) -> None:
    body = """\
        pg:
          type: Postgres
          prefix: app
          config: {host: new.internal, port: 5432, database: app, user: ro, password: "{{ secret('PG_PASSWORD') }}"}
          tables:
            t: {sync: false}
        """
    live = live_source(
        "Postgres",
        "app",
        description=owned(None, "pg"),
        job_inputs={"host": "old.internal", "port": "5432", "database": "app", "user": "ro"},
        schemas=[schema("t")],
    )
    change = only(plan_for(desired(tmp_path, body), live), "pg")
    (patch,) = change.steps
    assert isinstance(patch, PatchSource)
    assert patch.changes["job_inputs"]["host"] == "new.internal"
    assert isinstance(patch.changes["job_inputs"]["password"], Secret)
    assert change.secret_status is SecretStatus.RESEND and Impact.CREDENTIALS in change.impacts
    [host] = [d for d in change.field_diffs if d.path == "config.host"]
    assert (host.old, host.new) == ("old.internal", "new.internal")
    # Without the value (a pull-request plan): a re-send like a rotation, the variable named, no error.
    without = plan_for(desired(tmp_path, body, env={}), live)
    assert without.errors == ()
    change = only(without, "pg")
    assert change.secret_status is SecretStatus.MISSING and Impact.CREDENTIALS in change.impacts
    (patch,) = change.steps
    assert isinstance(patch, PatchSource) and patch.changes["job_inputs"]["password"].name == "PG_PASSWORD"


def stripe_live(**kw: Any) -> LiveSource:
    """`STRIPE` as apply left it: a plan of `STRIPE` against it has nothing to do."""
    return live_source(
        description=owned("Production Stripe"),
        schemas=[
            schema("Customer", should_sync=True, sync_type="full_refresh", sync_frequency="24hour"),
            schema(
                "Charge",
                should_sync=True,
                sync_type="append",
                incremental_field="created",
                incremental_field_type="integer",
            ),
        ],
        **kw,
    )


def test_secrets_version_bump_re_sends_secrets(tmp_path: Path) -> None:
    live = stripe_live()
    assert only(plan_for(desired(tmp_path, STRIPE), live), "stripe_prod").action is Action.NOOP
    bumped = STRIPE.replace("  prefix: stripe_prod", "  prefix: stripe_prod\n  secrets_version: '2026-12'")
    change = only(plan_for(desired(tmp_path, bumped), live), "stripe_prod")
    (patch,) = change.steps
    assert isinstance(patch, PatchSource) and "auth_method" in patch.changes["job_inputs"]
    assert patch.changes["description"].fingerprint == version_part("2026-12")
    assert change.secret_status is SecretStatus.RESEND


def test_keyed_fingerprint_tracks_secret_values(tmp_path: Path) -> None:
    key = b"k" * 32
    state = desired(tmp_path, STRIPE)
    values = values_part(state.sources["stripe_prod"].secrets(), key)
    assert values is not None and "sk_test_abc" not in values
    fp = version_part(None) + values
    live = live_source(
        description=owned("Production Stripe", fp=fp),
        schemas=[
            schema("Customer", should_sync=True, sync_type="full_refresh", sync_frequency="24hour"),
            schema(
                "Charge",
                should_sync=True,
                sync_type="append",
                incremental_field="created",
                incremental_field_type="integer",
            ),
        ],
    )
    assert only(plan_for(state, live, fingerprint_key=key), "stripe_prod").action is Action.NOOP
    rotated = desired(tmp_path, STRIPE, env={"STRIPE_KEY": "sk_test_new"})
    assert only(plan_for(rotated, live, fingerprint_key=key), "stripe_prod").secret_status is SecretStatus.RESEND
    # Values absent (plan on a pull request) or no key (key only in the apply job): nothing to re-send.
    assert (
        only(plan_for(desired(tmp_path, STRIPE, env={}), live, fingerprint_key=key), "stripe_prod").action
        is Action.NOOP
    )
    assert only(plan_for(state, live), "stripe_prod").action is Action.NOOP
    # ...but a secrets_version bump is seen even then.
    bumped = STRIPE.replace("  prefix: stripe_prod", "  prefix: stripe_prod\n  secrets_version: '2'")
    change = only(plan_for(desired(tmp_path, bumped, env={}), live, fingerprint_key=key), "stripe_prod")
    assert (
        change.secret_status is SecretStatus.MISSING
        and not change.steps[0].changes["job_inputs"]["auth_method"]["stripe_secret_key"].available
    )  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("live_settings", "manifest", "changes", "impact"),
    [
        ({"should_sync": False, "sync_type": "full_refresh"}, "{sync: true}", {"should_sync": True}, Impact.NEXT_SYNC),
        ({"should_sync": True, "sync_type": "full_refresh"}, "{sync: false}", {"should_sync": False}, Impact.NEXT_SYNC),
        (
            {
                "should_sync": True,
                "sync_type": "append",
                "incremental_field": "created",
                "incremental_field_type": "integer",
            },
            "{sync_type: full_refresh}",
            {"sync_type": "full_refresh"},
            Impact.FULL_RESYNC,
        ),
        (
            {
                "should_sync": True,
                "sync_type": "append",
                "incremental_field": "created",
                "incremental_field_type": "integer",
            },
            "{incremental_field: updated}",
            # PostHog takes the cursor only beside a sync_type, from the same request (§9.3): all three are sent.
            {"incremental_field": "updated", "sync_type": "append", "incremental_field_type": "integer"},
            Impact.FULL_RESYNC,
        ),
        (
            {"should_sync": True, "sync_type": "full_refresh"},
            "{frequency: never}",
            {"sync_frequency": "never"},
            Impact.NEXT_SYNC,
        ),
        (
            {"should_sync": True, "sync_type": "full_refresh"},
            "{sync_type: incremental, incremental_field: created, incremental_field_type: integer}",
            {"sync_type": "incremental", "incremental_field": "created", "incremental_field_type": "integer"},
            Impact.NEXT_SYNC,
        ),
    ],
)
def test_table_setting_changes_and_impacts(
    tmp_path: Path, live_settings: dict[str, Any], manifest: str, changes: dict[str, Any], impact: Impact
) -> None:
    body = f"""\
        s:
          type: Stripe
          config: {{auth_method: {{selection: api_key}}}}
          tables:
            Charge: {manifest}
        """
    live = live_source(prefix=None, description=owned(None, "s"), schemas=[schema("Charge", **live_settings)])
    change = only(plan_for(desired(tmp_path, body), live), "s")
    (step,) = change.steps
    assert isinstance(step, PatchSchemas)
    assert [(u.name, u.schema_id, dict(u.changes)) for u in step.updates] == [("Charge", "sch-Charge", changes)]
    assert change.headline_impact is impact


def test_unknown_table_refreshes_schemas_first(tmp_path: Path) -> None:
    body = """\
        s:
          type: Stripe
          config: {auth_method: {selection: api_key}}
          tables:
            Invoice: {sync: true, sync_type: full_refresh, frequency: 1hour}
        """
    live = live_source(prefix=None, description=owned(None, "s"), schemas=[schema("Customer")])
    change = only(plan_for(desired(tmp_path, body), live), "s")
    refresh, patch = change.steps
    assert isinstance(refresh, RefreshSchemas) and isinstance(patch, PatchSchemas)
    assert patch.updates[0].name == "Invoice" and patch.updates[0].schema_id is None
    assert dict(patch.updates[0].changes) == {
        "should_sync": True,
        "sync_type": "full_refresh",
        "sync_frequency": "1hour",
    }
    assert change.unlisted_tables == ("Customer",)


@pytest.mark.parametrize(
    ("policy", "unlisted", "disables"), [("ignore", (), False), ("report", ("Coupon",), False), ("disable", (), True)]
)
def test_unlisted_table_policies(tmp_path: Path, policy: str, unlisted: tuple[str, ...], disables: bool) -> None:
    body = f"""\
        s:
          type: Stripe
          unlisted_tables: {policy}
          config: {{auth_method: {{selection: api_key}}}}
          tables:
            Customer: {{sync: true, sync_type: full_refresh}}
        """
    live = live_source(
        prefix=None,
        description=owned(None, "s"),
        schemas=[
            schema("Customer", should_sync=True, sync_type="full_refresh"),
            schema("Coupon", should_sync=True, sync_type="full_refresh"),
        ],
    )
    change = only(plan_for(desired(tmp_path, body), live), "s")
    assert change.unlisted_tables == unlisted
    if disables:
        (step,) = change.steps
        assert isinstance(step, PatchSchemas) and dict(step.updates[0].changes) == {"should_sync": False}
    else:
        assert change.action is Action.NOOP


def test_enabling_a_table_without_sync_type_is_a_plan_error(tmp_path: Path) -> None:
    body = """\
        s:
          type: Stripe
          config: {auth_method: {selection: api_key}}
          tables:
            Customer: {sync: true}
        """
    live = live_source(prefix=None, description=owned(None, "s"), schemas=[schema("Customer")])
    plan = plan_for(desired(tmp_path, body), live)
    assert [e.reference for e in plan.errors] == ["invalid-table"]
    assert "set sync_type" in plan.errors[0].message


def test_state_absent_deletes_and_deletes_come_first(tmp_path: Path) -> None:
    body = (
        STRIPE
        + """\
old_mysql:
  type: MySQL
  prefix: legacy
  state: absent
"""
    )
    live = live_source(
        "MySQL", "legacy", id="m", description=owned(None, "old_mysql"), job_inputs={"host": "h", "port": "3306"}
    )
    plan = plan_for(desired(tmp_path, body), live)
    assert [c.address for c in plan.changes] == ["old_mysql", "stripe_prod"]
    assert plan.changes[0].action is Action.DELETE and plan.delete_steps() == (DeleteSource("old_mysql", "m"),)
    assert plan.summary()["delete"] == 1 and plan.summary()["create"] == 1


def test_targets_limit_the_plan_and_unknown_targets_are_errors(tmp_path: Path) -> None:
    body = (
        STRIPE
        + """\
hub:
  type: Hubspot
  config: {hubspot_integration_id: 12}
  tables:
    contacts: {sync: true, sync_type: full_refresh}
"""
    )
    plan = plan_for(desired(tmp_path, body), targets=frozenset({"hub"}))
    assert [c.address for c in plan.changes] == ["hub"]
    bad = plan_for(desired(tmp_path, body), targets=frozenset({"nope"}))
    assert [e.reference for e in bad.errors] == ["unknown-target"]


def test_revenue_config_patch_only_when_different(tmp_path: Path) -> None:
    body = STRIPE + "  revenue_analytics: {enabled: false}\n"
    live = live_source(
        description=owned("Production Stripe"),
        schemas=[
            schema("Customer", should_sync=True, sync_type="full_refresh", sync_frequency="24hour"),
            schema(
                "Charge",
                should_sync=True,
                sync_type="append",
                incremental_field="created",
                incremental_field_type="integer",
            ),
        ],
    )
    change = only(plan_for(desired(tmp_path, body), live), "stripe_prod")
    (step,) = change.steps
    assert isinstance(step, PatchRevenueConfig) and dict(step.changes) == {"enabled": False}
    created = only(plan_for(desired(tmp_path, body)), "stripe_prod")
    assert isinstance(created.steps[-1], PatchRevenueConfig)


def test_two_live_sources_claiming_one_address_is_an_error_and_neither_is_compared(tmp_path: Path) -> None:
    a = live_source(id="a", description=owned("edited in the UI"))
    b = live_source(prefix="other", id="b", description=owned(None))
    plan = plan_for(desired(tmp_path, STRIPE), a, b)
    assert [(e.reference, e.address) for e in plan.errors] == [("duplicate-owner", "stripe_prod")]
    assert plan.changes == () and plan.unmanaged == () and plan.orphaned == ()


def test_prune_never_deletes_a_duplicated_orphan(tmp_path: Path) -> None:
    a = live_source(prefix="gone_a", id="a", description=owned(None, "gone"))
    b = live_source(prefix="other", id="b", description=owned(None, "gone"))
    plan = plan_for(desired(tmp_path, STRIPE), a, b, prune=True)
    assert [(e.reference, e.address) for e in plan.errors] == [("duplicate-owner", "gone")]
    assert [c.address for c in plan.changes] == ["stripe_prod"] and only(plan, "stripe_prod").action is Action.CREATE
    assert [(o.address, o.source_id) for o in plan.orphaned] == [("gone", "a"), ("gone", "b")]


def test_create_without_tables_is_a_plan_error(tmp_path: Path) -> None:
    body = """\
        s:
          type: Stripe
          config: {auth_method: {selection: api_key}}
        """
    plan = plan_for(desired(tmp_path, body))
    assert [e.reference for e in plan.errors] == ["no-tables"]


def test_primary_key_change_on_a_full_refresh_table_is_refused(tmp_path: Path) -> None:
    body = """\
        s:
          type: Stripe
          config: {auth_method: {selection: api_key}}
          tables:
            Customer: {sync: true, sync_type: full_refresh, primary_key_columns: [id, email]}
        """
    assert not plan_for(desired(tmp_path, body)).errors  # at create PostHog stores it for any sync type
    same = live_source(
        prefix=None,
        description=owned(None, "s"),
        schemas=[schema("Customer", should_sync=True, sync_type="full_refresh", primary_key_columns=["id", "email"])],
    )
    assert only(plan_for(desired(tmp_path, body), same), "s").action is Action.NOOP
    other = live_source(
        prefix=None,
        description=owned(None, "s"),
        schemas=[schema("Customer", should_sync=True, sync_type="full_refresh", primary_key_columns=["id"])],
    )
    plan = plan_for(desired(tmp_path, body), other)
    assert [e.reference for e in plan.errors] == ["invalid-table"]
    assert "primary_key_columns only applies" in plan.errors[0].message


def test_create_shows_every_table_setting_and_secrets_as_sent(tmp_path: Path) -> None:
    from reconciler.plan.render_text import render_text

    text = render_text(plan_for(desired(tmp_path, STRIPE)))
    assert "              + stripe_secret_key = (secret: will be sent)\n" in text
    # In the manifest's words and order; frequency is patched right after the create, shown with the table.
    assert (
        "          + Customer {\n"
        "              + sync      = true\n"
        '              + sync_type = "full_refresh"\n'
        '              + frequency = "24hour"\n'
        "            }\n"
    ) in text
    assert '      + description = "Production Stripe"\n' in text
    assert "should_sync" not in text and "sync_frequency" not in text
    assert "sk_test_abc" not in text
