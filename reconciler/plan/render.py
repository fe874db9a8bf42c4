"""Every way a Plan becomes output: text (terminal), markdown (PR comment) and JSON (`--format json`).

All three read the same Plan; JSON is `saved.plan_to_dict` so it cannot drift from the saved plan file.
Pure: returns strings, never writes streams or reads the environment (the CLI decides colour).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from reconciler.plan.model import Plan
from reconciler.plan.render_text import render_text

if TYPE_CHECKING:
    from reconciler.plan.render_markdown import GITHUB_COMMENT_LIMIT, MarkdownOptions, render_markdown

__all__ = [
    "FORMATS",
    "GITHUB_COMMENT_LIMIT",
    "MarkdownOptions",
    "render",
    "render_failed",
    "render_json",
    "render_markdown",
    "render_text",
]

Format = Literal["text", "markdown", "json"]
FORMATS: tuple[Format, ...] = ("text", "markdown", "json")


def __getattr__(name: str) -> Any:
    """The markdown renderer loads only when asked for (`plan` imports no renderer it does not use)."""
    if name in ("GITHUB_COMMENT_LIMIT", "MarkdownOptions", "render_markdown"):
        from reconciler.plan import render_markdown as markdown

        return getattr(markdown, name)
    raise AttributeError(f"module 'reconciler.plan.render' has no attribute {name!r}")


def render_json(plan: Plan) -> str:
    """The `--format json` document (docs/plan-format.md), two-space indented, ending in a newline."""
    from reconciler.plan.codec import dumps, plan_to_dict

    return dumps(plan_to_dict(plan))


def render(
    plan: Plan,
    fmt: Format,
    *,
    color: bool = False,
    verbose: bool = False,
    full_plan_hint: str | None = None,
    markdown: MarkdownOptions | None = None,
) -> str:
    """Dispatch on `--format`; `color` applies to text only, `verbose` (API steps) to text and markdown,
    `full_plan_hint` and `markdown` to markdown only (JSON always holds the steps)."""

    def as_markdown() -> str:
        from reconciler.plan.render_markdown import render_markdown

        return render_markdown(plan, full_plan_hint=full_plan_hint, options=markdown, verbose=verbose)

    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: render_text(plan, color=color, verbose=verbose),
        "markdown": as_markdown,
        "json": lambda: render_json(plan),
    }
    if fmt not in renderers:
        raise ValueError(f"unknown plan format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return renderers[fmt]()


def render_failed(plan: Plan, fmt: Format) -> str:
    """A plan that could not be made (`plan` holds the target and the errors) in markdown or JSON; text output
    reports errors on stderr only, so it has no rendering here."""
    if fmt == "markdown":
        from reconciler.plan.render_markdown import render_failed_markdown

        return render_failed_markdown(plan) + "\n"
    if fmt == "json":
        return render_json(plan)
    raise ValueError(f"a failed plan has no {fmt} rendering")
