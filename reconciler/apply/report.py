"""Apply reports for people and machines, and the line-per-step progress reporters. Pure rendering, except the
reporters, which write to the stream they are given.

The progress line of a step says what it changed in the manifest's words (`plan/steps.py`'s `describe_effect`,
old values from the plan's field diffs): `app_db: tables accounts: frequency 6hour → 1hour … ok (0.1s)`. The
reports name each step's API call (`describe_step`, the plan's words). Durations are measurements, not outputs
of the inputs: with `timings` off (the CLI turns them off when SOURCE_DATE_EPOCH fixes the clock) the lines
carry none and `duration_seconds` is 0, so the output is the same bytes run after run."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, TextIO

from reconciler.apply.executor import ApplyReport, NullReporter, StepResult, StepStatus
from reconciler.plan.model import Plan
from reconciler.plan.render_text import clean, step_line
from reconciler.plan.steps import Step, describe_effect, describe_step, step_kind
from reconciler.wording import count

__all__ = [
    "REPORT_FORMAT_VERSION",
    "LineReporter",
    "ProgressReporter",
    "render_report_json",
    "render_report_text",
    "values_before",
]

REPORT_FORMAT_VERSION = 1
_MARK = {
    StepStatus.SUCCEEDED: "ok",
    StepStatus.FAILED: "FAILED",
    StepStatus.SKIPPED: "skipped",
    StepStatus.NOT_STARTED: "not started",
}


def values_before(plan: Plan | None) -> dict[str, dict[str, Any]]:
    """Address → field path → value before the apply, from the plan's field diffs (secrets carry none)."""
    out: dict[str, dict[str, Any]] = {}
    for change in plan.changes if plan is not None else ():
        out[change.address] = {d.path: d.old for d in change.field_diffs if not d.secret}
    return out


def _effect(step: Step, before: Mapping[str, Mapping[str, Any]]) -> str:
    """`address: what it changes`, terminal-safe."""
    return clean(f"{step.address}: {describe_effect(step, before.get(step.address))}")


def _timing(result: StepResult, timings: bool) -> str:
    ran = result.status in (StepStatus.SUCCEEDED, StepStatus.FAILED)
    return f" ({result.duration:.1f}s)" if timings and ran else ""


class LineReporter(NullReporter):
    """One line per finished step (`address: what it changed … ok (0.1s)`), thread-safe; for logs and non-TTY
    runs. Lines come in the order steps finish (chains run in parallel): `--parallelism 1` gives plan order."""

    def __init__(self, stream: TextIO, *, timings: bool = True) -> None:
        self.stream = stream
        self.timings = timings
        self._before: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def run_started(self, plan: Plan) -> None:
        self._before = values_before(plan)

    def step_finished(self, result: StepResult) -> None:
        line = f"{_effect(result.step, self._before)} … {_MARK[result.status]}{_timing(result, self.timings)}"
        with self._lock:
            print(line, file=self.stream, flush=True)


class ProgressReporter(NullReporter):
    """A live progress bar (rich) for terminals: one bar over all steps, finished steps printed above it."""

    def __init__(self, stream: TextIO, *, timings: bool = True) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(file=stream)
        self.progress = Progress(
            TextColumn("[bold]Applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}", markup=False), console=self.console, transient=True,
        )  # fmt: skip
        self.task = self.progress.add_task("", total=0)
        self.timings = timings
        self._before: dict[str, dict[str, Any]] = {}

    def run_started(self, plan: Plan) -> None:
        self._before = values_before(plan)
        self.progress.update(self.task, total=sum(len(c.steps) for c in plan.changes))
        self.progress.start()

    def run_finished(self) -> None:
        self.progress.stop()

    def step_started(self, step: Step) -> None:
        self.progress.update(self.task, description=_effect(step, self._before))

    def step_finished(self, result: StepResult) -> None:
        from rich.text import Text

        style = {StepStatus.SUCCEEDED: "green", StepStatus.FAILED: "bold red"}.get(result.status, "yellow")
        line = Text(f"{_effect(result.step, self._before)} … ")
        line.append(_MARK[result.status], style=style)
        line.append(_timing(result, self.timings))
        self.progress.console.print(line, highlight=False)
        self.progress.advance(self.task)


def render_report_text(report: ApplyReport) -> str:
    lines: list[str] = []
    for address, results in report.by_address().items():
        failed = any(r.status is StepStatus.FAILED for r in results)
        lines.append(f"{'✗' if failed else '✓'} {address}")
        for r in results:
            lines.append(f"    {_MARK[r.status]:<11} {step_line(r.step)}")
            if r.error:
                lines.append(f"                {r.error}")
            if r.note:
                lines.append(f"                note: {r.note}")
    counts = report.counts()
    verdict = "Apply complete" if report.ok else "Apply FAILED"
    lines.append(
        f"{verdict}: {count(counts['succeeded'], 'step')} succeeded, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {counts['not_started']} not started; {count(report.requests, 'API request')}."
    )
    if not report.ok:
        lines.append("Run `reconciler plan` to see what is left; a re-run of apply continues from there.")
    return "\n".join(lines) + "\n"


def render_report_json(report: ApplyReport, plan: Plan | None = None, *, timings: bool = True) -> str:
    """The `--format json` report (docs/apply-format.md); `plan` gives each step's `effect` its old values."""
    before = values_before(plan)
    document: dict[str, Any] = {
        "format_version": REPORT_FORMAT_VERSION,
        "ok": report.ok,
        "requests": report.requests,
        "summary": report.counts(),
        "steps": [
            {
                "address": r.step.address,
                "kind": step_kind(r.step),
                "description": describe_step(r.step),
                "effect": describe_effect(r.step, before.get(r.step.address)),
                "status": r.status.value,
                "error": r.error,
                "note": r.note,
                "attempts": r.attempts,
                "duration_seconds": round(r.duration, 3) if timings else 0.0,
            }
            for r in report.results
        ],
    }
    return json.dumps(document, indent=2) + "\n"
