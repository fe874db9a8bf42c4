"""Bad inputs that are generated rather than stored: huge files, bad encodings, missing paths, deep nesting,
duplicates across files. Each gives one clear located error, exit 1, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import run_cli
from reconciler.manifest.files import MAX_FILE_BYTES


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_huge_file_is_refused_before_parsing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("version: 1\n# " + "x" * MAX_FILE_BYTES + "\n")
    code, _, err = _run(capsys, "validate", str(big))
    assert code == 1
    assert err.splitlines()[0] == (
        f"{big}: file is {big.stat().st_size} bytes; manifests are limited to {MAX_FILE_BYTES} bytes"
    )


def test_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("version: 1\nsources:\n  caf\xe9: {type: Stripe}\n".encode("latin-1"))
    code, _, err = _run(capsys, "validate", str(bad))
    assert code == 1 and err.splitlines()[0] == f"{bad}: file is not valid UTF-8 (byte 25)"


def test_missing_path_and_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, "validate", str(tmp_path / "nope.yaml"), str(tmp_path / "empty"))
    assert code == 1
    assert err.splitlines() == [
        f"{tmp_path / 'empty'}: no manifest files (*.yaml, *.yml) in this directory",
        f"{tmp_path / 'nope.yaml'}: no such file or directory",
        "2 errors",
    ]


def test_deep_nesting_fails_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("version: 1\nsources:\n  s: " + "[" * 200 + "]" * 200 + "\n")
    code, _, err = _run(capsys, "validate", str(deep))
    assert code == 1 and err.splitlines()[0] == f"{deep}:3:69: s: nesting deeper than 64 levels (recursive alias?)"


def test_duplicate_address_across_files_names_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    body = "version: 1\nsources:\n  crm:\n    type: Hubspot\n    config: {hubspot_integration_id: 1}\n"
    a.write_text(body)
    b.write_text("# second file\n" + body.replace("Hubspot", "Salesforce").replace("hubspot_", "salesforce_"))
    code, _, err = _run(capsys, "validate", str(tmp_path))
    assert code == 1
    assert err.splitlines()[0] == f"{b}:4:3: crm: source 'crm' is already declared at {a}:3:3"


def test_errors_from_several_files_all_reported_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "1.yaml").write_text("version: 1\nsources:\n  a: {type: Strip}\n")
    (tmp_path / "2.yml").write_text("version: 1\nsources:\n  b: {type: Hubspot, config: {hubspot_integration_id: x}}\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "ignored.yaml").write_text("not: [valid\n")
    code, _, err = _run(capsys, "validate", str(tmp_path))
    assert code == 1
    lines = [line for line in err.splitlines() if not line.startswith("  hint:")]
    assert lines == [
        f"{tmp_path / '1.yaml'}:3:13: a.type: unknown source type 'Strip'; did you mean 'Stripe'?",
        f"{tmp_path / '2.yml'}:3:55: b.config.hubspot_integration_id: expected a whole number, got a string",
        "2 errors",
    ]
