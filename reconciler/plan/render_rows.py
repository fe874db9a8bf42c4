"""A change as rows of Terraform-style nested blocks, in the manifest's words: what the text and markdown
renderers both print.

    ~ tables {
        ~ accounts {
            ~ frequency = "1hour" → "6hour"
          }
      }

Field diffs become a tree of blocks (`config`, `tables`, each table, `revenue_analytics`), one field per line,
keys aligned; table settings use the manifest's names and order (`sync`, `frequency`, …, never PostHog's
`should_sync`/`sync_frequency`). A create shows what it sends (`+`); a replace shows the deleted source's old
values next to the new ones, unchanged fields without a mark, and marks the field that forces it; an update
shows `~ field = old → new`. Pure: rows hold text, the renderers add indentation, colour and fences.
User strings are stripped of terminal control characters here (`clean`), and escaped for markdown
(`escape_markdown`, shared by the plan comment and the drift report); secrets show only their status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from reconciler.manifest.models import TABLE_KEYS_OF_API, TableSettings
from reconciler.plan.model import IMMUTABLE_FIELDS, TARGETING_WARNING, Action, Plan, SecretStatus, SourceChange
from reconciler.plan.steps import CreateSource, OwnedDescription, PatchRevenueConfig, describe_step, source_label
from reconciler.records import record
from reconciler.secret import SECRET_MASK, Secret

__all__ = [
    "GITHUB_COMMENT_LIMIT",
    "HEADERS",
    "Row",
    "Unlisted",
    "change_header",
    "change_rows",
    "clean",
    "escape_markdown",
    "format_value",
    "secret_text",
    "shown_changes",
    "split_warnings",
    "step_line",
    "summary_line",
    "unlisted",
]

#: Per action: the symbol column and the verb (replace is delete-then-create: `-/+`).
HEADERS: Mapping[Action, tuple[str, str]] = {
    Action.CREATE: ("  +", "create"),
    Action.UPDATE: ("  ~", "update"),
    Action.REPLACE: ("-/+", "replace"),
    Action.DELETE: ("  -", "delete"),
    Action.NOOP: ("  =", "no-op"),
}
#: Reading order of the groups: destructive first, then creates, then updates (by address within each).
_GROUP_ORDER = (Action.DELETE, Action.REPLACE, Action.CREATE, Action.UPDATE, Action.NOOP)
#: A source's own keys in the manifest's order (docs/manifest.md); `config` and `tables` are blocks.
_TOP_ORDER = ("type", "prefix", "access_method", "description", "protect", "config", "tables", "revenue_analytics")
#: The manifest's order of table settings.
_TABLE_ORDER = TableSettings.FIELDS
_TABLE_RANK = {key: n for n, key in enumerate(_TABLE_ORDER)}

_STRING = json.JSONEncoder(ensure_ascii=False)  # one encoder: json.dumps(..., ensure_ascii=False) builds one per call
# C0/C1 controls (ESC, CSI, ...) and bidirectional overrides ("Trojan Source") in user-provided text.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """`text` with control characters written as `\\uXXXX`, so no user string can drive the terminal."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


#: GitHub rejects issue and pull-request comments longer than this many characters.
GITHUB_COMMENT_LIMIT = 65_536
#: User strings (messages, names) are cut to this many characters in markdown lists and headers.
_ITEM_LIMIT = 300
# What markdown or inline HTML would misread, written as numeric entities (they render the same whether GitHub
# treats the spot as markdown or as HTML, e.g. inside <summary>): HTML's `&<>`, `@` (a mention notifies people),
# `#` before a digit (an issue link), emphasis/code/strike/math/table characters, `[` (no link or task box
# starts without it), and `_` only at a word's edge (`old_mysql` renders as written; `_x_` would be italic).
_ESCAPED = re.compile(r"[&<>@*`\[~|\\$]|#(?=\d)|(?<![^\W_])_|_(?![^\W_])")


def escape_markdown(text: str, max_length: int = _ITEM_LIMIT) -> str:
    """`text` safe to place in markdown or inline HTML: no markup, no mention, one line, cut to
    `max_length` characters before escaping (so an entity is never cut in half)."""
    one_line = " ".join(clean(text).split())
    if len(one_line) > max_length:
        one_line = one_line[:max_length] + "…"
    return _ESCAPED.sub(lambda m: f"&#{ord(m.group())};", one_line)


def format_value(value: Any) -> str:
    """A compact JSON-like spelling of a value for humans; a Secret is `(secret)` whatever it holds."""
    if isinstance(value, Secret):
        return SECRET_MASK
    if isinstance(value, OwnedDescription):
        return format_value(value.user_text)
    if isinstance(value, Enum):
        return format_value(value.value)
    if isinstance(value, str):
        return clean(_STRING.encode(value))
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


def step_line(step: Any) -> str:
    """One line naming the API call and what it touches (`plan/steps.py`'s words, made terminal-safe)."""
    return clean(describe_step(step))


