"""How a command task talks to the terminal: the `Console` it writes through and the `ExitCode` it returns.

A protocol, so tasks never import the CLI library: `cli.py` hands them a click-backed console.
Must not know: click, argument parsing, anything a command does.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol, TextIO

__all__ = ["Console", "ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2  # plan --detailed-exitcode with changes; drift found


class Console(Protocol):
    """stdout for results, stderr for everything else (progress, warnings, "wrote FILE")."""

    @property
    def stdout(self) -> TextIO: ...

    @property
    def stderr(self) -> TextIO: ...

    def out(self, text: str, *, nl: bool = True) -> None:
        """Write a result to stdout."""

    def err(self, text: str) -> None:
        """Write one line to stderr."""

    def color(self, stream: TextIO) -> bool:
        """Whether to paint what goes to `stream`: a terminal, NO_COLOR unset or empty, TERM not `dumb`."""

    def interactive(self) -> bool:
        """Whether stdin is a terminal a question can be asked on."""

    def ask(self, prompt: str) -> str:
        """Ask on the terminal; the answer typed ('' for none)."""
