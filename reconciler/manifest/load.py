"""Manifest loading: files → YAML documents → plain values with line marks, templates rendered.

The one manifest module that wires the outside world in (files, environment variables), through three
modules with one job each: `files.py` (which files, read bounded), `yaml_marks.py` (YAML → values with
marks), `templates.py` (sandboxed jinja2, `secret()`/`env()`). Output: `document.py`'s `Document`s.
Must not know: source types, the catalog, PostHog.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import ManifestError
from reconciler.manifest.document import Document
from reconciler.manifest.files import collect_files, read_manifest
from reconciler.manifest.templates import LoadOptions, TemplateRenderer
from reconciler.manifest.yaml_marks import located_error, parse_documents

__all__ = ["load_documents"]


def load_documents(
    paths: Sequence[str | Path], options: LoadOptions | None = None
) -> tuple[list[Document], list[ManifestError]]:
    """Read, parse and render every manifest document under `paths`; collect every error, raise none."""
    files, errors = collect_files(paths)
    renderer = TemplateRenderer(options or LoadOptions())
    documents: list[Document] = []
    for path in files:
        text = read_manifest(path)
        if isinstance(text, ManifestError):
            errors.append(text)
            continue
        docs, errs = parse_documents(str(path), text, renderer)
        documents.extend(docs)
        errors.extend(errs)
    return documents, errors + _env_reads_of_secrets(renderer)


def _env_reads_of_secrets(renderer: TemplateRenderer) -> list[ManifestError]:
    """An `env()` of a variable some template reads with `secret()`: env() values are printed, so a pull request
    could otherwise publish a secret by reading it both ways (checked once every file is read)."""
    errors = []
    for read in renderer.env_reads:
        used = renderer.secret_uses.get(read.name)
        if used is not None:
            errors.append(
                located_error(
                    read.mark,
                    read.path,
                    f"env('{read.name}') is not allowed: the manifests read this variable with secret() "
                    f"({used.file}:{used.line}), and env() values are printed",
                    hint=f"read it with secret('{read.name}') here too",
                    reference="template-error",
                )
            )
    return errors
