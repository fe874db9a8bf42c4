"""The GitOps loop on GitHub, end to end, through the shipped workflow files (examples/ci/plan.yml, apply.yml,
drift.yml) and the composite action they use (action.yml, run step by step): a realistic history of pull requests
against two PostHog environments of one repository (reconciler.yaml: staging, project 1, then production, project
2; the emulator) with a real Postgres upstream.

After every merge both environments equal the merged main (`reconciler plan --env … --detailed-exitcode` of main
exits 0, and PostHog's own API shows the values); no merge is lost, even when three land while an apply runs; each
pull request has one comment per environment showing its plan or its errors; the drift issue is open exactly
while PostHog and main disagree; no secret value reaches a comment, an issue, an artifact or a log.
"""

from __future__ import annotations

import json

from gitops_manifests import LABEL, analytics_db, app_db, hubspot, stripe
from gitops_world import CANARIES, DB_PASSWORD, ENVIRONMENTS, STRIPE_KEY_2, GitHubWorld


def converged(world: GitHubWorld) -> str:
    """Every environment equals the merged main, and the scheduled drift check agrees (no open issue). Returns the
    drift run's log (its reports)."""
    for environment in ENVIRONMENTS:
        done = world.main_plan(environment)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "No changes" in done.stdout, done.stdout
    drift = world.scheduled_drift()
    assert drift.conclusion == "success", drift.log
    assert [s.job for s in drift.steps if s.name == "Check for drift"] == ["drift (staging)", "drift (production)"]
    assert world.drift_issues() == [], world.drift_issues()
    return drift.log


def applied(world: GitHubWorld, run_id: int | None) -> None:
    assert run_id is not None
    result = world.ci.result(run_id)
    assert result.conclusion == "success", result.log


