"""The "must not know" column of docs/architecture.md, executable: every module's imports (and its reads of
the environment and the clock) are checked against the layer rules, and the module-level import graph has
no cycle. The checker runs on a synthetic tree too, so a forbidden import is shown to fail the test.

Imports are read with `ast`, nothing is imported: lazy imports inside functions count (a module that
imports httpx only when called still knows httpx); `if TYPE_CHECKING:` imports do not (types only).
Cycles are checked on module-level runtime imports only, which is what Python executes on import.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"

#: What counts as reading the environment or the clock (besides importing `time`).
ENVIRONMENT = ("os.environ", "os.getenv", "os.putenv")
CLOCK = (
    "time",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
)
#: No module in reconciler/ is longer (house rule: a longer one is doing more than one job; split it by job).
MAX_MODULE_LINES = 450
#: Code the emulator must not share with (it would test the client against itself).
CLIENT_CODE = (
    "reconciler.posthog",
    "reconciler.settings",
    "reconciler.plan",
    "reconciler.apply",
    "reconciler.identity",
    "reconciler.drift",
    "reconciler.importer",
    "reconciler.preflight",
    "reconciler.manifest",
    "reconciler.commands",
    "reconciler.cli",
)
#: Everything above the API layer.
ABOVE_POSTHOG = (
    "reconciler.manifest",
    "reconciler.plan",
    "reconciler.apply",
    "reconciler.identity",
    "reconciler.drift",
    "reconciler.importer",
    "reconciler.preflight",
    "reconciler.commands",
    "reconciler.cli",
    "reconciler.emulator",
)


@dataclass(frozen=True)
class Rule:
    """Modules under `scope` (a module or package, minus `exempt`) must not use any name under `forbidden`;
    with `only_internal`, their imports of `reconciler.*` must all fall under it."""

    scope: str
    why: str
    forbidden: tuple[str, ...] = ()
    only_internal: tuple[str, ...] | None = None
    exempt: tuple[str, ...] = ()


RULES = (
    # Leaves: they import nothing of ours (rate_spec only the error tree).
    *(
        Rule(f"reconciler.{leaf}", "leaf module", only_internal=())
        for leaf in ("errors", "secret", "ownership", "wording", "loopback", "credentials", "records", "truth")
    ),
    Rule("reconciler.rate_spec", "leaf module (only the error tree)", only_internal=("reconciler.errors",)),
    Rule(
        "reconciler.catalog",
        "pure data: only the error tree (and `@record`)",
        only_internal=("reconciler.catalog", "reconciler.errors", "reconciler.records"),
    ),
    Rule(
        "reconciler.emulator",
        "the emulator shares only the catalog with the client, so tests do not prove the client agrees with itself",
        only_internal=("reconciler.emulator", "reconciler.catalog", "reconciler.errors", "reconciler.loopback"),
    ),
    Rule(
        "reconciler.plan",
        "the planner is pure: no HTTP, environment, clock or loading",
        forbidden=(
            "httpx",
            *ENVIRONMENT,
            *CLOCK,
            "reconciler.posthog.client",
            "reconciler.settings",
            "reconciler.manifest.load",
            "reconciler.manifest.files",
            "reconciler.manifest.templates",
            "reconciler.apply",
            "reconciler.commands",
            "reconciler.cli",
            "reconciler.emulator",
        ),
    ),
    Rule(
        "reconciler.identity",
        "matching is pure",
        forbidden=(
            "httpx",
            *ENVIRONMENT,
            *CLOCK,
            "reconciler.posthog.client",
            "reconciler.plan",
            "reconciler.manifest",
        ),
    ),
    Rule(
        "reconciler.manifest",
        "manifests know files and templates, never PostHog or plans",
        forbidden=(
            "httpx",
            "reconciler.posthog",
            "reconciler.settings",
            "reconciler.plan",
            "reconciler.apply",
            "reconciler.identity",
            "reconciler.drift",
            "reconciler.commands",
            "reconciler.cli",
            "reconciler.emulator",
        ),
    ),
    Rule(
        "reconciler.manifest",
        "only templates.py and variables.py (which variables they may read) read the environment",
        forbidden=ENVIRONMENT,
        exempt=("reconciler.manifest.templates", "reconciler.manifest.variables"),
    ),
    Rule("reconciler.posthog", "the API layer knows neither manifests nor plans", forbidden=ABOVE_POSTHOG),
    Rule(
        "reconciler.settings",
        "pure: the environment is passed in; never the API layer (that was an import cycle)",
        forbidden=("httpx", *ENVIRONMENT, "reconciler.posthog"),
    ),
    Rule(
        "reconciler.apply",
        "apply acts on a plan's steps: never manifests, flags or streams of its own",
        forbidden=("reconciler.manifest", "reconciler.commands", "reconciler.cli", "click", *ENVIRONMENT),
    ),
    Rule(
        "reconciler.drift",
        "drift is read-only: it plans nothing and never drives the client",
        forbidden=("httpx", *ENVIRONMENT, "reconciler.posthog.client", "reconciler.apply", "reconciler.commands"),
    ),
    Rule(
        "reconciler.importer",
        "import writes manifests from live sources: no planning, no HTTP",
        forbidden=("httpx", *ENVIRONMENT, "reconciler.plan", "reconciler.apply", "reconciler.posthog.client"),
    ),
    Rule(
        "reconciler.preflight",
        "preflight turns answers into plan errors: no rendering",
        forbidden=("reconciler.plan.render",),
    ),
    Rule("reconciler.commands", "tasks write through a Console: click is cli.py's", forbidden=("click",)),
    Rule(
        "reconciler.commands.options",
        "light on purpose: built while the command line is parsed",
        only_internal=("reconciler.records",),
    ),
    Rule(
        "reconciler.entry",
        "answers `--help` and `--version` before click loads: the version, then the CLI for anything else",
        forbidden=("click",),
        only_internal=("reconciler.__version__", "reconciler.cli"),
    ),
    Rule(
        "reconciler.cli_params",
        "options only (light on purpose: `--help` imports it)",
        only_internal=("reconciler.commands.options", "reconciler.drift"),
    ),
    Rule(
        "reconciler",
        "posthog/client.py, session.py (sending) and transport.py (request bounds) are the only httpx importers "
        "outside the emulator",
        forbidden=("httpx", "httpcore"),
        exempt=(
            "reconciler.posthog.client",
            "reconciler.posthog.session",
            "reconciler.posthog.transport",
            "reconciler.emulator",
        ),
    ),
    Rule(
        "reconciler",
        "only manifest/templates.py (and its bounded sandbox) renders templates",
        forbidden=("jinja2",),
        exempt=("reconciler.manifest.templates", "reconciler.manifest.template_sandbox"),
    ),
    Rule(
        "reconciler",
        "emulator/testing.py is for tests: no production path (not even `--host local`) imports it",
        forbidden=("reconciler.emulator.testing",),
        exempt=("reconciler.emulator.testing",),
    ),
    Rule(
        "reconciler",
        "only the emulator serves HTTP",
        forbidden=("starlette", "uvicorn"),
        exempt=("reconciler.emulator",),
    ),
)


# ---- the checker -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Use:
    """One name a module uses: an imported module (`httpx`), or a dotted attribute of one (`os.environ`)."""

    name: str
    line: int
    top_level: bool  # executed when the module is imported (not inside a function, not for type checking)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, level: int, name: str | None, package: str) -> str:
    if level == 0:
        return module
    base = package.split(".")
    base = base[: len(base) - level + 1]
    return ".".join([*base, module] if module else base)


def uses(source: str, module: str, is_package: bool) -> Iterator[Use]:
    """Every module imported and every dotted attribute of an imported name (`os.environ`) in `source`."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    bound: dict[str, str] = {}

    def visit(node: ast.AST, top: bool) -> Iterator[Use]:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for branch in node.orelse:
                yield from visit(branch, top)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Use(alias.name, node.lineno, top)
                bound[alias.asname or alias.name.partition(".")[0]] = (
                    alias.name if alias.asname else alias.name.partition(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node.module or "", node.level, node.module, package)
            yield Use(target, node.lineno, top)
            for alias in node.names:
                yield Use(f"{target}.{alias.name}", node.lineno, top)
                bound[alias.asname or alias.name] = f"{target}.{alias.name}"
        elif isinstance(node, ast.Attribute):
            chain: list[str] = []
            probe: ast.AST = node
            while isinstance(probe, ast.Attribute):
                chain.append(probe.attr)
                probe = probe.value
            if isinstance(probe, ast.Name) and probe.id in bound:
                yield Use(".".join([bound[probe.id], *reversed(chain)]), node.lineno, top)
                return
        inner = top and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner)

    yield from visit(tree, True)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def scan(root: Path) -> dict[str, list[Use]]:
    """Module name → what it uses, for every module of the package at `root`."""
    return {
        module_name(path, root): list(
            uses(path.read_text(encoding="utf-8"), module_name(path, root), path.name == "__init__.py")
        )
        for path in sorted(root.rglob("*.py"))
    }


