"""The JSON Schema of reconciler.yaml (`reconciler schema --repo-config`): a valid draft 2020-12 schema that
accepts every reconciler.yaml the docs and the tests use, and agrees with `load_repo_config` — the authority —
on a table of valid and invalid files (checked with the jsonschema library and with the loader, both ways).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.cli import run_cli
from reconciler.manifest import repo_config_schema
from reconciler.manifest.problems import ManifestInvalid
from reconciler.manifest.repo_config import CONFIG_NAME, TOP_KEYS, load_repo_config

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "docs" / "reconciler.schema.json"
HOST = "http://127.0.0.1:8010"


def _doc_configs() -> list[tuple[str, str]]:
    """Every YAML block of README.md and docs/*.md that is a reconciler.yaml (its keys are the file's, with
    more than `version`)."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for index, block in enumerate(re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), re.S)):
            try:
                data = yaml.safe_load(block)
            except yaml.YAMLError:
                continue
            if isinstance(data, dict) and "version" in data and set(data) <= set(TOP_KEYS) and len(data) > 1:
                found.append((f"{path.name}#{index}", block))
    return found


def _test_configs() -> list[tuple[str, str]]:
    """The reconciler.yaml texts the end-to-end tests write (module-level string constants, filled in)."""
    found = []
    for module, name in (("tests/cli/test_environments.py", "CONFIG"), ("tests/gitops/gitops_world.py", "REPO_CONFIG")):
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        values = [
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ]
        assert len(values) == 1, f"{module}: {name} not found"
        found.append((f"{module}:{name}", str(values[0]).format(host=HOST, url=HOST)))
    return found


CORPUS = _doc_configs() + _test_configs()


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = repo_config_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _loader_accepts(tmp_path: Path, text: str) -> bool:
    """`load_repo_config` on `text`, with the manifest directory and catalog file it names created."""
    data = yaml.safe_load(text)
    if isinstance(data, dict):
        for key, make in (("manifests", Path.mkdir), ("catalog", Path.touch)):
            value = data.get(key)
            if isinstance(value, str) and value.strip() and "{" not in value:
                make(tmp_path / value)
    path = tmp_path / CONFIG_NAME
    path.write_text(text, encoding="utf-8")
    try:
        load_repo_config(path)
    except ManifestInvalid:
        return False
    return True


def _schema_accepts(validator: Draft202012Validator, text: str) -> bool:
    return validator.is_valid(yaml.safe_load(text))


def test_the_corpus_is_found() -> None:
    """docs/environments.md and the README each show one; the CLI and gitops tests write one each."""
    names = [name for name, _ in CORPUS]
    assert {"environments.md", "README.md"} <= {name.partition("#")[0] for name in names}, names
    assert len(names) >= 4


@pytest.mark.parametrize(("name", "text"), CORPUS, ids=[name for name, _ in CORPUS])
def test_every_documented_and_tested_config_is_valid(
    name: str, text: str, tmp_path: Path, validator: Draft202012Validator
) -> None:
    assert _loader_accepts(tmp_path, text), name
    assert [e.message for e in validator.iter_errors(yaml.safe_load(text))] == []


ENV = "version: 1\nenvironments:\n"
CASES = [
    # valid
    ("version: 1\n", True),
    ("version: 1\nmanifests: defs\ncatalog: catalog.json\n", True),
    ("version: 1\nmanifests:\ncatalog:\nenvironments:\n", True),
    (ENV + "  staging:\n", True),
    (ENV + "  a-b_C9: {host: https://eu.posthog.com, project: 12, variables: {a: x, n: 5, f: 1.5, b: true}}\n", True),
    (ENV + "  a: {host: 'https://eu.posthog.com', project: '12', variables: {_x: '', y2: -1}}\n", True),
    (ENV + "  a: {host: null, project: null, variables: null}\n", True),
    (ENV + f"  a{'b' * 62}: {{}}\n", True),
    # invalid: the file
    ("- version: 1\n", False),
    ("just text\n", False),
    ("manifests: defs\n", False),
    ("version: 2\n", False),
    ("version: '1'\n", False),
    ("version: 1\nmanifest: defs\n", False),
    ("version: 1\n$schema: ./reconciler.schema.json\n", False),
    ("version: 1\nmanifests: 3\n", False),
    ("version: 1\nmanifests: ''\n", False),
    ("version: 1\nmanifests: '  '\n", False),
    ("version: 1\ncatalog: [a.json]\n", False),
    ("version: 1\nmanifests: \"{{ env('DIR') }}\"\n", False),
    ("version: 1\nenvironments: [a]\n", False),
    ("version: 1\nenvironments: staging\n", False),
    # invalid: an environment
    (ENV + "  9x: {}\n", False),
    (ENV + "  a.b: {}\n", False),
    (ENV + f"  a{'b' * 63}: {{}}\n", False),
    (ENV + "  a: [host]\n", False),
    (ENV + "  a: https://eu.posthog.com\n", False),
    (ENV + "  a: {api_key: x}\n", False),
    (ENV + "  a: {varibles: {x: 1}}\n", False),
    (ENV + "  a: {host: true}\n", False),
    (ENV + "  a: {project: 1.5}\n", False),
    (ENV + "  a: {project: [1]}\n", False),
    (ENV + "  a: {host: \"{{ env('H') }}\"}\n", False),
    (ENV + "  a: {variables: [x]}\n", False),
    (ENV + "  a: {variables: {1x: y}}\n", False),
    (ENV + "  a: {variables: {a-b: y}}\n", False),
    (ENV + "  a: {variables: {x: null}}\n", False),
    (ENV + "  a: {variables: {x: [1]}}\n", False),
    (ENV + "  a: {variables: {x: {y: 1}}}\n", False),
    (ENV + "  a: {variables: {x: '{% if y %}z{% endif %}'}}\n", False),
    (ENV + "  a: {variables: {x: 'a {# note #}'}}\n", False),
]


@pytest.mark.parametrize(("text", "valid"), CASES, ids=[text.replace("\n", "|") for text, _ in CASES])
def test_the_schema_agrees_with_the_loader(
    text: str, valid: bool, tmp_path: Path, validator: Draft202012Validator
) -> None:
    assert (_loader_accepts(tmp_path, text), _schema_accepts(validator, text)) == (valid, valid)


def test_only_the_loader_checks_that_paths_exist(tmp_path: Path, validator: Draft202012Validator) -> None:
    """The loader stays the authority: a manifest directory that does not exist passes the schema."""
    text = "version: 1\nmanifests: nowhere\n"
    (tmp_path / CONFIG_NAME).write_text(text, encoding="utf-8")
    with pytest.raises(ManifestInvalid, match="manifest directory 'nowhere' does not exist"):
        load_repo_config(tmp_path / CONFIG_NAME)
    assert _schema_accepts(validator, text)


def test_the_schema_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["schema", "--repo-config"]) == 0
    assert json.loads(capsys.readouterr().out) == repo_config_schema()


def test_catalog_does_not_apply_to_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["schema", "--repo-config", "--catalog", "bundled"]) == 1
    assert "--catalog types the manifest's schema" in capsys.readouterr().err


def test_published_schema_file_is_current() -> None:
    """docs/reconciler.schema.json is what docs/environments.md's yaml-language-server modeline points at."""
    published: dict[str, Any] = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    assert published == repo_config_schema(), "regenerate: make docs"
