"""The documented scheduled-drift workflow (examples/ci/drift.yml) stays well-formed and keeps its contract:
a schedule, one job per environment running the action's `drift` command, and through the action one labelled
issue per environment opened or updated on exit code 2, closed on 0, the job failing on exit code 1."""

from __future__ import annotations

from pathlib import Path

import yaml

from reconciler.drift.render import MARKDOWN_TITLE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ci" / "drift.yml"


def test_workflow_schedules_drift_and_manages_one_issue() -> None:
    workflow = yaml.safe_load(EXAMPLE.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] == "17 6 * * *"
    assert workflow["permissions"] == {"contents": "read", "issues": "write"}
    job = workflow["jobs"]["drift"]
    assert job["strategy"]["matrix"] == {"environment": ["staging", "production"]}
    steps = {step.get("name"): step for step in job["steps"]}
    check = steps["Check for drift"]
    assert check["uses"].endswith("/reconciler@v0.1.0")
    assert check["with"]["command"] == "drift" and check["with"]["environment"] == "${{ matrix.environment }}"
    # The default --fail-on: tables PostHog knows but does not sync are reported without failing the check.
    args = check["with"]["args"]
    assert args == "--allow-env 'APP_DB_HOST' --allow-secret 'APP_DB_PASSWORD' --allow-secret 'STRIPE_*'"
    # The action keeps ONE issue per environment: updated on 2, closed on 0, nothing on 1 (the job fails).
    script = (ROOT / "action" / "reconciler-action.sh").read_text()
    assert '--label "$label" --state open' in script and "gh issue create" in script
    assert 'gh issue edit "$number"' in script and 'gh issue close "$number"' in script
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    (fail,) = [s for s in action["runs"]["steps"] if s.get("name") == "Fail on errors"]
    assert fail["if"] == "steps.run.outputs.exit-code == '1'"
    assert MARKDOWN_TITLE == "### reconciler drift"
