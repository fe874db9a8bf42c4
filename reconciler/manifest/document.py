"""What loading a manifest produces: `Document`s of plain values, each node's `file:line:column` packed per
`NodePath`, and every `secret('NAME')` reference (`SecretRef`). Pure data.

Must not know: files, YAML, jinja2, source types (produced by `yaml_marks.py` and `templates.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from reconciler.records import record

__all__ = ["Document", "Location", "Mark", "NodePath", "SecretRef"]


class Location(NamedTuple):
    """Where something was written: `file:line:column` (1-based).

    A NamedTuple, not a model: one is kept for every manifest node (~425,000 at 1,000 sources × 50 tables),
    and building that many model records or frozen dataclasses costs seconds."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    # Marks of every node are kept as one int each (line and column packed): a tuple per node costs ~30 MB
    # more at 1,000 sources × 50 tables. Columns fit: manifests are limited to 1 MiB.
    @staticmethod
    def pack(line: int, column: int) -> int:
        return line << _COLUMN_BITS | column

    @classmethod
    def unpack(cls, file: str, packed: int) -> Location:
        return cls(file, packed >> _COLUMN_BITS, packed & _COLUMN_MASK)


_COLUMN_BITS = 21
_COLUMN_MASK = (1 << _COLUMN_BITS) - 1

#: A node's position inside a document: mapping keys and sequence indexes.
NodePath = tuple[str | int, ...]

#: A 1-based position in a manifest file (the same type the models call Location).
Mark = Location


@record(slots=True)
class SecretRef:
    """One `secret('NAME')` call: which variable, where, and whether the environment has it."""

    name: str
    path: NodePath
    mark: Mark
    available: bool


@dataclass
class Document:
    """One YAML document of one file, rendered.

    `marks[path]` is where the value at `path` starts; `key_marks[path]` is where its mapping key starts
    (errors about a field name point at the key, errors about a value at the value).
    """

    file: str
    index: int
    data: Any
    marks: dict[NodePath, int] = field(default_factory=dict)  # packed: Location.pack / unpack
    key_marks: dict[NodePath, int] = field(default_factory=dict)
    secret_refs: list[SecretRef] = field(default_factory=list)

    def locate(self, path: NodePath, *, key: bool = False) -> Mark:
        """The mark of `path` (its key with `key=True`), else of its nearest located parent."""
        probe = path
        while True:
            if key and probe in self.key_marks:
                return Mark.unpack(self.file, self.key_marks[probe])
            if probe in self.marks:
                return Mark.unpack(self.file, self.marks[probe])
            if not probe:
                return Mark(self.file, 1, 1)
            probe = probe[:-1]
