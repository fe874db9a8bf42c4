"""CONTRIBUTING.md, the Makefile, .ci/run and .pre-commit-config.yaml agree: every `make X` the guide names is
a target, `make lint` runs exactly CI's checks, and every repository path the guide names exists."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def recipe(target: str) -> list[str]:
    """The commands of one Makefile target, with $(BIN) spelled out as CI spells it."""
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", MAKEFILE, re.MULTILINE)
    assert match, f"no target {target!r} in the Makefile"
    return [line.strip().replace("$(BIN)/", ".venv/bin/") for line in match.group(1).splitlines()]


def test_every_make_target_the_guide_names_exists() -> None:
    named = set(re.findall(r"(?:`|^)make ([a-z-]+)", GUIDE, re.MULTILINE))
    assert {"install", "test", "test-slow", "lint", "fmt", "bench", "bench-smoke", "docs"} <= named
    targets = set(re.findall(r"^([a-z-]+):", MAKEFILE, re.MULTILINE))
    assert named <= targets


def test_make_lint_runs_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    checks = [line for line in ci.splitlines() if line.startswith((".venv/bin/ruff", ".venv/bin/mypy"))]
    assert (
        checks
        == recipe("lint")
        == [
            ".venv/bin/ruff format --check .",
            ".venv/bin/ruff check .",
            ".venv/bin/mypy --strict reconciler",
        ]
    )
    assert recipe("test") == [".venv/bin/pytest"] and ".venv/bin/pytest" in ci.splitlines()


def test_pre_commit_runs_the_same_checks() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert set(hooks) == {"ruff", "ruff-format", "mypy"}
    assert hooks["mypy"]["entry"] == ".venv/bin/mypy --strict reconciler" and hooks["mypy"]["pass_filenames"] is False
    # The hooks offered to manifest repositories stay where users point at them.
    assert (ROOT / ".pre-commit-hooks.yaml").is_file()


def test_every_path_the_guide_names_exists() -> None:
    paths = {
        p
        for p in re.findall(r"`([A-Za-z0-9_.][A-Za-z0-9_./-]*)`", GUIDE)
        if "/" in p or p.endswith((".md", ".yaml", ".py", ".txt", ".json"))
    }
    assert "reconciler/catalog/source_types.yaml" in paths
    missing = sorted(p for p in paths if not (ROOT / p).exists() and not (ROOT / "reconciler" / p).exists())
    assert missing == []
