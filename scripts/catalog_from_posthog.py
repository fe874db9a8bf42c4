#!/usr/bin/env python3
"""Read PostHog's source definitions from a checkout and write them as a catalog file (the wizard's shape).

    python scripts/catalog_from_posthog.py ~/src/posthog -o posthog-catalog.json
    reconciler catalog diff posthog-catalog.json     # what PostHog adds, removes or changes vs the bundled one
    python scripts/catalog_from_posthog.py ~/src/posthog --append-new   # new types into source_types.yaml

Facts only, by static reading (`ast`, nothing of PostHog is imported or run): for every
`posthog/temporal/data_imports/sources/<dir>/source.py`, the `SourceConfig(...)` that `get_source_config`
returns (name, label, category, flags, fields with their kinds, labels, required/secret flags, options and
defaults; help text such as captions is prose, not facts, and is left out); from the same directory's
`settings.py`, the static table list (`ENDPOINTS`) and cursors (`INCREMENTAL_FIELDS`) as `x-tables`. Enum
members (`SourceFieldInputConfigType.PASSWORD`, `DataWarehouseSourceCategory.PAYMENTS___BILLING`, the type's
name, `IncrementalFieldType.DateTime`) are read from the module they are imported from (`posthog/schema.py`,
`products/data_warehouse/backend/types.py`). A value the reader cannot resolve statically (a variable, an
f-string) is left out and listed on stderr.

The result is a catalog file (JSON, like `reconciler catalog pull` writes) in the bundled catalog's format
(reconciler/catalog/source_types.yaml): one entry per type with the wizard's keys plus `x-sourceCommit` (the
commit read) and `x-tables`. Our other `x-` facts (credential messages, connection targets, ...) are not in
PostHog's form; `--append-new` copies the new types' entries to the end of the bundled file, where they can be
completed by hand. Nothing else in the bundled file is rewritten.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "reconciler" / "catalog" / "source_types.yaml"
SOURCES_DIR = Path("posthog/temporal/data_imports/sources")
SCHEMA = Path("posthog/schema.py")
SCHEMA_MODULE = "posthog.schema"

#: Field classes whose wizard `type` is not their own input `type=` argument: PostHog's class name minus the
#: `SourceField` prefix and `Config` suffix, kebab-cased (`SwitchGroup` → `switch-group`; `SSHTunnel` →
#: `ssh-tunnel`). An input field's kind is its `type=` value.
_FIELD_CLASS = re.compile(r"^SourceField(?P<kind>\w+?)Config$")
#: PostHog's prose (help text), not facts: left out, as in the bundled catalog.
PROSE_KEYS = frozenset({"caption"})


class Unresolved(Exception):
    """A value that is not a literal (a variable, an f-string, a call we do not know)."""


def kebab(name: str) -> str:
    """`SwitchGroup` → `switch-group`, `SSHTunnel` → `ssh-tunnel`, `OauthAccountSelect` → `oauth-account-select`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def enums_of(tree: ast.Module) -> dict[str, dict[str, Any]]:
    """`class X(...): MEMBER = "value"` → {"X": {"MEMBER": "value"}} for every class of literal assignments."""
    enums: dict[str, dict[str, Any]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        members = {
            stmt.targets[0].id: stmt.value.value
            for stmt in node.body
            if isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Constant)
        }
        if members:
            enums[node.name] = members
    return enums


class Enums:
    """Enum members of the checkout's modules, read on first use: `Enums(root).member("posthog.schema",
    "DataWarehouseSourceCategory", "PAYMENTS___BILLING")` → "Payments & billing"."""

    def __init__(self, checkout: Path) -> None:
        self.checkout = checkout
        self._modules: dict[str, dict[str, dict[str, Any]]] = {}

    def _module(self, module: str) -> dict[str, dict[str, Any]]:
        if module not in self._modules:
            base = self.checkout / module.replace(".", "/")
            path = next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)
            self._modules[module] = enums_of(ast.parse(path.read_text(encoding="utf-8"))) if path else {}
        return self._modules[module]

    def member(self, module: str | None, enum: str, name: str) -> Any:
        """From the module the name was imported from, else PostHog's generated `posthog.schema`."""
        for where in (module, SCHEMA_MODULE):
            if where is not None and name in self._module(where).get(enum, {}):
                return self._module(where)[enum][name]
        raise Unresolved(f"{enum}.{name}")


