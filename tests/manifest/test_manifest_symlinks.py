"""A manifest directory may not reach outside itself through symbolic links (issue 17, item 10).

A pull request can add `manifests/x.yaml -> /home/runner/.aws/credentials` (Git stores symlinks). Followed, the
file's contents would be parsed and echoed in validation errors, into the plan comment anyone can read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import run_cli
from reconciler.emulator.testing import Emulator
from reconciler.manifest.files import collect_files

OUTSIDE_VALUE = "AKIA-CANARY-outside-7c1d"
SOURCE = """\
version: 1
sources:
  pay:
    type: Stripe
    prefix: pay
    config:
      auth_method: {selection: api_key, stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"}
    tables:
      Customer: {sync: true, sync_type: full_refresh}
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """manifests/ with one real file, a link inside the tree, and links that lead out of it."""
    outside = tmp_path / "home" / ".aws"
    outside.mkdir(parents=True)
    (outside / "credentials.yaml").write_text(f"version: {OUTSIDE_VALUE}\naws_secret_access_key: {OUTSIDE_VALUE}\n")
    manifests = tmp_path / "manifests"
    (manifests / "shared").mkdir(parents=True)
    (manifests / "shared" / "pay.yaml").write_text(SOURCE)
    (manifests / "alias.yml").symlink_to(Path("shared") / "pay.yaml")  # inside the tree: fine (deduplicated)
    (manifests / "creds.yaml").symlink_to(outside / "credentials.yaml")
    (manifests / "up.yaml").symlink_to(Path("..") / "home" / ".aws" / "credentials.yaml")
    (manifests / "linked_dir").symlink_to(outside, target_is_directory=True)
    return manifests


def test_links_out_of_a_given_directory_are_refused_without_reading_them(tree: Path) -> None:
    files, errors = collect_files([tree])
    assert [p.relative_to(tree).as_posix() for p in files] == ["alias.yml"]  # the same file as shared/pay.yaml
    assert [(Path(e.file or "").name, e.reference) for e in errors] == [
        ("creds.yaml", "symlink-outside"),
        ("up.yaml", "symlink-outside"),
    ]
    assert all(f"symbolic link to a file outside {tree}: not read" in str(e) for e in errors)


def test_a_file_named_on_the_command_line_is_taken_as_given(tree: Path) -> None:
    files, errors = collect_files([tree / "creds.yaml"])
    assert errors == [] and files == [tree / "creds.yaml"]


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_never_echo_what_a_link_points_at(
    command: str,
    tree: Path,
    emulator: Emulator,
    team: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in emulator.cli_env(team).items():
        monkeypatch.setenv(name, value)
    code = run_cli([command, str(tree)])
    out, err = capsys.readouterr()
    assert code == 1
    assert OUTSIDE_VALUE not in out + err and "aws_secret_access_key" not in out + err
    assert f"{tree / 'creds.yaml'}: symbolic link to a file outside {tree}: not read" in out + err
