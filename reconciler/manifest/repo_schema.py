"""JSON Schema (draft 2020-12) of the repository config file `reconciler.yaml` (`reconciler schema --repo-config`).

Pure: built from repo_config.py's keys and name patterns, dict out. For editors (yaml-language-server) and CI
linters; `load_repo_config` stays the authority: it also checks that the `manifests` directory and the
`catalog` file exist (relative to the file), which a schema cannot, and says where a mistake is.
The manifest's own schema is schema.py's.
Must not know: files, the catalog, manifests.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.manifest.repo_config import (
    CONFIG_NAME,
    ENVIRONMENT_KEYS,
    ENVIRONMENT_NAME,
    TOP_KEYS,
    VARIABLE_NAME,
)
from reconciler.manifest.templates import TEMPLATE_START

__all__ = ["REPO_CONFIG_SCHEMA_ID", "repo_config_schema"]

REPO_CONFIG_SCHEMA_ID = "https://posthog-reconciler.dev/schema/reconciler-config-v1.json"
_NULL = {"type": "null"}


def _anchored(pattern: re.Pattern[str]) -> str:
    """A `re.match(...\\Z)` pattern as a JSON Schema (ECMA-262) pattern, which is searched, not matched."""
    return "^" + pattern.pattern.removesuffix(r"\Z") + "$"


def _path(description: str) -> dict[str, Any]:
    return {"anyOf": [{"$ref": "#/$defs/path"}, _NULL], "description": description}


def repo_config_schema() -> dict[str, Any]:
    """The JSON Schema of `reconciler.yaml`: what `load_repo_config` accepts, short of the paths existing."""
    text = {"anyOf": [{"$ref": "#/$defs/plain"}, {"type": "integer"}, _NULL]}
    environment_keys = {
        "host": {**text, "description": "PostHog host, e.g. https://eu.posthog.com"},
        "project": {**text, "description": "PostHog project (environment) id"},
        "variables": {
            "type": ["object", "null"],
            "description": "Non-secret values manifests read with {{ var('name') }}; never secrets",
            "propertyNames": {"pattern": _anchored(VARIABLE_NAME)},
            "additionalProperties": {"anyOf": [{"$ref": "#/$defs/plain"}, {"type": ["number", "boolean"]}]},
        },
    }
    top_keys = {
        "version": {"const": 1},
        "manifests": _path(f"The manifest directory commands read when given no path, relative to {CONFIG_NAME}"),
        "catalog": _path(
            f"The pinned catalog file (`reconciler catalog pull -o FILE`), relative to {CONFIG_NAME}; "
            "used when neither --catalog nor RECONCILER_CATALOG is given"
        ),
        "environments": {
            "type": ["object", "null"],
            "description": "The PostHog environments this repository drives; `--env NAME` selects one",
            "propertyNames": {"pattern": _anchored(ENVIRONMENT_NAME)},
            "additionalProperties": {"$ref": "#/$defs/environment"},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": REPO_CONFIG_SCHEMA_ID,
        "title": f"{CONFIG_NAME}: reconciler's repository config (manifest directory, catalog, environments)",
        "type": "object",
        "required": ["version"],
        "additionalProperties": False,
        "properties": {key: top_keys[key] for key in TOP_KEYS},
        "$defs": {
            "plain": {
                "type": "string",
                "not": {"pattern": "|".join(start.replace("{", "\\{") for start in TEMPLATE_START)},
                "description": f"a value as written: {CONFIG_NAME} is not a template",
            },
            "path": {"allOf": [{"$ref": "#/$defs/plain"}, {"pattern": r"\S"}]},
            "environment": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": {key: environment_keys[key] for key in ENVIRONMENT_KEYS},
            },
        },
    }
