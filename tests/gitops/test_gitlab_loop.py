"""The GitOps loop on GitLab through the shipped examples/ci/gitlab-ci.yml, for the two environments of the
repository's reconciler.yaml (staging, then production): merge requests get one plan note per environment (found
among more than 100 notes, never someone else's), each job gets the key of its environment scope, staging is
applied before production, a cancelled pipeline loses no merge, deletes need the label, and a refused apply is
recovered with a reviewed manual pipeline."""

from __future__ import annotations

from gitops_gitlab import PEOPLE, JobResult
from gitops_manifests import LABEL, app_db, hubspot, stripe
from gitops_world import CANARIES, ENVIRONMENTS, GitLabWorld

PLANS = tuple(f"plan: [{e}]" for e in ENVIRONMENTS)
APPLIES = ("apply-staging", "apply-production")


def converged(world: GitLabWorld) -> None:
    for environment in ENVIRONMENTS:
        done = world.main_plan(environment)
        assert done.returncode == 0 and "No changes" in done.stdout, done.stdout + done.stderr


def note(world: GitLabWorld, iid: int, environment: str = "staging") -> str:
    (body,) = [n for n in world.gitlab.bot_notes(iid) if n.startswith(f"### reconciler plan ({environment})\n")]
    return body


def succeeded(jobs: dict[str, JobResult], *names: str) -> None:
    assert sorted(jobs) == sorted(names), list(jobs)
    for job in jobs.values():
        assert job.status == "success", job.log


def test_merge_requests_converge_through_the_gitlab_pipeline(gitlab: GitLabWorld, upstream_db: str) -> None:
    posthog, api = gitlab.posthog, gitlab.gitlab

    # A busy merge request: 130 notes by people, one of them starting like ours. The plan job adds its own
    # note, and on the next push finds it again on page 2 and updates it in place.
    first = gitlab.open_merge_request(
        "Add Stripe, the app database and HubSpot",
        {"manifests/stripe.yaml": stripe(), "manifests/app_db.yaml": app_db(upstream_db),
         "manifests/hubspot.yaml": hubspot()},
    )  # fmt: skip
    succeeded(gitlab.last_pipeline, *PLANS)
    assert len(api.bot_notes(first)) == 2
    for environment in ENVIRONMENTS:
        assert "3 to create" in note(gitlab, first, environment)
    fake = api.add_note(first, PEOPLE, "### reconciler plan (staging)\n\n(pasted by hand)")
    for i in range(130):
        api.add_note(first, PEOPLE, f"review comment {i}")
    succeeded(gitlab.push(first, {"manifests/stripe.yaml": stripe(customer="12hour")}), *PLANS)
    assert len(api.bot_notes(first)) == 2  # each updated in place
    assert "12hour" in note(gitlab, first, "production")
    assert next(n for n in api.state.notes[first] if n["id"] == fake)["body"].endswith("(pasted by hand)")

    merged = gitlab.merge(first)
    succeeded(merged, *APPLIES)
    assert list(merged) == list(APPLIES)  # staging first, then production
    for team in ENVIRONMENTS.values():
        assert sorted(posthog.sources(team)) == ["app", "hubspot", "stripe"]
    converged(gitlab)

    # Two merges; the first pipeline is auto-cancelled before its apply. The second applies both, the
    # tombstone included because its merge request carries the label.
    second = gitlab.open_merge_request("Customers every 6 hours", {"manifests/stripe.yaml": stripe(customer="6hour")})
    third = gitlab.open_merge_request("Retire HubSpot", {"manifests/hubspot.yaml": hubspot(absent=True)}, (LABEL,))
    assert "Merging will delete or replace 1 source" in note(gitlab, third)
    assert gitlab.merge(second, cancelled=True) == {}
    succeeded(gitlab.merge(third), *APPLIES)
    live = posthog.sources()
    assert "hubspot" not in live and live["stripe"]["tables"]["Customer"]["sync_frequency"] == "6hour"
    converged(gitlab)

    # Someone edits PostHog after the next merge request was planned: the merge's apply refuses the revert
    # nobody reviewed, and writes nothing. A manual dry run, reviewed, then applied by its job id, recovers.
    fourth = gitlab.open_merge_request(
        "Events every hour", {"manifests/app_db.yaml": app_db(upstream_db, events="1hour")}
    )
    posthog.ui_patch_table("stripe", "Invoice", sync_frequency="1hour")
    refused = gitlab.merge(fourth)
    assert list(refused) == ["apply-staging"]  # production is not promoted after a failed staging apply
    assert refused["apply-staging"].status == "failed"
    log = refused["apply-staging"].log
    assert "tables.Invoice.sync_frequency = 24hour (not in any reviewed plan)" in log, log
    live = posthog.sources()
    assert live["app"]["tables"]["events"]["sync_frequency"] == "6hour"  # nothing was written
    dry = gitlab.run_pipeline()
    succeeded(dry, *PLANS)
    assert "Invoice" in dry["plan: [staging]"].log
    pipeline = next(j["pipeline_id"] for j in api.state.jobs if j["id"] == dry["plan: [staging]"].job_id)
    succeeded(gitlab.run_pipeline(RECONCILER_REVIEWED_PIPELINE=str(pipeline)), *APPLIES)
    live = posthog.sources()
    assert live["app"]["tables"]["events"]["sync_frequency"] == "1hour"
    assert live["stripe"]["tables"]["Invoice"]["sync_frequency"] == "24hour"
    converged(gitlab)

    assert api.state.unknown == []  # every API call the pipeline made is one GitLab has
    logs = "".join(j["artifacts"].get("plan.md", "") + str(j["artifacts"]) for j in api.state.jobs)
    notes = str(api.state.notes)
    for canary in CANARIES:
        assert canary not in logs + notes
