"""Where a command runs: its connection settings (flags, then the environment, then the manifests'
`project:`, which pins the project: a flag or variable naming another is refused) and, for commands that
otherwise never connect, its `--catalog`.

Light on purpose (no HTTP client until `--catalog live` asks for one), so `validate` starts fast.
Must not know: what the command does next.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.catalog import Catalog
from reconciler.commands.options import Connection
from reconciler.manifest.catalogs import resolve_catalog
from reconciler.manifest.files import collect_files
from reconciler.settings import Settings, resolve_settings

__all__ = [
    "CATALOG_ENV",
    "PINNED_CATALOG",
    "PinnedProject",
    "catalog_spec",
    "manifest_project",
    "offline_catalog",
    "settings_for",
]

#: The catalog to use when `--catalog` is not given (a path, `bundled` or `live`): for CI and pre-commit.
CATALOG_ENV = "RECONCILER_CATALOG"
#: A pinned catalog file (`reconciler catalog pull -o reconciler-catalog.json`) used from the working directory.
PINNED_CATALOG = "reconciler-catalog.json"


def settings_for(connection: Connection, manifest_paths: Sequence[Path] | None, env: Mapping[str, str]) -> Settings:
    """The connection settings from the flags, the environment and the manifests' `project:` — a pin that a
    flag or variable naming another project contradicts (`project-mismatch`). `manifest_paths` None: this
    command reads no manifests (`()` means the default, the current directory)."""
    pin = manifest_project(manifest_paths or (Path("."),)) if manifest_paths is not None else None
    return resolve_settings(
        env,
        host=connection.host,
        project=connection.project,
        api_path=connection.api_path,
        manifest_project=pin.project if pin else None,
        manifest_where=pin.where if pin else None,
    )


@dataclass(frozen=True)
class PinnedProject:
    """A manifest's `project:` and where it is (`file:line`)."""

    project: str
    where: str


#: A top-level `project:` key of a block-style document (top-level keys start at column 0).
_PROJECT_LINE = re.compile(r"^project[ \t]*:.*$", re.MULTILINE)
#: `project` as a key of a flow mapping (`{version: 1, project: "2"}`): that file is parsed whole.
_FLOW_PROJECT = re.compile(r"""[{,]\s*["']?project["']?\s*:""")


def manifest_project(paths: Sequence[Path]) -> PinnedProject | None:
    """The `project:` of the first manifest that has one. Cheap — a line scan, YAML only for the lines found
    (and for a file that mentions `project` in some other layout) — because it runs before every load, and
    a full YAML pre-read costs seconds at 1,000 sources. Unreadable files are left to the real load."""
    files, _ = collect_files(paths)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if "project" not in text:
            continue
        found = _PROJECT_LINE.search(text)
        if found is None and not _FLOW_PROJECT.search(text):
            continue  # `project` only as a word in a value or a nested key
        line = text.count("\n", 0, found.start()) + 1 if found else 0
        value = _yaml_project(found.group(0) if found else text)
        if value is not None:
            return PinnedProject(value, f"{path}:{line}" if line else str(path))
    return None


def _yaml_project(text: str) -> str | None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for doc in yaml.load_all(text, Loader=loader):
            if isinstance(doc, dict) and doc.get("project") is not None:
                return str(doc["project"])
    except yaml.YAMLError:
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


def offline_catalog(
    spec: str | None, env: Mapping[str, str], settings: Callable[[], Settings] | None = None
) -> Catalog:
    """`--catalog` for commands that otherwise never connect: `live` reads the server's `wizard` (§8.11),
    reached through `settings()` (default: POSTHOG_HOST / POSTHOG_PROJECT_ID / POSTHOG_PERSONAL_API_KEY)."""

    def live() -> dict[str, Any]:
        from reconciler.commands.common import connect

        with connect(settings() if settings is not None else resolve_settings(env)) as client:
            return client.wizard()

    return resolve_catalog(catalog_spec(spec, env), live=live)
