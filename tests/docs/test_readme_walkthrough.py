"""README.md cannot rot: its quick start, its test command and its 5-minute tour are run as written.

The tour's ```console blocks are parsed literally: each `$ ` line is a shell command, run in order in one
temporary directory holding a copy of examples/ and a `.venv` link to the running virtualenv, against a fresh
`--host local`; the lines under it are output that must appear (in order per stream; `…` elides text). A
trailing `# exit code N` comment gives the expected exit code (default 0). Needs the local PostgreSQL.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest"
INSTALL_SEGMENTS = ("python3 -m venv ", ".venv/bin/pip install ")


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)
    exit_code: int = 0


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, flags=re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.M | re.S)


def parse_tour(text: str) -> list[Step]:
    steps: list[Step] = []
    for block in _blocks(text, "console"):
        for line in block.splitlines():
            if line.startswith("$ "):
                command = line[2:]
                code = re.search(r"\s#\s*exit code (\d+)$", command)
                steps.append(Step(command, exit_code=int(code.group(1)) if code else 0))
            elif line.strip():
                assert steps, f"output before any command: {line!r}"
                steps[-1].expected.append(line)
    return steps


def _pattern(line: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in line.split("…")) + r"\Z")


def assert_output(step: Step, stdout: str, stderr: str) -> None:
    """Every expected line matches a whole output line, in order within its stream; a bare `…` skips."""
    streams = {"stdout": stdout.splitlines(), "stderr": stderr.splitlines()}
    positions = {"stdout": 0, "stderr": 0}
    for line in step.expected:
        if line.strip() == "…":
            continue
        pattern = _pattern(line)
        for name, lines in streams.items():
            found = next((i for i in range(positions[name], len(lines)) if pattern.match(lines[i])), None)
            if found is not None:
                positions[name] = found + 1
                break
        else:
            pytest.fail(
                f"$ {step.command}\nexpected line not found (in order): {line!r}\n"
                f"--- stdout ---\n{stdout}--- stderr ---\n{stderr}"
            )


def _clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POSTHOG_", "RECONCILER_", "VIRTUAL_ENV"))
        and k not in {"STRIPE_SECRET_KEY", "APP_DB_PASSWORD"}
    }
    return env | {"NO_COLOR": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def run_shell(command: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str, dict[str, str]]:
    """Run one command in bash; return its exit code, output and the environment it leaves (export, source)."""
    env_file = cwd.parent / "env.out"
    script = f"{command}\n__rc=$?\nenv -0 > {env_file}\nexit $__rc\n"
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    raw = env_file.read_bytes().decode("utf-8").split("\0")
    new_env = dict(item.split("=", 1) for item in raw if "=" in item)
    return done.returncode, done.stdout, done.stderr, new_env


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A user's checkout, as far as the README needs one: examples/ and the virtualenv at .venv."""
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copytree(ROOT / "examples", work / "examples")
    (work / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return work


def test_readme_test_command_is_the_ci_command() -> None:
    assert _blocks(_section("Run the tests"), "sh") == [TEST_COMMAND + "\n"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1] == TEST_COMMAND.rsplit(" && ", 1)[1]


def test_tour_is_parsed_into_the_five_steps() -> None:
    commands = [s.command.split("  #")[0] for s in parse_tour(_section("A 5-minute tour"))]
    verbs = [c.split()[1] for c in commands if c.startswith("reconciler ")]
    assert verbs == ["validate", "plan", "apply", "plan", "plan", "drift", "drift", "import", "import", "validate"]
    assert all("--host local" in c for c in commands if c.split()[:2][-1] in {"plan", "apply", "drift", "import"})


def test_output_matching_can_fail() -> None:
    step = Step("x", ["Plan: 1 to create", "…", "done … ok (…s)"])
    assert_output(step, "Plan: 1 to create\nmore\n", "done a … ok (0.1s)\n")
    with pytest.raises(pytest.fail.Exception, match="expected line not found"):
        assert_output(Step("x", ["b", "a"]), "a\nb\n", "")  # out of order
    with pytest.raises(pytest.fail.Exception, match="expected line not found"):
        assert_output(Step("x", ["Plan: 1 to create"]), "Plan: 1 to create, 2 to update\n", "")  # whole lines


def test_quick_start_then_tour(workdir: Path) -> None:
    env = _clean_env()
    quick = _blocks(_section("Quick start (no PostHog account needed)"), "sh")
    assert len(quick) == 1 and quick[0].count("\n") == 1, "the quick start is one command"
    segments = quick[0].strip().split(" && ")
    # `--host local` is the emulator, which is the `emulator` extra: the quick start installs it.
    assert segments[:2] == ["python3 -m venv .venv", ".venv/bin/pip install -e '.[emulator]'"]
    assert ".venv/bin/reconciler plan --host local examples/sources.yaml" in segments
    assert ".venv/bin/reconciler apply --host local --auto-approve examples/sources.yaml" in segments
    # The install part needs the network; everything after it runs as written.
    rest = " && ".join(s for s in segments if not s.startswith(INSTALL_SEGMENTS))
    code, out, err, env = run_shell(rest, workdir, env)
    assert code == 0, out + err
    assert "Plan: 3 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged." in out  # the tombstone: nothing
    assert "Apply complete: 7 steps succeeded, 0 failed, 0 skipped, 0 not started; 8 API requests." in out
    assert "sk_test_demo" not in out + err
    code, out, err, _ = run_shell(".venv/bin/reconciler plan --host local examples/sources.yaml", workdir, env)
    assert (code, out.splitlines()[-1]) == (0, "No changes. 3 unchanged."), out + err

    env = _clean_env()  # the tour starts a new shell
    steps = parse_tour(_section("A 5-minute tour"))
    for step in steps:
        code, out, err, env = run_shell(step.command, workdir, env)
        assert code == step.exit_code, f"$ {step.command}\nexit {code}\n{out}{err}"
        assert_output(step, out, err)
        assert "sk_test_demo" not in out + err  # the tour's secret value is never printed
    assert "sk_test_demo" not in (workdir / "plan.json").read_text(encoding="utf-8")
    assert "STRIPE_SECRET_KEY" in (workdir / "plan.json").read_text(encoding="utf-8")  # the name, not the value
    assert (workdir / "imported" / "hubspot.yaml").is_file()


def test_readme_links_point_at_files_that_exist() -> None:
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert {"docs/drift-format.md", "docs/sources.md", "docs/security.md", "docs/troubleshooting.md"} <= set(targets)
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, missing
