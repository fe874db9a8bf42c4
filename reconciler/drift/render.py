"""Render a DriftReport as text (terminal), markdown (one GitHub issue comment) or JSON (docs/drift-format.md).

All three read the same report. Pure: returns strings, never writes streams or reads the environment.
User and PostHog strings are made safe for their medium: control characters escaped in text
(`render_rows.clean`), markdown/HTML/mentions escaped in markdown (`render_rows.escape_markdown`).
Must not know: how findings are made, HTTP, streams.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from reconciler import __version__
from reconciler.drift.model import CATEGORIES, DRIFT_FORMAT_VERSION, Category, DriftReport, Finding, SourceDrift
from reconciler.plan.render_rows import GITHUB_COMMENT_LIMIT, clean, escape_markdown

__all__ = [
    "DRIFT_FORMATS",
    "MARKDOWN_TITLE",
    "drift_to_dict",
    "render_drift",
    "render_drift_json",
    "render_drift_markdown",
    "render_drift_text",
]

DriftFormat = Literal["text", "markdown", "json"]
DRIFT_FORMATS: tuple[DriftFormat, ...] = ("text", "markdown", "json")

#: Marker of the comment's first line: the scheduled job finds its issue by it (examples/ci/drift.yml).
MARKDOWN_TITLE = "### reconciler drift"

_SYMBOL = {
    Category.CHANGED: "~",
    Category.MISSING: "-",
    Category.UNMANAGED: "?",
    Category.TABLES: "~",
    Category.UNSYNCED: "·",
    Category.HEALTH: "!",
}
_FINDING_KEYS = (
    "path",
    "table",
    "manifest",
    "posthog",
    "likely_changed_by",
    "status",
    "latest_error",
    "last_synced_at",
    "frequency",
    "hint",
)
_WHO = {
    "manifest": "a manifest change not applied yet",
    "unknown": "who changed it: unknown",
}


# ---- JSON --------------------------------------------------------------------------------------------------


def _finding_dict(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {"category": f.category.value, "kind": f.kind, "message": f.message}
    for key in _FINDING_KEYS:
        out[key] = getattr(f, key)
    return out


def drift_to_dict(report: DriftReport, fail_on: Iterable[Category] = tuple(Category)) -> dict[str, Any]:
    """The versioned JSON document (docs/drift-format.md): every key always present, nulls where n/a."""
    chosen = [c.value for c in Category if c in set(fail_on)]
    return {
        "format_version": DRIFT_FORMAT_VERSION,
        "tool_version": __version__,
        "target": {"host": report.host, "project": report.project},
        "checked_at": report.checked_at,
        "drift": report.found(set(Category) - {Category.UNSYNCED}),
        "fail_on": chosen,
        "failed": report.found(Category(c) for c in chosen),
        "summary": {**report.counts(), "sources_declared": report.declared, "sources_live": report.live},
        "sources": [
            {
                "address": s.address,
                "source_type": s.source_type,
                "prefix": s.prefix,
                "source_id": s.source_id,
                "findings": [_finding_dict(f) for f in s.findings],
            }
            for s in report.sources
        ],
        "warnings": list(report.warnings),
    }


def render_drift_json(report: DriftReport, fail_on: Iterable[Category] = tuple(Category)) -> str:
    return json.dumps(drift_to_dict(report, fail_on), indent=2, ensure_ascii=False, default=str) + "\n"


# ---- text --------------------------------------------------------------------------------------------------


def _summary(report: DriftReport) -> str:
    counts = report.counts()
    if not report.found(set(Category) - {Category.UNSYNCED}):
        unsynced = counts[Category.UNSYNCED.value]
        also = f"; {unsynced} table(s) PostHog knows without syncing them (unsynced)" if unsynced else ""
        return (
            f"No drift: {report.declared} declared source(s) match PostHog, {report.live} live source(s) checked{also}."
        )
    return "Drift: " + ", ".join(f"{counts[c]} {c}" for c in CATEGORIES) + "."


def _finding_line(f: Finding) -> str:
    line = f.message
    if f.likely_changed_by:
        line += f" ({_WHO.get(f.likely_changed_by, f.likely_changed_by)})"
    if f.latest_error:
        line += f": {f.latest_error}"
    if f.hint:
        line += f"; import it with: {f.hint}"
    return line


def _source_title(s: SourceDrift) -> str:
    prefix = f"prefix {s.prefix}" if s.prefix else "no prefix"
    what = f"{s.source_type}, {prefix}"
    if s.source_id:
        what += f", id {s.source_id}"
    return f"{s.label} ({what})"


def render_drift_text(report: DriftReport, *, color: bool = False) -> str:
    lines = [clean(f"Drift check of project {report.project} on {report.host} at {report.checked_at}"), ""]
    for source in report.sources:
        lines.append(clean(_source_title(source)))
        for f in source.findings:
            symbol = _SYMBOL[f.category]
            tag = f"{symbol} {f.category.value:<9}"
            if color:
                code = "31" if f.category in (Category.HEALTH, Category.MISSING) else "33"
                tag = f"\x1b[{code}m{tag}\x1b[0m"
            lines.append(f"  {tag} {clean(_finding_line(f))}")
        lines.append("")
    for warning in report.warnings:
        lines.append(clean(f"Warning: {warning}"))
    if report.warnings:
        lines.append("")
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"


# ---- markdown ----------------------------------------------------------------------------------------------


def _code(text: str) -> str:
    return f"<code>{escape_markdown(text)}</code>"


def _md_finding(f: Finding) -> str:
    text = f"**{f.category.value}** {escape_markdown(f.message, 600)}"
    if f.likely_changed_by:
        text += f" ({escape_markdown(_WHO.get(f.likely_changed_by, f.likely_changed_by))})"
    if f.latest_error:
        text += f": {_code(f.latest_error)}"
    if f.hint:
        text += f"; import it with {_code(f.hint)}"
    return f"- {text}"


def _md_section(s: SourceDrift) -> str:
    counts: dict[str, int] = {}
    for f in s.findings:
        counts[f.category.value] = counts.get(f.category.value, 0) + 1
    what = ", ".join(f"{n} {c}" for c, n in counts.items())
    prefix = f" prefix {_code(s.prefix)}" if s.prefix else ""
    lines = [f"<details><summary>{_code(s.label)} ({escape_markdown(s.source_type)}{prefix}): {what}</summary>", ""]
    lines += [_md_finding(f) for f in s.findings]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def render_drift_markdown(report: DriftReport, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """One issue comment of at most `limit` characters; sources left out from the end when it is too long."""
    counts = report.counts()
    head = (
        "\n".join(
            [
                MARKDOWN_TITLE,
                "",
                f"Project {_code(report.project)} on {_code(report.host)}, checked {_code(report.checked_at)}",
                "",
                "| " + " | ".join(c.capitalize() for c in CATEGORIES) + " |",
                "|" + "---:|" * len(CATEGORIES),
                "| " + " | ".join(str(counts[c]) for c in CATEGORIES) + " |",
                "",
                f"**{escape_markdown(_summary(report), 400)}**",
                "",
            ]
        )
        + "\n"
    )
    tail = ""
    if report.warnings:
        tail = "**Warnings**\n\n" + "".join(f"- {escape_markdown(w)}\n" for w in report.warnings[:20]) + "\n"
    sections = [_md_section(s) for s in report.sources]
    if len(head) + len(tail) + sum(len(s) for s in sections) <= limit:
        return head + "".join(sections) + tail

    def note_for(left_out: int) -> str:
        return (
            f"> [!NOTE]\n> {left_out} of {len(sections)} sources are not shown: a comment is limited to "
            f"{limit:,} characters. Run `reconciler drift` for the full report.\n"
        )

    budget = limit - len(head) - len(tail) - len(note_for(len(sections)))
    kept: list[str] = []
    for section in sections:
        if len(section) > budget:
            break
        kept.append(section)
        budget -= len(section)
    comment = head + "".join(kept) + tail + note_for(len(sections) - len(kept))
    return comment if len(comment) <= limit else head[:limit]


def render_drift(
    report: DriftReport, fmt: DriftFormat, *, fail_on: Iterable[Category] = tuple(Category), color: bool = False
) -> str:
    if fmt == "text":
        return render_drift_text(report, color=color)
    if fmt == "markdown":
        return render_drift_markdown(report)
    if fmt == "json":
        return render_drift_json(report, fail_on)
    raise ValueError(f"unknown drift format {fmt!r}; expected one of {', '.join(DRIFT_FORMATS)}")
