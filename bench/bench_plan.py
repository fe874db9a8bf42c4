"""Benchmark: `reconciler plan` of N sources × T tables against a seeded emulator.

For each size: Postgres manifests with T tables per source (mixed sync types, a secret() password each) are
written and seeded into an emulator SQLite store in bulk (`benchlib.seed_store`: the state an apply would
leave, no HTTP); then every 10th source's first table is edited in the manifests, so the plan has N/10
updates and the rest unchanged. A `reconciler serve --db FILE --control --rate-limit SPEC` process serves it,
and each run is one cold `reconciler plan` child process (wall time and peak RSS from its rusage), with the
request counts read from `/_emulator/stats` (reset before each run).

Minimum requests: PostHog's list has no maximum page size (reference/posthog-api.md §5), so one request can
hold every source with its schemas; the issue's bound is ceil(N/100) (the default page size).
`server list` is the emulator's own time to answer the same list request(s) (one GET with httpx), i.e. the
part of the wall time that belongs to the server, not to reconciler.

    .venv/bin/python bench/bench_plan.py [--sizes 10x50,100x50,1000x50,300x100] [--runs 5]
                                         [--rate-limit 480/minute,4800/hour] [--breakdown]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import benchlib
import httpx

__all__ = ["PlanResult", "breakdown", "breakdown_in_child", "main", "parse_sizes", "run"]

_LIST = "GET /api/projects/{project_id}/external_data_sources/"
_SUMMARY = re.compile(r"^(Plan: .*|No changes\..*)$", re.MULTILINE)


@dataclass(frozen=True)
class PlanResult:
    sources: int
    tables: int
    runs: int
    wall: float
    wall_min: float
    max_rss_mb: float
    requests: int
    list_requests: int
    throttled: int
    server_list: float
    seed_seconds: float
    summary: str

    @property
    def issue_bound(self) -> int:
        return math.ceil(self.sources / 100)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        n, t = part.lower().split("x")
        sizes.append((int(n), int(t)))
    return sizes


def _server_list_time(server: benchlib.Server) -> float:
    """Time the emulator takes to answer the list the client sends (limit=1000, following `next`)."""
    headers = {"Authorization": f"Bearer {benchlib.BENCH_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
        started = time.perf_counter()
        url: str | None = "/api/projects/1/external_data_sources/?limit=1000"
        while url:
            response = http.get(url)
            response.raise_for_status()
            url = response.json().get("next")
        return time.perf_counter() - started


def run(sources: int, tables: int, runs: int, rate_limit: str | None, workdir: Path) -> PlanResult:
    manifests = workdir / f"plan_{sources}x{tables}"
    db = workdir / f"plan_{sources}x{tables}.sqlite"
    env = benchlib.write_postgres_manifests(manifests, sources, tables)
    started = time.perf_counter()
    benchlib.seed_store(db, manifests, env)
    seed_seconds = time.perf_counter() - started
    benchlib.write_postgres_manifests(manifests, sources, tables, changed_every=10)
    walls: list[float] = []
    rss: list[float] = []
    counts: list[tuple[int, int, int]] = []
    summary = ""
    with benchlib.running_server(db=db, rate_limit=rate_limit) as server:
        cli_env = benchlib.cli_env(server, env, RECONCILER_RATE_LIMIT=rate_limit or "off")
        for _ in range(runs):
            server.reset()
            done = benchlib.run_cli(["plan", str(manifests)], cli_env)
            if done.returncode != 0:
                raise RuntimeError(f"plan failed ({done.returncode}): {done.stderr[-2000:]}")
            stats = server.stats()
            counts.append((stats["total"], stats["by_route"].get(_LIST, 0), stats["throttled"]))
            walls.append(done.wall)
            rss.append(done.max_rss_mb)
            found = _SUMMARY.findall(done.stdout)
            summary = found[-1] if found else "?"
        server_list = _server_list_time(server)
    return PlanResult(
        sources=sources,
        tables=tables,
        runs=runs,
        wall=benchlib.median(walls),
        wall_min=min(walls),
        max_rss_mb=max(rss),
        requests=max(c[0] for c in counts),
        list_requests=max(c[1] for c in counts),
        throttled=sum(c[2] for c in counts),
        server_list=server_list,
        seed_seconds=seed_seconds,
        summary=summary,
    )


def breakdown(sources: int, tables: int, workdir: Path) -> list[tuple[str, float, float]]:
    """In-process phases of one plan (seconds, peak RSS MB after the phase), to show where the time goes."""
    from reconciler.commands.common import ManifestOptions, catalog_for, load_state
    from reconciler.plan.planner import PlanOptions, build_plan
    from reconciler.plan.render import render
    from reconciler.posthog.client import build_client
    from reconciler.settings import resolve_settings

    manifests = workdir / f"plan_{sources}x{tables}"
    db = workdir / f"plan_{sources}x{tables}.sqlite"
    env = benchlib.write_postgres_manifests(manifests, sources, tables, changed_every=10)
    phases: list[tuple[str, float, float]] = []

    def mark(name: str, since: float) -> None:
        phases.append((name, time.perf_counter() - since, benchlib.own_peak_rss_mb()))

    with benchlib.running_server(db=db) as server:
        from reconciler.commands.context import manifest_project

        t = time.perf_counter()  # the CLI's look for `project:` before the real load
        manifest_project([manifests])
        mark("commands.context.manifest_project (line scan for project:)", t)
        t = time.perf_counter()
        catalog = catalog_for("bundled", None)
        desired = load_state(ManifestOptions(paths=(manifests,)), {**os.environ, **env}, catalog)
        mark("load + validate manifests (load_state)", t)
        settings = resolve_settings(benchlib.cli_env(server, RECONCILER_RATE_LIMIT="off"))
        with build_client(settings) as client:
            t = time.perf_counter()
            live = client.fetch_live_state()
            mark("list over HTTP + LiveSource models (fetch_live_state)", t)
        t = time.perf_counter()
        plan = build_plan(desired, live, catalog, PlanOptions(host=settings.host, project="1"))
        mark("build_plan", t)
        t = time.perf_counter()
        render(plan, "text", color=False)
        mark("render text", t)
    return phases


def breakdown_in_child(sources: int, tables: int, workdir: Path) -> list[tuple[str, float, float]]:
    """`breakdown` in a fresh interpreter, so neither the seeding's memory nor its objects (which slow the
    cyclic GC) of this process distort the phases."""
    code = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import bench_plan; "
        "print(json.dumps(bench_plan.breakdown(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))))"
    )
    done = benchlib.run_python(
        ["-c", code, str(Path(__file__).resolve().parent), str(sources), str(tables), str(workdir)],
        benchlib.cli_env(None),
    )
    if done.returncode != 0:
        raise RuntimeError(f"breakdown failed: {done.stderr[-2000:]}")
    return [(str(name), float(secs), float(mb)) for name, secs, mb in json.loads(done.stdout.splitlines()[-1])]


def render_results(results: list[PlanResult], rate_limit: str | None) -> str:
    headers = [
        "sources × tables",
        "wall (median)",
        "wall (min)",
        "peak RSS",
        "requests",
        "list requests",
        "ceil(N/100)",
        "429s",
        "server list",
        "plan",
        "seed (not timed)",
    ]
    rows = [
        [
            f"{r.sources} × {r.tables}",
            f"{r.wall:.2f} s",
            f"{r.wall_min:.2f} s",
            f"{r.max_rss_mb:.0f} MB",
            r.requests,
            r.list_requests,
            r.issue_bound,
            r.throttled,
            f"{r.server_list:.2f} s",
            r.summary,
            f"{r.seed_seconds:.1f} s",
        ]
        for r in results
    ]
    runs = results[0].runs if results else 0
    return (
        f"plan, cold CLI process, median of {runs} run(s), rate limit {rate_limit or 'off'}\n"
        + benchlib.format_table(headers, rows)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10x50,100x50,1000x50,300x100", help="NxT,NxT,...")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rate-limit", default="480/minute,4800/hour", help="server and client limit; 'off'")
    parser.add_argument("--breakdown", action="store_true", help="also time the phases of the largest size")
    args = parser.parse_args(argv)
    rate_limit = None if args.rate_limit.lower() in ("", "off", "none") else args.rate_limit
    sizes = parse_sizes(args.sizes)
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(n, t, args.runs, rate_limit, Path(tmp)) for n, t in sizes]
        print(render_results(results, rate_limit))
        if args.breakdown:
            n, t = max(sizes, key=lambda s: s[0] * s[1])
            rows = [[name, f"{secs:.2f} s", f"{mb:.0f} MB"] for name, secs, mb in breakdown_in_child(n, t, Path(tmp))]
            print(f"\nphases of one plan of {n} × {t}, in a fresh process (its peak RSS after each phase)")
            print(benchlib.format_table(["phase", "time", "peak RSS"], rows))
    bad = [r for r in results if r.throttled or r.list_requests > r.issue_bound]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
