"""`reconciler catalog pull|diff` over real HTTP to the emulator, and the pinned-catalog setting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.catalog import load_catalog
from reconciler.catalog.diff import diff_catalogs
from reconciler.cli import run_cli
from reconciler.emulator.testing import Emulator
from reconciler.manifest import resolve_catalog


@pytest.fixture
def emu(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    for name, value in emulator.cli_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RECONCILER_CATALOG", raising=False)
    monkeypatch.chdir(tmp_path)
    yield emulator


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_pull_writes_a_catalog_file_equal_to_the_bundled_catalog(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "catalog", "pull", "-o", "pinned.json")
    assert (code, out) == (0, "") and err == "Wrote pinned.json: 148 source types\n"
    pinned = json.loads((tmp_path / "pinned.json").read_text(encoding="utf-8"))
    assert pinned == load_catalog().wizard()
    catalog = resolve_catalog(str(tmp_path / "pinned.json"))
    assert list(catalog) == list(load_catalog())
    assert all(catalog[n].fields == load_catalog()[n].fields for n in catalog)
    assert catalog["Okta"].connection_targets == ("okta_domain",)  # our facts, borrowed per type
    assert diff_catalogs(load_catalog(), catalog) == []
    # To stdout, byte-identical to the file.
    code, out, _ = run(capsys, "catalog", "pull")
    assert code == 0 and out == (tmp_path / "pinned.json").read_text(encoding="utf-8")


def test_pulled_file_is_accepted_by_catalog_and_diffs_clean(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "catalog", "pull", "-o", "pinned.json")[0] == 0
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\nsources:\n  i:\n    type: Intercom\n    config: {intercom_integration_id: 5}\n")
    code, out, _ = run(capsys, "validate", "--catalog", "pinned.json", str(manifest))
    assert (code, out) == (0, "1 source in 1 file: valid\n")
    assert run(capsys, "catalog", "diff", "pinned.json") == (
        0,
        "",
        "pinned.json: no differences from the bundled catalog\n",
    )
    assert run(capsys, "catalog", "diff") == (0, "", "the server's wizard: no differences from the bundled catalog\n")


def _edited(tmp_path: Path) -> Path:
    wizard: dict[str, Any] = load_catalog().wizard()
    okta = wizard["Okta"]["fields"]
    okta.append({"name": "scopes", "label": "Scopes", "type": "text", "required": False, "secret": False})
    wizard["Chargebee"]["fields"] = [f for f in wizard["Chargebee"]["fields"] if f["name"] != "site_name"]
    api_key = next(f for f in wizard["Zendesk"]["fields"] if f["name"] == "email_address")
    api_key["required"] = False
    region = next(f for f in wizard["Iterable"]["fields"] if f["name"] == "region")
    region["options"].append({"label": "AP", "value": "ap", "fields": None})
    wizard["Newcomer"] = {"name": "Newcomer", "label": "Newcomer", "fields": [{"name": "token", "type": "password"}]}
    del wizard["Adjust"]
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(wizard), encoding="utf-8")
    return path


def test_diff_reports_added_removed_and_changed_fields(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _edited(tmp_path)
    code, out, err = run(capsys, "catalog", "diff", str(path))
    assert code == 2
    assert out.splitlines() == [
        "- Adjust (source type)",
        "- Chargebee.site_name",
        "~ Iterable.region: options + ap",
        "+ Okta.scopes: text, optional",
        "~ Zendesk.email_address: no longer required",
        "+ Newcomer (source type): 1 field",
    ]
    assert err == f"{path}: 6 differences from the bundled catalog\n"


def test_the_setting_and_a_pinned_file_choose_the_catalog_without_a_flag(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    only_stripe = {"Stripe": load_catalog().wizard()["Stripe"]}
    (tmp_path / "stripe.json").write_text(json.dumps(only_stripe), encoding="utf-8")
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "version: 1\nsources:\n  o:\n    type: Okta\n    config: {okta_domain: a.okta.com, api_key: x}\n"
    )
    narrow = "source type 'Okta' is not in the catalog in use"
    monkeypatch.setenv("RECONCILER_CATALOG", "stripe.json")
    code, _, err = run(capsys, "validate", "--allow-literal-secrets", str(manifest))
    assert code == 1 and narrow in err
    assert run(capsys, "validate", "--allow-literal-secrets", "--catalog", "bundled", str(manifest))[0] == 0
    monkeypatch.delenv("RECONCILER_CATALOG")
    assert run(capsys, "validate", "--allow-literal-secrets", str(manifest))[0] == 0
    (tmp_path / "reconciler-catalog.json").write_text(json.dumps(only_stripe), encoding="utf-8")
    code, _, err = run(capsys, "validate", "--allow-literal-secrets", str(manifest))
    assert code == 1 and narrow in err


def test_diff_of_a_missing_file_is_one_clear_error(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "catalog", "diff", "nope.json")
    assert (code, out) == (1, "")
    assert "--catalog nope.json: no such file" in err
