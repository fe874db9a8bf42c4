"""What one catalog adds, removes or changes against another: source types and their form fields.

Pure: compares two `Catalog`s (typically a PostHog's `wizard`, pulled or live, against the bundled one), so
a user sees that PostHog added a type or a field before a plan fails on it. Knows nothing of HTTP or files.
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.catalog.model import Catalog, Field, SourceType
from reconciler.records import record

__all__ = ["CatalogChange", "diff_catalogs", "field_paths"]


@record
class CatalogChange:
    """One difference. `action` is `added`, `removed` or `changed`; `field` is None for a whole type."""

    action: str
    source_type: str
    field: str | None = None
    detail: str = ""

    def __str__(self) -> str:
        sign = {"added": "+", "removed": "-", "changed": "~"}[self.action]
        subject = f"{self.source_type}.{self.field}" if self.field else f"{self.source_type} (source type)"
        return f"{sign} {subject}" + (f": {self.detail}" if self.detail else "")


def field_paths(st: SourceType) -> dict[str, Field]:
    """Every field of a type by dotted path (`auth_method.stripe_secret_key`), nested ones included."""
    out: dict[str, Field] = {}

    def walk(field: Field, prefix: str) -> None:
        path = f"{prefix}{field.name}"
        out.setdefault(path, field)
        for child in field.children:
            walk(child, f"{path}.")
        for option in field.options:
            for child in option.fields:
                walk(child, f"{path}.")

    for field in st.fields:
        walk(field, "")
    return out


def _describe(field: Field) -> str:
    flags = ["required" if field.required else "optional"] + (["secret"] if field.is_sensitive else [])
    return f"{field.kind}, {', '.join(flags)}"


def _field_changes(old: Field, new: Field) -> Iterator[str]:
    if old.kind != new.kind:
        yield f"kind {old.kind} → {new.kind}"
    if old.required != new.required:
        yield "now required" if new.required else "no longer required"
    if old.is_sensitive != new.is_sensitive:
        yield "now secret" if new.is_sensitive else "no longer secret"
    old_values, new_values = [o.value for o in old.options], [o.value for o in new.options]
    added = [v for v in new_values if v not in old_values]
    removed = [v for v in old_values if v not in new_values]
    if added:
        yield "options + " + ", ".join(added)
    if removed:
        yield "options - " + ", ".join(removed)
    if old.default != new.default:
        yield f"default {old.default!r} → {new.default!r}"
    if old.label != new.label:
        yield f"label {old.label!r} → {new.label!r}"


def _type_changes(old: SourceType, new: SourceType) -> Iterator[CatalogChange]:
    before, after = field_paths(old), field_paths(new)
    for path, field in after.items():
        if path not in before:
            yield CatalogChange("added", new.name, path, _describe(field))
    for path in before:
        if path not in after:
            yield CatalogChange("removed", new.name, path)
    for path, field in after.items():
        if path in before:
            details = list(_field_changes(before[path], field))
            if details:
                yield CatalogChange("changed", new.name, path, "; ".join(details))


def diff_catalogs(base: Catalog, other: Catalog) -> list[CatalogChange]:
    """What `other` adds, removes or changes against `base`: types in `base` order, then new types by name."""
    changes: list[CatalogChange] = []
    for name, st in base.items():
        if name not in other:
            changes.append(CatalogChange("removed", name))
        else:
            changes.extend(_type_changes(st, other[name]))
    for name in sorted(set(other) - set(base)):
        fields = len(field_paths(other[name]))
        changes.append(CatalogChange("added", name, None, f"{fields} field{'s' if fields != 1 else ''}"))
    return changes
