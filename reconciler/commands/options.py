"""The typed option groups every command shares, built from the command line by `cli_params.py`.

Plain frozen data with no heavy imports, so the CLI can build them before anything else loads.
Must not know: click, HTTP, manifests' contents.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Connection", "ManifestOptions"]


@dataclass(frozen=True)
class Connection:
    """`--host` / `--project` / `--api-path` as given (None: not given); resolved with the environment later."""

    host: str | None = None
    project: str | None = None
    api_path: str | None = None


@dataclass(frozen=True)
class ManifestOptions:
    """Which manifests to read and how: PATHS, `--catalog`, `--allow-env`, `--allow-secret`,
    `--allow-literal-secrets`."""

    paths: tuple[Path, ...] = ()
    catalog: str | None = None  # None: the default of commands.context.catalog_spec
    allow_env: tuple[str, ...] = ()
    allow_literal_secrets: bool = False
    allow_secret: tuple[str, ...] = ()

    @property
    def effective_paths(self) -> tuple[Path, ...]:
        return self.paths or (Path("."),)
