"""The world the GitOps tests act in: PostHog (`reconciler serve` as a child process on a loopback port) and a
GitHub repository whose events run the shipped workflows (examples/ci/*.yml) through gitops_actions.

Test-only. `GitHubWorld` offers what people do — open a pull request, push to it, label it, merge it, run the
schedule, press "Run workflow" — and each action fires the workflows GitHub would fire for it, with the
payload GitHub would send. Checks read PostHog through its API (and the emulator's SQLite file for secret
values, which the API never returns), never through reconciler's own code.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from gitops_actions import Environment, GitHubActions, Hold, RunResult
from gitops_forge import ACTIONS_LOGIN, Forge
from gitops_gitlab import BOT_TOKEN, GitLab, GitLabRunner, JobResult, Variable
from gitops_repo import GitRepo

__all__ = ["CANARIES", "WORKFLOWS", "GitHubWorld", "GitLabWorld", "PostHog"]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
#: Where users copy each example (the file names the examples' header comments give).
WORKFLOWS = {
    "reconciler-plan.yml": ROOT / "examples" / "ci" / "plan.yml",
    "reconciler-apply.yml": ROOT / "examples" / "ci" / "apply.yml",
    "reconciler-drift.yml": ROOT / "examples" / "ci" / "drift.yml",
}
KEYS = """\
- {key: phx_read, teams: [1, 2], scopes: ["external_data_source:read"]}
- {key: phx_write, teams: [1, 2], scopes: ["external_data_source:write"]}
- {key: phx_ui, teams: [1, 2], scopes: ["*"], email: someone@example.com}
"""
#: The GitHub repository's environments (reconciler.yaml), staging first as the workflows promote, and the
#: PostHog project of each.
ENVIRONMENTS = {"staging": 1, "production": 2}
REPO_CONFIG = """\
version: 1
manifests: manifests
environments:
  staging:
    host: {url}
    project: "1"
    variables: {{stripe_account: acct_staging}}
  production:
    host: {url}
    project: "2"
    variables: {{stripe_account: acct_live}}
"""
#: `python3 -m venv DIR` as the action's install step runs it: a "virtualenv" whose pip installs nothing and
#: whose reconciler is this test's (the wheel test covers a real install); anything else is the real python.
PYTHON3_STUB = """\
#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin"
  printf '#!/bin/sh\\necho "pip (test stub): reconciler is already installed: $*"\\n' > "$3/bin/python"
  chmod +x "$3/bin/python"
  ln -sf "{reconciler}" "$3/bin/reconciler"
  exit 0
