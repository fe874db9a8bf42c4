"""Where a command runs: its connection settings (flags, then the environment, then the manifests'
`project:`) and, for commands that otherwise never connect, its `--catalog`.

Light on purpose (no HTTP client until `--catalog live` asks for one), so `validate` starts fast.
Must not know: what the command does next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from reconciler.catalog import Catalog
from reconciler.commands.options import Connection
from reconciler.manifest.catalogs import resolve_catalog
from reconciler.manifest.files import collect_files
from reconciler.settings import PROJECT_ENV, Settings, resolve_settings

__all__ = ["CATALOG_ENV", "PINNED_CATALOG", "catalog_spec", "manifest_project", "offline_catalog", "settings_for"]

#: The catalog to use when `--catalog` is not given (a path, `bundled` or `live`): for CI and pre-commit.
CATALOG_ENV = "RECONCILER_CATALOG"
#: A pinned catalog file (`reconciler catalog pull -o reconciler-catalog.json`) used from the working directory.
PINNED_CATALOG = "reconciler-catalog.json"


def settings_for(connection: Connection, manifest_paths: Sequence[Path], env: Mapping[str, str]) -> Settings:
    """The connection settings from the flags, the environment and (last) the manifests' `project:`."""
    # The manifest's `project:` only counts when neither --project nor the environment names one: skip
    # reading the manifests twice then (at 1,000 sources that second parse costs seconds).
    named = bool(connection.project and connection.project.strip()) or bool(env.get(PROJECT_ENV, "").strip())
    return resolve_settings(
        env,
        host=connection.host,
        project=connection.project,
        api_path=connection.api_path,
        manifest_project=None if named else manifest_project(manifest_paths),
    )


def manifest_project(paths: Sequence[Path]) -> str | None:
    """The `project:` of the first manifest that has one (cheap: YAML only, no validation)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    files, _ = collect_files(paths or (Path("."),))
    for path in files:
        try:
            for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=loader):
                if isinstance(doc, dict) and doc.get("project") is not None:
                    return str(doc["project"])
        except (OSError, yaml.YAMLError):
            return None  # the real load reports it, with its location
    return None


def catalog_spec(spec: str | None, env: Mapping[str, str]) -> str:
    """`--catalog` when given; else $RECONCILER_CATALOG; else ./reconciler-catalog.json when present; else
    the bundled catalog. So a repository that pins a pulled catalog needs no flag in CI or pre-commit."""
    if spec:
        return spec
    if env.get(CATALOG_ENV, "").strip():
        return env[CATALOG_ENV].strip()
    return PINNED_CATALOG if Path(PINNED_CATALOG).is_file() else "bundled"


def offline_catalog(spec: str | None, env: Mapping[str, str]) -> Catalog:
    """`--catalog` for commands that otherwise never connect: `live` reads the server's `wizard` (§8.11),
    reached through POSTHOG_HOST / POSTHOG_PROJECT_ID / POSTHOG_PERSONAL_API_KEY."""

    def live() -> dict[str, Any]:
        from reconciler.commands.common import connect

        with connect(resolve_settings(env)) as client:
            return client.wizard()

    return resolve_catalog(catalog_spec(spec, env), live=live)
