"""Which source-type catalog validation uses: `--catalog bundled | live | PATH` → a `Catalog`.

Knows files and the catalog package; the `live` catalog comes from a callable the caller passes in (the
CLI wires it to the API client's `wizard` call), so this module never imports HTTP code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reconciler.catalog import Catalog, load_catalog
from reconciler.errors import ConfigError

__all__ = ["LiveCatalogUnavailable", "catalog_from_wizard", "resolve_catalog"]


class LiveCatalogUnavailable(ConfigError):
    """`--catalog live` was asked for but no way to fetch the server's wizard was provided."""

    reference = "live-catalog-unavailable"


def catalog_from_wizard(data: Mapping[str, Mapping[str, Any]]) -> Catalog:
    """A catalog from a wizard body (a server's, or a pinned file): the forms are the wizard's; our facts the
    wizard does not publish (tables, connection targets, ...) come from the bundled catalog, per type."""
    return Catalog.from_wizard(data, facts=load_catalog())


def resolve_catalog(spec: str | None, *, live: Callable[[], Mapping[str, Any]] | None = None) -> Catalog:
    """`bundled` (default) → the catalog shipped with reconciler; `live` → the body `live()` returns (the
    server's `wizard`, reference/posthog-api.md §8.11); anything else → a wizard-shaped JSON file at that path."""
    if spec is None or spec == "bundled":
        return load_catalog()
    if spec == "live":
        if live is None:
            raise LiveCatalogUnavailable("--catalog live needs a connection to PostHog, which is not available here")
        return catalog_from_wizard(live())
    path = Path(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--catalog {spec}: no such file (use 'bundled', 'live' or a wizard JSON file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--catalog {spec}: cannot read file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--catalog {spec}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "fields" in v for v in data.values()):
        raise ConfigError(f"--catalog {spec}: expected the wizard endpoint's JSON object keyed by source type")
    try:
        return catalog_from_wizard(data)
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"--catalog {spec}: malformed field definition ({exc})") from None
