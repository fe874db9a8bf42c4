"""The composite GitHub Action (action.yml + action/reconciler-action.sh), run step by step as a runner would.

`run_action` walks action.yml's own steps: it evaluates their `if:` and `${{ }}` expressions over the inputs,
the run step's outputs and the event, and runs each `run:` step with bash and that step's `env:`, so the
YAML's wiring is tested along with the script. `actions/*` steps are recorded, not run; the install step is
covered by its own test (it would pip-install). PostHog is a real emulator over HTTP; `gh` is tests/action/
fake_gh.py keeping comments and issues in a JSON file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
FAKE_GH = Path(__file__).with_name("fake_gh.py")
CANARY = "sk_test_CANARY_action_7f3a"

MANIFEST = """\
version: 1
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
"""

_CONTEXT = re.compile(r"\b(?:inputs|steps|github)(?:\.[A-Za-z0-9_-]+)+")


@dataclass
class ActionRun:
    outputs: dict[str, str]
    logs: list[str] = field(default_factory=list)
    uses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failed: bool = False

    @property
    def log(self) -> str:
        return "\n".join(self.logs)


@dataclass
class Runner:
    """One job's workspace: env of the runner, the fake forge, and the emulator it points at."""

    workspace: Path
    env: dict[str, str]

    @property
    def forge(self) -> dict[str, Any]:
        path = Path(self.env["FAKE_GH_STATE"])
        return json.loads(path.read_text()) if path.exists() else {"comments": [], "issues": [], "calls": []}

    def _value(self, path: str, inputs: Mapping[str, str], steps: Mapping[str, Mapping[str, str]], pr: str) -> str:
        head, *rest = path.split(".")
        if head == "inputs":
            return inputs[rest[0]]
        if head == "steps":
            return steps.get(rest[0], {}).get(rest[2], "")
        return {"github.event.pull_request.number": pr, "github.token": "ghs_test_token"}[path]

    def _expr(self, text: str, inputs: Mapping[str, str], steps: Mapping[str, Mapping[str, str]], pr: str) -> Any:
        """GitHub's expression subset action.yml uses: contexts, 'strings', ==, !=, &&, always()."""
        values: dict[str, str] = {}

        def name(match: re.Match[str]) -> str:
            values[f"v{len(values)}"] = self._value(match.group(0), inputs, steps, pr)
            return f"v{len(values) - 1}"

        code = _CONTEXT.sub(name, text).replace("&&", " and ").replace("||", " or ").replace("always()", "True")
        assert re.fullmatch(r"(\s|v\d+|'[^']*'|==|!=|and|or|True)*", code), code  # nothing else to evaluate
        return eval(code, {"__builtins__": {}}, values)

    def _interpolate(self, text: str, *args: Any) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(self._expr(m.group(1), *args)), str(text))

    def action(self, pr: str = "", **given: str) -> ActionRun:
        declared = ACTION["inputs"]
        unknown = set(given) - {k.replace("-", "_") for k in declared}
        assert not unknown, unknown
        inputs = {name: given.get(name.replace("-", "_"), spec.get("default", "")) for name, spec in declared.items()}
        inputs["github-token"] = "ghs_test_token"
        steps: dict[str, dict[str, str]] = {}
        result = ActionRun(outputs={})
        for step in ACTION["runs"]["steps"]:
            args = (inputs, steps, pr)
            condition = step.get("if")
            if condition is not None and not self._expr(condition, *args):
                continue
            if result.failed and "always()" not in (condition or ""):
                continue  # a status-less `if:` means success() && …
            if "uses" in step:
                with_ = {k: self._interpolate(v, *args) for k, v in (step.get("with") or {}).items()}
                result.uses.append((step["uses"], with_))
                continue
            if step["run"].endswith(" install"):
                continue  # pip install: test_install_step covers it
            env = {**self.env, **{k: self._interpolate(v, *args) for k, v in (step.get("env") or {}).items()}}
            output = self.workspace.parent / "github_output"
            output.write_text("")
            env["GITHUB_OUTPUT"] = str(output)
            env["GITHUB_ACTION_PATH"] = str(ROOT)
            cwd = self.workspace / self._interpolate(step.get("working-directory", "."), *args)
            command = self._interpolate(step["run"], *args)
            done = subprocess.run(["bash", "-e", "-c", command], cwd=cwd, env=env, capture_output=True, text=True)
            result.logs.append(done.stdout + done.stderr)
            if "id" in step:
                steps[step["id"]] = dict(line.split("=", 1) for line in output.read_text().splitlines())
            if done.returncode != 0:
                result.failed = True
        result.outputs = {
            name: self._interpolate(spec["value"], inputs, steps, pr) for name, spec in ACTION["outputs"].items()
        }
        return result


