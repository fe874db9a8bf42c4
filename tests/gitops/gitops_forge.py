"""A fake GitHub for the GitOps end-to-end test: pull requests, labels, comments, issues, workflow runs and their
artifacts, kept in one JSON file so the harness (in-process) and the stub `gh` CLI (a child process of the
workflow's shell steps) see the same state.

Test-only. `python gitops_forge.py ARGS…` is the stub `gh`: it implements exactly the `gh` commands the shipped
workflows use, with gh's output conventions (`--jq` through the real `jq`, raw strings, `--paginate` applying
the filter page by page) and fails loudly (exit 64) on anything else, so a workflow that starts using another
command fails the test instead of passing by accident. The comment author is the login of the token in
`GH_TOKEN`, so filters on `.user.login` are tested too.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["ACTIONS_LOGIN", "ACTIONS_TOKEN", "Forge", "main"]

#: The token the runner gives jobs as `github.token`, and the login GitHub shows for what it writes.
ACTIONS_TOKEN = "ghs_fake_actions_token"
ACTIONS_LOGIN = "github-actions[bot]"
PAGE_SIZE = 30  # GitHub's default page size for list endpoints


def _empty(repo: str) -> dict[str, Any]:
    return {
        "repo": repo,
        "next_number": 1,
        "next_id": 1000,
        "tokens": {ACTIONS_TOKEN: ACTIONS_LOGIN},
        "pulls": {},
        "commit_pulls": {},
        "comments": {},
        "issues": {},
        "labels": [],
        "runs": [],
        "log": [],
    }


class Forge:
    """The state file and the operations on it; every method holds the file lock for its whole update."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path, repo: str) -> Forge:
        path.write_text(json.dumps(_empty(repo)), encoding="utf-8")
        return cls(path)

    @contextmanager
    def state(self) -> Iterator[dict[str, Any]]:
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = json.loads(self.path.read_text(encoding="utf-8"))
            yield data
            self.path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")

    def read(self) -> dict[str, Any]:
        with self.state() as data:
            return data

    @property
    def repo(self) -> str:
        return str(self.read()["repo"])

    # ---- the harness's side: what GitHub itself records ---------------------------------------------------

    def _next_id(self, data: dict[str, Any]) -> int:
        data["next_id"] += 1
        return int(data["next_id"])

    def open_pull(self, branch: str, head_sha: str, title: str) -> int:
        with self.state() as data:
            number = data["next_number"]
            data["next_number"] += 1
            data["pulls"][str(number)] = {
                "number": number,
                "title": title,
                "state": "open",
                "head": {"ref": branch, "sha": head_sha},
                "base": {"ref": "main"},
                "labels": [],
                "merged_at": None,
                "merge_commit_sha": None,
            }
            data["commit_pulls"].setdefault(head_sha, []).append(number)
            return int(number)

    def push_pull(self, number: int, head_sha: str) -> None:
        with self.state() as data:
            data["pulls"][str(number)]["head"]["sha"] = head_sha
            data["commit_pulls"].setdefault(head_sha, []).append(number)

    def set_labels(self, number: int, labels: list[str]) -> None:
        with self.state() as data:
            data["pulls"][str(number)]["labels"] = [{"name": name} for name in labels]

    def merge_pull(self, number: int, merge_sha: str, when: str) -> None:
        with self.state() as data:
            pull = data["pulls"][str(number)]
            pull.update(state="closed", merged_at=when, merge_commit_sha=merge_sha)
            data["commit_pulls"].setdefault(merge_sha, []).append(number)

    def pull(self, number: int) -> dict[str, Any]:
        return dict(self.read()["pulls"][str(number)])

    def add_comment(self, number: int, login: str, body: str) -> int:
        with self.state() as data:
            comment_id = self._next_id(data)
            data["comments"].setdefault(str(number), []).append(
                {"id": comment_id, "user": {"login": login}, "body": body}
            )
            return comment_id

    def comments(self, number: int) -> list[dict[str, Any]]:
        return list(self.read()["comments"].get(str(number), []))

    def new_run(self, workflow: str, name: str, event: str, head_sha: str, branch: str) -> int:
        with self.state() as data:
            run_id = self._next_id(data)
            data["runs"].append(
                {
                    "databaseId": run_id,
                    "workflowName": name,
                    "workflow": workflow,
                    "event": event,
                    "headSha": head_sha,
                    "headBranch": branch,
                    "status": "queued",
                    "conclusion": "",
                    "artifacts": {},
                }
            )
            return run_id

    def update_run(self, run_id: int, **fields: Any) -> None:
        with self.state() as data:
            run = next(r for r in data["runs"] if r["databaseId"] == run_id)
            run.update(fields)

    def run(self, run_id: int) -> dict[str, Any]:
        return dict(next(r for r in self.read()["runs"] if r["databaseId"] == run_id))

    def upload(self, run_id: int, name: str, files: dict[str, str]) -> None:
        with self.state() as data:
            run = next(r for r in data["runs"] if r["databaseId"] == run_id)
            run["artifacts"][name] = files

    def issues(self) -> list[dict[str, Any]]:
        return [dict(issue) for _, issue in sorted(self.read()["issues"].items(), key=lambda kv: int(kv[0]))]


