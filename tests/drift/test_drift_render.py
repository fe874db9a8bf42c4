"""Drift renderers: exact text, JSON shape, markdown escaping and GitHub's comment limit."""

from __future__ import annotations

import json

import pytest

from reconciler.drift.model import Category, DriftReport, Finding, SourceDrift
from reconciler.drift.render import drift_to_dict, render_drift, render_drift_markdown, render_drift_text

REPORT = DriftReport(
    host="https://eu.posthog.com",
    project="12345",
    checked_at="2026-11-26T12:00:00Z",
    declared=2,
    live=2,
    sources=(
        SourceDrift(
            "stripe_prod",
            "Stripe",
            "stripe_prod",
            "src-1",
            (
                Finding(
                    Category.CHANGED,
                    "field",
                    "config.stripe_account_id: 'acct_1' in the manifest, 'acct_2' in PostHog",
                    path="config.stripe_account_id",
                    manifest="acct_1",
                    posthog="acct_2",
                    likely_changed_by="unknown",
                ),
                Finding(
                    Category.UNSYNCED,
                    "discovered",
                    "table Quote is in PostHog (not syncing) but not listed (unlisted_tables: report)",
                    table="Quote",
                    posthog=False,
                ),
                Finding(
                    Category.HEALTH,
                    "table-status",
                    "table Charge status is Failed",
                    table="Charge",
                    status="Failed",
                    latest_error="boom \x1b[31m<b>@team</b>",
                ),
            ),
        ),
        SourceDrift(
            None,
            "Zendesk",
            "support",
            "src-2",
            (
                Finding(
                    Category.UNMANAGED,
                    "unmanaged",
                    "in PostHog, not declared in any manifest",
                    hint="reconciler import --select Zendesk:support",
                ),
            ),
        ),
    ),
    warnings=("two live sources claim address 'x'",),
)


def test_text_golden() -> None:
    assert (
        render_drift_text(REPORT)
        == """\
Drift check of project 12345 on https://eu.posthog.com at 2026-11-26T12:00:00Z

stripe_prod (Stripe, prefix stripe_prod, id src-1)
  ~ changed   config.stripe_account_id: 'acct_1' in the manifest, 'acct_2' in PostHog (who changed it: unknown)
  · unsynced  table Quote is in PostHog (not syncing) but not listed (unlisted_tables: report)
  ! health    table Charge status is Failed: boom \\u001b[31m<b>@team</b>

Zendesk:support (Zendesk, prefix support, id src-2)
  ? unmanaged in PostHog, not declared in any manifest; import it with: reconciler import --select Zendesk:support

Warning: two live sources claim address 'x'

Drift: 1 changed, 0 missing, 1 unmanaged, 0 tables, 1 unsynced, 1 health.
"""
    )


def test_text_colour_only_when_asked() -> None:
    assert "\x1b[31m! health   \x1b[0m" in render_drift_text(REPORT, color=True)
    assert "\x1b[" not in render_drift_text(REPORT).replace("\\u001b", "")


def test_json_document() -> None:
    document = json.loads(render_drift(REPORT, "json", fail_on={Category.HEALTH, Category.CHANGED}))
    assert document == drift_to_dict(REPORT, {Category.HEALTH, Category.CHANGED})
    assert document["fail_on"] == ["changed", "health"] and document["failed"] is True
    assert document["summary"] == {
        "changed": 1,
        "missing": 0,
        "unmanaged": 1,
        "tables": 0,
        "unsynced": 1,
        "health": 1,
        "sources_declared": 2,
        "sources_live": 2,
    }
    assert list(document) == [
        "format_version",
        "tool_version",
        "target",
        "checked_at",
        "drift",
        "fail_on",
        "failed",
        "summary",
        "sources",
        "warnings",
    ]
    first = document["sources"][0]["findings"][0]
    assert first == {
        "category": "changed",
        "kind": "field",
        "message": first["message"],
        "path": "config.stripe_account_id",
        "table": None,
        "manifest": "acct_1",
        "posthog": "acct_2",
        "likely_changed_by": "unknown",
        "status": None,
        "latest_error": None,
        "last_synced_at": None,
        "frequency": None,
        "hint": None,
    }
    assert json.loads(render_drift(REPORT, "json", fail_on={Category.MISSING}))["failed"] is False


def test_markdown_escapes_posthog_text() -> None:
    markdown = render_drift_markdown(REPORT)
    assert markdown.startswith("### reconciler drift\n\nProject <code>12345</code> on <code>https://eu.posthog.com")
    assert "| 1 | 0 | 1 | 0 | 1 | 1 |" in markdown
    assert "<b>" not in markdown and "@team" not in markdown and "&#64;team" in markdown
    assert (
        "<details><summary><code>stripe_prod</code> (Stripe prefix <code>stripe_prod</code>): "
        "1 changed, 1 unsynced, 1 health</summary>" in markdown
    )


def test_markdown_fits_one_comment() -> None:
    many = tuple(
        SourceDrift(
            f"source_{i}",
            "Stripe",
            f"p{i}",
            f"id-{i}",
            tuple(Finding(Category.TABLES, "discovered", f"table T{j} " + "x" * 400, table=f"T{j}") for j in range(20)),
        )
        for i in range(300)
    )
    report = DriftReport("h", "1", "t", sources=many)
    markdown = render_drift_markdown(report)
    assert len(markdown) <= 65_536
    assert markdown.endswith("characters. Run `reconciler drift` for the full report.\n")
    shown = markdown.count("<details>")
    assert 0 < shown < 300 and f"> {300 - shown} of 300 sources are not shown" in markdown
    small = render_drift_markdown(report, limit=5_000)
    assert len(small) <= 5_000


def test_no_drift_and_unknown_format() -> None:
    empty = DriftReport("h", "1", "t", declared=3, live=4)
    expected = "No drift: 3 declared source(s) match PostHog, 4 live source(s) checked.\n"
    assert render_drift_text(empty).endswith(expected)
    with pytest.raises(ValueError, match="unknown drift format 'yaml'"):
        render_drift(empty, "yaml")  # type: ignore[arg-type]
