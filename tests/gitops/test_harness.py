"""The GitOps harness itself: if the expression evaluator, the stub `gh`, the runner's concurrency or its
trigger filters were wrong, the end-to-end tests would prove nothing. Each is checked against GitHub's
documented behaviour here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gitops_actions import GitHubActions
from gitops_expr import ExpressionError, JobStatus, evaluate, interpolate
from gitops_forge import ACTIONS_LOGIN, ACTIONS_TOKEN, Forge

HERE = Path(__file__).resolve().parent

CONTEXT = {
    "github": {
        "event_name": "pull_request",
        "event": {"pull_request": {"number": 7, "labels": [{"name": "bug"}, {"name": "reconciler-allow-delete"}]}},
    },
    "steps": {"plan": {"outputs": {"code": "2"}}},
    "inputs": {"reviewed_run": "", "allow_delete": True},
    "env": {"DRY_RUN": "false"},
}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("contains(github.event.pull_request.labels.*.name, 'reconciler-allow-delete')", True),
        ("contains(github.event.pull_request.labels.*.name, 'other')", False),
        ("steps.plan.outputs.code == '2'", True),
        ("steps.plan.outputs.code != '0' && steps.plan.outputs.code != '2'", False),
        ("steps.missing.outputs.code == ''", True),  # a missing property is null, and null == '' (both 0)
        ("github.event_name == 'workflow_dispatch' && inputs.reviewed_run == ''", False),
        ("github.event_name == 'PULL_REQUEST'", True),  # string comparison ignores case
        ("inputs.allow_delete", True),
        ("!inputs.reviewed_run", True),
        ("env.DRY_RUN != 'true'", True),
        ("always() && steps.plan.outputs.code != ''", True),
        ("'a' || 'b'", "a"),
        ("'' || 'b'", "b"),
        ("format('{0}-{1}', 'x', 2)", "x-2"),
    ],
)
def test_expressions_follow_githubs_rules(expression: str, value: object) -> None:
    assert evaluate(expression, CONTEXT) == value


def test_status_functions_and_interpolation() -> None:
    failed = JobStatus(failed=True)
    assert evaluate("success()", CONTEXT, failed) is False and evaluate("failure()", CONTEXT, failed) is True
    text = (
        "group-${{ github.event.pull_request.number }} ${{ contains(github.event.pull_request.labels.*.name, 'bug') }}"
    )
    assert interpolate(text, CONTEXT) == "group-7 true"


def test_unknown_constructs_are_refused_not_guessed() -> None:
    with pytest.raises(ExpressionError, match="unknown function hashFiles"):
        evaluate("hashFiles('x')", CONTEXT)
    with pytest.raises(ExpressionError, match="unknown context 'matrix'"):
        evaluate("matrix.os == 'linux'", CONTEXT)


def _gh(
    state: Path, *argv: str, token: str = ACTIONS_TOKEN, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "GH_STUB_STATE": str(state), "GH_TOKEN": token}
    return subprocess.run(
        [sys.executable, str(HERE / "gitops_forge.py"), *argv], env=env, capture_output=True, text=True, cwd=cwd
    )


def test_stub_gh_comments_paginate_and_keep_authors(tmp_path: Path) -> None:
    forge = Forge.create(tmp_path / "state.json", "acme/repo")
    number = forge.open_pull("b", "a" * 40, "t")
    for i in range(45):
        forge.add_comment(number, "someone", f"comment {i}")
    foreign = forge.add_comment(number, "someone", "### reconciler plan\n\nfake")
    path = f"repos/acme/repo/issues/{number}/comments"
    query = '.[] | select(.body | startswith("### reconciler plan")) | .id'
    assert _gh(forge.path, "api", path, "--jq", query).stdout == ""  # page 1 of 30 only
    assert _gh(forge.path, "api", path, "--paginate", "--jq", query).stdout == f"{foreign}\n"
    body = tmp_path / "body.md"
    body.write_text("### reconciler plan\n\nmine", encoding="utf-8")
    done = _gh(
        forge.path, "api", "--method", "PATCH", f"repos/acme/repo/issues/comments/{foreign}", "-F", f"body=@{body}"
    )
    assert done.returncode == 1 and "403" in done.stderr  # the bot cannot edit someone else's comment
    assert _gh(forge.path, "pr", "comment", str(number), "--body-file", str(body)).returncode == 0
    mine = [c for c in forge.comments(number) if c["user"]["login"] == ACTIONS_LOGIN]
    assert [c["body"] for c in mine] == ["### reconciler plan\n\nmine"]
    assert _gh(forge.path, "api", path, token="ghp_unknown").returncode == 4
    refused = _gh(forge.path, "pr", "merge", str(number))
    assert refused.returncode == 64 and "not implemented" in refused.stderr


def test_stub_gh_runs_artifacts_and_issues(tmp_path: Path) -> None:
    forge = Forge.create(tmp_path / "state.json", "acme/repo")
    old = forge.new_run("reconciler-plan.yml", "reconciler plan", "pull_request", "b" * 40, "x")
    forge.update_run(old, status="completed", conclusion="success")
    new = forge.new_run("reconciler-plan.yml", "reconciler plan", "pull_request", "b" * 40, "x")
    forge.update_run(new, status="completed", conclusion="failure")
    forge.upload(old, "reconciler-plan", {"plan.json": "{}\n"})
    listed = _gh(
        forge.path,
        "run",
        "list",
        "--workflow",
        "reconciler-plan.yml",
        "--commit",
        "b" * 40,
        "--status",
        "success",
        "--limit",
        "1",
        "--json",
        "databaseId",
        "--jq",
        ".[0].databaseId",
    )
    assert listed.stdout == f"{old}\n"
    assert (
        _gh(forge.path, "run", "download", str(old), "--name", "reconciler-plan", "--dir", "d", cwd=tmp_path).returncode
        == 0
    )
    assert (tmp_path / "d" / "plan.json").read_text() == "{}\n"
    assert _gh(forge.path, "run", "download", str(new), "--name", "reconciler-plan", cwd=tmp_path).returncode == 1
    body = tmp_path / "drift.md"
    body.write_text("drift", encoding="utf-8")
    assert (
        _gh(forge.path, "issue", "create", "--title", "t", "--label", "drift", "--body-file", str(body)).returncode == 1
    )
    assert _gh(forge.path, "label", "create", "drift", "--color", "D93F0B").returncode == 0
    assert _gh(forge.path, "label", "create", "drift", "--color", "D93F0B").returncode == 1  # exists
    assert (
        _gh(forge.path, "issue", "create", "--title", "t", "--label", "drift", "--body-file", str(body)).returncode == 0
    )
    listed = _gh(
        forge.path, "issue", "list", "--label", "drift", "--state", "open", "--json", "number", "--jq", ".[0].number"
    )
    assert listed.stdout.strip() == "1"
    assert _gh(forge.path, "issue", "close", "1", "--comment", "gone").returncode == 0
    assert [(i["state"], [c["body"] for c in i["comments"]]) for i in forge.issues()] == [("closed", ["gone"])]
    assert json.loads(_gh(forge.path, "issue", "list", "--label", "drift", "--json", "number").stdout) == []


def test_runner_triggers_follow_types_branches_and_paths(tmp_path: Path) -> None:
    from gitops_world import WORKFLOWS

    runner = GitHubActions.__new__(GitHubActions)
    runner.workflows = {name: __import__("gitops_actions")._load(path) for name, path in WORKFLOWS.items()}
    plan = "reconciler-plan.yml"
    assert runner.triggers(plan, "pull_request", action="labeled", changed=["manifests/a.yaml"])
    assert not runner.triggers(plan, "pull_request", action="opened", changed=["README.md"])
    assert runner.triggers(plan, "pull_request", action="opened", changed=["manifests/team/b.yaml"])
    assert not runner.triggers(plan, "pull_request", action="closed", changed=["manifests/a.yaml"])
    apply = "reconciler-apply.yml"
    assert runner.triggers(apply, "push", branch="main", changed=["manifests/a.yaml"])
    assert not runner.triggers(apply, "push", branch="feature", changed=["manifests/a.yaml"])
    assert not runner.triggers(apply, "push", branch="main", changed=[".github/workflows/reconciler-apply.yml"])
    assert runner.triggers(apply, "workflow_dispatch")
    assert runner.triggers("reconciler-drift.yml", "schedule")
