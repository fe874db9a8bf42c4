"""`reconciler drift`: manifests + one list pass → DriftReport. Read-only: the only requests are GETs
(the source list, and the wizard for `--catalog live`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from reconciler.commands.common import ManifestOptions, connect, load_and_list
from reconciler.commands.common import now as current_time
from reconciler.drift.model import DEFAULT_FAIL_ON, Category, DriftReport
from reconciler.records import record
from reconciler.settings import Settings

__all__ = ["DriftOutcome", "DriftRequest", "run_drift"]


@record
class DriftRequest:
    manifests: ManifestOptions
    fail_on: frozenset[Category] = DEFAULT_FAIL_ON


@record
class DriftOutcome:
    report: DriftReport
    requests: int
    fail_on: frozenset[Category]

    @property
    def failed(self) -> bool:
        """Drift in one of the `--fail-on` categories: the command exits 2."""
        return self.report.found(self.fail_on)


def run_drift(
    settings: Settings, request: DriftRequest, env: Mapping[str, str], now: datetime | None = None
) -> DriftOutcome:
    with connect(settings) as client:
        before = client.stats.total
        catalog, desired, live = load_and_list(client, request.manifests, env)
        requests = client.stats.total - before
    from reconciler.drift.report import build_drift, known_secret_values

    report = build_drift(
        desired,
        live,
        catalog,
        host=settings.host,
        project=settings.project,
        now=now or current_time(env),
        known_secrets=known_secret_values(desired),
    )
    return DriftOutcome(report, requests, request.fail_on)
