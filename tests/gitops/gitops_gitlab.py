"""A fake GitLab for the GitOps test: the REST endpoints examples/ci/gitlab-ci.yml calls (an HTTP server on a
loopback port), and a pipeline runner for the file itself.

Test-only. The API side keeps merge requests, notes (paged like GitLab: `per_page` at most 100, `X-Next-Page`
header), pipelines, jobs with their artifacts, and deployments; any other request is answered 404 and
recorded in `unknown`, which the tests assert stays empty. The runner evaluates `rules:` (`if:` with `==`, `!=`,
`&&`, `||` on `$VARIABLES`, and `changes:`), expands `parallel: matrix:` into one job per combination (named
`job: [value, …]`, its variables set), gives each job the CI/CD variables of its environment scope (a
key may exist once per scope, and protected ones only on the protected default branch — both checked), runs
`before_script` + `script` with `bash -eo pipefail` in a clone of the repository (`GIT_DEPTH` honoured),
keeps `artifacts:` and records a deployment for jobs with an `environment:` that is not `action: prepare`.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from gitops_repo import GitRepo

__all__ = ["BOT_TOKEN", "GitLab", "GitLabRunner", "JobResult", "Variable"]

PROJECT_ID = 42
BOT_TOKEN = "glpat-fake-bot-token"
BOT = {"id": 77, "username": "project_42_bot"}
PEOPLE = {"id": 5, "username": "alice"}


@dataclass(frozen=True)
class Variable:
    """A CI/CD variable as Settings → CI/CD → Variables holds it."""

    key: str
    value: str
    environment_scope: str = "*"
    protected: bool = False


@dataclass
class JobResult:
    job_id: int
    name: str
    status: str  # success | failed
    log: str = ""


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 500
    merge_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    commit_merge_requests: dict[str, list[int]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


class GitLab:
    """The API state and its HTTP server."""

    def __init__(self) -> None:
        self.state = _State()
        self.url = ""

    @contextmanager
    def serve(self) -> Iterator[GitLab]:
        gitlab = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                gitlab._handle(self, "GET")

            def do_POST(self) -> None:
                gitlab._handle(self, "POST")

            def do_PUT(self) -> None:
                gitlab._handle(self, "PUT")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/api/v4"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    # ---- what the harness records ------------------------------------------------------------------------

    def add_note(self, iid: int, author: Mapping[str, Any], body: str) -> int:
        with self.state.lock:
            note_id = self.state.new_id()
            self.state.notes.setdefault(iid, []).append({"id": note_id, "body": body, "author": dict(author)})
            return note_id

    def bot_notes(self, iid: int) -> list[str]:
        return [n["body"] for n in self.state.notes.get(iid, []) if n["author"]["id"] == BOT["id"]]

    # ---- the API -----------------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length) or b"null") if length else None
        if request.headers.get("PRIVATE-TOKEN") != BOT_TOKEN:
            self._reply(request, 401, {"message": "401 Unauthorized"})
            return
        prefix = f"/api/v4/projects/{PROJECT_ID}/"
        path = parts.path
        with self.state.lock:
            status, payload, headers = self._route(method, path, prefix, query, body)
        if status == 404:
            self.state.unknown.append(f"{method} {request.path}")
        self._reply(request, status, payload, headers)

    def _route(
        self, method: str, path: str, prefix: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        state = self.state
        if path == "/api/v4/user" and method == "GET":
            return 200, BOT, {}
        if not path.startswith(prefix):
            return 404, {"message": "404 Project Not Found"}, {}
        rest = path[len(prefix) :]
        if match := re.fullmatch(r"merge_requests/(\d+)/notes", rest):
            iid = int(match.group(1))
            if method == "POST":
                note_id = state.new_id()
                note = {"id": note_id, "body": body["body"], "author": dict(BOT)}
                state.notes.setdefault(iid, []).append(note)
                return 201, note, {}
            notes = sorted(state.notes.get(iid, []), key=lambda n: n["id"], reverse=query.get("sort") != "asc")
            size = min(int(query.get("per_page", 20)), 100)
            page = int(query.get("page", 1))
            chunk = notes[(page - 1) * size : page * size]
            more = page * size < len(notes)
            return 200, chunk, {"X-Page": str(page), "X-Next-Page": str(page + 1) if more else ""}
        if (match := re.fullmatch(r"merge_requests/(\d+)/notes/(\d+)", rest)) and method == "PUT":
            for note in state.notes.get(int(match.group(1)), []):
                if note["id"] == int(match.group(2)):
                    if note["author"]["id"] != BOT["id"]:
                        return 403, {"message": "403 Forbidden"}, {}
                    note["body"] = body["body"]
                    return 200, note, {}
            return 404, {"message": "404 Not found"}, {}
        if method != "GET":
            return 404, {"message": "404 Not Found"}, {}
        if rest == "deployments":
            found = [d for d in state.deployments if d["environment"] == query.get("environment")]
            found = [d for d in found if "status" not in query or d["status"] == query["status"]]
            found.sort(key=lambda d: d["id"], reverse=query.get("sort", "asc") == "desc")
            return 200, found[: int(query.get("per_page", 20))], {}
        if match := re.fullmatch(r"repository/commits/([0-9a-f]{40})/merge_requests", rest):
            numbers = state.commit_merge_requests.get(match.group(1), [])
            return 200, [state.merge_requests[i] for i in sorted(set(numbers))], {}
        if match := re.fullmatch(r"merge_requests/(\d+)/pipelines", rest):
            found = [p for p in state.pipelines if p.get("merge_request_iid") == int(match.group(1))]
            return 200, sorted(found, key=lambda p: p["id"], reverse=True), {}
        if match := re.fullmatch(r"pipelines/(\d+)/jobs", rest):
            jobs = [j for j in state.jobs if j["pipeline_id"] == int(match.group(1))]
            if "scope[]" in query:
                jobs = [j for j in jobs if j["status"] == query["scope[]"]]
            return 200, [{k: v for k, v in j.items() if k != "artifacts"} for j in jobs], {}
        if match := re.fullmatch(r"jobs/(\d+)/artifacts/(.+)", rest):
            job = next((j for j in state.jobs if j["id"] == int(match.group(1))), None)
            if job is None or match.group(2) not in job["artifacts"]:
                return 404, {"message": "404 Not Found"}, {}
            return 200, job["artifacts"][match.group(2)], {}
        return 404, {"message": "404 Not Found"}, {}

    @staticmethod
    def _reply(
        request: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(raw)


# ---- the pipeline runner ------------------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(\$\w+|"[^"]*"|\'[^\']*\'|==|!=|&&|\|\||\(|\))')


def rule_matches(expression: str, variables: Mapping[str, str]) -> bool:
    """GitLab `rules: if:`: `$VAR`, quoted strings, `==`, `!=`, `&&`, `||`, parentheses. An undefined variable
    is null: equal to nothing but null, and false on its own."""
    tokens = [m.group(1) for m in _TOKEN.finditer(expression)]
    if "".join(tokens).replace(" ", "") != expression.replace(" ", ""):
        raise ValueError(f"the test runner cannot read the rule {expression!r}")
    pos = 0

    def value() -> Any:
        nonlocal pos
        token = tokens[pos]
        pos += 1
        if token == "(":
            inner = disjunction()
            pos += 1
            return inner
        if token.startswith("$"):
            return variables.get(token[1:])
        return token[1:-1]

    def comparison() -> Any:
        nonlocal pos
        left = value()
        if pos < len(tokens) and tokens[pos] in ("==", "!="):
            op = tokens[pos]
            pos += 1
            right = value()
            return (left == right) if op == "==" else (left != right)
        return bool(left)

    def conjunction() -> bool:
        nonlocal pos
        result = bool(comparison())
        while pos < len(tokens) and tokens[pos] == "&&":
            pos += 1
            result = bool(comparison()) and result
        return result

    def disjunction() -> bool:
        nonlocal pos
        result = conjunction()
        while pos < len(tokens) and tokens[pos] == "||":
            pos += 1
            result = conjunction() or result
        return result

    return disjunction()


def _changes_match(patterns: list[str], changed: list[str] | None) -> bool:
    if changed is None:  # web pipelines: `changes` is always true
        return True
    return any(fnmatch.fnmatch(f, p) or fnmatch.fnmatch(f, p.replace("/**/*", "/*")) for f in changed for p in patterns)


def _matrix(name: str, job: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """`parallel: matrix:` as GitLab expands it: one job per combination, named `name: [v1, v2]`, in order."""
    matrix = (job.get("parallel") or {}).get("matrix") if isinstance(job.get("parallel"), dict) else None
    if not matrix:
        return [(name, job)]
    out = []
    for entry in matrix:
        combos: list[dict[str, str]] = [{}]
        for key, values in entry.items():
            combos = [{**c, key: str(v)} for c in combos for v in (values if isinstance(values, list) else [values])]
        for combo in combos:
            variables = {**(job.get("variables") or {}), **combo}
            out.append((f"{name}: [{', '.join(combo.values())}]", {**job, "variables": variables}))
    return out


class GitLabRunner:
    def __init__(
        self,
        *,
        pipeline_file: Path,
        repo: GitRepo,
        gitlab: GitLab,
        variables: list[Variable],
        bin_dirs: list[Path],
        base_env: Mapping[str, str],
        workdir: Path,
    ) -> None:
        keys = [(v.key, v.environment_scope) for v in variables]
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        assert not duplicated, f"GitLab refuses a second variable with the same key and scope: {duplicated}"
        self.pipeline = yaml.safe_load(pipeline_file.read_text(encoding="utf-8"))
        self.repo = repo
        self.gitlab = gitlab
        self.variables = variables
        self.bin_dirs = bin_dirs
        self.base_env = dict(base_env)
        self.workdir = workdir

    def _jobs(self) -> list[tuple[str, dict[str, Any]]]:
        stages = self.pipeline.get("stages", ["test"])
        reserved = {"stages", "default", "variables", "include", "workflow"}
        jobs = [(name, job) for name, job in self.pipeline.items() if name not in reserved and not name.startswith(".")]
        expanded = [one for name, job in jobs for one in _matrix(name, job)]
        return sorted(expanded, key=lambda nj: stages.index(nj[1].get("stage", "test")))

    def run(
        self,
        *,
        source: str,
        sha: str,
        ref: str | None,
        changed: list[str] | None,
        merge_request: dict[str, Any] | None = None,
        variables: Mapping[str, str] | None = None,
        cancel_before: str | None = None,
    ) -> dict[str, JobResult]:
        """Run one pipeline. `cancel_before` names a job at which the pipeline is cancelled (auto-cancel of a
        redundant pipeline): that job and the later ones never run."""
        state = self.gitlab.state
        with state.lock:
            pipeline = {"id": state.new_id(), "sha": sha, "ref": ref or "", "source": source, "status": "running"}
            if merge_request is not None:
                pipeline["merge_request_iid"] = merge_request["iid"]
            state.pipelines.append(pipeline)
        predefined = {
            "CI": "true", "GITLAB_CI": "true", "CI_PIPELINE_SOURCE": source, "CI_COMMIT_SHA": sha,
            "CI_DEFAULT_BRANCH": "main", "CI_API_V4_URL": self.gitlab.url, "CI_PROJECT_ID": str(PROJECT_ID),
            "CI_PIPELINE_ID": str(pipeline["id"]),
        }  # fmt: skip
        if ref is not None:
            predefined["CI_COMMIT_BRANCH"] = ref
        if merge_request is not None:
            predefined["CI_MERGE_REQUEST_IID"] = str(merge_request["iid"])
            predefined["CI_MERGE_REQUEST_LABELS"] = ",".join(merge_request["labels"])
        results: dict[str, JobResult] = {}
        status = "success"
        for name, job in self._jobs():
            yaml_vars = {**(self.pipeline.get("variables") or {}), **(job.get("variables") or {})}
            context = {**{k: str(v) for k, v in yaml_vars.items()}, **(variables or {}), **predefined}
            if not self._included(job, context, changed):
                continue
            if name == cancel_before:
                status = "canceled"
                break
            result = self._job(name, job, pipeline, context, ref == "main")
            results[name] = result
            if result.status != "success":
                status = "failed"
                break
        with state.lock:
            pipeline["status"] = status
        return results

    def _included(self, job: dict[str, Any], context: Mapping[str, str], changed: list[str] | None) -> bool:
        for rule in job.get("rules", []):
            if "if" in rule and not rule_matches(rule["if"], context):
                continue
            if "changes" in rule and not _changes_match(rule["changes"], changed):
                continue
            return rule.get("when", "on_success") != "never"
        return "rules" not in job

    def _job(self, name: str, job: dict[str, Any], pipeline: dict[str, Any], context: dict[str, str],
             protected: bool) -> JobResult:  # fmt: skip
        state = self.gitlab.state
        environment = job.get("environment")
        env_name = environment["name"] if isinstance(environment, dict) else environment
        deploys = env_name is not None and not (
            isinstance(environment, dict) and environment.get("action") == "prepare"
        )
        with state.lock:
            job_id = state.new_id()
            record = {"id": job_id, "name": name, "pipeline_id": pipeline["id"], "status": "running", "artifacts": {}}
            state.jobs.append(record)
            deployment = None
            if deploys:
                deployment = {
                    "id": state.new_id(),
                    "environment": env_name,
                    "sha": pipeline["sha"],
                    "status": "running",
                }
                state.deployments.append(deployment)
        project_vars: dict[str, str] = {}
        for scope_first in (False, True):  # "*" first, then the environment's own scope overrides it
            for variable in self.variables:
                if variable.protected and not protected:
                    continue
                if (variable.environment_scope == env_name) == scope_first and variable.environment_scope in (
                    "*",
                    env_name,
                ):
                    project_vars[variable.key] = variable.value
        workspace = self.workdir / f"{name}-{job_id}"
        depth = str(context.get("GIT_DEPTH", (job.get("variables") or {}).get("GIT_DEPTH", "20")))
        self.repo.clone_to(workspace, pipeline["sha"], full_history=depth == "0")
        env = {
            **self.base_env, **context, **project_vars, "CI_JOB_ID": str(job_id), "CI_JOB_NAME": name,
            "CI_JOB_URL": f"https://gitlab.example.com/acme/warehouse/-/jobs/{job_id}",
            "PATH": ":".join([*(str(d) for d in self.bin_dirs), self.base_env["PATH"]]),
        }  # fmt: skip
        lines = [*(self.pipeline.get("default", {}).get("before_script") or []), *job["script"]]
        script = workspace.parent / f"{name}-{job_id}.sh"
        script.write_text("\n".join(lines) + "\n", encoding="utf-8")
        done = subprocess.run(["bash", "-eo", "pipefail", str(script)], cwd=workspace, env=env, capture_output=True,
                              text=True, timeout=600, check=False)  # fmt: skip
        status = "success" if done.returncode == 0 else "failed"
        artifacts = job.get("artifacts") or {}
        kept = {}
        if status == "success" or artifacts.get("when") in ("always", "on_failure"):
            for pattern in artifacts.get("paths", []):
                for match in sorted(workspace.glob(pattern)):
                    kept[match.name] = match.read_text(encoding="utf-8")
        with state.lock:
            record.update(status=status, artifacts=kept)
            if deployment is not None:
                deployment["status"] = status
        return JobResult(job_id, name, status, done.stdout + done.stderr)
