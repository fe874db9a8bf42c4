"""`reconciler import`: one list pass → manifest YAML, printed or written to a file or a directory.

Read-only towards PostHog (GETs only). Never overwrites an existing file unless `force`; every target is
checked before anything is written, so a refused import writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.commands.common import catalog_for, connect
from reconciler.errors import ReconcilerError
from reconciler.importer import ImportedSource, Selector, import_sources, render_import, select_sources
from reconciler.records import record
from reconciler.settings import Settings

__all__ = ["ImportOutcome", "ImportRequest", "run_import"]


@record
class ImportRequest:
    selectors: tuple[Selector, ...] | None  # None: --all
    out: Path | None = None  # None: stdout; an existing directory (or a path ending in /): one file per source
    force: bool = False
    catalog: str | None = None
    out_is_dir: bool = False
    unmanaged_only: bool = False  # `--unmanaged`: only sources nobody owns yet


@record
class ImportOutcome:
    imported: tuple[ImportedSource, ...]
    text: str | None  # the manifest, when printed rather than written
    written: tuple[Path, ...]
    warnings: tuple[str, ...]


def _targets(request: ImportRequest, imported: list[ImportedSource], settings: Settings) -> dict[Path, str]:
    assert request.out is not None
    if request.out_is_dir or request.out.is_dir():
        return {
            request.out / f"{item.address}.yaml": render_import([item], host=settings.host, project=settings.project)
            for item in imported
        }
    return {request.out: render_import(imported, host=settings.host, project=settings.project)}


def run_import(settings: Settings, request: ImportRequest) -> ImportOutcome:
    with connect(settings) as client:
        catalog = catalog_for(request.catalog, client)
        live = client.fetch_live_state()
    sources, warnings = select_sources(live, request.selectors, catalog, unmanaged_only=request.unmanaged_only)
    if not sources:
        what = "has no sources" if len(live) == 0 else "has no sources of types this catalog knows"
        if request.unmanaged_only and len(live):
            what = "has no source nobody owns yet (every one carries reconciler's ownership trailer)"
        raise ReconcilerError(f"nothing to import: project {settings.project} {what}", reference="nothing-to-import")
    imported = import_sources(sources, catalog)
    if request.out is None:
        return ImportOutcome(
            tuple(imported), render_import(imported, host=settings.host, project=settings.project), (), tuple(warnings)
        )
    files = _targets(request, imported, settings)
    existing = sorted(str(p) for p in files if p.exists())
    if existing and not request.force:
        raise ReconcilerError(
            f"refusing to overwrite {', '.join(existing)}", hint="pass --force to replace it", reference="file-exists"
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return ImportOutcome(tuple(imported), None, tuple(files), tuple(warnings))
