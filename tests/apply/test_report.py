"""Apply reporters and report renderings: what a person (or a machine) sees of an apply."""

from __future__ import annotations

import io
import json

from reconciler.apply.executor import ApplyReport, StepResult, StepStatus
from reconciler.apply.report import LineReporter, ProgressReporter, render_report_json, render_report_text
from reconciler.plan.model import Action, FieldDiff, Plan, SourceChange
from reconciler.plan.render_text import clean, render_text
from reconciler.plan.steps import (
    STEP_TYPES,
    CreateSource,
    DeleteSource,
    OwnedDescription,
    PatchRevenueConfig,
    PatchSchemas,
    PatchSource,
    RefreshSchemas,
    ReloadSource,
    SchemaUpdate,
    describe_effect,
)

STEPS = (
    DeleteSource("old", "id-1"),
    PatchSchemas("stripe_prod", "id-2", (SchemaUpdate("Customer", "s-1", {"should_sync": True}),)),
    ReloadSource("stripe_prod", "id-2"),
)
PLAN = Plan(
    "h",
    "1",
    (
        SourceChange("old", "Zendesk", "zd", Action.DELETE, steps=STEPS[:1]),
        SourceChange(
            "stripe_prod",
            "Stripe",
            "stripe_prod",
            Action.UPDATE,
            field_diffs=(FieldDiff("tables.Customer.should_sync", False, True),),
            steps=STEPS[1:],
        ),
    ),
)
RESULTS = (
    StepResult(STEPS[0], StepStatus.SUCCEEDED, attempts=1, duration=0.2),
    StepResult(STEPS[1], StepStatus.FAILED, error="PATCH …: 400: Sync type must be set up first", attempts=1),
    StepResult(STEPS[2], StepStatus.SKIPPED, error="skipped: patch_schemas failed"),
)


def test_line_and_progress_reporters_print_one_line_per_step() -> None:
    for reporter_class in (LineReporter, ProgressReporter):
        for timings in (True, False):
            stream = io.StringIO()
            reporter = reporter_class(stream, timings=timings)
            reporter.run_started(PLAN)
            for result in RESULTS:
                reporter.step_started(result.step)
                reporter.step_finished(result)
            reporter.run_finished()
            lines = [line for line in stream.getvalue().splitlines() if line.strip()]
            # What each step changed, in the manifest's words (`sync`, not `should_sync`), old → new from the plan.
            ok, failed = (" (0.2s)", " (0.0s)") if timings else ("", "")
            assert lines[0] == f"old: delete the source [id-1] and its synced tables … ok{ok}", (reporter_class, lines)
            assert lines[1] == f"stripe_prod: tables Customer: sync false → true … FAILED{failed}"
            assert lines[2] == "stripe_prod: start a sync of the synced tables … skipped"
            assert "\x1b[" not in stream.getvalue()  # not a terminal: no escape codes


def test_text_and_json_reports() -> None:
    report = ApplyReport(RESULTS, requests=3)
    text = render_report_text(report)
    assert "✗ stripe_prod" in text and "Sync type must be set up first" in text
    assert text.splitlines()[-2].startswith("Apply FAILED: 1 step succeeded, 1 failed, 1 skipped")
    document = json.loads(render_report_json(report, PLAN))
    assert document["ok"] is False and document["requests"] == 3
    assert document["steps"][1]["effect"] == "tables Customer: sync false → true"
    assert document["steps"][0]["duration_seconds"] == 0.2
    assert json.loads(render_report_json(report, PLAN, timings=False))["steps"][0]["duration_seconds"] == 0.0
    assert [(s["kind"], s["status"]) for s in document["steps"]] == [
        ("delete_source", "succeeded"),
        ("patch_schemas", "failed"),
        ("reload_source", "skipped"),
    ]


def test_the_plan_and_the_apply_log_describe_a_step_with_the_same_words() -> None:
    owned = OwnedDescription("text", "s", "0" * 12)
    steps = (
        DeleteSource("s", "old-id"),
        CreateSource("s", None, "Stripe", "p\x1b[31m", owned, {"auth_method": {}}, ({"name": "Customer"},)),
        PatchSource("s", None, {"description": owned, "job_inputs": {"host": "h"}}),
        RefreshSchemas("s", None),
        PatchSchemas("s", None, (SchemaUpdate("Customer", None, {"should_sync": True}),)),
        PatchRevenueConfig("s", None, {"enabled": False}),
        ReloadSource("s", None),
    )
    assert {type(s) for s in steps} == set(STEP_TYPES.values())
    plan = Plan("h", "1", (SourceChange("s", "Stripe", "p", Action.REPLACE, steps=steps),))
    plan_text = render_text(plan, verbose=True)  # the steps are shown with --verbose
    stream = io.StringIO()
    reporter = LineReporter(stream)
    for step in steps:
        reporter.step_finished(StepResult(step, StepStatus.SKIPPED))
    # The report names each step's API call in the plan's words (plan/steps.py's describe_step) ...
    report = render_report_text(ApplyReport(tuple(StepResult(s, StepStatus.SKIPPED) for s in steps)))
    reported = [line[len("    skipped     ") :] for line in report.splitlines() if line.startswith("    skipped")]
    assert reported[1] == "create_source (Stripe, prefix p\\u001b[31m; fields: auth_method; tables: Customer)"
    for n, words in enumerate(reported, start=1):
        assert f"        {n}. {words}\n" in plan_text
    # ... and the log line says what it changes, in the manifest's words (describe_effect, the same module).
    logged = [line.removeprefix("s: ").removesuffix(" … skipped") for line in stream.getvalue().splitlines()]
    assert logged == [clean(describe_effect(s)) for s in steps]
    assert logged[1] == "create (Stripe, prefix p\\u001b[31m): config auth_method; tables Customer"
    assert logged[2] == "description = text; config host = h"
    assert "\x1b" not in stream.getvalue() + plan_text + report
