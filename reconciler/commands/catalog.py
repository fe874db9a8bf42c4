"""`reconciler catalog pull|diff`: fetch a PostHog's `wizard` (its source-type forms) into a catalog file a
repository pins, and show what a PostHog (or such a file) adds, removes or changes against the bundled catalog.

The tasks behind the CLI's `catalog` group; click and flag spelling are cli.py's. The catalog file is the
wizard body as PostHog returns it (reference/posthog-api.md §8.11): `--catalog FILE` reads it back, and the
`RECONCILER_CATALOG` setting (or a `reconciler-catalog.json` in the working directory) makes it the default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.catalog import load_catalog
from reconciler.catalog.diff import diff_catalogs
from reconciler.commands.common import connect
from reconciler.commands.console import Console, ExitCode
from reconciler.commands.context import open_repository, settings_for
from reconciler.commands.options import Connection, ManifestOptions
from reconciler.manifest.catalogs import catalog_from_wizard, resolve_catalog
from reconciler.records import record
from reconciler.wording import count

__all__ = ["CatalogDiffFlags", "CatalogPullFlags", "catalog_diff_task", "catalog_pull_task", "catalog_text"]


@record
class CatalogPullFlags:
    connection: Connection
    out_text: str | None = None
    env_name: str | None = None


@record
class CatalogDiffFlags:
    connection: Connection
    file: str | None = None
    env_name: str | None = None


def catalog_text(wizard: Mapping[str, Any]) -> str:
    """The catalog file: the wizard body as JSON, in the server's order (byte-identical for the same body)."""
    return json.dumps(wizard, indent=2, ensure_ascii=False) + "\n"


def _wizard(connection: Connection, env_name: str | None) -> dict[str, Any]:
    repo = open_repository(ManifestOptions(), env_name, os.environ, need_manifests=False)
    with connect(settings_for(connection, repo, os.environ)) as client:
        return client.wizard()


def catalog_pull_task(flags: CatalogPullFlags, console: Console) -> ExitCode:
    wizard = _wizard(flags.connection, flags.env_name)
    text = catalog_text(wizard)
    if flags.out_text is None:
        console.out(text, nl=False)
    else:
        Path(flags.out_text).write_text(text, encoding="utf-8")
        console.err(f"Wrote {flags.out_text}: {count(len(wizard), 'source type')}")
    return ExitCode.OK


def catalog_diff_task(flags: CatalogDiffFlags, console: Console) -> ExitCode:
    """Exit 0 when the other catalog matches the bundled one, 2 when it differs (as plan --detailed-exitcode)."""
    if flags.file is not None:
        other, source = resolve_catalog(flags.file), flags.file
    else:
        other, source = catalog_from_wizard(_wizard(flags.connection, flags.env_name)), "the server's wizard"
    changes = diff_catalogs(load_catalog(), other)
    for change in changes:
        console.out(str(change))
    if not changes:
        console.err(f"{source}: no differences from the bundled catalog")
        return ExitCode.OK
    console.err(f"{source}: {count(len(changes), 'difference')} from the bundled catalog")
    return ExitCode.CHANGES
