"""Source health as drift findings: Failed / Billing limits statuses of a source and of its enabled tables
(with `latest_error`, secrets redacted), and enabled tables whose last sync is more than twice their frequency
ago. Pure: the caller passes `now`.
Must not know: manifests, identity, rendering, HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from reconciler.catalog import SYNC_FREQUENCIES
from reconciler.drift.model import Category, Finding
from reconciler.posthog.models import LiveSource
from reconciler.secret import redact

__all__ = ["HEALTH_STATUSES", "frequency_interval", "health_findings"]

#: Source and schema statuses that mean "not syncing as it should" (reference/posthog-api.md §6, §7).
HEALTH_STATUSES = ("Failed", "Billing limits", "Billing limits too low")


def frequency_interval(label: str | None) -> timedelta | None:
    """The interval of a `sync_frequency` label; None for `never`, null or an unknown label."""
    return SYNC_FREQUENCIES.get(label or "")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def health_findings(source: LiveSource, now: datetime, known: Sequence[str]) -> list[Finding]:
    """`health` findings of one live source, managed or not; `known` are secret values to redact."""
    out: list[Finding] = []
    if source.status in HEALTH_STATUSES:
        error = redact(source.latest_error, known, credential_shapes=True)
        out.append(
            Finding(
                Category.HEALTH,
                "source-status",
                f"source status is {source.status}",
                status=source.status,
                latest_error=error,
            )
        )
    for schema in source.schemas:
        if not schema.should_sync:
            continue  # PostHog ignores disabled tables' failures too (§6 "Status derivation")
        if schema.status in HEALTH_STATUSES:
            out.append(
                Finding(
                    Category.HEALTH,
                    "table-status",
                    f"table {schema.name} status is {schema.status}",
                    table=schema.name,
                    status=schema.status,
                    latest_error=redact(schema.latest_error, known, credential_shapes=True),
                )
            )
        interval = frequency_interval(schema.sync_frequency)
        synced = _parse_time(schema.last_synced_at)
        if interval is not None and synced is not None and now - synced > 2 * interval:
            out.append(
                Finding(
                    Category.HEALTH,
                    "stale",
                    f"table {schema.name} last synced {schema.last_synced_at}, more than twice its "
                    f"{schema.sync_frequency} frequency ago",
                    table=schema.name,
                    last_synced_at=schema.last_synced_at,
                    frequency=schema.sync_frequency,
                )
            )
    return out
