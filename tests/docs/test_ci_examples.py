"""The CI examples (examples/ci/*.yml) and .pre-commit-hooks.yaml stay valid and keep their contracts.

Workflows are validated with check-jsonschema's vendored GitHub Actions and GitLab CI schemas in a child
process whose sockets are disabled, so the check works offline. Every `reconciler …` command they contain
is parsed by the real CLI, so a renamed or mistyped flag fails here rather than in a user's pipeline.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli import cli, run_cli

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
GITHUB_WORKFLOWS = ("plan.yml", "apply.yml", "drift.yml")
HOOKS = ROOT / ".pre-commit-hooks.yaml"

#: Runs check-jsonschema with every way of opening a network connection disabled.
OFFLINE_CHECK_JSONSCHEMA = """\
import socket, sys
def _offline(*args, **kwargs):
    raise OSError("network disabled by the test")
socket.socket.connect = _offline
socket.create_connection = _offline
socket.getaddrinfo = _offline
sys.argv[0] = "check-jsonschema"
from check_jsonschema import main
main()
"""


def check_jsonschema(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cache = tmp_path / "cache"  # an empty cache: nothing downloaded earlier can stand in for the network
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(cache), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-c", OFFLINE_CHECK_JSONSCHEMA, *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_action_matches_the_vendored_schema_offline(tmp_path: Path) -> None:
    """action.yml (the composite GitHub Action at the repository root) against GitHub's action schema."""
    done = check_jsonschema(tmp_path, "--builtin-schema", "vendor.github-actions", str(ROOT / "action.yml"))
    assert (done.returncode, done.stdout.strip()) == (0, "ok -- validation done"), done.stdout + done.stderr