def test_a_history_of_pull_requests_converges_after_every_merge(github: GitHubWorld, upstream_db: str) -> None:
    posthog = github.posthog

    # 1. Add three sources. The comment shows the creates; the PR job has no secret values.
    first = github.open_pull(
        "Add Stripe, the app database and HubSpot",
        {"manifests/stripe.yaml": stripe(), "manifests/app_db.yaml": app_db(upstream_db),
         "manifests/hubspot.yaml": hubspot()},
    )  # fmt: skip
    assert github.last_plan is not None and github.last_plan.conclusion == "success", github.last_plan.log
    for environment in ENVIRONMENTS:  # one comment per environment, each naming it
        comment = github.plan_comment(first, environment)
        assert "3 to create" in comment and "(secret: will be sent, value not set here)" in comment, comment
        assert f"Environment <code>{environment}</code>: project <code>{ENVIRONMENTS[environment]}</code>" in comment
    run = github.merge(first)
    applied(github, run)
    assert run is not None
    jobs = [s.job for s in github.ci.result(run).steps if s.name == "Apply the merged main as reviewed"]
    assert jobs == ["apply (staging)", "apply (production)"]  # staging first, then production
    for team in ENVIRONMENTS.values():
        live = posthog.sources(team)
        assert sorted(live) == ["app", "hubspot", "stripe"]
        assert live["app"]["tables"]["accounts"]["sync_frequency"] == "1hour"
    converged(github)

    # 2. Change tables; the first push has a typo: the comment shows the error with its file and line, and the
    #    next push replaces that comment with the plan (one comment per pull request).
    broken = stripe(customer="12hour").replace("frequency: 24hour}", "frequncy: 24hour}")
    second = github.open_pull(
        "Sync orders, Stripe customers twice a day",
        {"manifests/app_db.yaml": app_db(upstream_db, orders=True), "manifests/stripe.yaml": broken},
    )
    assert github.last_plan is not None and github.last_plan.conclusion == "failure"
    comment = github.plan_comment(second)
    assert "manifests/stripe.yaml:14:54" in comment and "frequncy" in comment, comment
    assert "did you mean" in comment, comment
    github.push(second, {"manifests/stripe.yaml": stripe(customer="12hour")}, "Fix the typo")
    comment = github.plan_comment(second)
    assert "2 to update" in comment and "frequncy" not in comment, comment
    applied(github, github.merge(second))
    live = posthog.sources()
    assert live["app"]["tables"]["orders"]["should_sync"] is True
    assert live["stripe"]["tables"]["Customer"]["sync_frequency"] == "12hour"
    # orders was new to PostHog: the apply ran refresh_schemas, so PostHog now also knows audit_log, which no
    # manifest lists and nothing syncs. That is PostHog's normal state: reported, and not drift.
    assert "audit_log" in converged(github)  # reported in the drift job's output, and not drift

    # 3. Rotate the Stripe key: the new value goes into the environment, the manifest bumps secrets_version.
    third = github.open_pull("Rotate the Stripe key", {"manifests/stripe.yaml": stripe("stripe", "2026-02", "12hour")})
    assert "will be re-sent" in github.plan_comment(third)
    github.set_secret("STRIPE_SECRET_KEY", STRIPE_KEY_2)
    applied(github, github.merge(third))
    for team in ENVIRONMENTS.values():
        assert posthog.stored_job_inputs("stripe", team)["auth_method"]["stripe_secret_key"] == STRIPE_KEY_2
    converged(github)

    # 4. Move the Postgres host: a connection-target change, planned without the password (the PR job has no
    #    secrets), recorded as a re-send, applied with the password the apply job has.
    fourth = github.open_pull(
        "Move the app database", {"manifests/app_db.yaml": app_db(upstream_db, host="localhost", orders=True)}
    )
    plan = github.last_plan
    assert plan is not None and plan.conclusion == "success", plan.log
    comment = github.plan_comment(fourth)
    assert "(secret: will be re-sent, value not set here)" in comment and "CAUTION" not in comment, comment
    saved = json.loads(github.forge.run(plan.run_id)["artifacts"]["reconciler-plan-staging"]["plan.json"])
    assert saved["target"]["environment"] == "staging"
    (change,) = [c for c in saved["changes"] if c["action"] != "no-op"]
    assert change["steps"][0]["changes"]["job_inputs"]["password"] == {"secret": "APP_DB_PASSWORD"}
    applied(github, github.merge(fourth))
    stored = posthog.stored_job_inputs("app")
    assert (stored["host"], stored["password"]) == ("localhost", DB_PASSWORD)
    converged(github)

    # 5. Rename the Stripe prefix: a replace. The comment says up front what merging deletes and what that
    #    needs; the label is the opt-in, and adding it re-plans.
    fifth = github.open_pull(
        "Rename the Stripe prefix", {"manifests/stripe.yaml": stripe("stripe_v2", "2026-02", "12hour")}
    )
    comment = github.plan_comment(fifth)
    assert "Merging will delete or replace 1 source" in comment and LABEL in comment, comment
    relabel = github.label(fifth, LABEL)
    assert relabel is not None and relabel.conclusion == "success", relabel.log
    assert "the delete opt-in is part of this plan" in github.plan_comment(fifth)
    old_id = posthog.sources()["stripe"]["id"]
    applied(github, github.merge(fifth))
    live = posthog.sources()
    assert "stripe" not in live and live["stripe_v2"]["id"] != old_id
    converged(github)

    # 6. A tombstone, with the opt-in.
    sixth = github.open_pull("Retire HubSpot", {"manifests/hubspot.yaml": hubspot(absent=True)}, labels=(LABEL,))
    assert "Merging will delete or replace 1 source" in github.plan_comment(sixth)
    applied(github, github.merge(sixth))
    assert "hubspot" not in posthog.sources()
    converged(github)

    # 7. Three merges land while an apply is still running. GitHub keeps one waiting run per concurrency group
    #    (a newer one cancels it): only the last run goes ahead, and it must apply all three merges. The second
    #    pull request was planned before the first two merged (no "branches up to date" rule): the plans reviewed
    #    since the last apply are pooled.
    db = app_db(upstream_db, host="localhost", orders=True, events="1hour")
    seventh = github.open_pull("Events every hour", {"manifests/app_db.yaml": db})
    ninth = github.open_pull(
        "Describe the app database",
        {"manifests/app_db.yaml": app_db(upstream_db, host="localhost", orders=True).replace(
            "description: Application database", "description: Application database (replica)")},
    )  # fmt: skip
    hold = github.hold("reconciler-apply.yml", "Apply the merged main as reviewed")
    running = github.merge(seventh, background=True)
    assert hold.reached.wait(60)
    eighth = github.open_pull(
        "Customers every 6 hours", {"manifests/stripe.yaml": stripe("stripe_v2", "2026-02", "6hour")}
    )
    waiting = [github.merge(eighth), github.merge(ninth)]
    tenth = github.open_pull("Add the analytics database", {"manifests/analytics.yaml": analytics_db(upstream_db)})
    last = github.merge(tenth)
    assert [github.ci.result(r).conclusion for r in waiting] == ["cancelled", "cancelled"]  # as GitHub does
    hold.released.set()
    github.ci.wait()
    applied(github, running)
    applied(github, last)
    live = posthog.sources()
    assert live["stripe_v2"]["tables"]["Customer"]["sync_frequency"] == "6hour"  # cancelled runs lost nothing
    assert live["app"]["description"].startswith("Application database (replica)")
    assert live["app"]["tables"]["events"]["sync_frequency"] == "1hour"
    assert live["analytics"]["tables"]["events"]["should_sync"] is True
    converged(github)

    # 8. Someone edits a table in the PostHog UI: the next scheduled drift opens one issue, and keeps it (no
    #    second issue) until PostHog equals main again.
    posthog.ui_patch_table("app", "accounts", sync_frequency="24hour")
    for _ in range(2):
        drift = github.scheduled_drift()
        assert drift.conclusion == "success", drift.log
        (issue,) = github.drift_issues()
        assert "accounts" in issue["body"] and "24hour" in issue["body"]
    # The next pull request is planned after the edit: its plan shows the revert, so merging applies it.
    eleventh = github.open_pull(
        "Describe Stripe", {"manifests/stripe.yaml": stripe("stripe_v2", "2026-02", "6hour").replace(
            "Billing (Stripe)", "Billing (Stripe, live account)")},
    )  # fmt: skip
    assert "24hour" in github.plan_comment(eleventh)
    applied(github, github.merge(eleventh))
    converged(github)
    (closed,) = github.drift_issues("closed")
    assert closed["comments"][-1]["body"].startswith("No drift any more")

    # Nothing secret was ever written anywhere people can read.
    written = github.everything_written()
    for canary in CANARIES:
        assert canary not in written
    assert json.loads(json.dumps(github.forge.read()["log"]))  # the stub gh was really used
