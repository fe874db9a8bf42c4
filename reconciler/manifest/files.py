"""Which files are manifests, and reading one: directories expanded (`*.yaml`/`*.yml`, sorted, hidden
entries skipped), size bounded before anything is parsed, UTF-8 only.

Must not know: YAML, templates, what a manifest declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import ManifestError

__all__ = ["MAX_FILE_BYTES", "collect_files", "read_manifest"]

#: A manifest file larger than this is refused before parsing.
MAX_FILE_BYTES = 1_048_576


def collect_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[ManifestError]]:
    """Expand files and directories (recursively `*.yaml`/`*.yml`, sorted, hidden entries skipped)."""
    files: list[Path] = []
    errors: list[ManifestError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".yaml", ".yml")
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                errors.append(ManifestError("no manifest files (*.yaml, *.yml) in this directory", file=str(path)))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            errors.append(ManifestError("not a regular file or directory", file=str(path)))
        else:
            errors.append(ManifestError("no such file or directory", file=str(path), reference="file-not-found"))
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, errors


def read_manifest(path: Path) -> str | ManifestError:
    """The text of one manifest file, or the one error that stops it being read."""
    name = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # never more than the limit in memory, whatever stat says
        if len(raw) > MAX_FILE_BYTES:
            size = max(path.stat().st_size, len(raw))
            return ManifestError(
                f"file is {size} bytes; manifests are limited to {MAX_FILE_BYTES} bytes",
                file=name,
                hint="split the sources over several files",
                reference="file-too-large",
            )
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ManifestError(f"file is not valid UTF-8 (byte {exc.start})", file=name)
    except OSError as exc:
        return ManifestError(f"cannot read file: {exc.strerror}", file=name)
