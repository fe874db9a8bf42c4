"""The plan's vocabulary, defined once: Action, Impact, SourceChange, Plan (the Step kinds: plan/steps.py).

Pure data, frozen. The executor acts only on `SourceChange.steps`; `reasons`, `field_diffs` and
`secret_status` exist for humans (renderers). Serial form and enum-to-string mapping live in
`plan/codec.py`; never dump `Action.name` directly.
Must not know: JSON, rendering, HTTP.
"""

from __future__ import annotations

from dataclasses import field
from enum import Enum
from typing import Any

from reconciler.plan.steps import DeleteSource, Step
from reconciler.records import record

__all__ = [
    "IMMUTABLE_FIELDS",
    "TARGETING_WARNING",
    "Action",
    "FieldDiff",
    "Impact",
    "OrphanedSource",
    "Plan",
    "PlanError",
    "SecretStatus",
    "SourceChange",
    "UnmanagedSource",
]


class Action(Enum):
    NOOP = "no-op"
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"  # delete then create, everywhere (model, text, JSON)
    DELETE = "delete"

    @property
    def is_replace(self) -> bool:
        return self is Action.REPLACE

    @property
    def is_destructive(self) -> bool:
        """Deletes the live source (and its synced data)."""
        return self in (Action.REPLACE, Action.DELETE)


#: How the warning of a targeted plan (`--target`) starts: renderers show it above the changes, where a reviewer
#: reads first (it travels in `warnings`, so a saved plan keeps it).
TARGETING_WARNING = "targeting is in effect"
#: Source fields PostHog cannot change in place: a difference in any of them forces a replace.
IMMUTABLE_FIELDS = ("type", "prefix", "access_method")


class Impact(Enum):
    """What a change does to the user's data, ordered: a change's headline impact is max(impacts)."""

    METADATA = "metadata"  # description, names: nothing syncs differently
    NEXT_SYNC = "next-sync"  # table settings that take effect at the next sync
    CREDENTIALS = "credentials"  # secrets or connection target re-sent; PostHog re-probes the upstream
    FULL_RESYNC = "full-resync"  # cursor change or switch to full_refresh: tables re-imported
    DROPS_DATA = "drops-data"  # delete or replace: synced tables are dropped

    @property
    def rank(self) -> int:
        return _IMPACT_ORDER.index(self)

    def __lt__(self, other: Impact) -> bool:
        return self.rank < other.rank


_IMPACT_ORDER = list(Impact)


class SecretStatus(Enum):
    UNCHANGED = "unchanged"
    RESEND = "will be re-sent"
    MISSING = "missing"  # must be re-sent but the value is not available: a plan error


@record
class FieldDiff:
    """One changed field, for humans. `path` is dotted (`config.host`, `tables.Charge.sync_type`).
    Secret fields never carry values: old/new are None and `secret` is True."""

    path: str
    old: Any = None
    new: Any = None
    secret: bool = False


# ---- Changes and the plan ---------------------------------------------------------------------------


@record
class SourceChange:
    """Everything the plan says about one source. The executor acts only on `steps`;
    `reasons`, `field_diffs`, `secret_status` and `impacts` exist for humans and safety checks."""

    address: str
    source_type: str
    prefix: str | None
    action: Action
    steps: tuple[Step, ...] = ()
    impacts: frozenset[Impact] = frozenset()
    reasons: tuple[str, ...] = ()
    field_diffs: tuple[FieldDiff, ...] = ()
    secret_status: SecretStatus = SecretStatus.UNCHANGED
    protected: bool = False
    live_id: str | None = None
    live_fingerprint: str | None = None  # of the normalised live object; stale-plan detection
    unlisted_tables: tuple[str, ...] = ()  # live tables the manifest does not list (policy `report`)

    @property
    def never_existed(self) -> bool:
        """A `state: absent` tombstone for a source PostHog does not have: nothing to do, nothing to show."""
        return self.action is Action.NOOP and self.live_id is None

    @property
    def headline_impact(self) -> Impact | None:
        return max(self.impacts, key=lambda i: i.rank) if self.impacts else None


@record
class UnmanagedSource:
    """Live, not declared, no ownership trailer: reported, never touched."""

    source_id: str
    source_type: str
    prefix: str | None


@record
class OrphanedSource:
    """Carries our trailer, but no manifest declares its address any more. Deleted only with `--prune`."""

    source_id: str
    address: str
    source_type: str
    prefix: str | None


@record
class PlanError:
    """A problem that makes the plan unusable for apply (protect violated, an invalid manifest, PostHog
    unreachable, ...). `file`/`line`/`column`/`field`/`hint` are set when known (manifest errors): every
    rendering shows them, so a pull-request comment points at the line to fix."""

    message: str
    address: str | None = None
    reference: str = "plan-error"
    file: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None
    hint: str | None = None

    @property
    def location(self) -> str | None:
        """`file:line:column`, as much of it as is known; None without a file."""
        if self.file is None:
            return None
        return ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)


@record
class Plan:
    """Ordered changes: deletes (incl. the delete half of replaces) first, then chains."""

    host: str
    project: str
    changes: tuple[SourceChange, ...] = ()
    unmanaged: tuple[UnmanagedSource, ...] = ()
    orphaned: tuple[OrphanedSource, ...] = ()
    errors: tuple[PlanError, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    #: The environment of reconciler.yaml the plan was made for (None: none selected). A plan never mixes them.
    environment: str | None = None

    @property
    def has_changes(self) -> bool:
        return any(c.action is not Action.NOOP for c in self.changes)

    def delete_steps(self) -> tuple[DeleteSource, ...]:
        """Phase one of apply: every delete, including the delete half of replaces."""
        return tuple(s for c in self.changes for s in c.steps if isinstance(s, DeleteSource))

    def chains(self) -> tuple[tuple[Step, ...], ...]:
        """Phase two: per source, its remaining steps in order; chains may run concurrently."""
        chains = (tuple(s for s in c.steps if not isinstance(s, DeleteSource)) for c in self.changes)
        return tuple(chain for chain in chains if chain)

    def summary(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "replace": 0, "delete": 0, "unchanged": 0}
        for change in self.changes:
            key = "unchanged" if change.action is Action.NOOP else change.action.value
            counts[key] += 1
        return counts