def secret_text(status: SecretStatus, action: Action | None = None) -> str:
    """`(secret: unchanged)`, `(secret: will be re-sent)`, `(secret: will be sent, value not set here)`, …"""
    if status is SecretStatus.UNCHANGED:
        return "(secret: unchanged)"
    verb = "will be sent" if action in (Action.CREATE, Action.REPLACE) else "will be re-sent"  # nothing to re-send
    # MISSING: the value is not set where the plan ran (a pull-request plan has none); apply must have it.
    return f"(secret: {verb}, value not set here)" if status is SecretStatus.MISSING else f"(secret: {verb})"


def change_header(change: SourceChange) -> tuple[str, str]:
    """(`  + create`, `stripe_prod (Stripe, prefix stripe_prod)` + ` [protected]`)."""
    symbol, verb = HEADERS[change.action]
    rest = f"{clean(change.address)} ({clean(source_label(change.source_type, change.prefix))})"
    if change.protected:
        rest += " [protected]"
    return f"{symbol} {verb}", rest


def shown_changes(plan: Plan) -> list[SourceChange]:
    """Changes worth a section (no-ops are counted, not shown), destructive groups first, by address in each."""
    changes = [c for c in plan.changes if c.action is not Action.NOOP]
    return sorted(changes, key=lambda c: (_GROUP_ORDER.index(c.action), c.address))


def split_warnings(plan: Plan) -> tuple[list[str], list[str]]:
    """(warnings to show above the changes: targeting, the rest), terminal-safe."""
    top = [clean(w) for w in plan.warnings if w.startswith(TARGETING_WARNING)]
    return top, [clean(w) for w in plan.warnings if not w.startswith(TARGETING_WARNING)]


# ---- rows ---------------------------------------------------------------------------------------------


class Row(NamedTuple):
    """One line of a change's body. `symbol` is `+`, `-`, `~` or ` ` (unchanged) for a field or block line, and
    empty for an explanation (`reason: …`); `closing` rows are a block's `}`. `depth` counts enclosing blocks.
    (A NamedTuple: a plan of 1,000 new sources × 50 tables has some 350,000 of them.)"""

    text: str
    symbol: str = ""
    depth: int = 0
    closing: bool = False


@dataclass
class _Node:
    key: str
    old: Any = None
    new: Any = None
    secret: bool = False
    children: list[_Node] | None = None  # a block when not None
    note: str = ""

    def block(self, key: str) -> _Node:
        """The child block named `key`, made when missing (a leaf of the same name stays a separate line)."""
        assert self.children is not None
        for child in self.children:
            if child.key == key and child.children is not None:
                return child
        node = _Node(key, children=[])
        self.children.append(node)
        return node


def _split(path: str) -> list[str]:
    """`config.ssh_tunnel.port` → [config, ssh_tunnel, port]; a table name may hold dots, a setting may not."""
    if not path.startswith("tables."):
        return path.split(".")
    table, dot, key = path.removeprefix("tables.").rpartition(".")
    if dot and (key in _TABLE_ORDER or key in TABLE_KEYS_OF_API):
        return ["tables", table, TABLE_KEYS_OF_API.get(key, key)]
    return ["tables", path.removeprefix("tables.")]


def _expand(node: _Node, in_table: bool) -> _Node:
    """A leaf whose new value is a mapping (a whole table, a created block) as a block of its keys."""
    if node.secret or not isinstance(node.new, Mapping) or not (node.old is None or isinstance(node.old, Mapping)):
        return node
    old: Mapping[str, Any] = node.old if isinstance(node.old, Mapping) else {}
    keys = [(str(k), TABLE_KEYS_OF_API.get(str(k), str(k)) if in_table else str(k)) for k in node.new]
    if in_table:
        keys.sort(key=lambda k: _TABLE_RANK.get(k[1], len(_TABLE_RANK)))
    was_absent = node.old is None
    children = [_expand(_Node(name, None if was_absent else old.get(raw), node.new[raw]), False) for raw, name in keys]
    return _Node(node.key, children=children)


def _tree(change: SourceChange) -> _Node:
    root = _Node("", children=[])
    for diff in change.field_diffs:
        parts = _split(diff.path)
        parent = root
        for part in parts[:-1]:
            parent = parent.block(part)
        leaf = _Node(parts[-1], diff.old, diff.new, diff.secret)
        if change.action is Action.REPLACE and parent is root and leaf.key in IMMUTABLE_FIELDS:
            leaf.note = "# forces replacement"
        assert parent.children is not None
        parent.children.append(_expand(leaf, in_table=parts[0] == "tables" and len(parts) == 2))
    _add_created(change, root)
    assert root.children is not None
    root.children.sort(key=lambda n: _TOP_ORDER.index(n.key) if n.key in _TOP_ORDER else len(_TOP_ORDER))
    return root


