"""A small GitHub Actions runner for the shipped workflow files (examples/ci/*.yml), faithful where they rely on it.

Test-only. What it does as GitHub does: decides from `on:` whether an event triggers a workflow (event types,
branches, paths); keeps one running and one pending run per concurrency group (a newer pending run cancels the
older one; `cancel-in-progress: true` cancels the running one too); expands a job's `strategy.matrix` into one
job per value, in order (`max-parallel: 1`), and with `fail-fast` (the default) cancels the rest after a failed
one; gives a job only the secrets of its `environment:` (which may name `${{ matrix.… }}`); evaluates `if:` and
`${{ }}` (gitops_expr); runs each `run:` step with `bash -e` in the job's workspace with the merged env and
`GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_PATH` / `GITHUB_STEP_SUMMARY` / `RUNNER_TEMP`; emulates the three
actions the workflows use (`actions/checkout` — a shallow clone unless `fetch-depth: 0` —, `actions/setup-python`,
`actions/upload-artifact`), and runs reconciler's own composite action (`uses: OWNER/reconciler@REF`: the
repository's action.yml) step by step as the runner does: its inputs (defaults applied, unknown ones refused),
`if:`, `${{ inputs.… }}` / `${{ steps.… }}`, `GITHUB_ACTION_PATH`, and its declared outputs. The stub `gh`
(gitops_forge), a no-op `pip` and a `python3` whose `-m venv` makes a virtualenv holding this test's `reconciler`
(the action's install step) come first on PATH. Anything the runner does not know (another action, an unknown
expression) raises, so a workflow change the runner cannot honour fails the test instead of being skipped.
"""

from __future__ import annotations

import fnmatch
import glob
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from gitops_expr import JobStatus, evaluate, interpolate, truthy
from gitops_forge import ACTIONS_TOKEN, Forge
from gitops_repo import GitRepo

__all__ = ["Environment", "GitHubActions", "Hold", "RunResult", "StepLog"]

SERVER_URL = "https://github.com"
ROOT = Path(__file__).resolve().parents[2]
#: `uses:` that names reconciler's composite action (any owner, any ref): run from this checkout's action.yml.
RECONCILER_ACTION = re.compile(r"[\w.-]+/reconciler@[\w.-]+")


@dataclass(frozen=True)
class Environment:
    """A GitHub deployment environment: its own secrets and variables, overriding the repository's."""

    secrets: Mapping[str, str] = field(default_factory=dict)
    vars: Mapping[str, str] = field(default_factory=dict)


@dataclass
class StepLog:
    name: str
    outcome: str  # success | failure | skipped
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    job: str = ""


@dataclass
class RunResult:
    run_id: int
    workflow: str
    event: str
    conclusion: str  # success | failure | cancelled
    steps: list[StepLog] = field(default_factory=list)
    summary: str = ""
    workspace: Path | None = None

    def step(self, name: str) -> StepLog:
        return next(s for s in self.steps if s.name == name)

    def job_steps(self, job: str) -> list[StepLog]:
        """The steps of one job (a matrix job is named `JOB (VALUE)`), in order."""
        return [s for s in self.steps if s.job == job]

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} [{s.outcome}]\n{s.stdout}{s.stderr}" for s in self.steps)


@dataclass
class Hold:
    """Pause the next run of a workflow before one of its steps (to land merges while it runs)."""

    workflow: str
    before_step: str
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


def _glob_to_regex(pattern: str) -> re.Pattern[str]:
    """GitHub's path filter globs: `**` crosses directories, `*` does not."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + "$")


def _runs(step: dict[str, Any], context: Mapping[str, Any], status: JobStatus) -> bool:
    """A step's `if:` (default `success()`), with or without its `${{ }}`."""
    condition = str(step.get("if", "success()"))
    condition = condition[3:-2] if condition.startswith("${{") else condition
    return truthy(evaluate(condition, context, status))


