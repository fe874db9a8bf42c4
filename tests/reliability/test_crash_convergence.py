"""Crash convergence: SIGKILL `reconciler apply` mid-run (after a random number of finished steps), then one more
apply must converge: exit 0, no changes left, no duplicate (type, prefix), the unmanaged source untouched.

A short version runs by default; the ≥50-run versions are `slow` (also: bench/crash_convergence.py). The short
runs kill after 1–10 finished steps of a 30-source change and check that every kill really landed mid-apply:
the process was still running, it had reported at least one step done, and a plan right after the kill still
had changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crash_kit import CrashStats, crash_runs


def _check(stats: CrashStats) -> None:
    assert stats.problems == []  # the list says what went wrong, run by run
    assert stats.failures == 0


def _landed_mid_apply(stats: CrashStats) -> None:
    assert stats.killed == stats.runs, stats.summary()
    assert stats.partial == stats.runs, stats.summary()
    assert all(steps >= 1 for steps in stats.kill_steps), stats.kill_steps


def test_crash_convergence_short_serve(tmp_path: Path) -> None:
    stats = crash_runs(tmp_path, 2, mode="serve", seed=7, min_steps=1, max_steps=10)
    _check(stats)
    assert stats.runs == 2
    _landed_mid_apply(stats)


def test_crash_convergence_short_local(tmp_path: Path) -> None:
    """`--host local`: the kill takes the embedded server (and its SQLite writes) down too."""
    stats = crash_runs(tmp_path, 1, mode="local", seed=3, min_steps=1, max_steps=10)
    _check(stats)
    assert stats.runs == 1
    _landed_mid_apply(stats)


@pytest.mark.slow
def test_crash_convergence_50_runs_serve(tmp_path: Path) -> None:
    stats = crash_runs(tmp_path, 50, mode="serve", seed=2026)
    _check(stats)
    assert stats.killed >= 40, stats.summary()  # most kills must land mid-apply, or the test proves little


@pytest.mark.slow
def test_crash_convergence_25_runs_local(tmp_path: Path) -> None:
    stats = crash_runs(tmp_path, 25, mode="local", seed=2027)
    _check(stats)
    assert stats.killed >= 18, stats.summary()
