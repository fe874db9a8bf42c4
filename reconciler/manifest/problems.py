"""How manifest validation words a problem: the `Report` callback problems go through (`DocumentReporter`
turns a node path into `file:line:column`), "did you mean", and a value's kind in plain words.
Shared by `validate.py`, `config.py` and `field_errors.py`.

Must not know: the catalog, files, YAML.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.errors import ManifestError
from reconciler.manifest.document import Document, NodePath
from reconciler.secret import Secret
from reconciler.wording import count

__all__ = ["DocumentReporter", "ManifestInvalid", "Report", "did_you_mean", "dotted", "kind_of", "suggest"]


class Report(Protocol):
    """Where config problems go: a node path (relative to the document) and a message."""

    def __call__(
        self,
        path: NodePath,
        message: str,
        *,
        key: bool = False,
        hint: str | None = None,
        reference: str | None = None,
    ) -> None: ...


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to `word`, if any is close enough (difflib ratio ≥ 0.6)."""
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    best = suggest(word, candidates)
    return f"; did you mean '{best}'?" if best else ""


def kind_of(value: Any) -> str:
    if isinstance(value, Secret):
        return "a secret()"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def dotted(path: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in path)


@dataclass
class DocumentReporter:
    """Collects errors for one document, turning node paths into file:line:column."""

    doc: Document
    errors: list[ManifestError]

    def __call__(
        self,
        path: NodePath,
        message: str,
        *,
        key: bool = False,
        hint: str | None = None,
        reference: str | None = None,
    ) -> None:
        mark = self.doc.locate(path, key=key)
        address: str | None = None
        rest: tuple[str | int, ...] = path
        if len(path) >= 2 and path[0] == "sources":
            address, rest = str(path[1]), path[2:]
        self.errors.append(
            ManifestError(
                message,
                file=mark.file,
                line=mark.line,
                column=mark.column,
                address=address,
                field=dotted(rest) or None,
                hint=hint,
                reference=reference,
            )
        )


class ManifestInvalid(ManifestError):
    """Several manifest errors at once; `errors` holds each one (sorted by file, line, column)."""

    reference = "invalid-manifest"

    def __init__(self, errors: list[ManifestError]) -> None:
        self.errors = sorted(errors, key=_error_sort_key)
        first = self.errors[0] if self.errors else None
        super().__init__(
            count(len(self.errors), "manifest error"),
            file=first.file if first else None,
            line=first.line if first else None,
            column=first.column if first else None,
        )

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def _error_sort_key(e: ManifestError) -> tuple[str, int, int]:
    return (e.file or "", e.line or 0, e.column or 0)
