"""Manifests: YAML files → `DesiredState` (load.py renders, validate.py checks against the catalog).

Entry points: `check_manifests` (never raises for bad input; returns every error) and `load_desired_state`
(raises `ManifestInvalid`). `manifest_schema` gives the JSON Schema (`repo_config_schema` reconciler.yaml's),
`dump_manifest` writes a state back as YAML, `resolve_catalog` picks the catalog for `--catalog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.lazy import lazy_exports

if TYPE_CHECKING:
    from reconciler.manifest.catalogs import LiveCatalogUnavailable, resolve_catalog
    from reconciler.manifest.document import Document, Mark, SecretRef
    from reconciler.manifest.dump import dump_manifest, manifest_data
    from reconciler.manifest.load import load_documents
    from reconciler.manifest.models import (
        Defaults,
        DesiredSource,
        DesiredState,
        Location,
        ManifestInvalid,
        RevenueAnalytics,
        SecretUse,
        TableSettings,
    )
    from reconciler.manifest.repo_schema import repo_config_schema
    from reconciler.manifest.report import ValidationReport, check_manifests, load_desired_state, merge_reports
    from reconciler.manifest.schema import manifest_schema
    from reconciler.manifest.templates import LoadOptions
    from reconciler.manifest.validate import ValidateOptions, build_desired_state, check_prefix

__all__ = [
    "Defaults",
    "DesiredSource",
    "DesiredState",
    "Document",
    "LiveCatalogUnavailable",
    "LoadOptions",
    "Location",
    "ManifestInvalid",
    "Mark",
    "RevenueAnalytics",
    "SecretRef",
    "SecretUse",
    "TableSettings",
    "ValidateOptions",
    "ValidationReport",
    "build_desired_state",
    "check_manifests",
    "check_prefix",
    "dump_manifest",
    "load_desired_state",
    "load_documents",
    "manifest_data",
    "manifest_schema",
    "merge_reports",
    "repo_config_schema",
    "resolve_catalog",
]

#: Where each exported name lives. Nothing loads until it is used (PEP 562): `plan` resolves its catalog and
#: starts its list request before the models are imported (docs/performance.md, "Start-up").
_HOMES = {
    **dict.fromkeys(("LiveCatalogUnavailable", "resolve_catalog"), "reconciler.manifest.catalogs"),
    **dict.fromkeys(("Document", "Mark", "SecretRef"), "reconciler.manifest.document"),
    **dict.fromkeys(("dump_manifest", "manifest_data"), "reconciler.manifest.dump"),
    "load_documents": "reconciler.manifest.load",
    **dict.fromkeys(
        (
            "Defaults",
            "DesiredSource",
            "DesiredState",
            "Location",
            "ManifestInvalid",
            "RevenueAnalytics",
            "SecretUse",
            "TableSettings",
        ),
        "reconciler.manifest.models",
    ),
    **dict.fromkeys(
        ("ValidationReport", "check_manifests", "load_desired_state", "merge_reports"), "reconciler.manifest.report"
    ),
    "manifest_schema": "reconciler.manifest.schema",
    "repo_config_schema": "reconciler.manifest.repo_schema",
    "LoadOptions": "reconciler.manifest.templates",
    **dict.fromkeys(("ValidateOptions", "build_desired_state", "check_prefix"), "reconciler.manifest.validate"),
}


__getattr__ = lazy_exports(__name__, _HOMES)