def violations(found: dict[str, list[Use]], rules: tuple[Rule, ...] = RULES) -> list[str]:
    """One line per forbidden use: `module:line uses NAME (rule scope: why)`."""
    out: list[str] = []
    for module, used in sorted(found.items()):
        for rule in rules:
            if not _under(module, rule.scope) or any(_under(module, e) for e in rule.exempt):
                continue
            for use in used:
                bad = any(_under(use.name, f) for f in rule.forbidden)
                if rule.only_internal is not None and _under(use.name, "reconciler") and use.name != "reconciler":
                    bad = bad or not any(_under(use.name, allowed) for allowed in rule.only_internal)
                if bad:
                    out.append(f"{module}:{use.line} uses {use.name} ({rule.scope}: {rule.why})")
    return sorted(set(out))


def cycles(found: dict[str, list[Use]]) -> list[list[str]]:
    """Import cycles among the package's modules, from module-level imports only (Tarjan's SCCs)."""
    graph: dict[str, list[str]] = {}
    for module, used in found.items():
        targets: set[str] = set()
        for use in used:
            if not use.top_level:
                continue
            # Importing a.b.c runs a/__init__ and a/b/__init__ first: those are edges too.
            parts = use.name.split(".")
            targets |= {".".join(parts[:n]) for n in range(1, len(parts) + 1)} & found.keys()
        graph[module] = sorted(targets - {module})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if _under(node, nxt):  # a module importing its own package: Python has it half-built already
                continue
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(result)


