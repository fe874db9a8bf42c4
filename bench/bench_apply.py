"""Benchmark: `reconciler apply` of N new sources × T tables against the emulator at PostHog's real rate limits.

For each parallelism and run: a fresh `reconciler serve --rate-limit SPEC --control` process (in memory) whose
Stripe upstream lists T tables, then one cold `reconciler apply --auto-approve --format json --parallelism P`
child process with RECONCILER_RATE_LIMIT=SPEC (the client paces itself to the same limits), then a
`reconciler plan --detailed-exitcode` that must report no changes (the apply converged; not timed).

Counts come from the emulator's `/_emulator/stats`. The minimum the API allows for a create of N sources whose
tables set a non-default frequency (PostHog ignores `sync_frequency` at create, reference/posthog-api.md §8.3):
  1 plan list (the project starts empty) + N creates + 1 re-list (ceil(N/1000) pages: no max page size, §5; it
  gives the ids of the new table rows, as the create answers only `{"id"}`, §8.3) + N bulk table updates
  (`bulk_update_schemas`, §8.13).
The re-list is shared by every source: the alternative, one GET per created source, costs N requests.

Pacing floor: with a sliding-window limit of L requests per W seconds, R requests cannot finish before
floor((R-1)/L) × (W + 1 s client margin); below L requests the throttle allows everything at once, so the
wall time is then the server's and client's own work, not `R ÷ rate`.

    .venv/bin/python bench/bench_apply.py [--sources 100] [--tables 20] [--parallelism 1,4] [--runs 1]
                                          [--rate-limit 480/minute,4800/hour]   # 'off' for unthrottled
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import benchlib

__all__ = ["ApplyResult", "main", "minimum_requests", "pacing_floor", "run"]

_LIST = "GET /api/projects/{project_id}/external_data_sources/"
_CREATE = "POST /api/projects/{project_id}/external_data_sources/"
_BULK = "PATCH /api/projects/{project_id}/external_data_sources/{source_id}/bulk_update_schemas/"


@dataclass(frozen=True)
class ApplyResult:
    sources: int
    tables: int
    parallelism: int
    wall: float  # median over runs
    max_rss_mb: float
    requests: int
    minimum: int
    by_kind: dict[str, int]  # list / create / bulk / other
    throttled: int
    converged: bool
    floor: float
    per_rate: float  # requests ÷ the tightest per-second rate


def minimum_requests(sources: int) -> int:
    return 1 + sources + math.ceil(sources / 1000) + sources


def _windows(spec: str) -> list[tuple[int, float]]:
    from reconciler.rate_spec import parse_rate_limit

    return [(w.limit, w.seconds) for w in parse_rate_limit(spec)]


def pacing_floor(requests: int, spec: str, margin: float = 1.0) -> float:
    """The least wall time the client's limiter allows for `requests` requests."""
    return max([(requests - 1) // limit * (seconds + margin) for limit, seconds in _windows(spec)] or [0.0])


def _per_rate(requests: int, spec: str) -> float:
    rates = [limit / seconds for limit, seconds in _windows(spec)]
    return requests / rates[0] if rates else 0.0


def run(sources: int, tables: int, parallelism: int, runs: int, rate_limit: str) -> ApplyResult:
    throttled_spec = rate_limit if rate_limit.lower() not in ("", "off", "none") else None
    walls: list[float] = []
    rss: list[float] = []
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        manifests = Path(tmp) / "manifests"
        env = benchlib.write_stripe_manifests(manifests, sources, tables)
        for _ in range(runs):
            with benchlib.running_server(rate_limit=throttled_spec) as server:
                server.set_stripe_tables(benchlib.stripe_tables(tables))
                server.reset()
                cli_env = benchlib.cli_env(server, env, RECONCILER_RATE_LIMIT=throttled_spec or "off")
                done = benchlib.run_cli(
                    ["apply", "--auto-approve", "--format", "json", "--parallelism", str(parallelism), str(manifests)],
                    cli_env,
                )
                if done.returncode != 0:
                    raise RuntimeError(f"apply failed ({done.returncode}): {done.stderr[-2000:]}")
                report = json.loads(done.stdout)
                if not report["ok"]:
                    raise RuntimeError(f"apply reported failures: {report['summary']}")
                stats = server.stats()
                check = benchlib.run_cli(["plan", "--detailed-exitcode", str(manifests)], cli_env)
                walls.append(done.wall)
                rss.append(done.max_rss_mb)
                routes = stats["by_route"]
                kinds = {"list": routes.get(_LIST, 0), "create": routes.get(_CREATE, 0), "bulk": routes.get(_BULK, 0)}
                kinds["other"] = stats["total"] - sum(kinds.values())
                result = {
                    "requests": stats["total"],
                    "throttled": stats["throttled"],
                    "by_kind": kinds,
                    "converged": check.returncode == 0 and "No changes." in check.stdout,
                }
    requests = int(result["requests"])  # type: ignore[call-overload]
    return ApplyResult(
        sources=sources,
        tables=tables,
        parallelism=parallelism,
        wall=benchlib.median(walls),
        max_rss_mb=max(rss),
        requests=requests,
        minimum=minimum_requests(sources),
        by_kind=result["by_kind"],
        throttled=int(result["throttled"]),  # type: ignore[arg-type, call-overload]
        converged=bool(result["converged"]),
        floor=pacing_floor(requests, throttled_spec) if throttled_spec else 0.0,
        per_rate=_per_rate(requests, throttled_spec) if throttled_spec else 0.0,
    )


def render(results: list[ApplyResult], rate_limit: str, runs: int) -> str:
    headers = [
        "sources × tables",
        "parallelism",
        "wall (median)",
        "peak RSS",
        "requests",
        "minimum",
        "list/create/bulk/other",
        "429s",
        "pacing floor",
        "requests ÷ rate",
        "converged",
    ]
    rows = [
        [
            f"{r.sources} × {r.tables}",
            r.parallelism,
            f"{r.wall:.2f} s",
            f"{r.max_rss_mb:.0f} MB",
            r.requests,
            r.minimum,
            "/".join(str(r.by_kind[k]) for k in ("list", "create", "bulk", "other")),
            r.throttled,
            f"{r.floor:.0f} s",
            f"{r.per_rate:.1f} s",
            "yes" if r.converged else "NO",
        ]
        for r in results
    ]
    return f"apply at rate limit {rate_limit!r}, {runs} run(s) each\n" + benchlib.format_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--parallelism", default="1,4", help="comma-separated values to compare")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rate-limit", default="480/minute,4800/hour", help="server and client limit; 'off'")
    args = parser.parse_args(argv)
    results = [run(args.sources, args.tables, int(p), args.runs, args.rate_limit) for p in args.parallelism.split(",")]
    print(render(results, args.rate_limit, args.runs))
    bad = [r for r in results if r.throttled or r.requests > r.minimum or not r.converged]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
