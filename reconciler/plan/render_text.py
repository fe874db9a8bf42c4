"""Terraform-like text rendering of a Plan for a terminal (the rows themselves: `plan/render_rows.py`).

Reads a Plan, returns a string: no streams, no environment (the CLI decides `color`, and colours whole
`+`/`-`/`~` lines). Secrets are shown only as their status (`(secret: will be re-sent)`); `Secret.reveal()`
is never called. User-provided strings are stripped of terminal control characters before they reach the output.
"""

from __future__ import annotations

from reconciler.plan.model import Action, Plan
from reconciler.plan.render_rows import (
    HEADERS,
    Row,
    change_header,
    change_rows,
    clean,
    format_value,
    shown_changes,
    split_warnings,
    step_line,
    summary_line,
    unlisted,
)
from reconciler.plan.steps import source_label

__all__ = [
    "HEADERS",
    "change_header",
    "clean",
    "format_value",
    "render_text",
    "row_line",
    "shown_changes",
    "step_line",
    "summary_line",
]

#: Per line symbol (and per action, for headers): green adds, red removes, yellow changes.
_SYMBOL_COLORS = {"+": "32", "-": "31", "~": "33", "-/+": "35", "=": "2"}
_ACTION_COLORS = {a: _SYMBOL_COLORS[HEADERS[a][0].strip()] for a in Action}
_RED, _YELLOW, _BOLD = "31", "33", "1"
_INDENT = 6  # a change's body starts under its address; each block indents 4 more


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def row_line(row: Row) -> str:
    """A body row as its plain terminal line: `      ~ tables {`, `          + sync = true`, `        }`."""
    indent = " " * (_INDENT + 4 * row.depth)
    if row.closing:
        return f"{indent}  {row.text}"
    return f"{indent}{row.symbol} {row.text}" if row.symbol else f"{indent}{row.text}"


def _painted(row: Row, color: bool) -> str:
    line = row_line(row)
    if row.text.startswith("! "):
        return _paint(line, _RED + ";" + _BOLD, color)
    code = _SYMBOL_COLORS.get(row.symbol.strip())
    return _paint(line, code, color) if code else line


def _label(source_type: str, prefix: str | None) -> str:
    return clean(source_label(source_type, prefix))


def _sections(plan: Plan, color: bool) -> list[str]:
    out: list[str] = []
    if plan.unmanaged:
        out.append("Unmanaged sources (no ownership trailer, in no manifest: reported, never touched):")
        out.extend(f"  ? {_label(u.source_type, u.prefix)} (source {clean(u.source_id)})" for u in plan.unmanaged)
        out.append("")
    if plan.orphaned:
        out.append("Orphaned sources (managed by reconciler, no longer declared: deleted only with --prune):")
        out.extend(
            f"  ? {clean(o.address)}: {_label(o.source_type, o.prefix)} (source {clean(o.source_id)})"
            for o in plan.orphaned
        )
        out.append("")
    found = unlisted(plan)
    if found:
        out.append("Unlisted tables (in PostHog, not in the manifest; unlisted_tables: report):")
        out.extend(f"  {u.address}: {', '.join(u.tables)}" for u in found)
        out.append("")
    if plan.errors:
        out.append(_paint(f"Errors ({len(plan.errors)}): apply will refuse this plan", _RED + ";" + _BOLD, color))
        for error in plan.errors:
            subject = f"{clean(error.address)}: " if error.address else ""
            out.append(f"  {_paint(f'error[{clean(error.reference)}]', _RED, color)} {subject}{clean(error.message)}")
        out.append("")
    warnings = split_warnings(plan)[1]
    if warnings:
        out.append(_paint("Warnings:", _YELLOW + ";" + _BOLD, color))
        out.extend(f"  {_paint('warning:', _YELLOW, color)} {w}" for w in warnings)
        out.append("")
    return out


def render_text(plan: Plan, *, color: bool = False, verbose: bool = False) -> str:
    """The plan for a terminal: changes (destructive first), then what is only reported, errors, warnings and
    the summary line last. `verbose` adds each change's exact API steps. Without `color`, no escape codes."""
    where = f"project {clean(plan.project)} at {clean(plan.host)}"
    if plan.environment is not None:
        where = f"environment {clean(plan.environment)}: {where}"
    out = [f"reconciler plan for {where}", ""]
    for notice in split_warnings(plan)[0]:
        out += [f"{_paint('Warning:', _YELLOW + ';' + _BOLD, color)} {notice}", ""]
    for change in shown_changes(plan):
        head, rest = change_header(change)
        out.append(_paint(f"{head}  {rest}", _ACTION_COLORS[change.action] + ";" + _BOLD, color))
        out.extend(_painted(row, color) for row in change_rows(change, verbose=verbose))
        out.append("")
    out.extend(_sections(plan, color))
    out.append(_paint(summary_line(plan), _BOLD, color))
    return "\n".join(out) + "\n"
