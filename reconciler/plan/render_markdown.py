"""Markdown rendering of a Plan: one GitHub pull-request comment, never over GitHub's 65,536-character limit.

Summary table first, then errors and data-loss warnings, then one collapsible `<details>` section per
changed source (its body is the text renderer's, in a code block). When the comment would be too long,
whole sections are left out from the end and a closing note says how many and where the full plan is.
Every user-provided string outside a code block is escaped for both HTML and markdown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.plan.model import Plan, PlanError, SourceChange
from reconciler.plan.render_text import change_body, change_header, clean, shown_changes, summary_line

__all__ = ["GITHUB_COMMENT_LIMIT", "MarkdownOptions", "escape_markdown", "render_failed_markdown", "render_markdown"]


@dataclass(frozen=True)
class MarkdownOptions:
    """What the comment says about deletes: whether the plan carries the opt-in (`plan --allow-delete`), and
    `delete_hint`, trusted markdown naming the opt-in where the plan is reviewed (e.g. a pull-request label)."""

    allow_delete: bool = False
    delete_hint: str | None = None


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


def _error_item(error: PlanError) -> str:
    """`file:line:column`: address.field: message (reference), then the hint: everything needed to fix it."""
    where = f"{_code(error.location)}: " if error.location else ""
    subject = ".".join(p for p in (error.address, error.field) if p)
    item = (
        f"{where}{_code(subject) + ': ' if subject else ''}{escape_markdown(error.message)} ({_code(error.reference)})"
    )
    return item + (f"<br>hint: {escape_markdown(error.hint)}" if error.hint else "")


def _errors(plan: Plan, headline: str) -> list[str]:
    out = ["> [!CAUTION]", f"> **{_count(len(plan.errors), 'error')}: {headline}**", ">"]
    return out + [f"> - {item}" for item in _capped([_error_item(e) for e in plan.errors], "errors")] + [""]


def _deletes(plan: Plan, options: MarkdownOptions) -> list[str]:
    """Said up front: how many sources merging deletes or replaces, and the opt-in that takes."""
    destructive = [c for c in plan.changes if c.action.is_destructive]
    if not destructive:
        return []
    head = (
        f"> **Merging will delete or replace {_count(len(destructive), 'source')}** (their synced tables are dropped)"
    )
    if options.allow_delete:
        head += ": the delete opt-in is part of this plan."
    else:
        head += f"; this needs {options.delete_hint or '<code>reconciler apply &#45;&#45;allow-delete</code>'}."
    items = [f"{escape_markdown(c.action.value)} {_code(c.address)}" for c in destructive]
    return ["> [!WARNING]", head, ">", *[f"> - {item}" for item in _capped(items, "sources")], ""]


def _head(plan: Plan, options: MarkdownOptions) -> list[str]:
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


def render_failed_markdown(plan: Plan) -> str:
    """The comment for a plan that could not be made (invalid manifests, PostHog unreachable, ...): the
    errors, each with its location and hint. `plan` holds only the target and the errors."""
    out = ["### reconciler plan", "", f"Project {_code(plan.project)} on {_code(plan.host)}", ""]
    return "\n".join(out + _errors(plan, "no plan was made"))


def render_markdown(
    plan: Plan,
    *,
    full_plan_hint: str | None = None,
    limit: int = GITHUB_COMMENT_LIMIT,
    options: MarkdownOptions | None = None,
) -> str:
    """One PR comment of at most `limit` characters. `full_plan_hint` is trusted markdown (e.g. a link to
    the CI artifact) shown when sections had to be left out; `options` say how deletes are opted in."""
    options = options or MarkdownOptions()
    head = "\n".join(_head(plan, options)) + "\n"
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
    return (
        "\n".join(_head(plan, options)[:10]) + "\n" + _omitted_note(len(changes), len(changes), full_plan_hint, limit)
    )
