"""Which files are manifests, and reading one: directories expanded (`*.yaml`/`*.yml`, sorted, hidden
entries skipped, symbolic links out of the directory refused unread), size bounded before anything is parsed,
UTF-8 only.

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
            inside, outside = _within(path, found)
            files.extend(inside)
            errors.extend(outside)
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


def _within(root: Path, found: list[Path]) -> tuple[list[Path], list[ManifestError]]:
    """Split files found under directory `root` into those really inside it and errors for symbolic links
    that lead out of it. A pull request can add `x.yaml -> ~/.aws/credentials`: reading it would echo its
    contents in YAML errors, into the plan comment. Files named on the command line are taken as given."""
    base = root.resolve()
    inside: list[Path] = []
    outside: list[ManifestError] = []
    for path in found:
        if path.resolve().is_relative_to(base):
            inside.append(path)
        else:
            outside.append(
                ManifestError(
                    f"symbolic link to a file outside {root}: not read",
                    file=str(path),
                    hint="keep manifests inside the directory given to reconciler (copy the file in, or name it "
                    "on the command line)",
                    reference="symlink-outside",
                )
            )
    return inside, outside


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
