"""reconciler.yaml: where it is found, and how it is read (located errors like a manifest's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifest.models import ManifestInvalid
from reconciler.manifest.repo_config import find_config, load_repo_config


def test_found_by_walking_up_and_not_past_a_repository_root(tmp_path: Path) -> None:
    outer = tmp_path / "reconciler.yaml"
    outer.write_text("version: 1\n")
    deep = tmp_path / "work" / "repo" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) == outer.resolve()  # no repository root on the way: up to the filesystem root
    (tmp_path / "work" / "repo" / ".git").mkdir()
    assert find_config(deep) is None  # the walk stops at the repository root
    (tmp_path / "work" / "repo" / "reconciler.yaml").write_text("version: 1\n")
    assert find_config(deep) == (tmp_path / "work" / "repo" / "reconciler.yaml").resolve()


def test_read_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "defs").mkdir()
    (tmp_path / "catalog.json").write_text("{}")
    path = tmp_path / "reconciler.yaml"
    path.write_text(
        "version: 1\nmanifests: defs\ncatalog: catalog.json\nenvironments:\n"
        "  staging:\n    host: https://eu.posthog.com\n    project: 12\n    variables: {a: x, n: 5, b: true}\n"
        "  empty:\n"
    )
    config = load_repo_config(path)
    assert config.manifests == tmp_path / "defs" and config.catalog == tmp_path / "catalog.json"
    staging = config.environments["staging"]
    assert (staging.host, staging.project, dict(staging.variables)) == (
        "https://eu.posthog.com",
        "12",
        {"a": "x", "n": 5, "b": True},
    )
    assert str(staging.locate("project")) == f"{path}:7:14"
    assert config.environments["empty"].variables == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\n", "1:10: version: reconciler.yaml needs 'version: 1' (2)"),
        (
            "version: 1\nmanifest: x\n",
            "2:1: manifest: unknown key 'manifest' in reconciler.yaml; did you mean 'manifests'?",
        ),
        ("version: 1\nmanifests: nowhere\n", "2:12: manifests: manifest directory 'nowhere' does not exist"),
        (
            "version: 1\nenvironments: [a]\n",
            "2:15: environments: 'environments' must be a mapping of names, got a list",
        ),
        ("version: 1\nenvironments:\n  9x: {}\n", "3:3: environments.9x: invalid environment name '9x'"),
        ("version: 1\nenvironments:\n  a: {api_key: x}\n", "3:7: environments.a.api_key: unknown key 'api_key'"),
        (
            "version: 1\nenvironments:\n  a: {host: \"{{ env('H') }}\"}\n",
            "3:13: environments.a.host: reconciler.yaml is not a template",
        ),
        ("version: 1\n---\nversion: 1\n", "must hold exactly one YAML document, found 2"),
    ],
)
def test_errors_are_located(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "reconciler.yaml"
    path.write_text(text)
    with pytest.raises(ManifestInvalid) as caught:
        load_repo_config(path)
    assert message in str(caught.value)