def _step_env(
    step: dict[str, Any], base: dict[str, str], context: Mapping[str, Any], status: JobStatus
) -> dict[str, str]:
    """`base` plus the step's `env:`, each value interpolated with the env built so far."""
    step_env = dict(base)
    for key, value in (step.get("env") or {}).items():
        step_env[key] = interpolate(str(value), {**context, "env": step_env}, status)
    return step_env


def _load(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as true
    return dict(workflow)


class GitHubActions:
    def __init__(
        self,
        *,
        repo: GitRepo,
        forge: Forge,
        workflows: Mapping[str, Path],
        bin_dirs: list[Path],
        base_env: Mapping[str, str],
        vars: Mapping[str, str],
        secrets: Mapping[str, str],
        environments: Mapping[str, Environment],
        workdir: Path,
    ) -> None:
        self.repo = repo
        self.forge = forge
        self.workflows = {name: _load(path) for name, path in workflows.items()}
        self.bin_dirs = bin_dirs
        self.base_env = dict(base_env)
        self.vars = dict(vars)
        self.secrets = dict(secrets)
        self.environments = dict(environments)
        self.workdir = workdir
        self.holds: list[Hold] = []
        self.groups: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.results: dict[int, RunResult] = {}

    # ---- triggers -----------------------------------------------------------------------------------------

    def triggers(
        self,
        name: str,
        event: str,
        *,
        action: str | None = None,
        branch: str = "main",
        changed: list[str] | None = None,
    ) -> bool:
        """Whether `event` starts workflow `name` (types, branches and paths filters of `on:`)."""
        on = self.workflows[name]["on"]
        if isinstance(on, str | list):
            return event in ([on] if isinstance(on, str) else on)
        if event not in on:
            return False
        spec = on[event] or {}
        if action is not None:
            types = spec.get("types", ["opened", "synchronize", "reopened"])
            if action not in types:
                return False
        if "branches" in spec and not any(fnmatch.fnmatch(branch, b) for b in spec["branches"]):
            return False
        if "paths" in spec and changed is not None:
            patterns = [_glob_to_regex(p) for p in spec["paths"]]
            if not any(p.match(f) for f in changed for p in patterns):
                return False
        return True

    # ---- runs ---------------------------------------------------------------------------------------------

    def dispatch(
        self,
        name: str,
        event: str,
        github: dict[str, Any],
        inputs: Mapping[str, Any] | None = None,
        background: bool = False,
    ) -> int:
        """Create a run and execute it now, or leave it pending behind its concurrency group's running run.
        Returns the run id; `result(run_id)` has the outcome once it ran (or was cancelled)."""
        workflow = self.workflows[name]
        branch = github.get("head_ref") or github.get("ref_name", "main")
        run_id = self.forge.new_run(name, workflow["name"], event, github["head_sha"], branch)
        context_github = {**github, "event_name": event, "run_id": run_id}
        group_spec = workflow.get("concurrency")
        group = cancel = None
        if group_spec is not None:
            group = interpolate(group_spec["group"], self._context(workflow, context_github, inputs or {}))
            cancel = bool(group_spec.get("cancel-in-progress", False))
        job = (run_id, name, event, context_github, dict(inputs or {}))
        with self.lock:
            state = self.groups.setdefault(group or f"run-{run_id}", {"running": None, "pending": None})
            if state["pending"] is not None:
                self._cancel(state["pending"][0])
                state["pending"] = None
            if state["running"] is not None:
                if cancel:
                    raise NotImplementedError("cancel-in-progress of a running run is not needed by the tests")
                state["pending"] = job
                return run_id
            state["running"] = job
        if background:
            thread = threading.Thread(target=self._drain, args=(group or f"run-{run_id}", job), daemon=True)
            self.threads.append(thread)
            thread.start()
        else:
            self._drain(group or f"run-{run_id}", job)
        return run_id

    def _cancel(self, run_id: int) -> None:
        self.forge.update_run(run_id, status="completed", conclusion="cancelled")
        run = self.forge.run(run_id)
        self.results[run_id] = RunResult(run_id, run["workflow"], run["event"], "cancelled")

    def _drain(self, group: str, job: tuple[Any, ...]) -> None:
        while job is not None:
            self.results[job[0]] = self._execute(*job)
            with self.lock:
                state = self.groups[group]
                job = state["pending"]
                state["pending"] = None
                state["running"] = job

    def wait(self) -> None:
        """Join every background run (and the runs that were pending behind them)."""
        for thread in self.threads:
            thread.join(300)
            assert not thread.is_alive(), "a background run did not finish"
        self.threads.clear()

    def result(self, run_id: int) -> RunResult:
        return self.results[run_id]

    # ---- one job ------------------------------------------------------------------------------------------

    def _context(
        self,
        workflow: dict[str, Any],
        github: dict[str, Any],
        inputs: Mapping[str, Any],
        environment: str | None = None,
    ) -> dict[str, Any]:
        secrets = dict(self.secrets)
        variables = dict(self.vars)
        if environment is not None:
            secrets.update(self.environments[environment].secrets)
            variables.update(self.environments[environment].vars)
        return {
            "github": {
                "repository": self.forge.repo,
                "server_url": SERVER_URL,
                "token": ACTIONS_TOKEN,
                "workflow": workflow["name"],
                **github,
            },
            "vars": variables,
            "secrets": {**secrets, "GITHUB_TOKEN": ACTIONS_TOKEN},
            "inputs": dict(inputs),
            "env": {},
            "steps": {},
            "runner": {"os": "Linux", "temp": str(self.workdir)},
            "job": {"status": "success"},
        }

    def _execute(self, run_id: int, name: str, event: str, github: dict[str, Any], inputs: dict[str, Any]) -> RunResult:
        workflow = self.workflows[name]
        self.forge.update_run(run_id, status="in_progress")
        result = RunResult(run_id, name, event, "success")
        for job_name, job in workflow["jobs"].items():
            strategy = job.get("strategy") or {}
            if "matrix" not in strategy:
                self._job(workflow, name, job_name, job, github, inputs, result)
                continue
            ((key, values),) = strategy["matrix"].items()  # one dimension: all the workflows use
            assert isinstance(values, list), "a matrix of literal values"
            for value in values:
                if result.conclusion == "failure" and strategy.get("fail-fast", True):
                    result.steps.append(StepLog("(cancelled by fail-fast)", "skipped", job=f"{job_name} ({value})"))
                    continue
                self._job(workflow, name, job_name, job, github, inputs, result, matrix={key: value})
        self.forge.update_run(run_id, status="completed", conclusion=result.conclusion)
        return result

    def _job(
        self,
        workflow: dict[str, Any],
        name: str,
        job_name: str,
        job: dict[str, Any],
        github: dict[str, Any],
        inputs: dict[str, Any],
        result: RunResult,
        matrix: dict[str, Any] | None = None,
    ) -> None:
        environment = job.get("environment")
        if isinstance(environment, dict):
            environment = environment["name"]
        if environment is not None:
            environment = interpolate(str(environment), {**self._context(workflow, github, inputs), "matrix": matrix})
        context = self._context(workflow, github, inputs, environment)
        context["matrix"] = matrix or {}
        job_label = job_name if matrix is None else f"{job_name} ({', '.join(str(v) for v in matrix.values())})"
        status = JobStatus()
        env: dict[str, str] = {}
        for level in (workflow.get("env") or {}, job.get("env") or {}):
            for key, value in level.items():
                context["env"] = dict(env)
                env[key] = interpolate(str(value), context, status)
        context["env"] = dict(env)
        workspace = Path(tempfile.mkdtemp(prefix=f"{job_name}-{result.run_id}-", dir=self.workdir))
        result.workspace = workspace
        files = {
            "GITHUB_OUTPUT": workspace.parent / f"{workspace.name}.output",
            "GITHUB_ENV": workspace.parent / f"{workspace.name}.env",
            "GITHUB_PATH": workspace.parent / f"{workspace.name}.path",
            "GITHUB_STEP_SUMMARY": workspace.parent / f"{workspace.name}.summary",
        }
        for path in files.values():
            path.write_text("", encoding="utf-8")
        (workspace.parent / f"{workspace.name}.tmp").mkdir()
        first = len(result.steps)
        for index, step in enumerate(job["steps"]):
            label = step.get("name") or step.get("uses") or f"step {index}"
            for hold in self.holds:
                if hold.workflow == name and hold.before_step == label and not hold.reached.is_set():
                    hold.reached.set()
                    assert hold.released.wait(300), "the held run was never released"
            if not _runs(step, context, status):
                result.steps.append(StepLog(label, "skipped"))
                context["steps"][step.get("id", f"_{index}")] = {"outputs": {}, "outcome": "skipped"}
                continue
            step_env = _step_env(step, {**env, **self._dotenv(files["GITHUB_ENV"])}, context, status)
            files["GITHUB_OUTPUT"].write_text("", encoding="utf-8")
            started = time.monotonic()
            log = self._step(step, label, workspace, step_env, context, status, files, github, result)
            log.seconds = time.monotonic() - started
            result.steps.append(log)
            outputs = self._outputs(files["GITHUB_OUTPUT"])
            context["steps"][step.get("id", f"_{index}")] = {"outputs": outputs, "outcome": log.outcome}
            if log.outcome == "failure" and not step.get("continue-on-error"):
                status.failed = True
                context["job"] = {"status": "failure"}
        for log in result.steps[first:]:
            log.job = job_label
        result.summary += files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8")
        if status.failed:
            result.conclusion = "failure"

    def _step(
        self,
        step: dict[str, Any],
        label: str,
        workspace: Path,
        env: dict[str, str],
        context: dict[str, Any],
        status: JobStatus,
        files: dict[str, Path],
        github: dict[str, Any],
        result: RunResult,
    ) -> StepLog:
        if "run" in step:
            script = interpolate(step["run"], {**context, "env": env}, status)
            path = workspace.parent / f"{workspace.name}.step.sh"
            path.write_text(script, encoding="utf-8")
            added = reversed(files["GITHUB_PATH"].read_text(encoding="utf-8").splitlines())  # newest first
            full_env = {
                **self.base_env,
                **{k: str(v) for k, v in env.items()},
                "PATH": ":".join([*added, *(str(d) for d in self.bin_dirs), self.base_env["PATH"]]),
                "RUNNER_TEMP": str(workspace.parent / f"{workspace.name}.tmp"),
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_REPOSITORY": self.forge.repo,
                "GITHUB_SHA": github["sha"],
                "GITHUB_REF": github.get("ref", ""),
                "GITHUB_EVENT_NAME": github["event_name"],
                "GITHUB_RUN_ID": str(github["run_id"]),
                "GITHUB_SERVER_URL": SERVER_URL,
                "GITHUB_WORKSPACE": str(workspace),
                **{k: str(v) for k, v in files.items()},
            }
            cwd = workspace / step.get("working-directory", ".")
            done = subprocess.run(
                ["bash", "-e", str(path)],
                cwd=cwd,
                env=full_env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            return StepLog(label, "success" if done.returncode == 0 else "failure", done.stdout, done.stderr)
        uses = step["uses"]
        given = {k: interpolate(str(v), {**context, "env": env}, status) for k, v in (step.get("with") or {}).items()}
        if RECONCILER_ACTION.fullmatch(uses):
            return self._composite(given, label, workspace, env, context, files, github, result)
        if uses.startswith("actions/checkout@"):
            default = f"refs/pull/{github['pr_number']}/merge" if "pr_number" in github else github["sha"]
            ref = given.get("ref") or default
            ref = (
                f"refs/heads/{ref}" if re.fullmatch(r"[\w.-]+", ref) and not re.fullmatch("[0-9a-f]{40}", ref) else ref
            )
            sha = self.repo.clone_to(workspace, ref, full_history=given.get("fetch-depth", "1") == "0")
            return StepLog(label, "success", f"checked out {ref} at {sha}\n")
        if uses.startswith("actions/setup-python@"):
            return StepLog(label, "success")
        if uses.startswith("actions/upload-artifact@"):
            uploaded: dict[str, str] = {}
            for pattern in given["path"].split():
                for match in sorted(glob.glob(str(workspace / pattern), recursive=True)):
                    uploaded[Path(match).name] = Path(match).read_text(encoding="utf-8")
            if uploaded:
                self.forge.upload(result.run_id, given["name"], uploaded)
                return StepLog(label, "success", f"uploaded {sorted(uploaded)} as {given['name']}\n")
            return StepLog(label, "success", "", "No files were found with the provided path. No artifacts uploaded.\n")
        raise NotImplementedError(f"the test runner does not emulate the action {uses!r}")

    def _composite(
        self,
        given: dict[str, str],
        label: str,
        workspace: Path,
        env: dict[str, str],
        context: dict[str, Any],
        files: dict[str, Path],
        github: dict[str, Any],
        result: RunResult,
    ) -> StepLog:
        """reconciler's action.yml, each of its steps run as the runner runs a composite action's steps; the
        action's outputs are written to the calling step's GITHUB_OUTPUT."""
        action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
        declared = action["inputs"]
        unknown = sorted(set(given) - set(declared))
        assert not unknown, f"action.yml has no inputs {unknown}"
        status = JobStatus()
        inner: dict[str, Any] = {**context, "inputs": {}, "steps": {}}
        inner["inputs"] = {k: given.get(k, interpolate(str(v.get("default", "")), inner)) for k, v in declared.items()}
        logs: list[StepLog] = []
        for index, step in enumerate(action["runs"]["steps"]):
            name = step.get("name") or step.get("uses") or f"step {index}"
            if not _runs(step, inner, status):
                inner["steps"][step.get("id", f"_{index}")] = {"outputs": {}, "outcome": "skipped"}
                continue
            base = {**env, **self._dotenv(files["GITHUB_ENV"]), "GITHUB_ACTION_PATH": str(ROOT)}
            step_env = _step_env(step, base, inner, status)
            resolved = dict(step)
            if "working-directory" in step:
                resolved["working-directory"] = interpolate(str(step["working-directory"]), inner, status)
            files["GITHUB_OUTPUT"].write_text("", encoding="utf-8")
            log = self._step(resolved, name, workspace, step_env, inner, status, files, github, result)
            logs.append(log)
            inner["steps"][step.get("id", f"_{index}")] = {"outputs": self._outputs(files["GITHUB_OUTPUT"]),
                                                          "outcome": log.outcome}  # fmt: skip
            if log.outcome == "failure":
                status.failed = True
        outputs = {k: interpolate(str(v["value"]), inner) for k, v in (action.get("outputs") or {}).items()}
        files["GITHUB_OUTPUT"].write_text("".join(f"{k}={v}\n" for k, v in outputs.items()), encoding="utf-8")
        return StepLog(
            label,
            "failure" if status.failed else "success",
            "".join(f"--- {log.name} [{log.outcome}]\n{log.stdout}" for log in logs),
            "".join(log.stderr for log in logs),
        )

    @staticmethod
    def _outputs(path: Path) -> dict[str, str]:
        """`name=value` lines and `name<<DELIM` … `DELIM` blocks, as the runner reads GITHUB_OUTPUT."""
        outputs: dict[str, str] = {}
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
                key, delimiter = line.split("<<", 1)
                end = lines.index(delimiter, i + 1)
                outputs[key] = "\n".join(lines[i + 1 : end])
                i = end + 1
                continue
            if "=" in line:
                key, value = line.split("=", 1)
                outputs[key] = value
            i += 1
        return outputs

    def _dotenv(self, path: Path) -> dict[str, str]:
        return self._outputs(path)
