"""The wheel `pip wheel .` builds works installed non-editable, away from the source tree.

One module-scoped fixture builds the wheel from a copy of the sources (no build isolation: offline and
fast; the build backend is a dev dependency), makes a fresh venv and installs the wheel into it with
`--no-deps`. The venv reaches the third-party packages through a `.pth` line naming the test venv's
site-packages: a directory added that way has its own `.pth` files ignored, so the editable install of
the source tree stays invisible — every command below runs the installed copy, which the first test proves.
Whether the wheel's declared dependencies are enough is checked from its metadata against its imports.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

import reconciler

ROOT = Path(__file__).resolve().parents[2]
#: What a build reads: project metadata, the readme it embeds, the package.
BUILD_INPUTS = ("pyproject.toml", "README.md", "reconciler")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    work: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def reconciler(self) -> Path:
        return self.venv / "bin" / "reconciler"

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """The installed console script, from a directory outside the source tree."""
        return subprocess.run(
            [str(self.reconciler), *args],
            cwd=self.work,
            env=_clean_env(env),
            capture_output=True,
            text=True,
            timeout=120,
        )


def _clean_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POSTHOG_", "RECONCILER_", "PYTHON")) and k not in {"VIRTUAL_ENV"}
    }
    return {**env, "NO_COLOR": "1", **(extra or {})}


def _check(cmd: list[str], cwd: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=_clean_env(None), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = base / "dist"
    _check(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        base,
    )
    (wheel,) = dist.glob("*.whl")
    venv = base / "venv"
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)], base)
    site = Path(
        subprocess.check_output(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    deps = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (site / "_test_venv_deps.pth").write_text("".join(f"{p}\n" for p in deps), encoding="utf-8")
    _check(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        base,
    )
    work = base / "work"
    shutil.copytree(ROOT / "examples", work / "examples")
    yield Installed(wheel, venv, work)


def test_commands_run_the_installed_copy_not_the_source_tree(installed: Installed) -> None:
    done = subprocess.run(
        [str(installed.python), "-c", "import reconciler; print(reconciler.__file__)"],
        cwd=installed.work,
        env=_clean_env(None),
        capture_output=True,
        text=True,
        check=True,
    )
    location = Path(done.stdout.strip()).resolve()
    assert location.is_relative_to(installed.venv.resolve()), location
    assert not location.is_relative_to(ROOT.resolve())


def test_version_comes_from_the_package(installed: Installed) -> None:
    done = installed.run("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"reconciler, version {reconciler.__version__}\n"
    assert installed.wheel.name == f"posthog_reconciler-{reconciler.__version__}-py3-none-any.whl"


def test_the_wheel_holds_every_package_file(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        packed = set(archive.namelist())
    sources = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "reconciler").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert sources - packed == set()
    assert {
        "reconciler/catalog/source_types.json",
        "reconciler/catalog/all_source_types.txt",
        "reconciler/help.txt",
    } <= packed


def test_help_from_the_wheel_is_the_committed_text(installed: Installed) -> None:
    """The console script answers `--help` from the packed help.txt (reconciler/entry.py), as click would."""
    done = installed.run("--help", env={"COLUMNS": "80"})
    assert (done.returncode, done.stdout) == (0, (ROOT / "reconciler" / "help.txt").read_text(encoding="utf-8"))
    narrow = installed.run("--help", env={"COLUMNS": "60"})  # too narrow for help.txt: click renders it
    assert narrow.returncode == 0 and "Usage: reconciler [OPTIONS] COMMAND" in narrow.stdout
    assert narrow.stdout != done.stdout


def test_validate_from_the_wheel(installed: Installed) -> None:
    done = installed.run("validate", "examples/sources.yaml")
    assert (done.returncode, done.stdout) == (0, "4 sources in 1 file: valid\n"), done.stderr
    # A type the catalog does not have is looked up in all_source_types.txt: a clean error, not a crash.
    manifest = installed.work / "unknown.yaml"
    manifest.write_text("version: 1\nsources:\n  x:\n    type: Stripee\n", encoding="utf-8")
    done = installed.run("validate", str(manifest))
    assert done.returncode == 1, done.stderr
    assert "unknown.yaml:4:11: x.type: unknown source type 'Stripee'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_schema_from_the_wheel_is_the_documented_one(installed: Installed) -> None:
    done = installed.run("schema")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads((ROOT / "docs" / "manifest.schema.json").read_text(encoding="utf-8"))
    done = installed.run("schema", "--repo-config")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads((ROOT / "docs" / "reconciler.schema.json").read_text(encoding="utf-8"))


def test_quick_start_plan_against_the_embedded_emulator(installed: Installed) -> None:
    shutil.rmtree(installed.work / ".reconciler", ignore_errors=True)
    env = {"STRIPE_SECRET_KEY": "sk_test_demo", "APP_DB_PASSWORD": "demo"}
    done = installed.run("plan", "--host", "local", "examples/sources.yaml", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("reconciler plan for project 1 at local\n")
    assert (
        "Plan: 3 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.\n" in done.stdout
    )  # the tombstone: nothing
    assert (installed.work / ".reconciler" / "emulator.db").is_file()


_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


def _third_party_imports(package_dir: Path, *, skip: str | None = None) -> set[str]:
    names: set[str] = set()
    for path in package_dir.rglob("*.py"):
        if skip is not None and skip in path.relative_to(package_dir).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in _STDLIB and n != "reconciler"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_declared_dependencies_cover_every_import(installed: Installed) -> None:
    """The core dependencies cover every import outside the emulator, the `emulator` extra what the emulator
    adds, and nothing declared goes unused (a dependency costs every user install time and disk)."""
    with zipfile.ZipFile(installed.wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [line for line in archive.read(meta).decode().splitlines() if line.startswith("Requires-Dist:")]
    declared: dict[str, set[str]] = {}
    for line in requires:
        spec, _, marker = line.removeprefix("Requires-Dist:").partition(";")
        extra = re.search(r"extra == ['\"]([\w-]+)['\"]", marker)
        name = _canonical(re.split(r"[\s\[<>=!~(]", spec.strip(), maxsplit=1)[0])
        declared.setdefault(extra.group(1) if extra else "", set()).add(name)
    core, emulator = declared[""], declared["emulator"]
    providers = metadata.packages_distributions()

    def distributions(modules: set[str]) -> dict[str, set[str]]:
        return {module: {_canonical(d) for d in providers.get(module, ["?"])} for module in sorted(modules)}

    client_side = distributions(_third_party_imports(ROOT / "reconciler", skip="emulator"))
    emulator_side = distributions(_third_party_imports(ROOT / "reconciler" / "emulator"))
    assert {m: d for m, d in client_side.items() if not d & core} == {}, "imported but not in [project] dependencies"
    assert {m: d for m, d in emulator_side.items() if not d & (core | emulator)} == {}, "not in the emulator extra"
    assert core - set().union(*client_side.values()) == set()
    assert emulator - set().union(*emulator_side.values()) == set()
    assert emulator & core == set()
