"""The emulator's state in SQLite: sources, their schemas (tables) and sync jobs. No HTTP here.

`Store` is one SQLite connection (`database.py`) with one module per table (`sources.py`, `schemas.py`,
`jobs.py`); rows come back as the frozen dataclasses of `rows.py`. Two PostHog storage quirks live here because
they are storage facts: job_inputs leaves are stored as strings (reference/posthog-api.md §6, "Value types"), and
deletes are soft (§8.5). Everything else (validation, redaction, HTTP shapes) lives elsewhere.
"""

from __future__ import annotations

from reconciler.emulator.store.jobs import JobTable
from reconciler.emulator.store.rows import (
    UNSET,
    JobRow,
    NewSchema,
    PrefixConflict,
    SchemaRow,
    SourceRow,
    now_iso,
    stringify_leaves,
)
from reconciler.emulator.store.schemas import SchemaTable
from reconciler.emulator.store.sources import SourceTable

__all__ = [
    "UNSET",
    "JobRow",
    "NewSchema",
    "PrefixConflict",
    "SchemaRow",
    "SourceRow",
    "Store",
    "now_iso",
    "stringify_leaves",
]


class Store(SourceTable, SchemaTable, JobTable):
    """SQLite-backed state. `path=None` keeps everything in memory (lost on close)."""
