"""A throwaway Git repository for the GitOps test: a bare `origin` (what GitHub/GitLab hosts) and a working
clone the test edits through, with pull-request branches, merges and GitHub's `refs/pull/N/merge` commits.

Test-only. Every commit has a fixed author and a commit time that only moves forward one second per commit,
so hashes and `git log` orders are the same on every run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["GitRepo"]


class GitRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.origin = root / "origin.git"
        self.work = root / "work"
        self.clock = 1_767_225_600  # 2026-01-01T00:00:00Z
        self._git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(self.origin))
        self._git(self.origin, "config", "uploadpack.allowReachableSHA1InWant", "true")  # as GitHub allows
        self._git(root, "init", "--quiet", "--initial-branch=main", str(self.work))
        self.git("remote", "add", "origin", str(self.origin))

    def env(self) -> dict[str, str]:
        self.clock += 1
        stamp = f"{self.clock} +0000"
        return {
            **os.environ,
            "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.root),
        }

    def _git(self, cwd: Path, *args: str) -> str:
        done = subprocess.run(["git", *args], cwd=cwd, env=self.env(), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def git(self, *args: str) -> str:
        return self._git(self.work, *args)

    def sha(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref)

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or, for None, delete) files relative to the working tree."""
        for relative, text in files.items():
            path = self.work / relative
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")

    def commit(self, message: str, files: dict[str, str | None]) -> str:
        self.write(files)
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.sha()

    def initial_commit(self, files: dict[str, str | None]) -> str:
        sha = self.commit("Initial commit", files)
        self.git("push", "--quiet", "origin", "main")
        return sha

    def branch(self, name: str, files: dict[str, str | None], message: str, base: str = "origin/main") -> str:
        """A pull-request branch from `base` with one commit; pushed. Returns its head."""
        self.git("fetch", "--quiet", "origin")
        self.git("checkout", "--quiet", "-B", name, base)
        sha = self.commit(message, files)
        self.git("push", "--quiet", "--force", "origin", name)
        self.git("checkout", "--quiet", "main")
        return sha

    def update_branch(self, name: str) -> str:
        """GitHub's "Update branch": merge the current main into the pull-request branch; pushed."""
        self.git("fetch", "--quiet", "origin")
        self.git("checkout", "--quiet", "-B", name, f"origin/{name}")
        self.git("merge", "--quiet", "--no-edit", "origin/main")
        sha = self.sha()
        self.git("push", "--quiet", "origin", name)
        self.git("checkout", "--quiet", "main")
        return sha

    def test_merge(self, number: int, name: str) -> str:
        """`refs/pull/N/merge`: the branch merged into the current main, as GitHub prepares it for `pull_request`
        runs. Not on main; pushed only to that ref."""
        self.git("fetch", "--quiet", "origin")
        self.git("checkout", "--quiet", "--detach", "origin/main")
        self.git("merge", "--quiet", "--no-ff", "--no-edit", "-m", f"Merge {name} into main", f"origin/{name}")
        sha = self.sha()
        self.git("push", "--quiet", "--force", "origin", f"HEAD:refs/pull/{number}/merge")
        self.git("checkout", "--quiet", "main")
        return sha

    def merge(self, number: int, name: str) -> str:
        """Merge a pull request into main with a merge commit (GitHub's default); pushed. Returns main's head."""
        self.git("fetch", "--quiet", "origin")
        self.git("checkout", "--quiet", "-B", "main", "origin/main")
        self.git(
            "merge",
            "--quiet",
            "--no-ff",
            "--no-edit",
            "-m",
            f"Merge pull request #{number} from {name}",
            f"origin/{name}",
        )
        self.git("push", "--quiet", "origin", "main")
        return self.sha()

    def push_main(self, message: str, files: dict[str, str | None]) -> str:
        """A direct push to main (no pull request)."""
        self.git("fetch", "--quiet", "origin")
        self.git("checkout", "--quiet", "-B", "main", "origin/main")
        sha = self.commit(message, files)
        self.git("push", "--quiet", "origin", "main")
        return sha

    def changed_files(self, old: str | None, new: str) -> list[str]:
        if old is None:
            return self.git("ls-tree", "-r", "--name-only", new).splitlines()
        return self.git("diff", "--name-only", old, new).splitlines()

    def clone_to(self, target: Path, ref: str, *, full_history: bool) -> str:
        """What `actions/checkout` leaves: `ref` (a sha, `refs/heads/main`, `refs/pull/N/merge`) checked out,
        with every branch and the whole history only when `full_history` (`fetch-depth: 0`), else only that
        commit (a shallow clone, checkout's default). Returns the checked-out sha."""
        target.mkdir(parents=True, exist_ok=True)
        self._git(target, "init", "--quiet", "--initial-branch=main")
        self._git(target, "remote", "add", "origin", f"file://{self.origin}")
        if full_history:
            self._git(target, "fetch", "--quiet", "origin", "+refs/heads/*:refs/remotes/origin/*")
            self._git(target, "fetch", "--quiet", "origin", ref)
        else:
            self._git(target, "fetch", "--quiet", "--depth", "1", "origin", ref)
        self._git(target, "checkout", "--quiet", "--detach", "FETCH_HEAD")
        return self._git(target, "rev-parse", "HEAD")
