"""Manifests: YAML files → `DesiredState` (load.py renders, validate.py checks against the catalog).

Entry points: `check_manifests` (never raises for bad input; returns every error) and `load_desired_state`
(raises `ManifestInvalid`). `manifest_schema` gives the JSON Schema, `dump_manifest` writes a state back as
YAML, `resolve_catalog` picks the catalog for `--catalog`.
"""

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
    "resolve_catalog",
]