@pytest.fixture
def runner(tmp_path: Path, start_emulator: Any) -> Iterator[Runner]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_GH}" "$@"\n')
    gh.chmod(0o755)
    workspace = tmp_path / "workspace"
    (workspace / "manifests").mkdir(parents=True)
    (workspace / "manifests" / "sources.yaml").write_text(MANIFEST)
    (tmp_path / "runner_temp").mkdir()
    with start_emulator() as emu:
        env = {
            "PATH": f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "RUNNER_TEMP": str(tmp_path / "runner_temp"),
            "GITHUB_REPOSITORY": "org/repo",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "FAKE_GH_STATE": str(tmp_path / "forge.json"),
            "NO_COLOR": "1",
            "STRIPE_SECRET_KEY": CANARY,
            **emu.cli_env(),
        }
        yield Runner(workspace, env)


def _comments(runner: Runner) -> list[dict[str, Any]]:
    return runner.forge["comments"]


def test_plan_on_a_pull_request_keeps_one_comment_and_saves_the_plan(runner: Runner) -> None:
    first = runner.action(pr="12", command="plan", directory="manifests/", args="--allow-env 'STRIPE_*'")
    assert not first.failed, first.log
    assert first.outputs["exit-code"] == "2" and first.outputs["changes"] == "true"
    assert first.outputs["plan-file"] == "plan.json"
    assert json.loads((runner.workspace / "plan.json").read_text())["format_version"] == 1
    # The saved plan goes up as an artifact, under the default name; the comment says where it is.
    assert ("actions/upload-artifact@v4", {"name": "reconciler-plan", "path": "plan.json", "retention-days": "14"}) in (
        first.uses
    )
    (comment,) = _comments(runner)
    assert comment["issue"] == "12"
    assert comment["body"].startswith("<!-- reconciler-action: plan -->\n### reconciler plan")
    assert "stripe_prod" in comment["body"]
    assert "Plan: 1 to create" in Path(first.outputs["report"]).read_text()
    assert "### reconciler plan" in Path(runner.env["GITHUB_STEP_SUMMARY"]).read_text()

    # Another push: the same comment is edited, not a second one posted.
    second = runner.action(pr="12", command="plan", directory="manifests/")
    assert not second.failed, second.log
    (again,) = _comments(runner)
    assert again["id"] == comment["id"]
    last_call = runner.forge["calls"][-1]
    assert last_call[:4] == ["api", "--method", "PATCH", f"repos/org/repo/issues/comments/{comment['id']}"]
    # No secret value reaches a comment, the summary or the log.
    everything = json.dumps(runner.forge) + second.log + first.log
    assert CANARY not in everything and CANARY not in Path(runner.env["GITHUB_STEP_SUMMARY"]).read_text()


def test_comment_new_posts_every_run_and_off_posts_nothing(runner: Runner) -> None:
    for _ in range(2):
        assert not runner.action(pr="3", command="plan", directory="manifests/", comment="new").failed
    assert len(_comments(runner)) == 2
    assert not runner.action(pr="3", command="plan", directory="manifests/", comment="off").failed
    assert len(_comments(runner)) == 2
    # Outside a pull request (a push), a plan has nowhere to comment.
    run = runner.action(command="plan", directory="manifests/")
    assert not run.failed and "Not a pull request: no plan comment." in run.log
    assert len(_comments(runner)) == 2


def test_a_failed_plan_comments_the_errors_and_fails_the_action(runner: Runner) -> None:
    (runner.workspace / "manifests" / "sources.yaml").write_text(MANIFEST.replace("type: Stripe", "type: Strpe"))
    run = runner.action(pr="5", command="plan", directory="manifests/")
    assert run.failed and run.outputs["exit-code"] == "1"
    assert not [u for u in run.uses if u[0].startswith("actions/upload-artifact")]  # no plan to keep
    (comment,) = _comments(runner)
    # The plan's own markdown carries the errors, each with its location and hint (no fallback needed).
    assert comment["body"].startswith("<!-- reconciler-action: plan -->\n### reconciler plan\n")
    assert "**1 error: no plan was made**" in comment["body"]
    assert "manifests/sources.yaml:4:11" in comment["body"] and "'Strpe'" in comment["body"]
    assert "reconciler plan failed (exit 1)" in run.log


