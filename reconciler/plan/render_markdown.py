"""Markdown rendering of a Plan: one GitHub pull-request comment, never over GitHub's 65,536-character limit.

A one-line headline (`Plan: 3 to create, 1 to update (impact: full-resync), …`), then errors and data-loss
warnings, then the changes in a ```` ```diff ```` block so GitHub colours the lines: the text renderer's rows
with each line's `+`/`-`/`~` moved to the first column (`~` written `!`, which GitHub's diff highlighter
colours as a change). A long plan gets one collapsed `<details>` per source instead (destructive ones open).
When the comment would be too long, whole sections are left out from the end and a closing note says how many
and where the full plan is. Outside code blocks, user strings are escaped only where markdown or HTML would
misrender them (`escape_markdown`); inside, only a fence longer than any backtick run is needed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reconciler.plan.model import Plan, PlanError, SourceChange
from reconciler.plan.render_rows import (
    GITHUB_COMMENT_LIMIT,
    Row,
    change_header,
    change_rows,
    escape_markdown,
    shown_changes,
    split_warnings,
    summary_line,
    unlisted,
)
from reconciler.plan.render_text import row_line
from reconciler.records import record
from reconciler.wording import count

__all__ = ["GITHUB_COMMENT_LIMIT", "MarkdownOptions", "escape_markdown", "render_failed_markdown", "render_markdown"]


@record
class MarkdownOptions:
    """What the comment says about deletes: whether the plan carries the opt-in (`plan --allow-delete`), and
    `delete_hint`, trusted markdown naming the opt-in where the plan is reviewed (e.g. a pull-request label)."""

    allow_delete: bool = False
    delete_hint: str | None = None


#: Longest body one source's section may have before its own lines are cut.
SECTION_LIMIT = 12_000
#: A plan with more diff lines than this (or more sources than _LONG_SOURCES) gets a collapsed section per source.
_LONG_LINES = 60
_LONG_SOURCES = 8
#: At most this many items in the errors / warnings / unmanaged / drops-data lists before "and N more".
LIST_LIMIT = 20


def _title(plan: Plan) -> list[str]:
    """The heading and target. With an environment, the heading names it: each environment's comment is its own
    (a CI matrix finds its comment by this first line)."""
    if plan.environment is None:
        return ["### reconciler plan", "", f"Project {_code(plan.project)} on {_code(plan.host)}"]
    return [
        f"### reconciler plan ({escape_markdown(plan.environment)})",
        "",
        f"Environment {_code(plan.environment)}: project {_code(plan.project)} on {_code(plan.host)}",
    ]


def _code(text: str) -> str:
    return f"<code>{escape_markdown(text)}</code>"


def _capped(items: Sequence[str], what: str) -> list[str]:
    shown = list(items[:LIST_LIMIT])
    if len(items) > LIST_LIMIT:
        shown.append(f"… and {len(items) - LIST_LIMIT} more {what} (see the full plan)")
    return shown


def _prefix(prefix: str | None) -> str:
    return f"prefix {_code(prefix)}" if prefix else "no prefix"


def _fence(lines: Sequence[str]) -> str:
    """A code fence longer than any backtick run inside, so no user string can close it early."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


_MOVABLE = re.compile(r"^( *)([-+~])(?= )")


def _diff_line(line: str) -> str:
    """A text line as a ```diff line: its symbol moved to the first column (`~` as `!`, coloured as a change),
    everything else starting with a space so GitHub never reads it as a diff marker."""
    moved = _MOVABLE.sub(lambda m: ("!" if m.group(2) == "~" else m.group(2)) + m.group(1), line, count=1)
    return moved if moved[:1] in ("+", "-", "!", " ", "") else " " + moved


def _change_lines(change: SourceChange, verbose: bool, *, dedent: int = 0) -> list[str]:
    """The header and body lines as in the terminal, as diff lines; `dedent` removes the body's indentation
    (in a source's own section, under a summary that is its header)."""
    head, rest = change_header(change)
    rows = (row_line(r)[dedent:] for r in change_rows(change, verbose=verbose))
    return [_diff_line(f"{head}  {rest}"), *map(_diff_line, rows)]


