"""Apply reporters and report renderings: what a person (or a machine) sees of an apply."""

from __future__ import annotations

import io
import json

from reconciler.apply.executor import ApplyReport, StepResult, StepStatus
from reconciler.apply.report import LineReporter, ProgressReporter, render_report_json, render_report_text
from reconciler.plan.model import Action, Plan, SourceChange
from reconciler.plan.render_text import render_text
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
)

STEPS = (
    DeleteSource("old", "id-1"),
    PatchSchemas("stripe_prod", "id-2", (SchemaUpdate("Customer", "s-1", {"should_sync": True}),)),
    ReloadSource("stripe_prod", "id-2"),
)
RESULTS = (
    StepResult(STEPS[0], StepStatus.SUCCEEDED, attempts=1, duration=0.2),
    StepResult(STEPS[1], StepStatus.FAILED, error="PATCH …: 400: Sync type must be set up first", attempts=1),
    StepResult(STEPS[2], StepStatus.SKIPPED, error="skipped: patch_schemas failed"),
)


def test_line_and_progress_reporters_print_one_line_per_step() -> None:
    for reporter_class in (LineReporter, ProgressReporter):
        stream = io.StringIO()
        reporter = reporter_class(stream)
        reporter.run_started(len(STEPS))
        for result in RESULTS:
            reporter.step_started(result.step)
            reporter.step_finished(result)
        reporter.run_finished()
        lines = [line for line in stream.getvalue().splitlines() if line.strip()]
        # The plan's words for each step (render_text.step_line), nothing else.
        assert lines[0].startswith("old: delete_source [id-1] … ok"), (reporter_class, lines)
        assert lines[1] == "stripe_prod: patch_schemas [id-2]: Customer: should_sync … FAILED"
        assert lines[2] == "stripe_prod: reload_source [id-2] … skipped"
        assert "\x1b[" not in stream.getvalue()  # not a terminal: no escape codes


def test_text_and_json_reports() -> None:
    report = ApplyReport(RESULTS, requests=3)
    text = render_report_text(report)
    assert "✗ stripe_prod" in text and "Sync type must be set up first" in text
    assert text.splitlines()[-2].startswith("Apply FAILED: 1 step succeeded, 1 failed, 1 skipped")
    document = json.loads(render_report_json(report))
    assert document["ok"] is False and document["requests"] == 3
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
    logged = [line.removeprefix("s: ").removesuffix(" … skipped") for line in stream.getvalue().splitlines()]
    assert logged[1] == "create_source (Stripe, prefix p\\u001b[31m; fields: auth_method; tables: Customer)"
    for n, words in enumerate(logged, start=1):
        assert f"        {n}. {words}\n" in plan_text
    assert "\x1b" not in stream.getvalue() + plan_text