def test_apply_the_saved_plan_then_drift_keeps_one_issue(runner: Runner) -> None:
    assert runner.action(command="plan", directory="manifests/", artifact="none").outputs["exit-code"] == "2"
    applied = runner.action(command="apply", directory="manifests/")  # plan.json exists: the saved plan
    assert not applied.failed, applied.log
    assert "Apply complete: 2 steps succeeded, 0 failed" in Path(applied.outputs["report"]).read_text()
    assert applied.outputs["changes"] == "false"

    clean = runner.action(command="drift", directory="manifests/")
    assert clean.outputs["exit-code"] == "0" and runner.forge["issues"] == []

    edited = MANIFEST.replace("frequency: 24hour", "frequency: 12hour")
    (runner.workspace / "manifests" / "sources.yaml").write_text(edited)
    for _ in range(2):
        drifted = runner.action(command="drift", directory="manifests/")
        assert not drifted.failed and drifted.outputs["exit-code"] == "2" and drifted.outputs["changes"] == "true"
    (issue,) = runner.forge["issues"]
    assert issue["state"] == "open" and issue["labels"] == ["reconciler-drift"]
    assert issue["title"] == "Drift between the manifests and PostHog"
    assert issue["body"].startswith("<!-- reconciler-action: drift -->\n### reconciler drift")
    assert issue["comments"] == ["Still drifting as of run https://github.com/org/repo/actions/runs/4242."]

    (runner.workspace / "manifests" / "sources.yaml").write_text(MANIFEST)
    assert runner.action(command="drift", directory="manifests/").outputs["exit-code"] == "0"
    (issue,) = runner.forge["issues"]
    assert issue["state"] == "closed" and issue["comments"][-1].startswith("No drift any more")


def test_args_are_split_like_a_shell_without_running_anything(runner: Runner, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    run = runner.action(command="validate", directory="manifests/", args=f"--allow-env 'STRIPE_*' $(touch {marker})")
    # `$(touch …)` reaches reconciler as words (an unexpected argument), never as a command.
    assert not marker.exists()
    assert run.outputs["exit-code"] == "1" and "$(touch" in run.log
    ok = runner.action(command="validate", directory="manifests/", args="--allow-env 'STRIPE_*'")
    assert ok.outputs["exit-code"] == "0" and "1 source in 1 file: valid" in ok.log


def test_unknown_command_fails(runner: Runner) -> None:
    run = runner.action(command="destroy")
    assert run.failed and "unknown command 'destroy'" in run.log


def test_install_step_pins_the_actions_own_source_or_a_version(tmp_path: Path) -> None:
    """The install step with a stand-in python3 that records what pip was asked to install."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(
        "#!/bin/bash\n"
        'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python";\n'
        '  printf \'#!/bin/sh\\necho "reconciler, version 9.9.9"\\n\' > "$3/bin/reconciler"\n'
        '  chmod +x "$3/bin/reconciler"\n'
        'else echo "$*" >> "$(dirname "$0")/../pip-calls"; fi\n'
    )
    fake.chmod(0o755)
    (step,) = [s for s in ACTION["runs"]["steps"] if s.get("run", "").endswith(" install")]
    for version, expected in (("", str(ROOT)), ("0.1.0", "posthog-reconciler==0.1.0")):
        temp = tmp_path / f"temp{version}"
        temp.mkdir()
        path_file = tmp_path / f"path{version}"
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "RUNNER_TEMP": str(temp),
            "GITHUB_PATH": str(path_file),
            "GITHUB_ACTION_PATH": str(ROOT),
            "INPUT_VERSION": version,
        }
        done = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "reconciler, version 9.9.9\n"
        calls = (temp / "reconciler-venv" / "pip-calls").read_text().splitlines()
        assert calls == [f"-m pip install --quiet --disable-pip-version-check {expected}"]
        assert path_file.read_text() == f"{temp / 'reconciler-venv' / 'bin'}\n"


def test_every_input_is_used_and_every_used_input_is_declared() -> None:
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"inputs\.([A-Za-z0-9_-]+)", text))
    assert used == set(ACTION["inputs"])
    script = (ROOT / "action" / "reconciler-action.sh").read_text(encoding="utf-8")
    read = set(re.findall(r"\$\{?(INPUT_[A-Z_]+)", script))
    given = {k for s in ACTION["runs"]["steps"] for k in (s.get("env") or {}) if k.startswith("INPUT_")}
    assert read == given
    assert os.access(ROOT / "action" / "reconciler-action.sh", os.X_OK)
