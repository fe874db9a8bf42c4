"""Benchmark: start-up cost of the CLI — `reconciler --help`, `--version`, `validate` of a small manifest, and
a cold `plan` and `drift` of 10 sources against a remote emulator (a separate `reconciler serve` process, its
store seeded with the 10 sources), median of 10 cold child processes each, next to the bare interpreter; plus
which heavy third-party modules each command imports (they should be imported lazily, only by the commands
that need them). Issue 18's goals: `--help` < 50 ms, `validate` <= 0.12 s, `plan` of 10 sources <= 0.2 s.

    .venv/bin/python bench/bench_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import benchlib

__all__ = ["HEAVY", "StartupResult", "heavy_imports", "main", "run"]

#: Third-party packages that cost noticeable import time; `--help` should need none of them but click.
HEAVY = ("httpx", "pydantic", "yaml", "jinja2", "starlette", "uvicorn", "rich", "pygments", "psycopg", "pymysql")
#: The remote cases: sources × tables of Postgres manifests, seeded into the emulator's store (no changes).
REMOTE_SOURCES, REMOTE_TABLES = 10, 5

_SMALL = """version: 1
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
      Charge: {sync: true, sync_type: append, incremental_field: created, incremental_field_type: integer}
  app_db:
    type: Postgres
    prefix: app_
    config: {host: db.example.com, port: 5432, database: app, user: reader,
             password: "{{ secret('APP_DB_PASSWORD') }}", schema: public}
    tables:
      accounts: {sync: true, sync_type: full_refresh}
"""

_PROBE = """
import io, json, sys, contextlib
from reconciler.entry import run
with contextlib.redirect_stdout(io.StringIO()):
    code = run(sys.argv[1:])
heavy = sorted(m for m in {heavy} if sys.modules.get(m) is not None)
print(json.dumps({{"code": code, "modules": len(sys.modules), "heavy": heavy}}))
"""


@dataclass(frozen=True)
class StartupResult:
    name: str
    wall: float
    wall_min: float
    cpu: float
    max_rss_mb: float
    modules: int | None
    heavy: tuple[str, ...] | None


def heavy_imports(args: list[str], env: dict[str, str] | None = None) -> tuple[int, tuple[str, ...]]:
    """(module count, heavy packages) after running the CLI with `args` in a fresh interpreter."""
    probe = _PROBE.format(heavy=repr(HEAVY))
    done = benchlib.run_python(["-c", probe, *args], env or benchlib.cli_env(None))
    if done.returncode != 0:
        raise RuntimeError(f"probe failed: {done.stderr[-1000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    if data["code"] != 0:
        raise RuntimeError(f"reconciler {' '.join(args)} exited {data['code']}")
    return int(data["modules"]), tuple(data["heavy"])


def _measure(
    name: str, argv: list[str], runs: int, probe_args: list[str] | None, env: dict[str, str] | None = None
) -> StartupResult:
    env = env or benchlib.cli_env(None)
    walls, cpus, rss = [], [], []
    for _ in range(runs):
        done = benchlib.run_python(argv, env)
        if done.returncode != 0:
            raise RuntimeError(f"{name} exited {done.returncode}: {done.stderr[-1000:]}")
        walls.append(done.wall)
        cpus.append(done.cpu)
        rss.append(done.max_rss_mb)
    modules, heavy = heavy_imports(probe_args, env) if probe_args is not None else (None, None)
    return StartupResult(name, benchlib.median(walls), min(walls), benchlib.median(cpus), max(rss), modules, heavy)


def _remote(runs: int, workdir: Path) -> list[StartupResult]:
    """Cold `plan` and `drift` of the seeded sources against a separate `reconciler serve` process."""
    manifests = workdir / "remote"
    env = benchlib.write_postgres_manifests(manifests, REMOTE_SOURCES, REMOTE_TABLES)
    db = workdir / "remote.sqlite"
    benchlib.seed_store(db, manifests, env)
    label = f"{REMOTE_SOURCES} sources × {REMOTE_TABLES} tables, remote emulator"
    with benchlib.running_server(db=db) as server:
        cli_env = benchlib.cli_env(server, env)
        return [
            _measure(
                f"reconciler {command} ({label})",
                ["-m", "reconciler", command, str(manifests)],
                runs,
                [command, str(manifests)],
                cli_env,
            )
            for command in ("plan", "drift")
        ]


def compile_package() -> None:
    """Byte-compile reconciler first, as `pip install` does: the children run with PYTHONDONTWRITEBYTECODE, so
    after a checkout each would otherwise recompile every changed module and measure the compiler."""
    import compileall

    import reconciler

    compileall.compile_dir(Path(reconciler.__file__).parent, quiet=1)


def run(runs: int) -> list[StartupResult]:
    compile_package()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "sources.yaml"
        manifest.write_text(_SMALL, encoding="utf-8")
        return [
            _measure("python -c pass (baseline)", ["-c", "pass"], runs, None),
            _measure("reconciler --help", ["-m", "reconciler", "--help"], runs, ["--help"]),
            _measure("reconciler --version", ["-m", "reconciler", "--version"], runs, ["--version"]),
            _measure(
                "reconciler validate (2 sources)",
                ["-m", "reconciler", "validate", str(manifest)],
                runs,
                ["validate", str(manifest)],
            ),
            *_remote(runs, Path(tmp)),
        ]


def render(results: list[StartupResult], runs: int) -> str:
    headers = ["command", "wall (median)", "wall (min)", "CPU (median)", "peak RSS", "modules loaded"]
    headers.append("heavy packages imported")
    rows = [
        [
            r.name,
            f"{r.wall * 1000:.0f} ms",
            f"{r.wall_min * 1000:.0f} ms",
            f"{r.cpu * 1000:.0f} ms",
            f"{r.max_rss_mb:.0f} MB",
            "" if r.modules is None else r.modules,
            "" if r.heavy is None else (", ".join(r.heavy) or "none"),
        ]
        for r in results
    ]
    return f"start-up, cold child processes, median of {runs} run(s)\n" + benchlib.format_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    results = run(args.runs)
    print(render(results, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
