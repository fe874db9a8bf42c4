"""drift.build_drift: table-driven from literal manifests and live objects (no HTTP)."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.catalog import load_catalog
from reconciler.drift.health import frequency_interval
from reconciler.drift.model import DEFAULT_FAIL_ON, Category, DriftReport, Finding, parse_categories
from reconciler.drift.report import build_drift, known_secret_values
from reconciler.manifest import LoadOptions, load_desired_state
from reconciler.ownership import format_trailer
from reconciler.posthog.models import LiveSource, LiveState

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
SECRET = "sk_test_CANARYdrift991"
ENV = {"STRIPE_KEY": SECRET}

STRIPE = """\
stripe_prod:
  type: Stripe
  prefix: stripe_prod
  description: Production Stripe
  config:
    auth_method:
      selection: api_key
      stripe_secret_key: "{{ secret('STRIPE_KEY') }}"
    stripe_account_id: acct_1
  tables:
    Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
    Charge: {sync: true, sync_type: append, incremental_field: created, incremental_field_type: integer}
"""


def desired(tmp_path: Path, body: str, defaults: str = "") -> Any:
    path = tmp_path / "sources.yaml"
    path.write_text("version: 1\n" + defaults + "sources:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    return load_desired_state([path], load_options=LoadOptions(environ=ENV))


def schema(name: str, **kw: Any) -> dict[str, Any]:
    base = {
        "id": f"sch-{name}",
        "name": name,
        "should_sync": False,
        "sync_type": None,
        "incremental_field": None,
        "incremental_field_type": None,
        "sync_frequency": "6hour",
        "sync_time_of_day": None,
        "primary_key_columns": None,
        "cdc_table_mode": "consolidated",
        "enabled_columns": None,
        "status": "Completed",
        "latest_error": None,
        "last_synced_at": "2026-11-26T11:00:00Z",
    }
    return base | kw


GOOD_TABLES = [
    schema(
        "Charge", should_sync=True, sync_type="append", incremental_field="created", incremental_field_type="integer"
    ),
    schema("Customer", should_sync=True, sync_type="full_refresh", sync_frequency="24hour"),
]


def stripe(
    *,
    id: str = "src-1",
    prefix: str | None = "stripe_prod",
    description: str | None = None,
    account: str | None = "acct_1",
    schemas: list[dict[str, Any]] | None = None,
    status: str = "Completed",
    latest_error: str | None = None,
    trailer: str | None = "stripe_prod",
) -> LiveSource:
    text = "Production Stripe" if description is None else description
    if trailer:
        text = f"{text}\n{format_trailer(trailer, 'a' * 12)}"
    return LiveSource.from_wire(
        {
            "id": id,
            "source_type": "Stripe",
            "prefix": prefix,
            "description": text,
            "access_method": "warehouse",
            "status": status,
            "latest_error": latest_error,
            "job_inputs": {"auth_method": {"selection": "api_key"}, "stripe_account_id": account},
            "schemas": GOOD_TABLES if schemas is None else schemas,
            "revenue_analytics_config": {"enabled": True, "include_invoiceless_charges": True},
        },
        load_catalog(),
    )


def drift(state: Any, *live: LiveSource) -> DriftReport:
    return build_drift(
        state,
        LiveState(sources=tuple(live)),
        load_catalog(),
        host="http://127.0.0.1:8010",
        project="1",
        now=NOW,
        known_secrets=known_secret_values(state),
    )


def findings(report: DriftReport) -> list[tuple[str | None, str, str, str | None]]:
    return [(s.address, f.category.value, f.kind, f.path or f.table) for s in report.sources for f in s.findings]


def test_matching_source_has_no_drift(tmp_path: Path) -> None:
    report = drift(desired(tmp_path, STRIPE), stripe())
    assert report.sources == () and not report.found()
    assert report.counts() == {"changed": 0, "missing": 0, "unmanaged": 0, "tables": 0, "unsynced": 0, "health": 0}
    assert (report.declared, report.live, report.checked_at) == (1, 1, "2026-11-26T12:00:00Z")


def test_a_readable_field_that_differs_is_changed_and_who_changed_it_is_unknown(tmp_path: Path) -> None:
    report = drift(desired(tmp_path, STRIPE), stripe(account="acct_UI", description="Edited in the UI"))
    [source] = report.sources
    # An edit in the UI and a manifest change not applied yet leave the same two values: drift cannot tell.
    assert [(f.path, f.manifest, f.posthog, f.likely_changed_by) for f in source.findings] == [
        ("config.stripe_account_id", "acct_1", "acct_UI", "unknown"),
        ("description", "Production Stripe", "Edited in the UI", "unknown"),
    ]
    assert source.findings[0].message == "config.stripe_account_id: 'acct_1' in the manifest, 'acct_UI' in PostHog"


def test_a_manifest_only_edit_is_not_blamed_on_posthog(tmp_path: Path) -> None:
    # PostHog holds what an earlier apply set; the manifest moved on and was not applied yet.
    [source] = drift(desired(tmp_path, STRIPE.replace("acct_1", "acct_new")), stripe()).sources
    [finding] = source.findings
    assert (finding.manifest, finding.posthog, finding.likely_changed_by) == ("acct_new", "acct_1", "unknown")
    [source] = drift(desired(tmp_path, STRIPE), stripe(account=None)).sources
    [finding] = source.findings
    assert (finding.path, finding.posthog, finding.likely_changed_by) == ("config.stripe_account_id", None, "unknown")
    # A prefix cannot change in place in PostHog: that difference can only be the manifest's.
    [source] = drift(desired(tmp_path, STRIPE.replace("prefix: stripe_prod", "prefix: stripe_new")), stripe()).sources
    assert [(f.path, f.likely_changed_by) for f in source.findings] == [("prefix", "manifest")]


def test_missing_and_unmanaged_and_orphaned(tmp_path: Path) -> None:
    state = desired(tmp_path, STRIPE)
    ui_made = stripe(id="src-ui", prefix="legacy", trailer=None)
    orphan = stripe(id="src-old", prefix="old", trailer="old_stripe")
    report = drift(state, ui_made, orphan)
    assert findings(report) == [
        ("stripe_prod", "missing", "not-in-posthog", None),
        (None, "unmanaged", "unmanaged", None),
        (None, "unmanaged", "orphaned", None),
    ]
    unmanaged = report.sources[1].findings[0]
    assert report.sources[1].label == "Stripe:legacy"
    assert unmanaged.hint == "reconciler import --select Stripe:legacy"
    assert "owned by reconciler as 'old_stripe'" in report.sources[2].findings[0].message


def test_ui_made_source_matching_type_and_prefix_is_compared_not_unmanaged(tmp_path: Path) -> None:
    report = drift(desired(tmp_path, STRIPE), stripe(trailer=None, account="acct_2"))
    assert findings(report) == [("stripe_prod", "changed", "field", "config.stripe_account_id")]


def test_table_settings_listed_unknown_and_discovered(tmp_path: Path) -> None:
    body = STRIPE + "    Refund: {sync: true, sync_type: full_refresh}\n"
    live = stripe(
        schemas=[
            schema(
                "Charge",
                should_sync=False,
                sync_type="append",
                incremental_field="created",
                incremental_field_type="integer",
                sync_frequency="1hour",
            ),
            schema("Customer", should_sync=True, sync_type="full_refresh", sync_frequency="1hour"),
            schema("Invoice"),
            schema("Payout", should_sync=True, sync_type="full_refresh"),
        ]
    )
    report = drift(desired(tmp_path, body), live)
    assert findings(report) == [
        ("stripe_prod", "tables", "settings", "tables.Charge.should_sync"),
        ("stripe_prod", "tables", "settings", "tables.Customer.sync_frequency"),
        ("stripe_prod", "tables", "not-in-posthog", "Refund"),
        ("stripe_prod", "unsynced", "discovered", "Invoice"),  # known, not syncing: PostHog's normal state
        ("stripe_prod", "tables", "discovered", "Payout"),  # syncing, though no manifest lists it
    ]
    charge, customer = report.sources[0].findings[:2]
    # Messages speak the manifest's words; `path` keeps PostHog's (docs/drift-format.md).
    assert charge.message == "table Charge: sync is true in the manifest, false in PostHog"
    assert customer.message == "table Customer: frequency is '24hour' in the manifest, '1hour' in PostHog"
    # Charge's frequency is not in the manifest: not managed, not drift.
    assert (charge.manifest, charge.posthog, charge.likely_changed_by) == (True, False, "unknown")
    assert (customer.manifest, customer.posthog, customer.likely_changed_by) == ("24hour", "1hour", "unknown")
    assert report.found(DEFAULT_FAIL_ON) and not drift(desired(tmp_path, STRIPE), stripe(schemas=[
        schema("Customer", should_sync=True, sync_type="full_refresh", sync_frequency="24hour"),
        schema("Charge", should_sync=True, sync_type="append", incremental_field="created",
               incremental_field_type="integer"),
        schema("Invoice"),
    ])).found(DEFAULT_FAIL_ON)  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "expected"), [("ignore", []), ("disable", ["Payout"]), ("report", ["Invoice", "Payout"])]
)
def test_discovered_tables_follow_the_unlisted_policy(tmp_path: Path, policy: str, expected: list[str]) -> None:
    live = stripe(
        schemas=[*GOOD_TABLES, schema("Invoice"), schema("Payout", should_sync=True, sync_type="full_refresh")]
    )
    state = desired(tmp_path, STRIPE, defaults=f"defaults: {{unlisted_tables: {policy}}}\n")
    assert [f.table for f in drift(state, live).findings()] == expected


def test_health_failed_billing_and_stale(tmp_path: Path) -> None:
    live = stripe(
        status="Failed",
        latest_error=f"Invalid API key {SECRET} provided",
        schemas=[
            schema(
                "Charge",
                should_sync=True,
                sync_type="append",
                incremental_field="created",
                incremental_field_type="integer",
                status="Failed",
                latest_error="auth failed: postgres://reader:hunter2@db/app password=hunter3",
            ),
            schema(
                "Customer",
                should_sync=True,
                sync_type="full_refresh",
                sync_frequency="24hour",
                status="Billing limits too low",
                last_synced_at="2026-11-24T11:59:59Z",
            ),
            schema("Invoice", status="Failed", latest_error="disabled: ignored"),  # disabled: not reported
        ],
    )
    report = drift(desired(tmp_path, STRIPE + "    Invoice: {sync: false}\n"), live)
    assert [(f.kind, f.table, f.status) for f in report.findings()] == [
        ("source-status", None, "Failed"),
        ("table-status", "Charge", "Failed"),
        ("table-status", "Customer", "Billing limits too low"),
        ("stale", "Customer", None),
    ]
    source, charge, _, stale = report.findings()
    assert source.latest_error == "Invalid API key [redacted] provided"
    assert charge.latest_error == "auth failed: postgres://reader:[redacted]@db/app password=[redacted]"
    assert (stale.last_synced_at, stale.frequency) == ("2026-11-24T11:59:59Z", "24hour")


@pytest.mark.parametrize(
    ("synced", "stale"), [("2026-11-26T00:00:01Z", False), ("2026-11-25T23:59:59Z", True), (None, False)]
)
def test_stale_means_older_than_twice_the_frequency(tmp_path: Path, synced: str | None, stale: bool) -> None:
    live = stripe(
        schemas=[
            GOOD_TABLES[0],
            schema(
                "Customer", should_sync=True, sync_type="full_refresh", sync_frequency="6hour", last_synced_at=synced
            ),
        ]
    )
    state = desired(tmp_path, STRIPE.replace("frequency: 24hour", "frequency: 6hour"))
    assert [f.kind for f in drift(state, live).findings()] == (["stale"] if stale else [])


def test_health_is_reported_for_unmanaged_sources_too(tmp_path: Path) -> None:
    report = drift(
        desired(tmp_path, STRIPE), stripe(), stripe(id="src-ui", prefix="ui", trailer=None, status="Billing limits")
    )
    assert findings(report) == [(None, "unmanaged", "unmanaged", None), (None, "health", "source-status", None)]


def test_tombstone_of_a_live_source_is_changed(tmp_path: Path) -> None:
    report = drift(desired(tmp_path, STRIPE.replace("  type: Stripe\n", "  type: Stripe\n  state: absent\n")), stripe())
    assert findings(report) == [("stripe_prod", "changed", "field", "state")]


def test_fail_on_categories() -> None:
    assert parse_categories("all") == frozenset(Category)
    assert parse_categories("health, tables") == {Category.HEALTH, Category.TABLES}
    with pytest.raises(ValueError, match="unknown drift category 'helth'; choose from: all, changed"):
        parse_categories("helth")
    report = DriftReport("h", "1", "t", sources=())
    assert not report.found()
    from reconciler.drift.model import SourceDrift

    one = DriftReport(
        "h",
        "1",
        "t",
        sources=(SourceDrift("a", "Stripe", None, "x", (Finding(Category.HEALTH, "source-status", "m"),)),),
    )
    assert one.found({Category.HEALTH}) and not one.found({Category.CHANGED, Category.TABLES})


def test_frequency_interval() -> None:
    assert frequency_interval("7day") is not None and frequency_interval("7day").days == 7  # type: ignore[union-attr]
    assert frequency_interval("never") is None and frequency_interval(None) is None


def test_revenue_analytics_changes(tmp_path: Path) -> None:
    body = STRIPE + "  revenue_analytics: {enabled: true, include_invoiceless_charges: false}\n"
    live = stripe()
    assert live.revenue_analytics is not None
    off = replace(live, revenue_analytics=replace(live.revenue_analytics, enabled=False))
    [source] = drift(desired(tmp_path, body), off).sources
    assert [(f.path, f.manifest, f.posthog, f.likely_changed_by) for f in source.findings] == [
        ("revenue_analytics.enabled", True, False, "unknown"),
        ("revenue_analytics.include_invoiceless_charges", False, True, "unknown"),
    ]