def _add_created(change: SourceChange, root: _Node) -> None:
    """What a create (or the create half of a replace) sends beyond its field diffs: the description, the
    protect flag and the revenue-analytics settings, read from its steps."""
    if change.action not in (Action.CREATE, Action.REPLACE):
        return
    assert root.children is not None
    keys = {n.key for n in root.children}
    for step in change.steps:
        if isinstance(step, CreateSource) and "description" not in keys and step.description.user_text is not None:
            root.children.append(_Node("description", None, step.description.user_text))
        if isinstance(step, PatchRevenueConfig) and "revenue_analytics" not in keys:
            root.children.append(_expand(_Node("revenue_analytics", None, dict(step.changes)), in_table=False))
    if change.protected and "protect" not in keys:
        root.children.append(_Node("protect", None, True))


def _leaf_symbol(node: _Node, change: SourceChange) -> str:
    if node.secret:
        if change.action in (Action.CREATE, Action.REPLACE):
            return "+"  # sent to a new source
        return " " if change.secret_status is SecretStatus.UNCHANGED else "~"
    if change.action is Action.CREATE or (node.old is None and node.new is not None):
        return "+"
    if node.old == node.new:
        return " "
    return "-" if node.new is None else "~"


def _leaf_value(node: _Node, symbol: str, change: SourceChange) -> str:
    if node.secret:
        return secret_text(change.secret_status, change.action)
    if symbol in ("+", " "):
        return format_value(node.new)
    return f"{format_value(node.old)} → {format_value(node.new)}"


def _block_symbol(symbols: list[str]) -> str:
    marked = set(symbols)
    return marked.pop() if len(marked) == 1 else "~"


def _rows(node: _Node, change: SourceChange, depth: int) -> tuple[list[Row], str]:
    """The rows of a block's children and the block's own symbol."""
    assert node.children is not None
    keys = [clean(c.key) for c in node.children]
    width = max((len(k) for k, c in zip(keys, node.children, strict=True) if c.children is None), default=0)
    rows: list[Row] = []
    symbols: list[str] = []
    for key, child in zip(keys, node.children, strict=True):
        if child.children is not None:
            inner, symbol = _rows(child, change, depth + 1)
            rows.append(Row(f"{key} {{", symbol, depth))
            rows.extend(inner)
            rows.append(Row("}", "", depth, closing=True))
        else:
            symbol = _leaf_symbol(child, change)
            text = f"{key.ljust(width)} = {_leaf_value(child, symbol, change)}"
            rows.append(Row(f"{text}  {child.note}" if child.note else text, symbol, depth))
        symbols.append(symbol)
    return rows, _block_symbol(symbols)


def change_rows(change: SourceChange, *, verbose: bool = False) -> list[Row]:
    """A change's body in reading order: the data-loss warning, reasons, impact, its fields as nested blocks,
    the secrets' status when no field shows it, and (only `verbose`) the exact API steps."""
    rows: list[Row] = []
    if change.action is Action.REPLACE:
        rows.append(Row("! drops data: the source and its synced tables are deleted, then created again"))
    elif change.action is Action.DELETE:
        rows.append(Row("! drops data: the source and its synced tables are deleted"))
    rows.extend(Row(f"reason: {clean(r)}") for r in change.reasons)
    if change.impacts:
        ranked = sorted(change.impacts, key=lambda i: i.rank, reverse=True)
        rows.append(Row(f"impact: {', '.join(i.value for i in ranked)}"))
    fields, _ = _rows(_tree(change), change, 0)
    rows.extend(fields)
    if change.secret_status is not SecretStatus.UNCHANGED and not any(d.secret for d in change.field_diffs):
        rows.append(Row(f"secrets: {secret_text(change.secret_status, change.action)[len('(secret: ') : -1]}"))
    if verbose and change.steps:
        rows.append(Row("steps:"))
        rows.extend(Row(f"  {n}. {step_line(s)}") for n, s in enumerate(change.steps, start=1))
    return rows


@record
class Unlisted:
    """Live tables a source's manifest does not list (policy `report`): shown once, after the changes."""

    address: str
    tables: tuple[str, ...] = field(default=())


def unlisted(plan: Plan) -> list[Unlisted]:
    """Per source with unlisted live tables, by address (terminal-safe)."""
    found = [
        Unlisted(clean(c.address), tuple(map(clean, c.unlisted_tables))) for c in plan.changes if c.unlisted_tables
    ]
    return sorted(found, key=lambda u: u.address)


def summary_line(plan: Plan) -> str:
    """`Plan: 1 to create, 2 to update (impact: full-resync), 0 to replace, 0 to delete, 3 unchanged.` The
    update count carries the most severe impact among updates; a tombstone PostHog never had is not counted."""
    counts = plan.summary()
    unchanged = sum(1 for c in plan.changes if c.action is Action.NOOP and not c.never_existed)
    if not plan.has_changes:
        return f"No changes. {unchanged} unchanged."
    impacts = [i for c in plan.changes if c.action is Action.UPDATE and (i := c.headline_impact) is not None]
    update = f"{counts['update']} to update" + (f" (impact: {max(impacts).value})" if impacts else "")
    return (
        f"Plan: {counts['create']} to create, {update}, {counts['replace']} to replace, "
        f"{counts['delete']} to delete, {unchanged} unchanged."
    )
