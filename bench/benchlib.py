"""Shared plumbing for the benchmarks in bench/: manifest generation, seeding the emulator's store in bulk,
running `reconciler serve` as a separate process, running the real CLI as a child process (wall time and
the child's own peak RSS), reading `/_emulator/stats`, and printing result tables.

Not part of the `reconciler` package; the scripts next to this file import it as `benchlib` (their directory
is `sys.path[0]` when run as `python bench/bench_x.py`; the smoke tests in tests/bench/ add it themselves).
"""

from __future__ import annotations

import math
import os
import re
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "BENCH_KEY",
    "CliRun",
    "Server",
    "cli_env",
    "format_table",
    "median",
    "own_peak_rss_mb",
    "run_cli",
    "run_python",
    "running_server",
    "seed_store",
    "write_postgres_manifests",
    "write_stripe_manifests",
]

BENCH_KEY = "phx_local"  # `reconciler serve` without --keys: one key, all scopes, team 1
_LISTENING = re.compile(r"listening on (http://\S+)")
_TABLE_SHAPES = (
    "{{sync: true, sync_type: full_refresh, frequency: 24hour}}",
    "{{sync: true, sync_type: incremental, incremental_field: updated_at, incremental_field_type: timestamp, "
    "frequency: 1hour}}",
    "{{sync: true, sync_type: append, incremental_field: id, incremental_field_type: integer}}",
    "{{sync: false}}",
    "{{sync: true, sync_type: full_refresh}}",
)


# ---- manifests ---------------------------------------------------------------------------------------


def write_postgres_manifests(
    directory: Path, sources: int, tables: int, *, per_file: int = 50, changed_every: int = 0
) -> dict[str, str]:
    """`sources` Postgres sources × `tables` tables (mixed sync types, a secret password each), `per_file`
    sources per file. With `changed_every=k`, every k-th source's first table asks for `frequency: 12hour`
    (a manifest edit to plan against a store seeded from the unedited manifests). Returns the env the
    manifests need (the secret values)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    env: dict[str, str] = {}
    for f in range(math.ceil(sources / per_file)):
        parts = ["version: 1\nsources:\n"]
        for i in range(f * per_file, min(sources, (f + 1) * per_file)):
            lines = [
                f"  pg_{i:04d}:\n    type: Postgres\n    prefix: pg_{i:04d}_\n    description: app database {i}\n",
                "    config:\n      host: db.example.com\n      port: 5432\n      database: app\n      user: reader\n",
                f"      password: \"{{{{ secret('PG_PASSWORD_{i}') }}}}\"\n      schema: public\n    tables:\n",
            ]
            for t in range(tables):
                shape = _TABLE_SHAPES[t % len(_TABLE_SHAPES)]
                if changed_every and i % changed_every == 0 and t == 0:
                    shape = "{{sync: true, sync_type: full_refresh, frequency: 12hour}}"
                lines.append(f"      t_{t:03d}: {shape.format()}\n")
            parts.append("".join(lines))
            env[f"PG_PASSWORD_{i}"] = f"pw-{i}-bench"
        (directory / f"sources_{f:03d}.yaml").write_text("".join(parts), encoding="utf-8")
    return env


def stripe_tables(tables: int) -> list[str]:
    return [f"Object{t:03d}" for t in range(tables)]


def write_stripe_manifests(directory: Path, sources: int, tables: int, *, per_file: int = 50) -> dict[str, str]:
    """`sources` Stripe sources × `tables` tables named `Object000…` (the emulator's Stripe upstream must list
    them: see `Server.set_stripe_tables`). Every table sets a non-default frequency, so each source needs
    its create plus one bulk table update (PostHog ignores `sync_frequency` at create, §8.3)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    env: dict[str, str] = {}
    names = stripe_tables(tables)
    for f in range(math.ceil(sources / per_file)):
        parts = ["version: 1\nsources:\n"]
        for i in range(f * per_file, min(sources, (f + 1) * per_file)):
            lines = [
                f"  stripe_{i:04d}:\n    type: Stripe\n    prefix: stripe_{i:04d}_\n",
                "    config:\n      auth_method:\n        selection: api_key\n",
                f"        stripe_secret_key: \"{{{{ secret('STRIPE_KEY_{i}') }}}}\"\n    tables:\n",
            ]
            for t, name in enumerate(names):
                if t % 2:
                    lines.append(f"      {name}: {{sync: true, sync_type: full_refresh, frequency: 24hour}}\n")
                else:
                    lines.append(
                        f"      {name}: {{sync: true, sync_type: append, incremental_field: created, "
                        "incremental_field_type: integer, frequency: 12hour}\n"
                    )
            parts.append("".join(lines))
            env[f"STRIPE_KEY_{i}"] = f"sk_test_bench{i:06d}"
        (directory / f"stripe_{f:03d}.yaml").write_text("".join(parts), encoding="utf-8")
    return env


