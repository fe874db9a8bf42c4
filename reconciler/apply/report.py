"""Apply reports for people and machines, and the line-per-step progress reporter. Pure rendering,
except `LineReporter`, which writes to the stream it is given."""

from __future__ import annotations

import json
import threading
from typing import Any, TextIO

from reconciler.apply.executor import ApplyReport, NullReporter, StepResult, StepStatus
from reconciler.plan.render_text import step_line
from reconciler.plan.steps import Step, describe_step, step_kind
from reconciler.wording import count

__all__ = [
    "REPORT_FORMAT_VERSION",
    "LineReporter",
    "ProgressReporter",
    "render_report_json",
    "render_report_text",
]

REPORT_FORMAT_VERSION = 1
_MARK = {
    StepStatus.SUCCEEDED: "ok",
    StepStatus.FAILED: "FAILED",
    StepStatus.SKIPPED: "skipped",
    StepStatus.NOT_STARTED: "not started",
}


class LineReporter(NullReporter):
    """One line per finished step (`address: what … ok`), thread-safe; for logs and non-TTY runs."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def step_finished(self, result: StepResult) -> None:
        line = f"{result.step.address}: {step_line(result.step)} … {_MARK[result.status]}"
        if result.status is StepStatus.SUCCEEDED:
            line += f" ({result.duration:.1f}s)"
        with self._lock:
            print(line, file=self.stream, flush=True)


class ProgressReporter(NullReporter):
    """A live progress bar (rich) for terminals: one bar over all steps, finished steps printed above it."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(file=stream)
        self.progress = Progress(
            TextColumn("[bold]Applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}", markup=False), console=self.console, transient=True,
        )  # fmt: skip
        self.task = self.progress.add_task("", total=0)

    def run_started(self, total_steps: int) -> None:
        self.progress.update(self.task, total=total_steps)
        self.progress.start()

    def run_finished(self) -> None:
        self.progress.stop()

    def step_started(self, step: Step) -> None:
        self.progress.update(self.task, description=f"{step.address}: {step_line(step)}")

    def step_finished(self, result: StepResult) -> None:
        from rich.text import Text

        style = {StepStatus.SUCCEEDED: "green", StepStatus.FAILED: "bold red"}.get(result.status, "yellow")
        line = Text(f"{result.step.address}: {step_line(result.step)} … ")
        line.append(_MARK[result.status], style=style)
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


def render_report_json(report: ApplyReport) -> str:
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
                "status": r.status.value,
                "error": r.error,
                "note": r.note,
                "attempts": r.attempts,
                "duration_seconds": round(r.duration, 3),
            }
            for r in report.results
        ],
    }
    return json.dumps(document, indent=2) + "\n"
