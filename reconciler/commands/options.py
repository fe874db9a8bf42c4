"""The typed option groups every command shares, built from the command line by `cli_params.py`.

Plain frozen data with no heavy imports, so the CLI can build them before anything else loads.
Must not know: click, HTTP, manifests' contents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from datetime import timedelta
from pathlib import Path
from typing import Any

from reconciler.records import record

__all__ = ["Connection", "EnvironmentScope", "ManifestOptions", "parse_duration"]

_DURATION_PART = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `12h`, `7d` or a sum of them (`1h30m`); raises ValueError for anything else."""
    compact = text.strip().lower()
    parts = _DURATION_PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 30m, 12h, 7d or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in parts))


@record
class Connection:
    """`--host` / `--project` / `--api-path` as given (None: not given); resolved with the environment later."""

    host: str | None = None
    project: str | None = None
    api_path: str | None = None


@record
class EnvironmentScope:
    """What reconciler.yaml tells the manifests: the environment selected (None: none), its `variables` (what
    `var()` reads) and where they are written, the names it declares (a source's `environments:` must use
    them) and the file's path (for messages)."""

    config_file: str
    declared: tuple[str, ...] = ()
    environment: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    variables_at: str = ""


@record
class ManifestOptions:
    """Which manifests to read and how: PATHS, `--catalog`, `--allow-env`, `--allow-secret`,
    `--allow-literal-secrets`."""

    paths: tuple[Path, ...] = ()
    catalog: str | None = None  # None: the default of commands.context.catalog_spec
    allow_env: tuple[str, ...] = ()
    allow_literal_secrets: bool = False
    allow_secret: tuple[str, ...] = ()
    scope: EnvironmentScope | None = None  # None: no reconciler.yaml (set by commands.context.open_repository)

    @property
    def effective_paths(self) -> tuple[Path, ...]:
        """The paths to read. Commands resolve a missing PATHS first (`commands.context.open_repository`: the
        repository's manifest directory); never the whole current directory."""
        return self.paths
