"""When the apply workflow must NOT apply, it refuses loudly and writes nothing — and the documented way out
(a reviewed dry run through workflow_dispatch) works: an edit in the PostHog UI after the plan was reviewed, a
delete merged without the label (or with the label removed before the merge), a direct push to main."""

from __future__ import annotations

from gitops_manifests import LABEL, app_db, hubspot, stripe
from gitops_world import GitHubWorld


def _setup(world: GitHubWorld, schema: str) -> None:
    number = world.open_pull(
        "Add sources",
        {
            "manifests/stripe.yaml": stripe(),
            "manifests/app_db.yaml": app_db(schema),
            "manifests/hubspot.yaml": hubspot(),
        },
    )
    run = world.merge(number)
    assert run is not None and world.ci.result(run).conclusion == "success", world.ci.result(run).log


def _refused(world: GitHubWorld, run_id: int | None) -> str:
    assert run_id is not None
    result = world.ci.result(run_id)
    assert result.conclusion == "failure", result.log
    step = result.step("Apply the merged main as reviewed")
    assert step.outcome == "failure" and "nothing was changed" in step.stderr, step.stderr
    return step.stderr


def _recover_with_a_reviewed_dry_run(world: GitHubWorld, allow_delete: bool = False) -> str:
    dry = world.run_apply_workflow(allow_delete=allow_delete)
    assert dry.conclusion == "success", dry.log
    assert dry.summary.startswith("### reconciler plan") and f"reviewed_run = {dry.run_id}" in dry.summary
    done = world.run_apply_workflow(reviewed_run=str(dry.run_id))
    assert done.conclusion == "success", done.log
    checked = world.main_plan()
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return dry.summary


def test_an_edit_after_the_review_is_refused_until_reviewed(github: GitHubWorld, upstream_db: str) -> None:
    _setup(github, upstream_db)
    posthog = github.posthog
    number = github.open_pull("Events every hour", {"manifests/app_db.yaml": app_db(upstream_db, events="1hour")})
    posthog.ui_patch_table("stripe", "Customer", sync_frequency="1hour")  # after the plan was reviewed
    err = _refused(github, github.merge(number))
    assert "stripe: tables.Customer.sync_frequency = 24hour (not in any reviewed plan)" in err
    assert "unreviewed" in err or "no reviewed plan showed" in err
    live = posthog.sources()
    assert live["app"]["tables"]["events"]["sync_frequency"] == "6hour"  # nothing was written
    assert live["stripe"]["tables"]["Customer"]["sync_frequency"] == "1hour"
    summary = _recover_with_a_reviewed_dry_run(github)
    assert "Customer" in summary and "events" in summary
    live = posthog.sources()
    assert live["app"]["tables"]["events"]["sync_frequency"] == "1hour"
    assert live["stripe"]["tables"]["Customer"]["sync_frequency"] == "24hour"
    # A dispatch naming a reviewed run applies only what that run showed: PostHog moved again since.
    posthog.ui_patch_table("app", "accounts", sync_frequency="6hour")
    dry = github.run_apply_workflow()
    posthog.ui_patch_table("app", "events", sync_frequency="24hour")
    stale = github.run_apply_workflow(reviewed_run=str(dry.run_id))
    assert stale.conclusion == "failure" and "app_db: tables.events.sync_frequency = 1hour" in stale.log


def test_deletes_need_the_label_at_merge_time(github: GitHubWorld, upstream_db: str) -> None:
    _setup(github, upstream_db)
    posthog = github.posthog
    # Without the label: the comment says what merging deletes and what it needs; the apply refuses.
    number = github.open_pull("Retire HubSpot", {"manifests/hubspot.yaml": hubspot(absent=True)})
    comment = github.plan_comment(number)
    assert "Merging will delete or replace 1 source" in comment and f"the `{LABEL}` label" in comment.replace(
        "&#96;", "`"
    )
    err = _refused(github, github.merge(number))
    assert "hubspot: delete the source (shown only by plans without the delete opt-in)" in err
    assert "hubspot" in posthog.sources()
    # The label added and removed again before the merge: the plan of the labelled run does not count.
    second = github.open_pull("Rename the Stripe prefix", {"manifests/stripe.yaml": stripe(prefix="stripe_v2")})
    github.label(second, LABEL)
    github.forge.set_labels(second, [])  # removed; its `unlabeled` plan run had not finished before the merge
    err = _refused(github, github.merge(second))
    assert "stripe: delete the source (shown only by plans without the delete opt-in)" in err
    assert "stripe" in posthog.sources()
    # The way out without a new pull request: a dry run that records the opt-in, reviewed, then applied.
    summary = _recover_with_a_reviewed_dry_run(github, allow_delete=True)
    assert "the delete opt-in is part of this plan" in summary
    assert sorted(posthog.sources()) == ["app", "stripe_v2"]


def test_a_direct_push_to_main_is_not_applied(github: GitHubWorld, upstream_db: str) -> None:
    _setup(github, upstream_db)
    err = _refused(github, github.push_main("Hotfix", {"manifests/stripe.yaml": stripe(customer="1hour")}))
    assert "stripe: tables.Customer.sync_frequency = 1hour (not in any reviewed plan)" in err
    assert github.posthog.sources()["stripe"]["tables"]["Customer"]["sync_frequency"] == "24hour"
    _recover_with_a_reviewed_dry_run(github)
    assert github.posthog.sources()["stripe"]["tables"]["Customer"]["sync_frequency"] == "1hour"
