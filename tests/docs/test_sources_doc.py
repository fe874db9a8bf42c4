"""docs/sources.md is generated from the catalog (reconciler.docgen) and cannot drift: the committed file must
equal the generated text, every example in it must pass `reconciler validate`, and every field is listed."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import yaml

from reconciler.catalog import load_catalog
from reconciler.cli import run_cli
from reconciler.docgen import field_rows, main, render_sources_doc
from reconciler.emulator.testing import create_body, zendesk_payload

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "sources.md"


def test_committed_file_equals_generated_output() -> None:
    assert DOC.read_text(encoding="utf-8") == render_sources_doc(), "regenerate: python -m reconciler.docgen"


def test_check_mode_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "sources.md"
    assert main([str(target)]) == 0
    assert main(["--check", str(target)]) == 0
    target.write_text(target.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    assert main(["--check", str(target)]) == 1
    err = capsys.readouterr().err
    assert err == f"{target} is out of date; regenerate it with: python -m reconciler.docgen\n"


def test_one_section_per_catalog_type_with_every_field() -> None:
    text = render_sources_doc()
    catalog = load_catalog()
    assert re.findall(r"^## (.+)$", text, flags=re.M) == [*catalog, "Integration ids", "SSH tunnels"]
    for name, source_type in catalog.items():
        section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        for row in field_rows(source_type):
            assert f"| `{row.path}` | {row.kind} |" in section, (name, row.path)
        secrets = {row.path for row in field_rows(source_type) if row.secret}
        assert secrets == {m for m in re.findall(r"^\| `([^`]+)` \|[^\n]*\*\*secret\*\*", section, flags=re.M)}


def test_stripe_section_marks_the_api_key_secret_and_conditional() -> None:
    assert (
        "| `auth_method.stripe_secret_key` | password | no (`selection: api_key`) | **secret** | API key; "
        "e.g. `rk_live_...` |"
    ) in render_sources_doc()


def _examples(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


def test_every_example_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    examples = _examples(DOC.read_text(encoding="utf-8"))
    assert len(examples) == len(load_catalog())
    for index, example in enumerate(examples):
        doc = yaml.safe_load(example)
        ((address, source),) = doc["sources"].items()
        path = tmp_path / f"{address}.yaml"
        path.write_text(example, encoding="utf-8")
        assert run_cli(["validate", str(path)]) == 0, (index, capsys.readouterr().err)
        assert capsys.readouterr().out == "1 source in 1 file: valid\n"
        assert source["type"] in load_catalog()
    assert "'{{ secret(" not in "".join(examples)  # templates are written double-quoted, as by hand


def test_the_zendesk_example_is_accepted_by_posthog(api: httpx.Client) -> None:
    """The example's config passes PostHog's own check (the emulator's credential check refuses a subdomain
    with anything but letters, digits and hyphens, as PostHog does), not just `validate`."""
    section = DOC.read_text(encoding="utf-8").split("\n## Zendesk\n", 1)[1]
    config = yaml.safe_load(_examples(section)[0])["sources"]["zendesk"]["config"]
    body = create_body("Zendesk", zendesk_payload(subdomain=config["subdomain"]), prefix="zendesk")
    reply = api.post("external_data_sources/", json=body)
    assert reply.status_code == 201, reply.text
    refused = api.post("external_data_sources/", json=create_body("Zendesk", zendesk_payload("my_subdomain")))
    assert refused.json()["message"] == "Zendesk subdomain is incorrect"


def test_sections_give_tables_status_and_integration_help() -> None:
    text = render_sources_doc()
    okta = text.split("\n## Okta\n", 1)[1].split("\n## ", 1)[0]
    assert "- Tables (incremental fields): `users` (lastUpdated), `groups` (lastUpdated)" in okta
    assert "- Status: released, alpha, form read at PostHog `39d44a2251`" in okta
    postgres = text.split("\n## Postgres\n", 1)[1].split("\n## ", 1)[0]
    assert "- Tables: discovered when PostHog connects (a database)" in postgres
    assert "- Also: direct query, CDC" in postgres
    hubspot = text.split("\n## Hubspot\n", 1)[1].split("\n## ", 1)[0]
    assert "[integration id](#integration-ids) of a PostHog `hubspot` integration" in hubspot
    assert "\n## Integration ids\n" in text and "Integration not found: <id>" in text
