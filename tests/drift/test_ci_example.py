"""The documented scheduled-drift workflow (examples/ci/drift.yml) stays well-formed and keeps its contract:
a schedule, one labelled issue opened or updated on exit code 2, the job failing on exit code 1."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from reconciler.drift.render import MARKDOWN_TITLE

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ci" / "drift.yml"


def test_workflow_schedules_drift_and_manages_one_issue() -> None:
    workflow = yaml.safe_load(EXAMPLE.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] == "17 6 * * *"
    assert workflow["permissions"] == {"contents": "read", "issues": "write"}
    steps = {step.get("name"): step for step in workflow["jobs"]["drift"]["steps"]}
    check = steps["Check for drift"]["run"]
    assert (
        "reconciler drift manifests/ --allow-env 'APP_DB_HOST' --allow-secret 'APP_DB_PASSWORD' "
        "--allow-secret 'STRIPE_*' --format markdown"
    ) in check
    # The default --fail-on: tables PostHog knows but does not sync are reported without failing the check.
    assert "--output drift.md" in check and not re.search(r"^\s*reconciler drift .*--fail-on", check, re.MULTILINE)
    assert 'if [ "$code" = 1 ]; then exit 1; fi' in check
    update = steps["Open or update the drift issue"]
    assert update["if"] == "steps.drift.outputs.code == '2'"
    assert 'gh issue list --label "$LABEL" --state open --limit 1' in update["run"]
    assert "gh issue create" in update["run"] and 'gh issue edit "$number" --body-file drift.md' in update["run"]
    assert steps["Close the drift issue when everything matches again"]["if"] == "steps.drift.outputs.code == '0'"
    assert MARKDOWN_TITLE == "### reconciler drift"
