"""Golden plans made by the real planner from literal manifests and live wire objects, in text and markdown:
a create, an update of each impact kind, a replace, a delete, a targeted plan (and an unknown target), and an
update whose only change is the ownership trailer. Each golden file is what a reviewer reads; the markdown ones
are what GitHub renders in a pull-request comment (a ```diff block).

Regenerate after an intended change with `RECONCILER_UPDATE_GOLDEN=1 pytest tests/plan` and review the diff.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_planner import STRIPE as PLANNER_STRIPE
from test_planner import desired, live_source, owned, plan_for, schema
from test_planner import stripe_live as planner_stripe_live
from test_render import assert_golden

from reconciler.plan.model import Action, Impact, Plan
from reconciler.plan.render import render_markdown, render_text

#: test_planner's Stripe source, protected and with revenue analytics: what a create shows.
STRIPE = PLANNER_STRIPE.replace(
    "  description: Production Stripe\n", "  description: Production Stripe\n  protect: true\n"
)
STRIPE += "  revenue_analytics: {enabled: true, include_invoiceless_charges: false}\n"
HUBSPOT = """\
hubspot:
  type: Hubspot
  prefix: hubspot
  config: {hubspot_integration_id: 4211}
  tables:
    contacts: {sync: true, sync_type: full_refresh, frequency: 12hour}
"""


def stripe_live() -> Any:
    """`STRIPE` as apply left it: nothing to do."""
    revenue = {"enabled": True, "include_invoiceless_charges": False}
    return planner_stripe_live(id="0190d3b2-5e6f-7a8b-9c0d-1e2f3a4b5c6d", revenue=revenue)


def hubspot_live() -> Any:
    return live_source(
        "Hubspot",
        "hubspot",
        id="0190d3b2-aaaa-7a8b-9c0d-1e2f3a4b5c6d",
        description=owned(None, "hubspot"),
        job_inputs={"hubspot_integration_id": 4211},
        schemas=[schema("contacts", should_sync=True, sync_type="full_refresh", sync_frequency="12hour")],
    )


def _edit(old: str, new: str) -> str:
    assert old in STRIPE
    return STRIPE.replace(old, new)


Scenario = Callable[[Path], Plan]

SCENARIOS: dict[str, Scenario] = {
    "create": lambda tmp: plan_for(desired(tmp, STRIPE)),
    "update-metadata": lambda tmp: plan_for(
        desired(tmp, _edit("description: Production Stripe", "description: Production Stripe (finance)")),
        stripe_live(),
    ),
    "update-next-sync": lambda tmp: plan_for(
        desired(tmp, _edit("frequency: 24hour}", "frequency: 1hour}")), stripe_live()
    ),
    "update-credentials": lambda tmp: plan_for(
        desired(tmp, _edit("  protect: true\n", "  protect: true\n  secrets_version: '2026-12'\n")), stripe_live()
    ),
    "update-full-resync": lambda tmp: plan_for(
        desired(
            tmp,
            _edit(
                "Charge: {sync: true, sync_type: append, incremental_field: created, incremental_field_type: integer}",
                "Charge: {sync: true, sync_type: full_refresh}",
            ),
        ),
        stripe_live(),
    ),
    "replace": lambda tmp: plan_for(
        desired(
            tmp,
            _edit(
                "  prefix: stripe_prod\n  description: Production Stripe\n  protect: true\n",
                "  prefix: stripe_v2\n  description: Production Stripe\n",
            ),
        ),
        stripe_live(),
    ),
    "delete": lambda tmp: plan_for(
        desired(tmp, "stripe_prod:\n  type: Stripe\n  prefix: stripe_prod\n  state: absent\n"), stripe_live()
    ),
    "targeted": lambda tmp: plan_for(
        desired(tmp, _edit("frequency: 24hour}", "frequency: 1hour}") + HUBSPOT.replace("12hour", "24hour")),
        stripe_live(),
        hubspot_live(),
        targets=frozenset({"hubspot"}),
    ),
    "unknown-target": lambda tmp: plan_for(
        desired(tmp, STRIPE + HUBSPOT), stripe_live(), hubspot_live(), targets=frozenset({"hubspott"})
    ),
    "trailer-only": lambda tmp: plan_for(desired(tmp, HUBSPOT), hubspot_live(), fingerprint_key=b"k" * 32),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden_plan(name: str, tmp_path: Path) -> None:
    plan = SCENARIOS[name](tmp_path)
    assert_golden(f"{name}.txt", render_text(plan))
    assert_golden(f"{name}.md", render_markdown(plan))


def test_each_scenario_is_what_its_name_says(tmp_path: Path) -> None:
    def headline(name: str) -> tuple[Action, Impact | None]:
        plan = SCENARIOS[name](tmp_path)
        (change,) = [c for c in plan.changes if c.action is not Action.NOOP] or [None]
        assert change is not None, name
        return change.action, change.headline_impact

    assert headline("create") == (Action.CREATE, Impact.CREDENTIALS)
    assert headline("update-metadata") == (Action.UPDATE, Impact.METADATA)
    assert headline("update-next-sync") == (Action.UPDATE, Impact.NEXT_SYNC)
    assert headline("update-credentials") == (Action.UPDATE, Impact.CREDENTIALS)
    assert headline("update-full-resync") == (Action.UPDATE, Impact.FULL_RESYNC)
    assert headline("replace") == (Action.REPLACE, Impact.DROPS_DATA)
    assert headline("delete") == (Action.DELETE, Impact.DROPS_DATA)
    assert headline("targeted") == (Action.UPDATE, Impact.NEXT_SYNC)
    assert headline("trailer-only") == (Action.UPDATE, Impact.METADATA)


def test_a_targeted_plan_says_other_changes_may_be_hidden(tmp_path: Path) -> None:
    plan = SCENARIOS["targeted"](tmp_path)
    text = render_text(plan)
    assert "stripe_prod" not in text, "the untargeted change is not planned"
    notice = "targeting is in effect (--target hubspot): changes to other sources are not planned"
    assert text.splitlines()[2].startswith(f"Warning: {notice}"), "above the changes, where a reviewer starts"
    assert text.count(notice) == 1 and "Warnings:" not in text
    markdown = render_markdown(plan)
    assert f"> [!IMPORTANT]\n> T{notice[1:]}" in markdown and markdown.index("[!IMPORTANT]") < markdown.index("```diff")
    assert plan.warnings[0].startswith(notice), "a warning, so the JSON and a saved plan carry it too"


def test_an_unknown_target_gets_a_did_you_mean(tmp_path: Path) -> None:
    plan = SCENARIOS["unknown-target"](tmp_path)
    (error,) = plan.errors
    assert error.reference == "unknown-target"
    assert error.message == "--target hubspott: no manifest declares this address; did you mean 'hubspot'?"


def test_an_update_with_no_visible_field_change_says_why(tmp_path: Path) -> None:
    """The first plan after setting RECONCILER_FINGERPRINT_KEY on a source without secrets: only the trailer
    in the description changes, and the plan says so (reason and impact), not a bare `patch_source`."""
    text = render_text(SCENARIOS["trailer-only"](tmp_path))
    assert "      reason: the ownership trailer in the description records a new secrets fingerprint" in text
    assert "      impact: metadata\n" in text