def layer_cycles(found: dict[str, list[Use]]) -> list[list[str]]:
    """Cycles between layers (`reconciler.X`: a top-level module or package), lazy imports included: a lazy
    import still makes two layers know each other (settings.py ↔ posthog/ was one, without any runtime cycle)."""

    def layer(name: str) -> str:
        return ".".join(name.split(".")[:2])

    collapsed: dict[str, list[Use]] = {}
    for module, used in found.items():
        here = layer(module)
        collapsed.setdefault(here, []).extend(
            Use(layer(u.name), u.line, True) for u in used if _under(u.name, "reconciler") and layer(u.name) != here
        )
    return cycles(collapsed)


def oversized(root: Path, limit: int = MAX_MODULE_LINES) -> list[str]:
    """`module: N lines` for every module of the package at `root` longer than `limit` lines."""
    found = []
    for path in sorted(root.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found.append(f"{module_name(path, root)}: {lines} lines")
    return found


# ---- the project -----------------------------------------------------------------------------------------


def test_every_module_keeps_to_its_layer() -> None:
    assert violations(scan(PACKAGE)) == []


def test_no_import_cycle() -> None:
    assert cycles(scan(PACKAGE)) == []


def test_no_cycle_between_layers() -> None:
    assert layer_cycles(scan(PACKAGE)) == []


def test_no_module_is_longer_than_the_limit() -> None:
    assert oversized(PACKAGE) == []


def test_every_rule_scope_exists() -> None:
    """A rule about a module that was moved away would pass for ever: keep them pointing at real code."""
    modules = set(scan(PACKAGE))
    for rule in RULES:
        assert any(_under(m, rule.scope) for m in modules), rule.scope


# ---- the checker fails when it should --------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "reconciler"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    return root


def test_a_forbidden_import_fails_the_layer_test(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "plan/planner.py": """
                import os
                import time
                from datetime import datetime
                from reconciler.posthog.models import LiveState  # data: allowed

                def build() -> None:
                    import httpx  # lazy, still knowledge
                    os.environ.get("X")
                    datetime.now()
            """,
            "manifest/validate.py": "from reconciler.posthog import client\n",
            "emulator/app.py": "from reconciler.plan.model import Plan\nfrom reconciler.catalog import load_catalog\n",
            "catalog/model.py": "from reconciler.secret import Secret\n",
            "secret.py": "from reconciler.errors import ReconcilerError\n",
            "posthog/models.py": "",
            "plan/model.py": "",
        },
    )
    found = violations(scan(root))
    assert [line.partition(" (")[0] for line in found] == [
        "reconciler.catalog.model:1 uses reconciler.secret",
        "reconciler.catalog.model:1 uses reconciler.secret.Secret",
        "reconciler.emulator.app:1 uses reconciler.plan.model",
        "reconciler.emulator.app:1 uses reconciler.plan.model.Plan",
        "reconciler.manifest.validate:1 uses reconciler.posthog",
        "reconciler.manifest.validate:1 uses reconciler.posthog.client",
        "reconciler.plan.planner:10 uses datetime.datetime.now",
        "reconciler.plan.planner:3 uses time",
        "reconciler.plan.planner:8 uses httpx",
        "reconciler.plan.planner:8 uses httpx",  # two rules: the planner's, and "only the client imports httpx"
        "reconciler.plan.planner:9 uses os.environ.get",
        "reconciler.secret:1 uses reconciler.errors",
        "reconciler.secret:1 uses reconciler.errors.ReconcilerError",
    ]
    # Each line says which rule and why, so the failure explains itself.
    assert (
        "reconciler.plan.planner:8 uses httpx (reconciler.plan: the planner is pure: no HTTP, environment, clock or "
        "loading)" in found
    )