# ---- seeding -----------------------------------------------------------------------------------------


def seed_store(db: Path, manifests: Path, env: Mapping[str, str], *, team_id: int = 1) -> int:
    """Write every source of `manifests` into the emulator's SQLite store at `db`, exactly as an apply of
    those manifests would leave it (ownership trailer, job_inputs as the emulator normalises them, table
    settings including the frequencies a post-create PATCH sets), in bulk, without HTTP. Returns the count.

    Uses the planner (against an empty project) to compute what apply would send, so the seeded state
    follows the tool's own rules; a plan of the same manifests against it must show no changes."""
    from reconciler.catalog import load_catalog
    from reconciler.emulator.rules.config import normalise_job_inputs
    from reconciler.emulator.store import NewSchema, Store
    from reconciler.manifest import LoadOptions, ValidateOptions, load_desired_state
    from reconciler.ownership import compose_description
    from reconciler.plan.fingerprint import complete_fingerprint
    from reconciler.plan.planner import PlanOptions, build_plan
    from reconciler.plan.steps import CreateSource, PatchSchemas
    from reconciler.posthog.models import LiveState
    from reconciler.secret import collect_secrets, reveal_all

    catalog = load_catalog()
    desired = load_desired_state(
        [manifests], catalog=catalog, load_options=LoadOptions(environ=dict(env)), validate_options=ValidateOptions()
    )
    plan = build_plan(desired, LiveState(), catalog, PlanOptions(host="http://127.0.0.1", project=str(team_id)))
    if plan.errors:
        raise RuntimeError(f"seed plan has errors: {plan.errors[:3]}")
    store = Store(db)
    try:
        for change in plan.changes:
            create = next(s for s in change.steps if isinstance(s, CreateSource))
            later = {u.name: u.changes for s in change.steps if isinstance(s, PatchSchemas) for u in s.updates}
            source_type = catalog.get(create.source_type)
            assert source_type is not None
            owned = create.description
            schemas = [
                NewSchema(
                    name=item["name"],
                    should_sync=bool(item.get("should_sync", False)),
                    sync_type=item.get("sync_type"),
                    incremental_field=item.get("incremental_field"),
                    incremental_field_type=item.get("incremental_field_type"),
                    sync_frequency=later.get(item["name"], {}).get("sync_frequency", "6hour"),
                    primary_key_columns=item.get("primary_key_columns") or ["id"],
                    available_columns=[{"name": "id", "data_type": "integer", "is_nullable": False}],
                )
                for item in create.schemas
            ]
            store.create_source(
                team_id=team_id,
                source_type=create.source_type,
                prefix=create.prefix,
                description=compose_description(
                    owned.user_text,
                    owned.address,
                    complete_fingerprint(owned.fingerprint[:6], collect_secrets(create.payload), None),
                ),
                access_method="warehouse",
                created_via="api",
                created_by=None,
                job_inputs=normalise_job_inputs(source_type, reveal_all(dict(create.payload))),
                revenue_enabled=create.source_type == "Stripe",
                schemas=schemas,
                check_prefix=False,
            )
    finally:
        store.close()
    return len(plan.changes)


# ---- the emulator as a separate process ----------------------------------------------------------------


@dataclass
class Server:
    """A running `reconciler serve --control` child process."""

    url: str
    process: subprocess.Popen[str]

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/_emulator", timeout=30)

    def stats(self) -> dict[str, Any]:
        with self.control() as c:
            response = c.get("/stats")
            response.raise_for_status()
            data: dict[str, Any] = response.json()
            return data

    def reset(self) -> None:
        """Zero the request statistics and forget the rate limiter's history (a fresh minute for the key)."""
        with self.control() as c:
            c.post("/stats/reset").raise_for_status()
            c.post("/rate-limit/reset").raise_for_status()

    def set_stripe_tables(self, names: Sequence[str]) -> None:
        body = {
            "tables": [
                {
                    "name": n,
                    "columns": [
                        {"name": "id", "type": "string", "nullable": False},
                        {"name": "created", "type": "integer"},
                    ],
                }
                for n in names
            ]
        }
        with self.control() as c:
            c.put("/upstreams/Stripe", json=body).raise_for_status()