fi
exec "{python}" "$@"
"""
STRIPE_KEY_1 = "sk_test_GITOPSCANARY1111"
STRIPE_KEY_2 = "sk_test_GITOPSCANARY2222"
DB_PASSWORD = "pg-GITOPS-CANARY-77"
#: Secret values that must never appear in a comment, an issue, an artifact or a log.
CANARIES = (STRIPE_KEY_1, STRIPE_KEY_2, DB_PASSWORD, "phx_write")


@dataclass
class PostHog:
    url: str
    db: Path
    process: subprocess.Popen[str]

    @classmethod
    @contextmanager
    def serve(cls, root: Path) -> Iterator[PostHog]:
        root.mkdir(parents=True)
        (root / "keys.yaml").write_text(KEYS, encoding="utf-8")
        db = root / "posthog.sqlite"
        log = root / "serve.log"
        argv = [sys.executable, "-m", "reconciler", "serve", "--port", "0", "--keys", str(root / "keys.yaml"),
                "--db", str(db)]  # fmt: skip
        with log.open("w") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True, cwd=root)
        try:
            deadline = time.monotonic() + 30
            while not log.read_text(encoding="utf-8").endswith("\n") and process.poll() is None:
                assert time.monotonic() < deadline, "reconciler serve did not start"
                time.sleep(0.02)
            first = log.read_text(encoding="utf-8").splitlines()[0]
            assert first.startswith("reconciler emulator listening on "), log.read_text(encoding="utf-8")
            yield cls(first.split()[-1], db, process)
        finally:
            process.terminate()
            process.wait(10)

    def api(self, team: int = 1) -> httpx.Client:
        """Someone working in the PostHog UI (all scopes)."""
        return httpx.Client(
            base_url=f"{self.url}/api/projects/{team}", headers={"Authorization": "Bearer phx_ui"}, timeout=10
        )

    def sources(self, team: int = 1) -> dict[str, dict[str, Any]]:
        """Live sources of project `team` by prefix, each with `tables` = {name: schema object}."""
        found: dict[str, dict[str, Any]] = {}
        with self.api(team) as api:
            url: str | None = "/external_data_sources/?limit=100"
            while url:
                page = api.get(url).raise_for_status().json()
                for source in page["results"]:
                    source["tables"] = {s["name"]: s for s in source.get("schemas", [])}
                    found[source["prefix"] or ""] = source
                url = page.get("next")
        return found

    def ui_patch_table(self, prefix: str, table: str, **changes: Any) -> None:
        schema = self.sources()[prefix]["tables"][table]
        with self.api() as api:
            api.patch(f"/external_data_schemas/{schema['id']}/", json=changes).raise_for_status()

    def stored_job_inputs(self, prefix: str, team: int = 1) -> dict[str, Any]:
        """What PostHog stored, secrets included (read from the emulator's database: the API never shows them)."""
        with sqlite3.connect(self.db) as conn:
            query = "SELECT job_inputs FROM sources WHERE prefix = ? AND team_id = ?"
            row = conn.execute(query, (prefix, team)).fetchone()
        return dict(json.loads(row[0]))


def main_plan(root: Path, repo: GitRepo, environment: str) -> subprocess.CompletedProcess[str]:
    """`reconciler plan --env ENVIRONMENT --detailed-exitcode` of main (exit 0: that PostHog project equals main);
    host and project come from main's reconciler.yaml."""
    target = root / "check"
    shutil.rmtree(target, ignore_errors=True)
    repo.clone_to(target, "refs/heads/main", full_history=False)
    env = {k: v for k, v in os.environ.items() if k not in ("POSTHOG_HOST", "POSTHOG_PROJECT_ID", "RECONCILER_ENV")}
    env |= {"POSTHOG_PERSONAL_API_KEY": "phx_read", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--env", environment, "--detailed-exitcode"],
        cwd=target, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


class GitHubWorld:
    """A repository on a fake GitHub with the three reconciler workflows installed."""

    def __init__(self, root: Path, posthog: PostHog, repo: GitRepo, forge: Forge, ci: GitHubActions) -> None:
        self.root = root
        self.posthog = posthog
        self.repo = repo
        self.forge = forge
        self.ci = ci
        self.branches: dict[int, str] = {}

    @classmethod
    def create(cls, root: Path, posthog: PostHog) -> GitHubWorld:
        root.mkdir(parents=True)
        repo = GitRepo(root / "git")
        forge = Forge.create(root / "github.json", "acme/warehouse")
        stubs = root / "bin"
        stubs.mkdir()
        (stubs / "gh").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "gitops_forge.py"}" "$@"\n')
        (stubs / "pip").write_text('#!/bin/sh\necho "pip (test stub): reconciler is already installed: $*"\n')
        reconciler = Path(sys.executable).parent / "reconciler"
        (stubs / "python3").write_text(PYTHON3_STUB.format(reconciler=reconciler, python=sys.executable))
        for stub in stubs.iterdir():
            stub.chmod(0o755)
        home = root / "home"
        home.mkdir()
        base_env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            "GH_STUB_STATE": str(forge.path),
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        ci = GitHubActions(
            repo=repo,
            forge=forge,
            workflows=WORKFLOWS,
            bin_dirs=[stubs],
            base_env=base_env,
            vars={},
            secrets={"POSTHOG_PERSONAL_API_KEY": "phx_read"},
            environments={  # as apply.yml's header says: one GitHub environment per environment, the same names
                name: Environment(
                    secrets={
                        "POSTHOG_PERSONAL_API_KEY": "phx_write",
                        "STRIPE_SECRET_KEY": STRIPE_KEY_1,
                        "APP_DB_PASSWORD": DB_PASSWORD,
                    }
                )
                for name in ENVIRONMENTS
            },
            workdir=root / "runner",
        )
        (root / "runner").mkdir()
        workflows = {f".github/workflows/{n}": p.read_text(encoding="utf-8") for n, p in WORKFLOWS.items()}
        config = REPO_CONFIG.format(url=posthog.url)
        repo.initial_commit({"README.md": "# warehouse\n", "reconciler.yaml": config, **workflows})
        return cls(root, posthog, repo, forge, ci)

    def set_secret(self, name: str, value: str) -> None:
        """Change a secret of every environment (Settings → Environments)."""
        for key, env in self.ci.environments.items():
            self.ci.environments[key] = Environment({**env.secrets, name: value}, env.vars)

    # ---- pull requests --------------------------------------------------------------------------------------

    def _pull_event(self, number: int, action: str, changed: list[str]) -> RunResult | None:
        pull = self.forge.pull(number)
        name = self.branches[number]
        if not self.ci.triggers("reconciler-plan.yml", "pull_request", action=action, changed=changed):
            return None
        merge_sha = self.repo.test_merge(number, name)
        github = {
            "sha": merge_sha,
            "ref": f"refs/pull/{number}/merge",
            "head_ref": name,
            "head_sha": pull["head"]["sha"],
            "pr_number": number,
            "event": {"action": action, "number": number, "pull_request": pull},
        }
        return self.ci.result(self.ci.dispatch("reconciler-plan.yml", "pull_request", github))

    def _changed(self, number: int) -> list[str]:
        return self.repo.git("diff", "--name-only", "origin/main...origin/" + self.branches[number]).splitlines()

    def open_pull(self, title: str, files: Mapping[str, str | None], labels: tuple[str, ...] = ()) -> int:
        """Open a pull request with one commit; returns its number (its plan run is `last_plan`)."""
        name = f"change-{len(self.branches) + 1}"
        head = self.repo.branch(name, dict(files), title)
        number = self.forge.open_pull(name, head, title)
        self.branches[number] = name
        if labels:
            self.forge.set_labels(number, list(labels))
        self.last_plan = self._pull_event(number, "opened", self._changed(number))
        return number

    def push(self, number: int, files: Mapping[str, str | None], message: str = "More changes") -> RunResult | None:
        name = self.branches[number]
        head = self.repo.branch(name, dict(files), message, base=f"origin/{name}")
        self.forge.push_pull(number, head)
        return self._pull_event(number, "synchronize", self._changed(number))

    def update_branch(self, number: int) -> RunResult | None:
        """ "Update branch": main merged into the pull request (required before merging, as we recommend)."""
        head = self.repo.update_branch(self.branches[number])
        self.forge.push_pull(number, head)
        return self._pull_event(number, "synchronize", self._changed(number))

    def label(self, number: int, name: str, *, add: bool = True) -> RunResult | None:
        labels = [x["name"] for x in self.forge.pull(number)["labels"]]
        labels = sorted({*labels, name}) if add else [x for x in labels if x != name]
        self.forge.set_labels(number, labels)
        return self._pull_event(number, "labeled" if add else "unlabeled", self._changed(number))

    def merge(self, number: int, *, background: bool = False) -> int | None:
        """Merge into main; returns the id of the apply run the push started (None when it did not start one)."""
        before = self.repo.sha("origin/main")
        sha = self.repo.merge(number, self.branches[number])
        self.forge.merge_pull(number, sha, when=f"2026-01-01T00:{number:02d}:00Z")
        return self._push_event(before, sha, background)

    def push_main(self, message: str, files: Mapping[str, str | None]) -> int | None:
        before = self.repo.sha("origin/main")
        sha = self.repo.push_main(message, dict(files))
        return self._push_event(before, sha, False)

    def _push_event(self, before: str, sha: str, background: bool) -> int | None:
        if not self.ci.triggers(
            "reconciler-apply.yml", "push", branch="main", changed=self.repo.changed_files(before, sha)
        ):
            return None
        github = {
            "sha": sha,
            "ref": "refs/heads/main",
            "ref_name": "main",
            "head_sha": sha,
            "event": {"before": before, "after": sha},
        }
        return self.ci.dispatch("reconciler-apply.yml", "push", github, background=background)

    def hold(self, workflow: str, before_step: str) -> Hold:
        hold = Hold(workflow, before_step)
        self.ci.holds.append(hold)
        return hold

    # ---- schedule and manual runs ---------------------------------------------------------------------------

    def _main_event(self) -> dict[str, Any]:
        sha = self.repo.sha("origin/main")
        return {"sha": sha, "ref": "refs/heads/main", "ref_name": "main", "head_sha": sha, "event": {}}

    def scheduled_drift(self) -> RunResult:
        return self.ci.result(self.ci.dispatch("reconciler-drift.yml", "schedule", self._main_event()))

    def run_apply_workflow(self, **inputs: Any) -> RunResult:
        """Actions → reconciler apply → Run workflow, with these inputs."""
        given = {"reviewed_run": "", "allow_delete": False, **inputs}
        github = {**self._main_event(), "event": {"inputs": given}}
        return self.ci.result(self.ci.dispatch("reconciler-apply.yml", "workflow_dispatch", github, given))

    # ---- what people see ------------------------------------------------------------------------------------

    def plan_comment(self, number: int, environment: str = "staging") -> str:
        """The one plan comment of the bot for `environment` on this pull request (there must be exactly one; the
        action's hidden first line names the environment, the plan's heading names it too)."""
        marker = f"<!-- reconciler-action: plan {environment} -->\n"
        mine = [
            c
            for c in self.forge.comments(number)
            if c["user"]["login"] == ACTIONS_LOGIN and c["body"].startswith(marker)
        ]
        assert len(mine) == 1, [c["body"][:80] for c in self.forge.comments(number)]
        body = str(mine[0]["body"]).removeprefix(marker)
        assert body.startswith((f"### reconciler plan ({environment})", "### reconciler plan failed")), body
        return body

    def drift_issues(self, state: str = "open") -> list[dict[str, Any]]:
        return [
            i
            for i in self.forge.issues()
            if i["state"] == state and any(x["name"] == "reconciler-drift" for x in i["labels"])
        ]

    def main_plan(self, environment: str = "staging") -> subprocess.CompletedProcess[str]:
        """`reconciler plan --env ENVIRONMENT --detailed-exitcode` of main (exit 0: that project equals main)."""
        return main_plan(self.root, self.repo, environment)

    def everything_written(self) -> str:
        """Every comment, issue, artifact and run log: what the canary scan reads."""
        data = self.forge.read()
        logs = "\n".join(r.log + r.summary for r in self.ci.results.values())
        return json.dumps([data["comments"], data["issues"], [r["artifacts"] for r in data["runs"]]]) + logs


class GitLabWorld:
    """A project on a fake GitLab with examples/ci/gitlab-ci.yml as its .gitlab-ci.yml."""

    def __init__(self, root: Path, posthog: PostHog, repo: GitRepo, gitlab: GitLab, runner: GitLabRunner) -> None:
        self.root = root
        self.posthog = posthog
        self.repo = repo
        self.gitlab = gitlab
        self.runner = runner
        self.branches: dict[int, str] = {}

    @classmethod
    def create(cls, root: Path, posthog: PostHog, gitlab: GitLab) -> GitLabWorld:
        root.mkdir(parents=True)
        repo = GitRepo(root / "git")
        stubs = root / "bin"
        stubs.mkdir()
        (stubs / "apt-get").write_text('#!/bin/sh\necho "apt-get (test stub): curl, jq and git are installed"\n')
        (stubs / "pip").write_text('#!/bin/sh\necho "pip (test stub): reconciler is already installed: $*"\n')
        for stub in stubs.iterdir():
            stub.chmod(0o755)
        (root / "home").mkdir()
        (root / "runner").mkdir()
        pipeline = ROOT / "examples" / "ci" / "gitlab-ci.yml"
        runner = GitLabRunner(
            pipeline_file=pipeline,
            repo=repo,
            gitlab=gitlab,
            variables=[  # as the header of gitlab-ci.yml says to define them
                Variable("POSTHOG_PERSONAL_API_KEY", "phx_read", "posthog-plan"),
                *(
                    Variable(key, value, scope, protected=True)
                    for scope in ENVIRONMENTS
                    for key, value in (
                        ("POSTHOG_PERSONAL_API_KEY", "phx_write"),
                        ("STRIPE_SECRET_KEY", STRIPE_KEY_1),
                        ("APP_DB_PASSWORD", DB_PASSWORD),
                    )
                ),
                Variable("GITLAB_API_TOKEN", BOT_TOKEN),
            ],
            bin_dirs=[stubs],
            base_env={
                "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                "HOME": str(root / "home"),
                "LANG": "C.UTF-8",
                "NO_COLOR": "1",
                "GIT_CONFIG_NOSYSTEM": "1",
            },
            workdir=root / "runner",
        )
        repo.initial_commit(
            {
                "README.md": "# warehouse\n",
                "reconciler.yaml": REPO_CONFIG.format(url=posthog.url),
                ".gitlab-ci.yml": pipeline.read_text(encoding="utf-8"),
            }
        )
        return cls(root, posthog, repo, gitlab, runner)

    def main_plan(self, environment: str = "staging") -> subprocess.CompletedProcess[str]:
        return main_plan(self.root, self.repo, environment)

    def _mr_pipeline(self, iid: int) -> dict[str, JobResult]:
        mr = self.gitlab.state.merge_requests[iid]
        changed = self.repo.git("diff", "--name-only", "origin/main...origin/" + self.branches[iid]).splitlines()
        return self.runner.run(source="merge_request_event", sha=mr["sha"], ref=None, changed=changed, merge_request=mr)

    def open_merge_request(self, title: str, files: Mapping[str, str | None], labels: tuple[str, ...] = ()) -> int:
        iid = len(self.branches) + 1
        name = f"mr-{iid}"
        head = self.repo.branch(name, dict(files), title)
        self.branches[iid] = name
        with self.gitlab.state.lock:
            self.gitlab.state.merge_requests[iid] = {
                "iid": iid, "title": title, "sha": head, "labels": list(labels), "state": "opened",
                "source_branch": name,
            }  # fmt: skip
            self.gitlab.state.commit_merge_requests.setdefault(head, []).append(iid)
        self.last_pipeline = self._mr_pipeline(iid)
        return iid

    def push(self, iid: int, files: Mapping[str, str | None]) -> dict[str, JobResult]:
        name = self.branches[iid]
        head = self.repo.branch(name, dict(files), "More changes", base=f"origin/{name}")
        with self.gitlab.state.lock:
            self.gitlab.state.merge_requests[iid]["sha"] = head
            self.gitlab.state.commit_merge_requests.setdefault(head, []).append(iid)
        return self._mr_pipeline(iid)

    def merge(self, iid: int, *, cancelled: bool = False) -> dict[str, JobResult]:
        """Merge with a merge commit; the push pipeline runs (or, `cancelled`, is auto-cancelled before apply)."""
        before = self.repo.sha("origin/main")
        sha = self.repo.merge(iid, self.branches[iid])
        with self.gitlab.state.lock:
            self.gitlab.state.merge_requests[iid]["state"] = "merged"
            self.gitlab.state.commit_merge_requests.setdefault(sha, []).append(iid)
        return self.runner.run(source="push", sha=sha, ref="main", changed=self.repo.changed_files(before, sha),
                               cancel_before="apply-staging" if cancelled else None)  # fmt: skip

    def run_pipeline(self, **variables: str) -> dict[str, JobResult]:
        """Build → Pipelines → Run pipeline on main, with these variables."""
        return self.runner.run(source="web", sha=self.repo.sha("origin/main"), ref="main", changed=None,
                               variables=variables)  # fmt: skip