def test_type_checking_imports_and_exempt_modules_pass(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "plan/render.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from reconciler.posthog.client import PostHogClient
            """,
            "manifest/templates.py": "import os\nVALUE = os.environ.get('X')\n",
            "posthog/client.py": "import httpx\n",
        },
    )
    assert violations(scan(root)) == []


def test_a_long_module_fails_the_size_test(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"posthog/client.py": "x = 1\n" * (MAX_MODULE_LINES + 1), "plan/model.py": "x = 1\n" * 450})
    assert oversized(root) == [f"reconciler.posthog.client: {MAX_MODULE_LINES + 1} lines"]


@pytest.mark.parametrize("lazy", [False, True])
def test_an_import_cycle_fails_unless_one_side_is_lazy(tmp_path: Path, lazy: bool) -> None:
    back = "def f() -> None:\n    import reconciler.settings\n" if lazy else "import reconciler.settings\n"
    root = _tree(
        tmp_path,
        {
            "settings.py": "from reconciler.posthog.ratelimit import parse\n",
            "posthog/ratelimit.py": "from reconciler.posthog import client\n",
            "posthog/client.py": back,
        },
    )
    expected = [] if lazy else [["reconciler.posthog.client", "reconciler.posthog.ratelimit", "reconciler.settings"]]
    assert cycles(scan(root)) == expected


def test_a_lazy_import_back_is_still_a_cycle_between_layers(tmp_path: Path) -> None:
    """settings.py ↔ posthog/ as it was: no runtime cycle (posthog/ imported settings lazily), one layer cycle."""
    root = _tree(
        tmp_path,
        {
            "settings.py": "from reconciler.posthog.ratelimit import parse\n",
            "posthog/ratelimit.py": "",
            "posthog/client.py": "def build() -> None:\n    from reconciler.settings import Settings\n",
        },
    )
    found = scan(root)
    assert cycles(found) == []
    assert layer_cycles(found) == [["reconciler.posthog", "reconciler.settings"]]
