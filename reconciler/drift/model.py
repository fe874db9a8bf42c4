"""Drift's vocabulary: categories, findings, one source's drift, the report (docs/drift-format.md). Pure data.

Must not know: how findings are made (compare.py, health.py, report.py), rendering, HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from reconciler.records import record

__all__ = [
    "CATEGORIES",
    "DEFAULT_FAIL_ON",
    "DEFAULT_FAIL_ON_SPEC",
    "DRIFT_FORMAT_VERSION",
    "Category",
    "DriftReport",
    "Finding",
    "SourceDrift",
    "parse_categories",
]

#: Version of the JSON form (docs/drift-format.md). Bump on any incompatible change.
DRIFT_FORMAT_VERSION = 1


class Category(Enum):
    """Drift categories, in report order; the values are the stable strings of every output format."""

    CHANGED = "changed"
    MISSING = "missing"
    UNMANAGED = "unmanaged"
    TABLES = "tables"
    #: Tables PostHog knows (discovered by refresh_schemas) that the manifest does not list and that do not sync:
    #: PostHog's normal state after a table is added, so reported without failing the check by default.
    UNSYNCED = "unsynced"
    HEALTH = "health"


CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
#: What fails the check (exit 2) when `--fail-on` is not given: everything but `unsynced`.
DEFAULT_FAIL_ON: frozenset[Category] = frozenset(Category) - {Category.UNSYNCED}
DEFAULT_FAIL_ON_SPEC = ",".join(c.value for c in Category if c in DEFAULT_FAIL_ON)


def parse_categories(spec: str) -> frozenset[Category]:
    """`--fail-on changed,health` → those categories; `all` → every one. ValueError names a bad entry."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise ValueError(f"no categories given; choose from: all, {', '.join(CATEGORIES)}")
    chosen: set[Category] = set()
    for name in names:
        if name == "all":
            chosen.update(Category)
        elif name in CATEGORIES:
            chosen.add(Category(name))
        else:
            raise ValueError(f"unknown drift category {name!r}; choose from: all, {', '.join(CATEGORIES)}")
    return frozenset(chosen)


@record
class Finding:
    """One thing drift found. Which fields are set depends on `kind`:

    - changed / `field`: `path`, `manifest`, `posthog`, `likely_changed_by` ("manifest" where PostHog cannot
      have made the difference — type, prefix, a tombstone —, else "unknown": with no history, an edit in
      PostHog and a manifest change not applied yet look the same);
    - missing / `not-in-posthog`; unmanaged / `unmanaged` or `orphaned` (with `hint`), `duplicate-owner`;
    - tables / `settings` (`table`, `path`, `manifest`, `posthog`), `not-in-posthog` (`table`),
      `discovered` (`table`, `posthog` = true: an unlisted table PostHog syncs);
    - unsynced / `discovered` (`table`, `posthog` = false: an unlisted table PostHog knows but does not sync);
    - health / `source-status`, `table-status` (`status`, `latest_error`), `stale` (`table`,
      `last_synced_at`, `frequency`).
    Values never hold a secret: config diffs come from non-secret fields only and errors are redacted.
    """

    category: Category
    kind: str
    message: str
    path: str | None = None
    table: str | None = None
    manifest: Any = None
    posthog: Any = None
    likely_changed_by: str | None = None
    status: str | None = None
    latest_error: str | None = None
    last_synced_at: str | None = None
    frequency: str | None = None
    hint: str | None = None


@record
class SourceDrift:
    """Everything found about one source. `address` is None for sources no manifest declares."""

    address: str | None
    source_type: str
    prefix: str | None
    source_id: str | None
    findings: tuple[Finding, ...] = ()

    @property
    def label(self) -> str:
        return self.address or f"{self.source_type}:{self.prefix or ''}"


@record
class DriftReport:
    """The whole drift report; `sources` hold only sources with findings, ordered by label."""

    host: str
    project: str
    checked_at: str
    sources: tuple[SourceDrift, ...] = ()
    warnings: tuple[str, ...] = ()
    declared: int = 0
    live: int = 0

    def findings(self) -> Iterable[Finding]:
        return (f for s in self.sources for f in s.findings)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(CATEGORIES, 0)
        for finding in self.findings():
            counts[finding.category.value] += 1
        return counts

    def found(self, categories: Iterable[Category] = tuple(Category)) -> bool:
        wanted = set(categories)
        return any(f.category in wanted for f in self.findings())