class Reader:
    """Turns the AST of one source's config into plain data."""

    def __init__(self, enums: Enums, tree: ast.Module) -> None:
        self.enums = enums
        self.constants = _module_constants(tree)  # module-level NAME = <value> of the file being read
        self.imports = _imports(tree)  # local name → (module, name as defined there)
        self.unresolved: list[str] = []

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            return {self.value(k): self.value(v) for k, v in zip(node.keys, node.values, strict=True) if k is not None}
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module, enum = self.imports.get(node.value.id, (None, node.value.id))
            return self.enums.member(module, enum, node.attr)
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.value(self.constants[node.id])
        if isinstance(node, ast.Call):
            return self.call(node)
        raise Unresolved(ast.unparse(node))

    def call(self, node: ast.Call) -> Any:
        name = ast.unparse(node.func)
        if name == "cast" and len(node.args) == 2:
            return self.value(node.args[1])
        if name in ("list", "tuple") and len(node.args) == 1:
            return self.value(node.args[0])
        if not isinstance(node.func, ast.Name) or node.args:
            raise Unresolved(name)
        out = self.keywords(node)
        match = _FIELD_CLASS.match(node.func.id)
        if match and match["kind"] != "Input" and "name" in out:  # a field (a file format has no name)
            out = {"name": out.pop("name", None), "type": kebab(match["kind"]), **out}
        return out

    def keywords(self, node: ast.Call) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None or kw.arg in PROSE_KEYS:
                continue
            try:
                out[kw.arg] = self.value(kw.value)
            except Unresolved as exc:
                self.unresolved.append(f"{kw.arg}={exc}")
        return out


def _module_constants(tree: ast.Module) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out[node.target.id] = node.value
    return out


def _imports(tree: ast.Module) -> dict[str, tuple[str, str]]:
    return {
        a.asname or a.name: (n.module, a.name)
        for n in tree.body
        if isinstance(n, ast.ImportFrom) and n.module
        for a in n.names
    }


def _source_config_call(tree: ast.Module) -> ast.Call | None:
    """The `SourceConfig(...)` returned by a `get_source_config` function."""
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name == "get_source_config":
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and ast.unparse(node.func) == "SourceConfig":
                    return node
    return None


def _cursor(spec: dict[str, Any]) -> str:
    """An IncrementalField(label, type, field, field_type) as an `x-tables` cursor: `label=field:type/field_type`
    with the parts that equal their defaults left out (reconciler/catalog/tables.py `parse_cursor`)."""
    field = str(spec.get("field") or spec.get("label"))
    label = str(spec.get("label") or field)
    shown = str(spec.get("type") or "datetime").lower()
    sent = str(spec.get("field_type") or shown).lower()
    text = (
        field + ("" if shown == "datetime" and sent == shown else f":{shown}") + ("" if sent == shown else f"/{sent}")
    )
    return text if label == field else f"{label}={text}"


def read_tables(settings_py: Path, enums: Enums) -> dict[str, list[str]] | None:
    """`ENDPOINTS` (a list, tuple or dict of names) and `INCREMENTAL_FIELDS` ({name: [IncrementalField(...)]})
    of a settings.py, when both are literals; None otherwise."""
    if not settings_py.is_file():
        return None
    reader = Reader(enums, ast.parse(settings_py.read_text(encoding="utf-8")))
    constants = reader.constants
    if "ENDPOINTS" not in constants:
        return None
    try:
        endpoints = reader.value(constants["ENDPOINTS"])
        cursors = reader.value(constants["INCREMENTAL_FIELDS"]) if "INCREMENTAL_FIELDS" in constants else {}
    except Unresolved:
        return None
    names = list(endpoints) if isinstance(endpoints, (list, dict)) else None
    if names is None or not all(isinstance(n, str) for n in names) or not isinstance(cursors, dict):
        return None
    return {n: [_cursor(c) for c in cursors.get(n) or () if isinstance(c, dict)] for n in names}


