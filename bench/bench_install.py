"""Benchmark: what installing reconciler costs a CI job — `pip install` of the wheel into a fresh venv: wall time
(median), size added to site-packages, distributions installed; as CI installs it for plan/apply/drift, and
with the `emulator` extra (`reconciler serve`, `--host local`) as the quick start does.

    .venv/bin/python bench/bench_install.py [--runs 3] [--source DIR]

The wheel is built once from `--source` (default: this checkout); each run is a new venv (its creation is not
timed) and one `pip install` with the machine's pip configuration and a warm pip cache, as a CI runner with a
cache has. `--source` lets the same script measure an older checkout (the "before" numbers: before the split,
the plain install held the emulator's packages, and `[emulator]` adds nothing). `--drop-emulator` also builds
the wheel with the emulator's packages removed from its dependencies, which is what the split did.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import benchlib

__all__ = ["EMULATOR_ONLY", "InstallResult", "build_wheel", "main", "measure"]

ROOT = Path(__file__).resolve().parents[1]
#: Distributions only the emulator imports (reconciler/emulator/); plan/apply/drift against PostHog need none.
EMULATOR_ONLY = frozenset({"starlette", "uvicorn", "psycopg", "pymysql"})


@dataclass(frozen=True)
class InstallResult:
    name: str
    wall: float
    wall_min: float
    cpu: float
    size_mb: float
    distributions: int


def build_wheel(source: Path, out: Path, *, drop: frozenset[str] = frozenset()) -> Path:
    """`pip wheel` of a copy of `source` (pyproject.toml, README.md, reconciler/) into `out`; `drop` removes
    those distributions from `[project] dependencies` first (what moving them to an extra would install)."""
    src = out / "src"
    shutil.copytree(source / "reconciler", src / "reconciler", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(source / "README.md", src / "README.md")
    lines = (source / "pyproject.toml").read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not (line.startswith('    "') and _name(line.strip().strip('",')) in drop)]
    (src / "pyproject.toml").write_text("".join(kept), encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def _site_size(venv: Path) -> tuple[int, int]:
    (site,) = venv.glob("lib/python*/site-packages")
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    return size, len(list(site.glob("*.dist-info")))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, wheel: Path, runs: int, extra: str | None = None) -> InstallResult:
    """Median wall time of `pip install WHEEL` (or `WHEEL[extra]`) into fresh venvs, and what it added."""
    spec = str(wheel) if extra is None else f"{wheel}[{extra}]"
    walls: list[float] = []
    cpus: list[float] = []
    size = dists = 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            venv = Path(tmp) / "venv"
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            base_size, base_dists = _site_size(venv)
            cpu_start = _children_cpu()
            start = time.perf_counter()
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", spec],
                check=True,
                capture_output=True,
            )
            walls.append(time.perf_counter() - start)
            cpus.append(_children_cpu() - cpu_start)
            after_size, after_dists = _site_size(venv)
            size, dists = after_size - base_size, after_dists - base_dists
    return InstallResult(name, benchlib.median(walls), min(walls), benchlib.median(cpus), size / 1e6, dists)


def render(results: list[InstallResult], runs: int, wheel: Path) -> str:
    headers = ["install", "wall (median)", "wall (min)", "CPU (median)", "site-packages added", "distributions"]
    rows = [
        [r.name, f"{r.wall:.1f} s", f"{r.wall_min:.1f} s", f"{r.cpu:.1f} s", f"{r.size_mb:.1f} MB", r.distributions]
        for r in results
    ]
    head = f"pip install of {wheel.name} into a fresh venv, warm pip cache, median of {runs} run(s)\n"
    return head + benchlib.format_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--source", type=Path, default=ROOT, help="checkout to build the wheel from")
    parser.add_argument("--drop-emulator", action="store_true", help="also: the wheel without the emulator's packages")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as full, tempfile.TemporaryDirectory() as light:
        wheel = build_wheel(args.source, Path(full))
        results = [
            measure("plan/apply/drift (`pip install posthog-reconciler`)", wheel, args.runs),
            measure("with the emulator (`pip install 'posthog-reconciler[emulator]'`)", wheel, args.runs, "emulator"),
        ]
        if args.drop_emulator:
            split = build_wheel(args.source, Path(light), drop=EMULATOR_ONLY)
            results.append(measure(f"without {', '.join(sorted(EMULATOR_ONLY))}", split, args.runs))
        print(render(results, args.runs, wheel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