# ---- the stub `gh` ----------------------------------------------------------------------------------------


class GhError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _jq(document: Any, program: str | None) -> str:
    """gh's `--jq`: raw strings, one result per line (gh uses gojq; jq 1.6 agrees on what the workflows use)."""
    text = json.dumps(document)
    if program is None:
        return text + "\n"
    done = subprocess.run(["jq", "-r", program], input=text, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GhError(f"jq: {done.stderr.strip()}")
    return done.stdout


def _options(argv: list[str], flags: dict[str, bool]) -> tuple[dict[str, list[str]], list[str]]:
    """Split argv into options (`flags` maps each known option to whether it takes a value) and positionals."""
    options: dict[str, list[str]] = {}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        name, eq, inline = word.partition("=")
        if name in flags:
            if flags[name]:
                value = inline if eq else argv[i + 1]
                i += 0 if eq else 1
            else:
                value = "true"
            options.setdefault(name, []).append(value)
        elif word.startswith("-"):
            raise GhError(f"gh stub: unsupported option {word}", 64)
        else:
            positional.append(word)
        i += 1
    return options, positional


def _one(options: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    return options.get(name, [default])[-1]


def _read_body(options: dict[str, list[str]]) -> str:
    if "--body-file" in options:
        return Path(options["--body-file"][-1]).read_text(encoding="utf-8")
    if "--body" in options:
        return options["--body"][-1]
    raise GhError("gh stub: a body is required")


class Gh:
    def __init__(self, forge: Forge, login: str) -> None:
        self.forge = forge
        self.login = login

    def log(self, *words: str) -> None:
        with self.forge.state() as data:
            data["log"].append(list(words))

    # gh api ---------------------------------------------------------------------------------------------
    def api(self, argv: list[str]) -> str:
        options, (path, *rest) = _options(
            argv, {"--method": True, "-X": True, "--paginate": False, "--jq": True, "-q": True, "-F": True, "-f": True}
        )
        if rest:
            raise GhError(f"gh stub: unexpected arguments {rest}", 64)
        method = (_one(options, "--method") or _one(options, "-X") or "GET").upper()
        jq = _one(options, "--jq") or _one(options, "-q")
        fields = {}
        for spec in options.get("-F", []) + options.get("-f", []):
            key, _, value = spec.partition("=")
            fields[key] = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        repo = self.forge.repo
        path = path.lstrip("/")
        if match := re.fullmatch(rf"repos/{re.escape(repo)}/issues/(\d+)/comments(?:\?per_page=(\d+))?", path):
            if method == "POST":
                comment_id = self.forge.add_comment(int(match.group(1)), self.login, fields["body"])
                return _jq({"id": comment_id}, jq)
            if method != "GET":
                raise GhError(f"gh stub: {method} {path} unsupported", 64)
            comments = self.forge.comments(int(match.group(1)))
            size = int(match.group(2) or PAGE_SIZE)
            pages = [comments[i : i + size] for i in range(0, len(comments), size)] or [[]]
            if "--paginate" not in options:
                pages = pages[:1]
            return "".join(_jq(page, jq) for page in pages)
        if match := re.fullmatch(rf"repos/{re.escape(repo)}/issues/comments/(\d+)", path):
            if method != "PATCH":
                raise GhError(f"gh stub: {method} {path} unsupported", 64)
            return self._patch_comment(int(match.group(1)), fields["body"], jq)
        if match := re.fullmatch(rf"repos/{re.escape(repo)}/commits/([0-9a-f]{{40}})/pulls", path):
            data = self.forge.read()
            numbers = data["commit_pulls"].get(match.group(1), [])
            return _jq([data["pulls"][str(n)] for n in sorted(set(numbers))], jq)
        raise GhError(f"gh stub: gh api {method} {path} is not implemented", 64)

    def _patch_comment(self, comment_id: int, body: str, jq: str | None) -> str:
        with self.forge.state() as data:
            for comments in data["comments"].values():
                for comment in comments:
                    if comment["id"] == comment_id:
                        if comment["user"]["login"] != self.login:
                            raise GhError("HTTP 403: Resource not accessible by integration")
                        comment["body"] = body
                        return _jq(comment, jq)
        raise GhError("HTTP 404: Not Found")

    # gh pr ----------------------------------------------------------------------------------------------
    def pr(self, argv: list[str]) -> str:
        verb, *rest = argv
        if verb == "comment":
            options, (number,) = _options(rest, {"--body-file": True, "--body": True, "--repo": True, "-R": True})
            self.forge.add_comment(int(number), self.login, _read_body(options))
            return f"https://github.com/{self.forge.repo}/pull/{number}#issuecomment\n"
        raise GhError(f"gh stub: gh pr {verb} is not implemented", 64)

    # gh run ---------------------------------------------------------------------------------------------
    def run(self, argv: list[str]) -> str:
        verb, *rest = argv
        if verb == "list":
            return self._run_list(rest)
        if verb == "download":
            options, (run_id,) = _options(rest, {"--repo": True, "-R": True, "--name": True, "-n": True, "--dir": True})
            run = self.forge.run(int(run_id))
            name = _one(options, "--name") or _one(options, "-n")
            if name not in run["artifacts"]:
                raise GhError(f"no artifact matches any of the names or patterns provided ({name})")
            target = Path(_one(options, "--dir", ".") or ".")
            for relative, text in sorted(run["artifacts"][name].items()):
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                (target / relative).write_text(text, encoding="utf-8")
            return ""
        raise GhError(f"gh stub: gh run {verb} is not implemented", 64)

    def _run_list(self, argv: list[str]) -> str:
        flags = {
            "--repo": True,
            "-R": True,
            "--workflow": True,
            "-w": True,
            "--commit": True,
            "-c": True,
            "--status": True,
            "-s": True,
            "--limit": True,
            "-L": True,
            "--json": True,
            "--jq": True,
            "-q": True,
            "--branch": True,
            "-b": True,
            "--event": True,
            "-e": True,
        }
        options, positional = _options(argv, flags)
        if positional:
            raise GhError(f"gh stub: unexpected arguments {positional}", 64)
        runs = list(reversed(self.forge.read()["runs"]))  # newest first, as gh lists them
        filters = {
            "workflow": _one(options, "--workflow") or _one(options, "-w"),
            "headSha": _one(options, "--commit") or _one(options, "-c"),
            "headBranch": _one(options, "--branch") or _one(options, "-b"),
            "event": _one(options, "--event") or _one(options, "-e"),
        }
        for key, wanted in filters.items():
            if wanted is not None:
                runs = [r for r in runs if r[key] == wanted or (key == "workflow" and r["workflowName"] == wanted)]
        status = _one(options, "--status") or _one(options, "-s")
        if status is not None:
            runs = [r for r in runs if status in (r["status"], r["conclusion"])]
        runs = runs[: int(_one(options, "--limit") or _one(options, "-L") or 20)]
        fields = (_one(options, "--json") or "").split(",")
        if fields == [""]:
            raise GhError("gh stub: gh run list without --json is not implemented", 64)
        rows = [{f: r[f] for f in fields} for r in runs]
        return _jq(rows, _one(options, "--jq") or _one(options, "-q"))

    # gh issue / gh label --------------------------------------------------------------------------------
    def issue(self, argv: list[str]) -> str:
        verb, *rest = argv
        flags = {
            "--label": True,
            "-l": True,
            "--state": True,
            "-s": True,
            "--limit": True,
            "-L": True,
            "--json": True,
            "--jq": True,
            "-q": True,
            "--title": True,
            "-t": True,
            "--body-file": True,
            "-F": True,
            "--body": True,
            "-b": True,
            "--comment": True,
            "-c": True,
            "--repo": True,
            "-R": True,
        }
        options, positional = _options(rest, flags)
        if "-F" in options:
            options["--body-file"] = options.pop("-F")
        if verb == "list":
            return self._issue_list(options)
        if verb == "create":
            return self._issue_create(options)
        (number,) = positional
        with self.forge.state() as data:
            issue = data["issues"].get(number)
            if issue is None:
                raise GhError(f"could not resolve to an issue with the number of {number}")
            if verb == "edit":
                issue["body"] = _read_body(options)
            elif verb == "comment":
                issue["comments"].append({"user": {"login": self.login}, "body": _read_body(options)})
            elif verb == "close":
                issue["state"] = "closed"
                if "--comment" in options or "-c" in options:
                    text = _one(options, "--comment") or _one(options, "-c") or ""
                    issue["comments"].append({"user": {"login": self.login}, "body": text})
            else:
                raise GhError(f"gh stub: gh issue {verb} is not implemented", 64)
        return ""

    def _issue_list(self, options: dict[str, list[str]]) -> str:
        issues = [i for i in reversed(self.forge.issues())]
        label = _one(options, "--label") or _one(options, "-l")
        state = (_one(options, "--state") or _one(options, "-s") or "open").lower()
        if label is not None:
            issues = [i for i in issues if label in [x["name"] for x in i["labels"]]]
        if state != "all":
            issues = [i for i in issues if i["state"] == state]
        issues = issues[: int(_one(options, "--limit") or _one(options, "-L") or 30)]
        fields = (_one(options, "--json") or "").split(",")
        rows = [{f: i[f] for f in fields} for i in issues]
        return _jq(rows, _one(options, "--jq") or _one(options, "-q"))

    def _issue_create(self, options: dict[str, list[str]]) -> str:
        labels = options.get("--label", []) + options.get("-l", [])
        with self.forge.state() as data:
            known = {x["name"] for x in data["labels"]}
            missing = [x for x in labels if x not in known]
            if missing:
                raise GhError(f"could not add label: '{missing[0]}' not found")
            number = data["next_number"]
            data["next_number"] += 1
            data["issues"][str(number)] = {
                "number": number,
                "title": _one(options, "--title") or _one(options, "-t"),
                "body": _read_body(options),
                "state": "open",
                "labels": [{"name": x} for x in labels],
                "comments": [],
            }
        return f"https://github.com/{self.forge.repo}/issues/{number}\n"

    def label(self, argv: list[str]) -> str:
        verb, *rest = argv
        if verb != "create":
            raise GhError(f"gh stub: gh label {verb} is not implemented", 64)
        flags = {"--color": True, "-c": True, "--description": True, "-d": True, "--repo": True, "-R": True}
        _, (name,) = _options(rest, flags)
        with self.forge.state() as data:
            if any(x["name"] == name for x in data["labels"]):
                raise GhError(f'label with name "{name}" already exists; use `--force` to update its color')
            data["labels"].append({"name": name})
        return ""


def main(argv: list[str]) -> int:
    forge = Forge(Path(os.environ["GH_STUB_STATE"]))
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    login = forge.read()["tokens"].get(token or "")
    if login is None:
        print(
            "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.",
            file=sys.stderr,
        )
        return 4
    gh = Gh(forge, login)
    gh.log(*argv)
    commands = {"api": gh.api, "pr": gh.pr, "run": gh.run, "issue": gh.issue, "label": gh.label}
    if not argv or argv[0] not in commands:
        print(f"gh stub: unsupported command {argv[:1]}", file=sys.stderr)
        return 64
    try:
        sys.stdout.write(commands[argv[0]](argv[1:]))
    except GhError as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    except (ValueError, IndexError, KeyError) as exc:
        print(f"gh stub: bad arguments {argv}: {exc!r}", file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