@contextmanager
def running_server(*, db: Path | None = None, rate_limit: str | None = None, latency_ms: int = 0) -> Iterator[Server]:
    """Start `reconciler serve --port 0 --control` in its own process; stop it (by its pid) on exit."""
    argv = [sys.executable, "-m", "reconciler", "serve", "--port", "0", "--control"]
    if db is not None:
        argv += ["--db", str(db)]
    if rate_limit:
        argv += ["--rate-limit", rate_limit]
    if latency_ms:
        argv += ["--latency-ms", str(latency_ms)]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        url = _wait_for_url(process)
        yield Server(url, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _wait_for_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    seen: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = _LISTENING.search(line)
            if match:
                return match.group(1)
        elif process.poll() is not None:
            break
    err = process.stderr.read() if process.stderr is not None and process.poll() is not None else ""
    raise RuntimeError(f"reconciler serve did not start: {''.join(seen)}{err}")


# ---- the CLI as a child process -------------------------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    returncode: int
    wall: float  # seconds, fork to exit
    max_rss_mb: float  # the child's peak resident set (ru_maxrss)
    stdout: str
    stderr: str
    cpu: float = math.nan  # seconds of CPU, user + system (moves less than wall time with the machine's load)


def cli_env(server: Server | None, extra: Mapping[str, str] = (), **more: str) -> dict[str, str]:
    """The environment for a CLI run against `server` (host, project 1, key), plus `extra` (secrets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTHOG_", "RECONCILER_"))}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"})
    if server is not None:
        env.update({"POSTHOG_HOST": server.url, "POSTHOG_PROJECT_ID": "1", "POSTHOG_PERSONAL_API_KEY": BENCH_KEY})
    env.update(dict(extra))
    env.update(more)
    return env


#: Runs `-m MODULE ARGS` or `-c CODE ARGS` and, at exit, writes the process's own peak RSS (VmHWM, kB) to
#: $BENCH_RSS_FILE. The child's `ru_maxrss` from wait4 would not do: Linux carries the forking parent's
#: high-water mark across exec, so a bench process that seeded 300 MB would make every child look that big.
_RSS_SHIM = """
import atexit, os, runpy, sys
def _report():
    with open('/proc/self/status') as status:
        hwm = next(line.split()[1] for line in status if line.startswith('VmHWM:'))
    with open(os.environ['BENCH_RSS_FILE'], 'w') as out:
        out.write(hwm)
atexit.register(_report)
mode, target, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if mode == '-m':
    sys.argv = [target, *args]
    runpy.run_module(target, run_name='__main__', alter_sys=True)
else:
    sys.argv = ['-c', *args]
    exec(compile(target, '<string>', 'exec'), {'__name__': '__main__'})
"""


def own_peak_rss_mb() -> float:
    """This process's peak RSS since its exec (VmHWM; unlike ru_maxrss, not the forking parent's)."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def run_cli(args: Sequence[str], env: Mapping[str, str], *, cwd: Path | None = None) -> CliRun:
    """Run `python -m reconciler ARGS` in a child process; wall time and the child's own peak RSS."""
    return run_python(["-m", "reconciler", *args], env, cwd=cwd)


def run_python(args: Sequence[str], env: Mapping[str, str], *, cwd: Path | None = None) -> CliRun:
    """Run `python -m MODULE ...` or `python -c CODE ...` (the first two items of `args`) and measure it."""
    if len(args) < 2 or args[0] not in ("-m", "-c"):
        raise ValueError("args must start with -m MODULE or -c CODE")
    with tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False) as handle:
        rss_file = Path(handle.name)
    try:
        argv = [sys.executable, "-c", _RSS_SHIM, *args]
        with open(os.devnull, "rb") as stdin:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            process = subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**env, "BENCH_RSS_FILE": str(rss_file)},
                cwd=cwd,
            )
            out, err = process.communicate()
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # only this child was reaped in between
        text = rss_file.read_text().strip()
        rss_mb = int(text) / 1024 if text else float("nan")
    finally:
        rss_file.unlink(missing_ok=True)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return CliRun(process.returncode, wall, rss_mb, out.decode(), err.decode(), cpu)


# ---- numbers and tables -------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-markdown table (readable as plain text too)."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
