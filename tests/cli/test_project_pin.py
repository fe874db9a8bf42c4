"""Project pinning (issue 13 item 4): a manifest's `project:` is a pin. `--project` or POSTHOG_PROJECT_ID naming
another project is refused (`project-mismatch`) before any request, for every command that reads manifests;
`validate --catalog live` and `import` honour the pin and accept `--project`. The CLI in-process, the emulator
over real HTTP (its traffic counter proves that nothing was sent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import run_cli

PINNED = """\
version: 1
project: "1"
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh}
"""


@pytest.fixture
def emu(cli_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_pin")
    emu = cli_emulator()
    monkeypatch.delenv("POSTHOG_PROJECT_ID")
    return emu


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    root = tmp_path / "manifests"
    root.mkdir()
    (root / "a.yaml").write_text("version: 1\nsources: {}\n")
    (root / "stripe.yaml").write_text(PINNED)
    return root


def requests(emu: Any) -> int:
    with emu.control() as control:
        return int(control.get("/stats").json()["total"])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.parametrize(
    "argv",
    [
        ["plan"],
        ["plan", "--format", "json"],
        ["apply", "--auto-approve"],
        ["drift"],
        ["validate", "--catalog", "live"],
    ],
)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_another_project_than_the_pin_is_refused_before_any_request(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    argv: list[str], how: str,
) -> None:  # fmt: skip
    extra = ["--project", "2"] if how == "flag" else []
    if how == "env":
        monkeypatch.setenv("POSTHOG_PROJECT_ID", "2")
    code, out, err = run(capsys, *argv, *extra, str(manifests))
    assert code == 1
    origin = "--project" if how == "flag" else "POSTHOG_PROJECT_ID"
    assert f"the manifests pin project 1 ({manifests / 'stripe.yaml'}:2), but {origin} names project 2" in err
    assert "hint:" in err
    if "json" in argv:
        assert '"reference": "project-mismatch"' in out
    assert requests(emu) == 0


def test_the_pin_is_used_and_the_same_project_named_again_is_fine(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, "plan", str(manifests))
    assert code == 0, err
    assert "project 1" in out and "stripe_prod" in out
    monkeypatch.setenv("POSTHOG_PROJECT_ID", "1")
    code, out, err = run(capsys, "plan", "--project", "1", str(manifests))
    assert code == 0, err


def test_validate_catalog_live_honours_the_pin_and_accepts_project(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "validate", "--catalog", "live", str(manifests))
    assert code == 0, err
    assert "1 source in 2 files: valid" in out
    assert requests(emu) >= 1  # the wizard, read from the pinned project
    code, out, err = run(capsys, "validate", "--catalog", "live", "--project", "1", str(manifests))
    assert code == 0, err


def test_import_into_a_pinned_tree_honours_the_pin(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "apply", "--auto-approve", str(manifests))[0] == 0
    (manifests / "stripe.yaml").unlink()
    (manifests / "a.yaml").write_text('version: 1\nproject: "1"\nsources: {}\n')
    out_dir = manifests / "imported"
    out_dir.mkdir()
    (out_dir / "keep.yaml").write_text('version: 1\nproject: "1"\nsources: {}\n')
    code, _, err = run(capsys, "import", "--all", "-o", f"{out_dir}/")
    assert code == 0, err
    assert "project: '1'" in (out_dir / "stripe_prod.yaml").read_text()
    before = requests(emu)
    code, _, err = run(capsys, "import", "--all", "--force", "--project", "2", "-o", f"{out_dir}/")
    assert code == 1 and "but --project names project 2" in err
    assert requests(emu) == before
