"""The GitOps loop on GitLab through the shipped examples/ci/gitlab-ci.yml: merge requests get one plan note
(found among more than 100 notes, never someone else's), each job gets the key of its environment scope, a
cancelled pipeline loses no merge, deletes need the label, and a refused apply is recovered with a reviewed
manual pipeline."""

from __future__ import annotations

from gitops_gitlab import PEOPLE, JobResult
from gitops_manifests import LABEL, app_db, hubspot, stripe
from gitops_world import CANARIES, GitLabWorld


def converged(world: GitLabWorld) -> None:
    done = world.main_plan()
    assert done.returncode == 0 and "No changes" in done.stdout, done.stdout + done.stderr


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
    succeeded(gitlab.last_pipeline, "plan")
    assert api.bot_notes(first)[0].startswith("### reconciler plan") and "3 to create" in api.bot_notes(first)[0]
    fake = api.add_note(first, PEOPLE, "### reconciler plan\n\n(pasted by hand)")
    for i in range(130):
        api.add_note(first, PEOPLE, f"review comment {i}")
    succeeded(gitlab.push(first, {"manifests/stripe.yaml": stripe(customer="12hour")}), "plan")
    (note,) = api.bot_notes(first)
    assert "12hour" in note
    assert next(n for n in api.state.notes[first] if n["id"] == fake)["body"].endswith("(pasted by hand)")

    succeeded(gitlab.merge(first), "apply")
    assert sorted(posthog.sources()) == ["app", "hubspot", "stripe"]
    converged(gitlab)

    # Two merges; the first pipeline is auto-cancelled before its apply. The second applies both, the
    # tombstone included because its merge request carries the label.
    second = gitlab.open_merge_request("Customers every 6 hours", {"manifests/stripe.yaml": stripe(customer="6hour")})
    third = gitlab.open_merge_request("Retire HubSpot", {"manifests/hubspot.yaml": hubspot(absent=True)}, (LABEL,))
    assert "Merging will delete or replace 1 source" in api.bot_notes(third)[0]
    assert gitlab.merge(second, cancelled=True) == {}
    succeeded(gitlab.merge(third), "apply")
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
    assert refused["apply"].status == "failed"
    assert "tables.Invoice.sync_frequency = 24hour (not in any reviewed plan)" in refused["apply"].log, refused[
        "apply"
    ].log
    live = posthog.sources()
    assert live["app"]["tables"]["events"]["sync_frequency"] == "6hour"  # nothing was written
    dry = gitlab.run_pipeline()
    succeeded(dry, "plan")
    assert "Invoice" in dry["plan"].log
    succeeded(gitlab.run_pipeline(RECONCILER_REVIEWED_JOB=str(dry["plan"].job_id)), "apply")
    live = posthog.sources()
    assert live["app"]["tables"]["events"]["sync_frequency"] == "1hour"
    assert live["stripe"]["tables"]["Invoice"]["sync_frequency"] == "24hour"
    converged(gitlab)

    assert api.state.unknown == []  # every API call the pipeline made is one GitLab has
    logs = "".join(j["artifacts"].get("plan.md", "") + str(j["artifacts"]) for j in api.state.jobs)
    notes = str(api.state.notes)
    for canary in CANARIES:
        assert canary not in logs + notes