def _cut(lines: list[str]) -> list[str]:
    if sum(len(line) + 1 for line in lines) <= SECTION_LIMIT:
        return lines
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > SECTION_LIMIT - 100:
            break
        kept.append(line)
        size += len(line) + 1
    return [*kept, f" … {len(lines) - len(kept)} more lines not shown (see the full plan)"]


def _diff_block(lines: Sequence[str]) -> list[str]:
    fence = _fence(lines)
    return [fence + "diff", *lines, fence]


def _section(change: SourceChange, verbose: bool) -> str:
    """One source's collapsed section (destructive ones open), its lines in a diff block."""
    head, rest = change_header(change)
    summary = f"<b>{escape_markdown(head.strip())}</b> {escape_markdown(rest.removesuffix(' [protected]'))}"
    notes = ["protected"] if change.protected else []
    notes += [change.headline_impact.value] if change.headline_impact is not None else []
    summary += "".join(f" · {escape_markdown(n)}" for n in notes)
    opened = " open" if change.action.is_destructive else ""
    block = _diff_block(_cut(_change_lines(change, verbose, dedent=len(row_line(Row(""))))[1:]))
    return "\n".join([f"<details{opened}><summary>{summary}</summary>", "", *block, "", "</details>", ""])


def _one_block(changes: Sequence[SourceChange], verbose: bool) -> str | None:
    """Every change in one diff block, when the plan is short enough to read without folding (None otherwise,
    found without rendering more than the short plan's worth)."""
    if len(changes) > _LONG_SOURCES:
        return None
    lines: list[str] = []
    for change in changes:
        lines += [*_change_lines(change, verbose), ""]
        if len(lines) > _LONG_LINES or sum(map(len, lines)) > SECTION_LIMIT:
            return None
    return "\n".join(_diff_block(lines[:-1])) + "\n"


def _sections(changes: Sequence[SourceChange], verbose: bool, room: int) -> tuple[list[str], bool]:
    """Sections from the start while they fit in `room` characters, and whether every one did. Rendering stops
    at the first that does not: a plan of thousands of sources costs what one comment shows."""
    kept: list[str] = []
    for change in changes:
        section = _section(change, verbose) + "\n"
        if len(section) > room:
            return kept, False
        kept.append(section)
        room -= len(section)
    return kept, True


def _error_item(error: PlanError) -> str:
    """`file:line:column`: address.field: message (reference), then the hint: everything needed to fix it."""
    where = f"{_code(error.location)}: " if error.location else ""
    subject = ".".join(p for p in (error.address, error.field) if p)
    item = (
        f"{where}{_code(subject) + ': ' if subject else ''}{escape_markdown(error.message)} ({_code(error.reference)})"
    )
    return item + (f"<br>hint: {escape_markdown(error.hint)}" if error.hint else "")


def _errors(plan: Plan, headline: str) -> list[str]:
    out = ["> [!CAUTION]", f"> **{count(len(plan.errors), 'error')}: {headline}**", ">"]
    return out + [f"> - {item}" for item in _capped([_error_item(e) for e in plan.errors], "errors")] + [""]


def _deletes(plan: Plan, options: MarkdownOptions) -> list[str]:
    """Said up front: how many sources merging deletes or replaces, and the opt-in that takes."""
    destructive = [c for c in plan.changes if c.action.is_destructive]
    if not destructive:
        return []
    head = f"> **Merging will delete or replace {count(len(destructive), 'source')}** (their synced tables are dropped)"
    if options.allow_delete:
        head += ": the delete opt-in is part of this plan."
    else:
        head += f"; this needs {options.delete_hint or '<code>reconciler apply --allow-delete</code>'}."
    items = [f"{escape_markdown(c.action.value)} {_code(c.address)}" for c in destructive]
    return ["> [!WARNING]", head, ">", *[f"> - {item}" for item in _capped(items, "sources")], ""]


def _head(plan: Plan, options: MarkdownOptions) -> list[str]:
    out = [
        *_title(plan),
        "",
        f"**{escape_markdown(summary_line(plan))}**",
        "",
    ]
    for notice in split_warnings(plan)[0]:
        out += ["> [!IMPORTANT]", f"> {escape_markdown(notice[:1].upper() + notice[1:], 600)}", ""]
    if plan.errors:
        out += _errors(plan, "apply will refuse this plan")
    return out + _deletes(plan, options)


