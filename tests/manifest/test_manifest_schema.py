"""The JSON Schema: a valid draft 2020-12 schema that accepts every valid example (jsonschema library)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator, ValidationError

from reconciler.cli import run_cli
from reconciler.manifest import manifest_schema

ROOT = Path(__file__).resolve().parents[2]
VALID_FILES = [ROOT / "examples" / "sources.yaml", *sorted((Path(__file__).parent / "valid").glob("*.yaml"))]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = manifest_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.name)
def test_schema_accepts_valid_manifests(path: Path, validator: Draft202012Validator) -> None:
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        assert [e.message for e in validator.iter_errors(doc)] == []


def _messages(errors: Iterable[ValidationError]) -> list[str]:
    out = []
    for e in errors:
        out.append(e.message)
        out.extend(_messages(e.context or []))
    return out


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ({"tables": {"T": {"sync_type": "incremental"}}}, "'incremental_field' is a required property"),
        (
            {
                "tables": {
                    "T": {
                        "frequency": "1min",
                        "sync_type": "append",
                        "incremental_field": "x",
                        "incremental_field_type": "integer",
                    }
                }
            },
            "'cdc' was expected",
        ),
        (
            {"config": {"hubspot_integration_id": 1, "custom_properties": {"enabled": True, "nope": "x"}}},
            "Additional properties are not allowed",
        ),
        ({"config": {}}, "'hubspot_integration_id' is a required property"),
        ({"protect": True, "state": "absent"}, "should not be valid"),
    ],
)
def test_schema_rejects(fragment: dict[str, object], expected: str, validator: Draft202012Validator) -> None:
    doc = {"version": 1, "sources": {"crm": {"type": "Hubspot", "config": {"hubspot_integration_id": 1}} | fragment}}
    messages = _messages(validator.iter_errors(doc))
    assert any(expected in m for m in messages), messages


def test_templates_accepted_for_typed_scalars(validator: Draft202012Validator) -> None:
    doc = {
        "version": 1,
        "sources": {
            "db": {
                "type": "Postgres",
                "config": {
                    "host": "{{ env('H') }}",
                    "port": "{{ env('P') }}",
                    "database": "d",
                    "user": "u",
                    "password": "{{ secret('PW') }}",
                },
                "tables": {"t": {"sync": "{{ env('SYNC') }}"}},
            }
        },
    }
    assert list(validator.iter_errors(doc)) == []
    doc["sources"]["db"]["config"]["password"] = "literal"  # type: ignore[index]
    assert list(validator.iter_errors(doc))


def test_schema_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["schema"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == manifest_schema()


def test_published_schema_file_is_current() -> None:
    # docs/manifest.schema.json is what examples' yaml-language-server modeline points at.
    published = json.loads((ROOT / "docs" / "manifest.schema.json").read_text(encoding="utf-8"))
    assert published == manifest_schema(), "regenerate: reconciler schema > docs/manifest.schema.json"
