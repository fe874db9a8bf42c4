"""How manifest validation words a problem: the `Report` callback problems go through (`DocumentReporter`
turns a node path into `file:line:column`), "did you mean", and a value's kind in plain words.
Shared by `validate.py`, `config.py` and `pydantic_errors.py`.

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

__all__ = ["DocumentReporter", "Report", "did_you_mean", "dotted", "kind_of", "suggest"]


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