def read_source(source_py: Path, enums: Enums) -> tuple[str, dict[str, Any], list[str]] | None:
    """(type name, wizard entry, unresolved values) of one source.py, or None when it defines no config."""
    tree = ast.parse(source_py.read_text(encoding="utf-8"))
    call = _source_config_call(tree)
    if call is None:
        return None
    reader = Reader(enums, tree)
    entry = reader.keywords(call)
    name = entry.pop("name", None)
    if not isinstance(name, str):
        return None
    entry.setdefault("fields", [])
    return name, entry, reader.unresolved


def read_checkout(checkout: Path, commit: str | None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
    enums = Enums(checkout)
    for source_py in sorted((checkout / SOURCES_DIR).glob("*/source.py")):
        found = read_source(source_py, enums)
        if found is None:
            continue
        name, entry, unresolved = found
        if commit:
            entry["x-sourceCommit"] = commit
        tables = read_tables(source_py.with_name("settings.py"), enums)
        if tables is not None:
            entry["x-tables"] = tables
        yield name, entry, [f"{source_py.relative_to(checkout)}: {u}" for u in unresolved]


def head_commit(checkout: Path) -> str | None:
    result = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def render(entries: dict[str, dict[str, Any]]) -> str:
    """The catalog file: JSON keyed by type, like `reconciler catalog pull` writes (`--catalog FILE` reads it);
    each entry records the commit it was read at (`x-sourceCommit`)."""
    return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"


def append_new(entries: dict[str, dict[str, Any]], bundled: Path) -> list[str]:
    """Append the entries of types the bundled file lacks; returns their names."""
    known = set(yaml.safe_load(bundled.read_text(encoding="utf-8")) or {})
    new = {name: entry for name, entry in entries.items() if name not in known}
    if new:
        text = yaml.safe_dump(new, sort_keys=False, allow_unicode=True, width=120)
        blocks = re.split(r"\n(?=\S)", text.strip())
        with bundled.open("a", encoding="utf-8") as out:
            out.write("".join(f"\n{block}\n" for block in blocks))
    return sorted(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a PostHog checkout (github.com/PostHog/posthog)")
    parser.add_argument("-o", "--out", type=Path, help="write the catalog file here (default: stdout)")
    parser.add_argument("--commit", help="the commit to record (default: the checkout's HEAD)")
    parser.add_argument("--append-new", action="store_true", help=f"append new types to {BUNDLED.name}")
    parser.add_argument("--bundled", type=Path, default=BUNDLED, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not (args.checkout / SOURCES_DIR).is_dir() or not (args.checkout / SCHEMA).is_file():
        print(f"error: {args.checkout} has no {SOURCES_DIR} and {SCHEMA}: not a PostHog checkout", file=sys.stderr)
        return 1
    commit = args.commit or head_commit(args.checkout)
    entries: dict[str, dict[str, Any]] = {}
    for name, entry, unresolved in read_checkout(args.checkout, commit):
        entries[name] = entry
        for item in unresolved:
            print(f"not static, left out: {item}", file=sys.stderr)
    entries = dict(sorted(entries.items(), key=lambda kv: kv[0].lower()))
    if args.out is not None:
        args.out.write_text(render(entries), encoding="utf-8")
        print(f"Wrote {len(entries)} source types to {args.out}", file=sys.stderr)
    elif not args.append_new:
        sys.stdout.write(render(entries))
    if args.append_new:
        added = append_new(entries, args.bundled)
        print(f"Appended {len(added)} new type(s) to {args.bundled}: {', '.join(added) or 'none'}", file=sys.stderr)
        if added:
            print("Add them to all_source_types.txt, complete their x- facts, then `make docs`.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
