"""The bad-manifest corpus: every case fails with exactly the expected located messages, exit 1, no traceback.

Each `corpus/*.yaml` starts with comment lines: `# expect: LINE:COL: ADDRESS.FIELD: MESSAGE` (one per error,
in output order), optional `# args: ...` (extra CLI arguments), `# env: NAME=value`, and `# schema: reject`
when the JSON Schema can express the problem too (`n/a` otherwise).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.cli import run_cli
from reconciler.manifest import manifest_schema

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*.yaml"))


@dataclass
class Case:
    expects: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    schema: str = "n/a"


def _case(path: Path) -> Case:
    case = Case()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(": ")
        if key == "expect":
            case.expects.append(value)
        elif key == "args":
            case.args.extend(value.split())
        elif key == "env":
            name, _, val = value.partition("=")
            case.env[name] = val
        elif key == "schema":
            case.schema = value.strip()
    return case


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert all(_case(p).expects for p in CASES), "every case names at least one expected error"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_corpus_case_text(path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    case = _case(path)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(CORPUS)  # messages then name files as given: relative
    code = run_cli(["validate", path.name, *case.args])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    assert out == ""
    located = [line for line in err.splitlines() if line.startswith(f"{path.name}:")]
    assert located == [f"{path.name}:{e}" for e in case.expects]
    n = len(case.expects)
    assert err.splitlines()[-1] == f"{n} error{'s' if n != 1 else ''}"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_corpus_case_json(path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    case = _case(path)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(CORPUS)
    code = run_cli(["validate", path.name, "--format", "json", *case.args])
    out, err = capsys.readouterr()
    assert code == 1 and err == ""
    body = json.loads(out)
    assert body["format_version"] == 1 and body["valid"] is False and body["sources"] == []
    rendered = []
    for e in body["errors"]:
        assert e["file"] == path.name
        subject = ".".join(p for p in (e["address"], e["field"]) if p)
        rendered.append(f"{e['line']}:{e['column']}: " + (f"{subject}: " if subject else "") + e["message"])
        assert isinstance(e["reference"], str) and e["reference"]
    assert rendered == case.expects


SCHEMA_CASES = [p for p in CASES if _case(p).schema == "reject"]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(manifest_schema())


def test_schema_expresses_most_of_the_corpus() -> None:
    assert len(SCHEMA_CASES) >= 30


@pytest.mark.parametrize("path", SCHEMA_CASES, ids=lambda p: p.stem)
def test_schema_rejects_corpus_case(path: Path, validator: Draft202012Validator) -> None:
    documents: list[Any] = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert any(list(validator.iter_errors(doc)) for doc in documents)
