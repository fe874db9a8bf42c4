"""Benchmark: reconciler's refresh (one paged list) vs a per-resource refresher (one GET per source, as
Terraform providers do in `terraform plan`'s refresh), against the same seeded emulator at the same limits.

For each size: N Postgres sources × T tables are seeded into an emulator store (no HTTP), served by
`reconciler serve --db FILE --control --rate-limit SPEC`. Then, each with a fresh client paced to SPEC:
  * reconciler: `PostHogClient.fetch_live_state()` — what `plan` and `drift` do (one GET per 1000 sources);
  * refresher: `PostHogClient.get_source(id)` for every source id (ids known up front, as from a state file),
    from 10 worker threads (Terraform's default -parallelism) sharing the client's limiter.
Requests are counted by the emulator (`/_emulator/stats`). A provider that also modelled each table as a
resource would need N × (1 + T) GETs; that column is computed, not measured.

    .venv/bin/python bench/bench_refresher.py [--sizes 10x50,100x50,300x50,1000x50] [--workers 10]
                                              [--rate-limit 480/minute,4800/hour]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import benchlib

__all__ = ["RefresherResult", "main", "run"]


@dataclass(frozen=True)
class RefresherResult:
    sources: int
    tables: int
    list_requests: int
    list_wall: float
    get_requests: int
    get_wall: float
    throttled: int
    same_state: bool

    @property
    def ratio(self) -> float:
        return self.get_requests / max(self.list_requests, 1)


def _client(server: benchlib.Server, rate_limit: str | None):  # type: ignore[no-untyped-def]
    from reconciler.posthog.client import build_client
    from reconciler.settings import resolve_settings

    return build_client(resolve_settings(benchlib.cli_env(server, RECONCILER_RATE_LIMIT=rate_limit or "off")))


def run(sources: int, tables: int, rate_limit: str | None, workers: int, workdir: Path) -> RefresherResult:
    manifests = workdir / f"refresh_{sources}x{tables}"
    db = workdir / f"refresh_{sources}x{tables}.sqlite"
    env = benchlib.write_postgres_manifests(manifests, sources, tables)
    benchlib.seed_store(db, manifests, env)
    with benchlib.running_server(db=db, rate_limit=rate_limit) as server:
        with _client(server, None) as setup:
            ids = [s.id for s in setup.list_sources()]  # the "state file"
        server.reset()
        with _client(server, rate_limit) as client:
            started = time.perf_counter()
            listed = client.fetch_live_state()
            list_wall = time.perf_counter() - started
        stats = server.stats()
        list_requests, throttled = stats["total"], stats["throttled"]
        server.reset()
        with _client(server, rate_limit) as client, ThreadPoolExecutor(max_workers=workers) as pool:
            started = time.perf_counter()
            fetched = list(pool.map(client.get_source, ids))
            get_wall = time.perf_counter() - started
        stats = server.stats()
    same = sorted(listed.sources, key=attrgetter("id")) == sorted(fetched, key=attrgetter("id"))
    return RefresherResult(
        sources, tables, list_requests, list_wall, stats["total"], get_wall, throttled + stats["throttled"], same
    )


def render(results: list[RefresherResult], rate_limit: str | None, workers: int) -> str:
    headers = [
        "sources × tables",
        "reconciler requests",
        "reconciler wall",
        "per-source GETs",
        "refresher wall",
        "request ratio",
        "if tables were resources",
        "429s",
        "same state",
    ]
    rows = [
        [
            f"{r.sources} × {r.tables}",
            r.list_requests,
            f"{r.list_wall:.2f} s",
            r.get_requests,
            f"{r.get_wall:.2f} s",
            f"{r.ratio:.0f}×",
            r.sources * (1 + r.tables),
            r.throttled,
            "yes" if r.same_state else "NO",
        ]
        for r in results
    ]
    return (
        f"refresh: one paged list vs one GET per source ({workers} workers), rate limit {rate_limit or 'off'}\n"
        + benchlib.format_table(headers, rows)
    )


def main(argv: list[str] | None = None) -> int:
    from bench_plan import parse_sizes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10x50,100x50,300x50,1000x50", help="NxT,NxT,...")
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--rate-limit", default="480/minute,4800/hour", help="server and client limit; 'off'")
    args = parser.parse_args(argv)
    rate_limit = None if args.rate_limit.lower() in ("", "off", "none") else args.rate_limit
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(n, t, rate_limit, args.workers, Path(tmp)) for n, t in parse_sizes(args.sizes)]
    print(render(results, rate_limit, args.workers))
    return 1 if any(r.throttled or not r.same_state for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
