"""Saved plans: round trip (literal and hypothesis-generated Plans), secrets by name only, version and
shape errors without tracebacks, and stale-plan detection."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

sys.path.insert(0, str(Path(__file__).parent))
from render_samples import CANARIES, ENV, HYPO_ENV, plans, representative_plan

from reconciler.apply.stale import LiveNow, StaleSource, ensure_fresh, stale_sources
from reconciler.errors import PlanRefused, ReconcilerError
from reconciler.plan.codec import FORMAT_VERSION, PlanFormatError, plan_from_dict
from reconciler.plan.model import Action, Plan, SourceChange
from reconciler.plan.render import render_json
from reconciler.plan.saved import SavedPlan, load_plan, save_plan
from reconciler.plan.steps import STEP_KINDS, CreateSource, OwnedDescription, PatchRevenueConfig, PatchSource, Step
from reconciler.secret import Secret

WHEN = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)


def saved_text(plan: Plan | None = None, **kw: Any) -> str:
    return save_plan(
        plan or representative_plan(), tool_version="0.1.0", manifest_digest="sha256:abc", saved_at=WHEN, **kw
    )


# ---- round trip ---------------------------------------------------------------------------------------


def test_round_trip_representative_plan() -> None:
    plan = representative_plan()
    saved = load_plan(saved_text(plan), ENV)
    assert saved.plan == plan
    assert saved.tool_version == "0.1.0"
    assert saved.manifest_digest == "sha256:abc"
    assert saved.saved_at == WHEN
    assert saved.format_version == FORMAT_VERSION
    assert saved.live_fingerprints == {
        "old_mysql": "fp-mysql",
        "pg_main": "fp-pg",
        "stripe_prod": None,
        "pg_analytics": "fp-an",
        "zendesk_support": "fp-zd",
    }


def test_secrets_come_back_by_name_from_the_given_environment() -> None:
    saved = load_plan(saved_text(), {"PG_PASSWORD": "new-value"})
    replace_change = saved.plan.changes[1]
    create = replace_change.steps[1]
    assert isinstance(create, CreateSource)
    password = create.payload["password"]
    assert isinstance(password, Secret) and password.name == "PG_PASSWORD" and password.reveal() == "new-value"
    patch = saved.plan.changes[3].steps[0]
    assert isinstance(patch, PatchSource)
    key = patch.changes["job_inputs"]["ssh_tunnel"]["auth"]["private_key"]
    assert isinstance(key, Secret) and key.name == "SSH_KEY" and not key.available
    assert isinstance(patch.changes["description"], OwnedDescription)


def test_saved_plan_is_the_json_document_plus_its_own_fields() -> None:
    plan = representative_plan()
    rendered = json.loads(render_json(plan))
    saved = json.loads(saved_text(plan))
    assert list(saved)[:4] == ["format_version", "tool_version", "manifest_digest", "saved_at"]
    assert saved["saved_at"] == "2026-11-26T21:00:00+00:00"
    for change in saved["changes"]:
        assert "live_fingerprint" in change
        del change["live_fingerprint"]
    for key in ("tool_version", "manifest_digest", "saved_at", "allow_delete", "allow_env", "allow_secret", "catalog"):
        del saved[key]
    assert saved == rendered


def test_live_fingerprints_argument_overrides_and_must_name_known_addresses() -> None:
    saved = load_plan(saved_text(live_fingerprints={"stripe_prod": "fp-new", "old_mysql": None}), ENV)
    assert saved.live_fingerprints["stripe_prod"] == "fp-new"
    assert saved.live_fingerprints["old_mysql"] is None
    assert saved.plan.changes[2].live_fingerprint == "fp-new"
    with pytest.raises(ValueError, match="not in the plan: ghost"):
        saved_text(live_fingerprints={"ghost": "x"})


def test_plain_mappings_that_look_like_secrets_stay_plain() -> None:
    payload = {
        "a": {"secret": "NOT_A_SECRET"},
        "b": {"$dict": {"secret": "x"}},
        "c": {"secret": 5},
        "d": [{"secret": "PG_PASSWORD"}],
        "e": Secret("PG_PASSWORD", CANARIES["PG_PASSWORD"]),
    }
    step = PatchRevenueConfig(address="a", source_id="1", changes=payload)
    change = SourceChange(address="a", source_type="Stripe", prefix=None, action=Action.UPDATE, steps=(step,))
    plan = Plan(host="h", project="1", changes=(change,))
    loaded = load_plan(saved_text(plan), ENV).plan
    assert loaded == plan
    changes = loaded.changes[0].steps[0].changes  # type: ignore[attr-defined]
    assert changes["a"] == {"secret": "NOT_A_SECRET"} and not isinstance(changes["a"], Secret)
    assert changes["d"] == [{"secret": "PG_PASSWORD"}]


def test_every_step_kind_has_a_serial_form() -> None:
    assert set(STEP_KINDS.values()) == {
        "create_source",
        "patch_source",
        "refresh_schemas",
        "patch_schemas",
        "patch_revenue_config",
        "delete_source",
        "reload_source",
    }
    # Only the model's own step types: a test may define a throwaway subclass that the GC has not freed yet.
    assert set(STEP_KINDS) == {c for c in Step.__subclasses__() if c.__module__ == Step.__module__}


# ---- hypothesis round trip -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(plans)
def test_round_trip_generated_plans(plan: Plan) -> None:
    text = save_plan(plan, tool_version="t", manifest_digest="d")
    assert load_plan(text, HYPO_ENV).plan == plan
    without_fingerprints = replace(plan, changes=tuple(replace(c, live_fingerprint=None) for c in plan.changes))
    assert plan_from_dict(json.loads(render_json(plan)), HYPO_ENV) == without_fingerprints
    for value in HYPO_ENV.values():
        assert value not in text


# ---- errors -------------------------------------------------------------------------------------------


def _doc() -> dict[str, Any]:
    return json.loads(saved_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize(("version", "adjective"), [(2, "a newer"), (0, "an older")])
def test_other_format_versions_are_refused_naming_both(version: int, adjective: str) -> None:
    doc = _doc() | {"format_version": version}
    with pytest.raises(PlanFormatError) as caught:
        load_plan(json.dumps(doc), ENV)
    assert caught.value.reference == "plan-format"
    assert caught.value.message == f"plan file has format_version {version}; this reconciler reads format_version 1"
    assert caught.value.hint is not None and adjective in caught.value.hint


def _mutate(path: list[Any], value: Any) -> dict[str, Any]:
    doc = _doc()
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["format_version"], "1", "plan file: missing or non-integer 'format_version'"),
        (
            ["changes", 1, "action"],
            "destroy",
            "plan file.changes[1].action: unknown value 'destroy' "
            "(expected one of: no-op, create, update, replace, delete)",
        ),
        (["changes", 0, "impact", 0], "catastrophe", "plan file.changes[0].impact[0]: unknown impact 'catastrophe'"),
        (["changes", 3, "steps", 1, "kind"], "drop_table", "plan file.changes[3].steps[1].kind: unknown step kind"),
        (["changes", 3, "steps", 0, "changes"], KeyError, "plan file.changes[3].steps[0]: missing key 'changes'"),
        (["changes", 2, "protected"], "yes", "plan file.changes[2].protected: expected true or false"),
        (
            ["changes", 2, "steps", 0, "payload", "auth_method", "stripe_secret_key"],
            {"secret": 3},
            "payload.auth_method.stripe_secret_key: a secret must name its variable",
        ),
        (["target"], [], "plan file.target: expected an object"),
        (["changes"], {}, "plan file.changes: expected a list"),
        (["manifest_digest"], None, "plan file.manifest_digest: expected a string"),
        (["saved_at"], "yesterday", "plan file.saved_at: not an ISO 8601 timestamp"),
        (["warnings"], [1], "plan file.warnings[0]: expected a string"),
    ],
)
def test_malformed_files_give_one_located_message(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(PlanFormatError) as caught:
        load_plan(json.dumps(_mutate(path, value)), ENV)
    assert message in str(caught.value)
    assert isinstance(caught.value, ReconcilerError) and caught.value.reference == "plan-format"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "plan file is not valid JSON (line 1, column 1: Expecting value)"),
        ('{"format_version": 1,', "plan file is not valid JSON (line 1, column 22"),
        ("[1, 2]", "malformed plan file: plan file: expected a JSON object"),
        ("{}", "malformed plan file: plan file: missing or non-integer 'format_version'"),
    ],
)
def test_unreadable_files(text: str, message: str) -> None:
    with pytest.raises(PlanFormatError) as caught:
        load_plan(text, ENV)
    assert str(caught.value).startswith(message)


def test_format_json_output_is_not_a_saved_plan() -> None:
    with pytest.raises(PlanFormatError, match=r"this is a `--format json` plan, not a saved plan"):
        load_plan(render_json(representative_plan()), ENV)


# ---- staleness ----------------------------------------------------------------------------------------


def _saved() -> SavedPlan:
    return load_plan(saved_text(), ENV)


def test_fresh_plan_has_no_stale_sources() -> None:
    current = {"old_mysql": "fp-mysql", "pg_main": "fp-pg", "pg_analytics": "fp-an", "zendesk_support": "fp-zd"}
    assert stale_sources(_saved(), current) == []
    ensure_fresh(_saved(), host="https://eu.posthog.com", project="12345", now=LiveNow(current))


def test_stale_sources_moved_appeared_vanished() -> None:
    current = {
        "old_mysql": "fp-mysql",
        "pg_main": "fp-pg-edited",
        "stripe_prod": "fp-ui-made",
        "zendesk_support": "fp-zd",
    }
    stale = stale_sources(_saved(), current)
    assert stale == [
        StaleSource("pg_main", "fp-pg", "fp-pg-edited"),
        StaleSource("stripe_prod", None, "fp-ui-made"),
        StaleSource("pg_analytics", "fp-an", None),
    ]
    assert [s.why for s in stale] == [
        "changed in PostHog since the plan was made",
        "created in PostHog since the plan was made",
        "deleted in PostHog since the plan was made",
    ]
    with pytest.raises(PlanRefused) as caught:
        ensure_fresh(_saved(), host="https://eu.posthog.com", project="12345", now=LiveNow(current))
    assert caught.value.reference == "stale-plan"
    assert caught.value.message == (
        "the saved plan is stale (3 sources moved): pg_main: changed in PostHog since the plan was made; "
        "stripe_prod: created in PostHog since the plan was made; "
        "pg_analytics: deleted in PostHog since the plan was made"
    )


def test_plan_for_another_project_is_refused() -> None:
    with pytest.raises(PlanRefused, match=r"for project 12345 on https://eu.posthog.com, not project 9 on") as caught:
        ensure_fresh(_saved(), host="https://eu.posthog.com", project="9", now=LiveNow())
    assert caught.value.reference == "stale-plan"


def test_documented_example_is_a_loadable_saved_plan_written_exactly_so() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "plan-format.md").read_text(encoding="utf-8")
    example = doc.split("## Example\n\n```json\n", 1)[1].split("```", 1)[0]
    saved = load_plan(example, {"ANALYTICS_PASSWORD": "x"})
    again = save_plan(
        saved.plan,
        tool_version=saved.tool_version,
        manifest_digest=saved.manifest_digest,
        saved_at=saved.saved_at,
        allow_delete=saved.allow_delete,
        allow_env=saved.allow_env,
        allow_secret=saved.allow_secret,
        catalog=saved.catalog,
    )
    assert json.loads(again) == json.loads(example)
