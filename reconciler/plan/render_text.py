"""Terraform-like text rendering of a Plan, and the per-change lines the markdown renderer reuses.

Reads a Plan, returns a string: no streams, no environment (the CLI decides `color`). Secrets are shown
only as their status (`(secret: will be re-sent)`) or as `(secret)`; `Secret.reveal()` is never called.
User-provided strings are stripped of terminal control characters before they reach the output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

from reconciler.plan.model import Action, FieldDiff, Plan, SecretStatus, SourceChange
from reconciler.plan.steps import OwnedDescription, Step, describe_step, source_label
from reconciler.secret import SECRET_MASK, Secret

__all__ = [
    "HEADERS",
    "change_body",
    "change_header",
    "clean",
    "format_value",
    "render_text",
    "shown_changes",
    "step_line",
    "summary_line",
]

#: Per action: the symbol column and the verb (replace is delete-then-create: `-/+`).
HEADERS: Mapping[Action, tuple[str, str]] = {
    Action.CREATE: ("  +", "create"),
    Action.UPDATE: ("  ~", "update"),
    Action.REPLACE: ("-/+", "replace"),
    Action.DELETE: ("  -", "delete"),
    Action.NOOP: ("  =", "no-op"),
}

_COLORS = {
    Action.CREATE: "32",  # green
    Action.UPDATE: "33",  # yellow
    Action.REPLACE: "35",  # magenta
    Action.DELETE: "31",  # red
    Action.NOOP: "2",  # dim
}
_RED, _YELLOW, _BOLD = "31", "33", "1"

_INDENT = "      "
# C0/C1 controls (ESC, CSI, ...) and bidirectional overrides ("Trojan Source") in user-provided text.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """`text` with control characters written as `\\uXXXX`, so no user string can drive the terminal."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def format_value(value: Any) -> str:
    """A compact JSON-like spelling of a value for humans; a Secret is `(secret)` whatever it holds."""
    if isinstance(value, Secret):
        return SECRET_MASK
    if isinstance(value, OwnedDescription):
        return format_value(value.user_text)
    if isinstance(value, Enum):
        return format_value(value.value)
    if isinstance(value, str):
        return clean(json.dumps(value, ensure_ascii=False))
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{format_value(str(k))}: {format_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return clean(repr(value))


def _source_label(source_type: str, prefix: str | None) -> str:
    return clean(source_label(source_type, prefix))


def change_header(change: SourceChange) -> tuple[str, str]:
    """(`  + create`, `stripe_prod (Stripe, prefix stripe_prod)` + ` [protected]`)."""
    symbol, verb = HEADERS[change.action]
    rest = f"{clean(change.address)} ({_source_label(change.source_type, change.prefix)})"
    if change.protected:
        rest += " [protected]"
    return f"{symbol} {verb}", rest


def _secret_text(status: SecretStatus, action: Action | None = None) -> str:
    if status is SecretStatus.UNCHANGED:
        return "(secret: unchanged)"
    verb = "will be sent" if action in (Action.CREATE, Action.REPLACE) else "will be re-sent"  # nothing to re-send
    # MISSING: the value is not set where the plan ran (a pull-request plan has none); apply must have it.
    return f"(secret: {verb}, value not set here)" if status is SecretStatus.MISSING else f"(secret: {verb})"


def _diff_line(diff: FieldDiff, status: SecretStatus, path: str, action: Action | None = None) -> str:
    if diff.secret:
        return f"{clean(path)}: {_secret_text(status, action)}"
    return f"{clean(path)}: {format_value(diff.old)} → {format_value(diff.new)}"


def _names(items: Any) -> str:
    return ", ".join(clean(str(i)) for i in items)


def step_line(step: Step) -> str:
    """One line naming the API call and what it touches (`plan/steps.py`'s words, made terminal-safe)."""
    return clean(describe_step(step))


def change_body(change: SourceChange) -> list[str]:
    """The lines under a change's header (no indentation, no colour), in reading order: data-loss
    warning, impact, reasons, field diffs, table diffs, unlisted tables, then the exact steps."""
    lines: list[str] = []
    if change.action is Action.REPLACE:
        lines.append("! drops data: the source and its synced tables are deleted, then created again")
    elif change.action is Action.DELETE:
        lines.append("! drops data: the source and its synced tables are deleted")
    if change.impacts:
        ranked = sorted(change.impacts, key=lambda i: i.rank, reverse=True)
        lines.append(f"impact: {', '.join(i.value for i in ranked)}")
    lines.extend(f"reason: {clean(r)}" for r in change.reasons)
    fields = [d for d in change.field_diffs if not d.path.startswith("tables.")]
    tables = [d for d in change.field_diffs if d.path.startswith("tables.")]
    lines.extend(_diff_line(d, change.secret_status, d.path, change.action) for d in fields)
    if change.secret_status is not SecretStatus.UNCHANGED and not any(d.secret for d in change.field_diffs):
        lines.append(f"secrets: {_secret_text(change.secret_status, change.action)[len('(secret: ') : -1]}")
    if tables:
        lines.append("tables:")
        lines.extend("  " + _diff_line(d, change.secret_status, d.path.removeprefix("tables.")) for d in tables)
    if change.unlisted_tables:
        lines.append(f"unlisted tables (live, not in the manifest): {_names(change.unlisted_tables)}")
    if change.steps:
        lines.append("steps:")
        lines.extend(f"  {n}. {step_line(s)}" for n, s in enumerate(change.steps, start=1))
    return lines


def shown_changes(plan: Plan) -> list[SourceChange]:
    """Changes worth a section: everything but no-ops, plus no-ops that report unlisted tables."""
    return [c for c in plan.changes if c.action is not Action.NOOP or c.unlisted_tables]


def summary_line(plan: Plan) -> str:
    counts = plan.summary()
    if not plan.has_changes:
        return f"No changes. {counts['unchanged']} unchanged."
    return (
        f"Plan: {counts['create']} to create, {counts['update']} to update, {counts['replace']} to replace, "
        f"{counts['delete']} to delete, {counts['unchanged']} unchanged."
    )


def render_text(plan: Plan, *, color: bool = False) -> str:
    """The plan for a terminal. With `color` False the output holds no escape codes at all."""
    out = [f"reconciler plan for project {clean(plan.project)} at {clean(plan.host)}", ""]
    for change in shown_changes(plan):
        symbol, rest = change_header(change)
        out.append(f"{_paint(symbol, _COLORS[change.action] + ';' + _BOLD, color)}  {rest}")
        for line in change_body(change):
            painted = _paint(line, _RED + ";" + _BOLD, color) if line.startswith("! ") else line
            out.append(_INDENT + painted)
        out.append("")
    if plan.unmanaged:
        out.append("Unmanaged sources (no ownership trailer, in no manifest: reported, never touched):")
        out.extend(
            f"  ? {_source_label(u.source_type, u.prefix)} (source {clean(u.source_id)})" for u in plan.unmanaged
        )
        out.append("")
    if plan.orphaned:
        out.append("Orphaned sources (managed by reconciler, no longer declared: deleted only with --prune):")
        out.extend(
            f"  ? {clean(o.address)}: {_source_label(o.source_type, o.prefix)} (source {clean(o.source_id)})"
            for o in plan.orphaned
        )
        out.append("")
    if plan.errors:
        out.append(_paint(f"Errors ({len(plan.errors)}): apply will refuse this plan", _RED + ";" + _BOLD, color))
        for error in plan.errors:
            subject = f"{clean(error.address)}: " if error.address else ""
            out.append(f"  {_paint(f'error[{clean(error.reference)}]', _RED, color)} {subject}{clean(error.message)}")
        out.append("")
    if plan.warnings:
        out.append(_paint("Warnings:", _YELLOW + ";" + _BOLD, color))
        out.extend(f"  {_paint('warning:', _YELLOW, color)} {clean(w)}" for w in plan.warnings)
        out.append("")
    out.append(_paint(summary_line(plan), _BOLD, color))
    return "\n".join(out) + "\n"
