"""docs/apply-format.md cannot rot: its example is run through the real CLI (`--host local`, the clock fixed by
SOURCE_DATE_EPOCH) and must be the exact output, its stderr lines must appear, and its key tables must list
exactly the keys the report has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reconciler.apply.report import REPORT_FORMAT_VERSION
from reconciler.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "apply-format.md").read_text(encoding="utf-8")
EXAMPLE = DOC.split("## Example\n", 1)[1]


def _block(lang: str, text: str = EXAMPLE) -> str:
    return text.split(f"```{lang}\n", 1)[1].split("```", 1)[0]


def _table_keys(title: str) -> list[str]:
    section = DOC.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M)


@pytest.fixture
def applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "example.yaml").write_text(_block("yaml"), encoding="utf-8")
    for name in ("POSTHOG_HOST", "POSTHOG_PROJECT_ID", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "phx_local")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    argv = re.search(r"^`SOURCE_DATE_EPOCH=1767225600 reconciler (apply [^`]+)`", EXAMPLE, flags=re.M)
    assert argv, "the example names the command it ran"
    code = run_cli(argv.group(1).split())
    out, err = capsys.readouterr()
    return code, out, err


def test_the_example_is_the_real_output(applied: tuple[int, str, str]) -> None:
    code, out, err = applied
    assert code == 0, err
    assert out == _block("json")
    document = json.loads(out)
    assert document["format_version"] == REPORT_FORMAT_VERSION
    # The plan first (on stderr: stdout is the JSON document), then the step lines in the doc.
    assert err.startswith("reconciler plan for project 1 at local\n")
    lines = _block("text").splitlines()
    assert err.endswith("\n".join(lines) + "\n")


def test_the_key_tables_list_every_key(applied: tuple[int, str, str]) -> None:
    document = json.loads(applied[1])
    assert _table_keys("Top level") == list(document)
    assert _table_keys("Step") == list(document["steps"][0])
    assert f"`format_version` is `{REPORT_FORMAT_VERSION}`" in DOC


def test_nothing_to_apply_is_the_same_document(
    applied: tuple[int, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A second apply finds nothing to do: the same keys, zero counts, no steps."""
    assert run_cli(["apply", "--host", "local", "--auto-approve", "--format", "json", "example.yaml"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "format_version": REPORT_FORMAT_VERSION,
        "ok": True,
        "requests": 0,
        "summary": {"succeeded": 0, "failed": 0, "skipped": 0, "not_started": 0},
        "steps": [],
    }
