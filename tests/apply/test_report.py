"""Apply reporters and report renderings: what a person (or a machine) sees of an apply."""

from __future__ import annotations

import io
import json

from reconciler.apply.executor import ApplyReport, StepResult, StepStatus
from reconciler.apply.report import LineReporter, ProgressReporter, render_report_json, render_report_text
from reconciler.plan.model import DeleteSource, PatchSchemas, ReloadSource, SchemaUpdate

STEPS = (
    DeleteSource("old", "id-1"),
    PatchSchemas("stripe_prod", "id-2", (SchemaUpdate("Customer", "s-1", {"should_sync": True}),)),
    ReloadSource("stripe_prod", "id-2"),
)
RESULTS = (
    StepResult(STEPS[0], StepStatus.SUCCEEDED, attempts=1, duration=0.2),
    StepResult(STEPS[1], StepStatus.FAILED, error="PATCH …: 400: Sync type must be set up first", attempts=1),
    StepResult(STEPS[2], StepStatus.SKIPPED, error="skipped: update 1 table(s) failed"),
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
        assert lines[0].startswith("old: delete source … ok"), (reporter_class, lines)
        assert lines[1] == "stripe_prod: update 1 table(s) … FAILED"
        assert lines[2] == "stripe_prod: reload (sync now) … skipped"
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
