"""Load + validate in one call, with a report the CLI renders as text or JSON.

Glue only: load.py reads and renders, validate.py checks; this module orders and shapes the errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from reconciler.catalog import Catalog, load_catalog
from reconciler.errors import ManifestError
from reconciler.manifest.document import Document
from reconciler.manifest.files import collect_files
from reconciler.manifest.load import load_documents
from reconciler.manifest.models import DesiredState, ManifestInvalid
from reconciler.manifest.templates import UNDEFINED_VARIABLE, LoadOptions
from reconciler.manifest.validate import ValidateOptions, build_desired_state, excluded_sources
from reconciler.records import record

__all__ = ["JSON_FORMAT_VERSION", "ValidationReport", "check_manifests", "load_desired_state", "merge_reports"]

#: Version of `validate --format json` output (docs/manifest.md "Machine output").
JSON_FORMAT_VERSION = 1


@record
class ValidationReport:
    """The outcome of checking manifests: the state when valid, else every error (sorted by location)."""

    state: DesiredState | None
    errors: list[ManifestError] = field(default_factory=list)
    files: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state is not None and not self.errors

    def to_json(self) -> dict[str, Any]:
        """The documented `validate --format json` shape (never contains a secret value)."""
        sources = self.state.sources if self.state is not None else {}
        return {
            "format_version": JSON_FORMAT_VERSION,
            "valid": self.ok,
            "files": list(self.files),
            "sources": [
                {
                    "address": s.address,
                    "type": s.type,
                    "prefix": s.prefix,
                    "state": s.state,
                    "file": s.location.file,
                    "line": s.location.line,
                }
                for s in sources.values()
            ],
            "warnings": list(self.warnings),
            "errors": [
                {
                    "file": e.file,
                    "line": e.line,
                    "column": e.column,
                    "address": e.address,
                    "field": e.field,
                    "message": e.message,
                    "hint": e.hint,
                    "reference": e.reference,
                }
                for e in self.errors
            ],
        }


def check_manifests(
    paths: Sequence[str | Path],
    *,
    catalog: Catalog | None = None,
    load_options: LoadOptions | None = None,
    validate_options: ValidateOptions | None = None,
    require_secrets: bool = False,
) -> ValidationReport:
    """Load, render and validate; with `require_secrets`, every unset secret() variable is an error too."""
    documents, errors = load_documents(paths, load_options)
    excluded = excluded_sources(documents, validate_options or ValidateOptions())
    errors = [e for e in errors if e.reference != UNDEFINED_VARIABLE or (e.file or "", e.address or "") not in excluded]
    read, _ = collect_files(paths)
    files = tuple(dict.fromkeys([*(str(p) for p in read), *(d.file for d in documents)]))
    warnings = _declares_nothing(files, documents, errors)
    state, more = build_desired_state(documents, catalog or load_catalog(), validate_options)
    # A value that failed to load (template error, ...) is not reported a second time by validation.
    failed = {(e.file, e.line, e.column) for e in errors}
    errors = errors + [e for e in more if (e.file, e.line, e.column) not in failed]
    if state is not None and require_secrets:
        errors += state.missing_secrets()
    if errors:
        return ValidationReport(None, ManifestInvalid(errors).errors, files, warnings)
    if state is not None:
        warnings += state.warnings  # likely mistakes validation found (e.g. a database table name)
        state = state.replace(warnings=warnings) if warnings else state
    return ValidationReport(state, [], files, warnings)


def merge_reports(reports: Sequence[ValidationReport]) -> ValidationReport:
    """The manifests checked once per environment, as one report: every distinct error and warning (an error
    every environment sees is shown once); valid when valid everywhere, its state then holding every source any
    environment declares."""
    errors = list({str(e): e for r in reports for e in r.errors}.values())
    warnings = tuple(dict.fromkeys(w for r in reports for w in r.warnings))
    files = tuple(dict.fromkeys(f for r in reports for f in r.files))
    if errors or any(r.state is None for r in reports):
        return ValidationReport(None, ManifestInvalid(errors).errors, files, warnings)
    states = [r.state for r in reports if r.state is not None]
    sources = {a: s for state in states for a, s in state.sources.items()}
    return ValidationReport(
        states[0].replace(sources=dict(sorted(sources.items(), key=lambda kv: kv[1].location))),
        [],
        files,
        warnings,
    )


def _declares_nothing(
    files: Sequence[str], documents: Sequence[Document], errors: Sequence[ManifestError]
) -> tuple[str, ...]:
    """Warnings for files and documents that declare no source: an empty file, or `defaults:` with no
    `sources:` beside them (defaults apply only to the sources of their own document, so they do nothing)."""
    warnings: list[str] = []
    with_documents = {d.file for d in documents}
    failed = {e.file for e in errors}
    for name in files:
        if name not in with_documents and name not in failed:
            warnings.append(f"{name}: empty file: it declares no sources")
    for doc in documents:
        data = doc.data
        if not isinstance(data, dict) or data.get("sources") or data.get("project") is not None:
            continue  # a document may exist only to name the project
        if data.get("defaults") is not None:
            where = doc.locate(("defaults",), key=True)
            warnings.append(
                f"{where}: defaults affect nothing: this document declares no sources "
                "(defaults apply only to the sources of their own document)"
            )
        else:
            warnings.append(f"{doc.locate(())}: this document declares no sources")
    return tuple(warnings)


def load_desired_state(
    paths: Sequence[str | Path],
    *,
    catalog: Catalog | None = None,
    load_options: LoadOptions | None = None,
    validate_options: ValidateOptions | None = None,
    require_secrets: bool = False,
) -> DesiredState:
    """`check_manifests`, raising `ManifestInvalid` (all errors in one exception) when anything is wrong."""
    report = check_manifests(
        paths,
        catalog=catalog,
        load_options=load_options,
        validate_options=validate_options,
        require_secrets=require_secrets,
    )
    if report.state is None:
        raise ManifestInvalid(report.errors)
    return report.state
