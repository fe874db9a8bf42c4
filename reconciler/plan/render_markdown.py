"""Markdown rendering of a Plan: one GitHub pull-request comment, never over GitHub's 65,536-character limit.

Summary table first, then errors and data-loss warnings, then one collapsible `<details>` section per
changed source (its body is the text renderer's, in a code block). When the comment would be too long,
whole sections are left out from the end and a closing note says how many and where the full plan is.
Every user-provided string outside a code block is escaped for both HTML and markdown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reconciler.plan.model import Plan, SourceChange
from reconciler.plan.render_text import change_body, change_header, clean, shown_changes, summary_line

__all__ = ["GITHUB_COMMENT_LIMIT", "escape_markdown", "render_markdown"]

#: GitHub rejects issue and pull-request comments longer than this many characters.
GITHUB_COMMENT_LIMIT = 65_536
#: Longest body one source's section may have before its own lines are cut.
SECTION_LIMIT = 12_000
#: At most this many items in the errors / warnings / unmanaged / drops-data lists before "and N more".
LIST_LIMIT = 20
#: User strings (messages, names) are cut to this many characters in lists and headers.
_ITEM_LIMIT = 300

# HTML-significant characters, markdown syntax and `@` (a mention would notify people), written as
# numeric entities: they render the same whether GitHub treats the spot as markdown or as HTML.
# `$` (math), `#` (issue links) and `|` (table cells) included.
_ESCAPED = re.compile(r"[&<>\"'`*_\[\]|~\\@$#]")


def escape_markdown(text: str, max_length: int = _ITEM_LIMIT) -> str:
    """`text` safe to place in markdown or inline HTML: no markup, no mention, one line, cut to
    `max_length` characters before escaping (so an entity is never cut in half)."""
    one_line = " ".join(clean(text).split())
    if len(one_line) > max_length:
        one_line = one_line[:max_length] + "…"
    return _ESCAPED.sub(lambda m: f"&#{ord(m.group())};", one_line)


def _code(text: str) -> str:
    return f"<code>{escape_markdown(text)}</code>"


def _capped(items: Sequence[str], what: str) -> list[str]:
    shown = list(items[:LIST_LIMIT])
    if len(items) > LIST_LIMIT:
        shown.append(f"… and {len(items) - LIST_LIMIT} more {what} (see the full plan)")
    return shown


def _prefix(prefix: str | None) -> str:
    return f"prefix {_code(prefix)}" if prefix else "no prefix"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fence(lines: Sequence[str]) -> str:
    """A code fence longer than any backtick run inside, so no user string can close it early."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _section(change: SourceChange) -> str:
    symbol, rest = change_header(change)
    impact = change.headline_impact
    summary = f"<b>{escape_markdown(symbol.strip())}</b> {escape_markdown(rest)}"
    if impact is not None:
        summary += f" · {escape_markdown(impact.value)}"
    body = change_body(change)
    if sum(len(line) + 1 for line in body) > SECTION_LIMIT:
        kept: list[str] = []
        size = 0
        for line in body:
            if size + len(line) + 1 > SECTION_LIMIT - 100:
                break
            kept.append(line)
            size += len(line) + 1
        kept.append(f"… {len(body) - len(kept)} more lines not shown (see the full plan)")
        body = kept
    fence = _fence(body)
    opened = " open" if change.action.is_destructive else ""
    return "\n".join([f"<details{opened}><summary>{summary}</summary>", "", fence, *body, fence, "", "</details>", ""])


def _head(plan: Plan) -> list[str]:
    counts = plan.summary()
    out = [
        "### reconciler plan",
        "",
        f"Project {_code(plan.project)} on {_code(plan.host)}",
        "",
        "| Create | Update | Replace | Delete | Unchanged |",
        "|---:|---:|---:|---:|---:|",
        f"| {counts['create']} | {counts['update']} | {counts['replace']} | {counts['delete']} "
        f"| {counts['unchanged']} |",
        "",
        f"**{summary_line(plan)}**",
        "",
    ]
    if plan.errors:
        out += ["> [!CAUTION]", f"> **{_count(len(plan.errors), 'error')}: apply will refuse this plan**", ">"]
        items = [
            (f"{_code(e.address)}: " if e.address else "") + f"{escape_markdown(e.message)} ({_code(e.reference)})"
            for e in plan.errors
        ]
        out += [f"> - {item}" for item in _capped(items, "errors")] + [""]
    destructive = [c for c in plan.changes if c.action.is_destructive]
    if destructive:
        out += ["> [!WARNING]", "> **This plan drops data** (synced tables are deleted):", ">"]
        items = [f"{escape_markdown(c.action.value)} {_code(c.address)}" for c in destructive]
        out += [f"> - {item}" for item in _capped(items, "sources")] + [""]
    return out


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
            "<code>&#45;&#45;prune</code></summary>",
            "",
            *[f"- {item}" for item in _capped(items, "sources")],
            "",
            "</details>",
            "",
        ]
    if plan.warnings:
        out += ["**Warnings**", "", *[f"- {escape_markdown(w)}" for w in _capped(list(plan.warnings), "warnings")], ""]
    return out


def _omitted_note(omitted: int, total: int, full_plan_hint: str | None, limit: int) -> str:
    where = full_plan_hint[:1000] if full_plan_hint else "run `reconciler plan` to see it"
    return (
        f"> [!NOTE]\n> {omitted} of {total} source sections are not shown: a comment is limited to "
        f"{limit:,} characters. The full plan: {where}\n"
    )


def render_markdown(plan: Plan, *, full_plan_hint: str | None = None, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """One PR comment of at most `limit` characters. `full_plan_hint` is trusted markdown (e.g. a link to
    the CI artifact) shown when sections had to be left out."""
    head = "\n".join(_head(plan)) + "\n"
    tail = "\n".join(_tail(plan))
    changes = shown_changes(plan)
    sections = [_section(c) for c in changes]
    if len(head) + len(tail) + sum(len(s) + 1 for s in sections) <= limit:
        return head + "".join(s + "\n" for s in sections) + tail
    note = _omitted_note(len(changes), len(changes), full_plan_hint, limit)  # longest form reserves enough room
    budget = limit - len(head) - len(tail) - len(note) - 1
    kept: list[str] = []
    for section in sections:
        if len(section) + 1 > budget:
            break
        kept.append(section + "\n")
        budget -= len(section) + 1
    note = _omitted_note(len(changes) - len(kept), len(changes), full_plan_hint, limit)
    comment = head + "".join(kept) + tail + "\n" + note
    if len(comment) <= limit:
        return comment
    # Only reachable with a tiny `limit`: the counts and the note, nothing else.
    return "\n".join(_head(plan)[:10]) + "\n" + _omitted_note(len(changes), len(changes), full_plan_hint, limit)
