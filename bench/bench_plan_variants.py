"""Experiment: what the fixes proposed in docs/performance.md would buy for `reconciler plan`, measured without
editing reconciler — each variant runs the real CLI in a cold child process behind a few lines of set-up code
(garbage-collector settings, or the CLI's `project:` pre-read replaced). Same seeded emulator, same manifests
as bench_plan.py (every 10th source edited).

    .venv/bin/python bench/bench_plan_variants.py [--size 1000x50] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import benchlib

__all__ = ["VARIANTS", "main", "run"]

_SKIP_PROBE = "import reconciler.commands.context as c\nc.manifest_project = lambda paths: None\n"
_C_PROBE = (
    "import yaml\n_load_all = yaml.load_all\n"
    "yaml.safe_load_all = lambda stream: _load_all(stream, Loader=yaml.CSafeLoader)\n"
)
_GC_OFF = "import gc\ngc.disable()\n"
_GC_THRESHOLD = "import gc\ngc.set_threshold(100_000, 50, 100)\n"

#: name → set-up code run before the CLI in the child process.
VARIANTS: dict[str, str] = {
    "as is": "",
    "gc disabled": _GC_OFF,
    "gc threshold 100000": _GC_THRESHOLD,
    "project pre-read with CSafeLoader": _C_PROBE,
    "project pre-read skipped": _SKIP_PROBE,
    "pre-read skipped + gc threshold 100000": _GC_THRESHOLD + _SKIP_PROBE,
}
_RUN = "import sys\nfrom reconciler.cli import main\nmain(sys.argv[1:])\n"


def run(sources: int, tables: int, runs: int, workdir: Path) -> list[tuple[str, float, float, float, str]]:
    """(variant, median wall, min wall, peak RSS MB, plan summary line) per variant."""
    manifests, db = workdir / "manifests", workdir / "seed.sqlite"
    env = benchlib.write_postgres_manifests(manifests, sources, tables)
    benchlib.seed_store(db, manifests, env)
    benchlib.write_postgres_manifests(manifests, sources, tables, changed_every=10)
    rows = []
    with benchlib.running_server(db=db) as server:
        cli_env = benchlib.cli_env(server, env, RECONCILER_RATE_LIMIT="off")
        for name, setup in VARIANTS.items():
            walls, rss, summary = [], [], ""
            for _ in range(runs):
                done = benchlib.run_python(["-c", setup + _RUN, "plan", str(manifests)], cli_env)
                if done.returncode != 0:
                    raise RuntimeError(f"{name}: plan failed: {done.stderr[-2000:]}")
                walls.append(done.wall)
                rss.append(done.max_rss_mb)
                summary = done.stdout.strip().splitlines()[-1]
            rows.append((name, benchlib.median(walls), min(walls), max(rss), summary))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1000x50", help="NxT")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    sources, tables = (int(x) for x in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(sources, tables, args.runs, Path(tmp))
    print(f"plan of {sources} × {tables}, cold CLI process per variant, median of {args.runs} run(s)")
    print(
        benchlib.format_table(
            ["variant", "wall (median)", "wall (min)", "peak RSS", "plan"],
            [[n, f"{m:.2f} s", f"{lo:.2f} s", f"{r:.0f} MB", s] for n, m, lo, r, s in rows],
        )
    )
    return 0 if len({s for *_, s in rows}) == 1 else 1  # every variant must produce the same plan


if __name__ == "__main__":
    sys.exit(main())