def _tail(plan: Plan) -> list[str]:
    out: list[str] = []
    if plan.unmanaged:
        items = [f"{_code(u.source_type)} {_prefix(u.prefix)} (source {_code(u.source_id)})" for u in plan.unmanaged]
        out += [
            f"<details><summary>Unmanaged sources ({len(plan.unmanaged)}): reported, never touched</summary>",
            "",
            *[f"- {item}" for item in _capped(items, "sources")],
            "",
            "</details>",
            "",
        ]
    if plan.orphaned:
        items = [
            f"{_code(o.address)}: {_code(o.source_type)} {_prefix(o.prefix)} (source {_code(o.source_id)})"
            for o in plan.orphaned
        ]
        out += [
            f"<details><summary>Orphaned sources ({len(plan.orphaned)}): deleted only with "
            "<code>--prune</code></summary>",
            "",
            *[f"- {item}" for item in _capped(items, "sources")],
            "",
            "</details>",
            "",
        ]
    found = unlisted(plan)
    if found:
        items = [f"{_code(u.address)}: {', '.join(_capped([_code(t) for t in u.tables], 'tables'))}" for u in found]
        out += [
            f"<details><summary>Unlisted tables ({sum(len(u.tables) for u in found)}): in PostHog, not in the "
            "manifest (<code>unlisted_tables: report</code>)</summary>",
            "",
            *[f"- {item}" for item in _capped(items, "sources")],
            "",
            "</details>",
            "",
        ]
    warnings = split_warnings(plan)[1]
    if warnings:
        out += ["**Warnings**", "", *[f"- {escape_markdown(w)}" for w in _capped(warnings, "warnings")], ""]
    return out


def _omitted_note(omitted: int, total: int, full_plan_hint: str | None, limit: int) -> str:
    where = full_plan_hint[:1000] if full_plan_hint else "run `reconciler plan` to see it"
    return (
        f"> [!NOTE]\n> {omitted} of {total} source sections are not shown: a comment is limited to "
        f"{limit:,} characters. The full plan: {where}\n"
    )


def render_failed_markdown(plan: Plan) -> str:
    """The comment for a plan that could not be made (invalid manifests, PostHog unreachable, ...): the
    errors, each with its location and hint. `plan` holds only the target and the errors."""
    out = [*_title(plan), ""]
    return "\n".join(out + _errors(plan, "no plan was made"))


def render_markdown(
    plan: Plan,
    *,
    full_plan_hint: str | None = None,
    limit: int = GITHUB_COMMENT_LIMIT,
    options: MarkdownOptions | None = None,
    verbose: bool = False,
) -> str:
    """One PR comment of at most `limit` characters. `full_plan_hint` is trusted markdown (e.g. a link to
    the CI artifact) shown when sections had to be left out; `options` say how deletes are opted in;
    `verbose` adds each change's API steps."""
    options = options or MarkdownOptions()
    head = "\n".join(_head(plan, options)) + "\n"
    tail = "\n".join(_tail(plan))
    changes = shown_changes(plan)
    block = _one_block(changes, verbose) if changes else ""
    if block is not None and len(head) + len(block) + 1 + len(tail) <= limit:
        return head + block + ("\n" if block else "") + tail
    sections, complete = _sections(changes, verbose, limit - len(head) - len(tail))
    if complete:
        return head + "".join(sections) + tail
    note = _omitted_note(len(changes), len(changes), full_plan_hint, limit)  # longest form reserves enough room
    budget = limit - len(head) - len(tail) - len(note) - 1
    kept: list[str] = []
    for section in sections:
        if len(section) > budget:
            break
        kept.append(section)
        budget -= len(section)
    note = _omitted_note(len(changes) - len(kept), len(changes), full_plan_hint, limit)
    comment = head + "".join(kept) + tail + "\n" + note
    if len(comment) <= limit:
        return comment
    # Only reachable with a tiny `limit`: the headline and the note, nothing else.
    return "\n".join(_head(plan, options)[:6]) + "\n" + _omitted_note(len(changes), len(changes), full_plan_hint, limit)