def _load(name: str) -> Any:
    return yaml.safe_load((CI / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", GITHUB_WORKFLOWS)
def test_github_workflow_matches_the_vendored_schema_offline(tmp_path: Path, name: str) -> None:
    done = check_jsonschema(tmp_path, "--builtin-schema", "vendor.github-workflows", str(CI / name))
    assert (done.returncode, done.stdout.strip()) == (0, "ok -- validation done"), done.stdout + done.stderr
    done = check_jsonschema(tmp_path, "--builtin-schema", "custom.github-workflows-require-timeout", str(CI / name))
    assert done.returncode == 0, done.stdout + done.stderr


def test_gitlab_ci_matches_the_vendored_schema_offline(tmp_path: Path) -> None:
    done = check_jsonschema(tmp_path, "--builtin-schema", "vendor.gitlab-ci", str(CI / "gitlab-ci.yml"))
    assert (done.returncode, done.stdout.strip()) == (0, "ok -- validation done"), done.stdout + done.stderr


def test_schema_check_rejects_broken_workflows(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (CI / "plan.yml").read_text(encoding="utf-8").replace("    runs-on: ubuntu-latest\n", "")
    broken.write_text(text, encoding="utf-8")
    done = check_jsonschema(tmp_path, "--builtin-schema", "vendor.github-workflows", str(broken))
    assert done.returncode == 1 and "'runs-on' is a required property" in done.stdout, done.stdout
    broken.write_text(
        (CI / "gitlab-ci.yml").read_text(encoding="utf-8").replace("when: on_success", "when: often"), encoding="utf-8"
    )
    done = check_jsonschema(tmp_path, "--builtin-schema", "vendor.gitlab-ci", str(broken))
    assert done.returncode == 1 and "'often' is not one of" in done.stdout, done.stdout


def test_the_offline_harness_really_has_no_network(tmp_path: Path) -> None:
    done = check_jsonschema(
        tmp_path, "--schemafile", "https://json.schemastore.org/github-workflow.json", str(CI / "plan.yml")
    )
    assert done.returncode != 0
    assert "network disabled by the test" in done.stdout + done.stderr


# ---- every reconciler command in the examples parses with the real CLI ---------------------------------


def _shell_text(node: Any) -> list[str]:
    """Every `run:` / `script:` string in a workflow, recursively."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k in ("run", "script") and isinstance(v, str)]
        if "script" in node and isinstance(node["script"], list):
            found += [s for s in node["script"] if isinstance(s, str)]
        return found + [t for k, v in node.items() for t in _shell_text(v) if k not in ("run",)]
    if isinstance(node, list):
        return [t for item in node for t in _shell_text(item)]
    return []


def reconciler_commands(shell: str) -> list[list[str]]:
    """`reconciler <command> …` invocations, continuation lines joined, cut at redirections and operators."""
    commands = []
    for line in shell.replace("\\\n", " ").splitlines():
        if not re.match(r"\s*reconciler (validate|schema|plan|apply|drift|import|serve)\b", line):
            continue  # only commands: a line that starts with one (`reconciler plan` inside a string is not)
        words = shlex.split(line, comments=True)
        cut = next((i for i, w in enumerate(words) if w in {">", "|", "||", "&&", ";"} or w.startswith(">")), None)
        commands.append(words[1:cut])
    return commands


def assert_parses(argv: list[str]) -> None:
    command = cli.commands[argv[0]]
    assert isinstance(command, click.Command)
    with command.make_context(argv[0], list(argv[1:])) as ctx:  # raises UsageError on an unknown flag
        assert ctx.params is not None


#: `uses:` of reconciler's own composite action (action.yml at the reconciler repository's root), any owner/ref.
ACTION_USES = re.compile(r"[\w.-]+/reconciler@v\d[\w.-]*")


def _action_steps(workflow: Any) -> list[dict[str, Any]]:
    jobs = workflow.get("jobs", {}).values()  # GitHub workflows only (GitLab has no `jobs:`)
    return [s for job in jobs for s in job["steps"] if ACTION_USES.fullmatch(s.get("uses", ""))]


def action_command(step: dict[str, Any]) -> list[str]:
    """The reconciler command a step of the action runs: its `command` and `args` (expressions left out, as
    they evaluate to a flag or to nothing), plus `--env` when it names an environment."""
    given = step["with"]
    args = re.sub(r"\$\{\{.*?\}\}", " ", str(given.get("args", "")))
    env = ["--env", "staging"] if given.get("environment") else []
    return [given["command"], *env, *shlex.split(args)]


def _all_commands() -> list[tuple[str, list[str]]]:
    out = []
    for name in (*GITHUB_WORKFLOWS, "gitlab-ci.yml"):
        for shell in _shell_text(_load(name)):
            out += [(name, argv) for argv in reconciler_commands(shell)]
        out += [(name, action_command(step)) for step in _action_steps(_load(name))]
    for hook in yaml.safe_load(HOOKS.read_text(encoding="utf-8")):
        out.append((hook["id"], shlex.split(hook["entry"])[1:]))
    return out


def test_every_example_command_parses_with_the_cli() -> None:
    commands = _all_commands()
    verbs = sorted({argv[0] for _, argv in commands})
    assert verbs == ["apply", "drift", "plan", "validate"]  # validate: the pre-commit hooks
    for where, argv in commands:
        try:
            assert_parses(argv)
        except click.UsageError as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{where}: reconciler {' '.join(argv)}: {exc}")


def test_allow_env_patterns_of_the_examples_accept_the_example_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    """The workflows' --allow-env / --allow-secret lists let examples/sources.yaml through, every workflow that
    reads manifests passes them, and apply.yml sets the secrets."""
    example = str(ROOT / "examples" / "sources.yaml")
    checked = set()
    for where, argv in _all_commands():
        flags = [a for i, word in enumerate(argv) if word in ("--allow-env", "--allow-secret") for a in argv[i : i + 2]]
        if not flags:
            continue
        assert run_cli(["validate", example, *flags]) == 0, (where, capsys.readouterr().err)
        checked.add(argv[0])
    assert checked == {"plan", "apply", "drift"}
    # The checks have teeth: a secret the list does not name, and an env() of a name --allow-secret claims.
    assert run_cli(["validate", example, "--allow-secret", "APP_DB_*"]) == 1
    assert "secret('STRIPE_SECRET_KEY') is not allowed" in capsys.readouterr().err
    assert run_cli(["validate", example, "--allow-secret", "APP_DB_*", "--allow-secret", "STRIPE_*"]) == 1
    assert "env('APP_DB_HOST') is not allowed: --allow-secret names it a secret variable" in capsys.readouterr().err
    lines = Path(example).read_text(encoding="utf-8").splitlines()
    names = set(re.findall(r"secret\('([A-Z0-9_]+)'\)", "\n".join(x for x in lines if not x.lstrip().startswith("#"))))
    env = _load("apply.yml")["jobs"]["apply"]["env"]
    assert names and names <= set(env), names - set(env)


def test_command_parsing_catches_a_typo() -> None:
    (argv,) = reconciler_commands("reconciler plan manifests/ --detailed-exit-code > plan.md")
    assert argv == ["plan", "manifests/", "--detailed-exit-code"]
    with pytest.raises(click.UsageError, match="No such option"):
        assert_parses(argv)


# ---- contracts of the GitHub workflows ---------------------------------------------------------------


def _steps(workflow: Any, job: str) -> dict[str, Any]:
    return {step.get("name") or step.get("uses"): step for step in workflow["jobs"][job]["steps"]}


MATRIX = {"environment": ["staging", "production"]}  # reconciler.yaml's environments, staging first


def test_plan_workflow_plans_every_environment_through_the_action() -> None:
    """One matrix job per environment runs the action: one comment and one saved-plan artifact each (the action
    keys them by environment; tests/action and tests/gitops prove that)."""
    workflow = _load("plan.yml")
    assert list(workflow[True]) == ["pull_request"]  # YAML 1.1 reads the key `on` as true
    assert "reconciler.yaml" in workflow[True]["pull_request"]["paths"]
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    job = workflow["jobs"]["plan"]
    assert job["strategy"] == {"fail-fast": False, "matrix": MATRIX}
    assert "environment" not in job  # pull-request plans are never held by an environment's protection rules
    plan = _steps(workflow, "plan")["Plan"]
    assert ACTION_USES.fullmatch(plan["uses"])
    assert plan["with"]["command"] == "plan" and plan["with"]["environment"] == "${{ matrix.environment }}"
    args = plan["with"]["args"]
    assert "--allow-env 'APP_DB_HOST' --allow-secret 'APP_DB_PASSWORD' --allow-secret 'STRIPE_*'" in args
    assert "contains(github.event.pull_request.labels.*.name, 'reconciler-allow-delete') && '--allow-delete'" in args
    # Only the API key reaches the pull-request job: no source secret values, no fingerprint key.
    secrets = set(re.findall(r"secrets\.([A-Z_]+)", (CI / "plan.yml").read_text(encoding="utf-8")))
    assert secrets == {"POSTHOG_PERSONAL_API_KEY"}


def test_drift_workflow_checks_every_environment_through_the_action() -> None:
    workflow = _load("drift.yml")
    job = workflow["jobs"]["drift"]
    assert job["strategy"] == {"fail-fast": False, "matrix": MATRIX}
    (step,) = _action_steps(workflow)
    assert step["with"]["command"] == "drift" and step["with"]["environment"] == "${{ matrix.environment }}"
    assert workflow["permissions"] == {"contents": "read", "issues": "write"}


def test_plan_comment_is_found_by_the_renderer_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("POSTHOG_HOST", "POSTHOG_PROJECT_ID", "POSTHOG_PERSONAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    Path("m.yaml").write_text("version: 1\nsources: {}\n", encoding="utf-8")
    assert run_cli(["plan", "--host", "local", "--format", "markdown", "m.yaml"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "### reconciler plan"


def test_apply_workflow_converges_main_and_checks_it_against_reviewed_plans() -> None:
    """The contract tests/gitops proves end to end: every run applies the newest main, re-planned, and only what
    the plans of the pull requests merged since the last successful apply showed."""
    workflow = _load("apply.yml")
    assert set(workflow[True]) == {"push", "workflow_dispatch"}
    assert set(workflow[True]["workflow_dispatch"]["inputs"]) == {"reviewed_run", "allow_delete"}
    assert workflow["concurrency"] == {"group": "reconciler-apply", "cancel-in-progress": False}
    assert workflow["permissions"] == {"contents": "read", "actions": "read", "pull-requests": "read"}
    assert workflow[True]["push"] == {"branches": ["main"], "paths": ["manifests/**", "reconciler.yaml"]}
    # One environment at a time, staging first; a failure stops the promotion; production's protection gates it.
    job = workflow["jobs"]["apply"]
    assert job["strategy"] == {"max-parallel": 1, "fail-fast": True, "matrix": MATRIX}
    assert job["environment"] == "${{ matrix.environment }}"
    steps = _steps(workflow, "apply")
    assert steps["actions/checkout@v4"]["with"] == {"ref": "main", "fetch-depth": 0}
    collect = steps["Collect the reviewed plans"]["run"]
    assert "--workflow reconciler-apply.yml --event push" in collect and "--status success" in collect
    assert "--workflow reconciler-plan.yml" in collect and '--name "reconciler-plan-$ENVIRONMENT"' in collect
    assert ".allow_delete = false" in collect  # a label removed before the merge does not count
    apply = steps["Apply the merged main as reviewed"]
    assert apply["with"]["command"] == "apply" and apply["with"]["environment"] == "${{ matrix.environment }}"
    assert apply["with"]["args"].endswith("--reviewed reviewed/")  # the action adds --auto-approve
    assert "--allow-delete" not in apply["with"]["args"]  # the opt-in comes from the reviewed plans only
    # The file name apply.yml looks for is the one plan.yml tells users to copy it to.
    assert ".github/workflows/reconciler-plan.yml" in (CI / "plan.yml").read_text(encoding="utf-8")


def test_examples_rotate_secrets_through_secrets_version() -> None:
    # Plans on pull requests have no secret values: a secrets_version bump is what they can see.
    for name in ("apply.yml", "gitlab-ci.yml"):
        assert "bump" in (CI / name).read_text(encoding="utf-8") and "secrets_version" in (CI / name).read_text(
            encoding="utf-8"
        ), name


def test_gitlab_pipeline_plans_merge_requests_and_converges_the_default_branch() -> None:
    pipeline = _load("gitlab-ci.yml")
    assert pipeline["stages"] == ["plan", "apply"]
    plan = pipeline["plan"]
    assert plan["parallel"] == {"matrix": [{"RECONCILER_ENV": ["staging", "production"]}]}  # one plan per environment
    assert "plan.json" in plan["artifacts"]["paths"]
    script = "\n".join(plan["script"])
    assert "--format markdown --out plan.json --detailed-exitcode" in script
    assert 'title="### reconciler plan ($RECONCILER_ENV)"' in script and "--request PUT" in script
    assert ".author.id == $me" in script and "X-Next-Page" in script.replace("[Xx]-[Nn]ext-[Pp]age", "X-Next-Page")
    # Each job declares the environment whose scoped key it gets: read-only for plans, write for apply.
    assert plan["environment"] == {"name": "posthog-plan", "action": "prepare"}
    staging, production = pipeline["apply-staging"], pipeline["apply-production"]  # in this order: promotion
    assert list(pipeline).index("apply-staging") < list(pipeline).index("apply-production")
    assert staging["environment"] == {"name": "staging"} and staging["needs"] == []
    assert production["environment"] == {"name": "production"} and production["needs"] == ["apply-staging"]
    for name, apply in (("staging", staging), ("production", production)):
        assert apply["variables"] == {"RECONCILER_ENV": name, "GIT_DEPTH": "0"}
        assert apply["resource_group"] == "reconciler-apply"
        assert apply["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
        assert apply["script"][-1].endswith("--reviewed reviewed/ --auto-approve")
        assert '--arg name "plan: [$RECONCILER_ENV]"' in apply["script"][1]


# ---- pre-commit ---------------------------------------------------------------------------------------


def test_pre_commit_hooks_run_reconciler_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}
    assert set(hooks) == {"reconciler-validate", "reconciler-validate-all"}
    for hook in hooks.values():
        assert {"id", "name", "entry", "language", "files"} <= set(hook) and hook["language"] == "python"
        pattern = re.compile(hook["files"])
        assert pattern.search("manifests/stripe.yaml") and pattern.search("infra/manifests/team/a.yml")
        assert not pattern.search(".github/workflows/plan.yml") and not pattern.search("manifests/README.md")
    assert hooks["reconciler-validate"]["entry"] == "reconciler validate"
    assert hooks["reconciler-validate-all"]["pass_filenames"] is False
    # What pre-commit runs: the entry followed by the changed files.
    argv = shlex.split(hooks["reconciler-validate"]["entry"])[1:]
    assert run_cli([*argv, str(ROOT / "examples" / "sources.yaml")]) == 0
    assert capsys.readouterr().out == "4 sources in 1 file: valid\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsources:\n  s: {type: Stripe, config: {stripe_key: x}}\n", encoding="utf-8")
    assert run_cli([*argv, str(bad)]) == 1
    assert "unknown field 'stripe_key' for Stripe; did you mean 'stripe_secret_key'?" in capsys.readouterr().err
