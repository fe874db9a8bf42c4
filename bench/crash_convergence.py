"""Crash convergence benchmark: SIGKILL `reconciler apply` at random points on a 30-source manifest, then check
that one more apply converges (no duplicate, no lost setting, unmanaged source untouched).

    .venv/bin/python bench/crash_convergence.py --runs 50 --mode serve   # reconciler serve --db FILE subprocess
    .venv/bin/python bench/crash_convergence.py --runs 30 --mode local   # --host local (the kill takes the server too)

Exit 0 when there were no failures. The engine is tests/reliability/crash_kit.py (also run by pytest -m slow).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reliability"))

from crash_kit import crash_runs

__all__ = ["main"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--mode", choices=["serve", "local"], default="serve")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crash-") as tmp:
        stats = crash_runs(Path(tmp), args.runs, mode=args.mode, seed=args.seed)
    print(f"mode {args.mode}: {stats.summary()}; {time.monotonic() - started:.0f}s")
    for problem in stats.problems:
        print("  -", problem[:2000])
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
