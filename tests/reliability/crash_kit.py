"""Crash convergence engine: SIGKILL `reconciler apply` at a random moment, then check one more apply converges.

Two targets: `serve` (a `reconciler serve --db FILE --port 0 --control` subprocess that outlives the killed
apply) and `local` (`--host local`: the emulator runs inside the apply process, so the kill takes the server
and its SQLite file down mid-write too). Every run applies one of three 30-source manifests in rotation
(creates; updates of descriptions, tables and revenue settings with new tables; deletes), so kills land in
every kind of step. After each kill: one `apply` must exit 0, then a plan must show no changes, no
(type, prefix) may be held twice, and the unmanaged source must read back unchanged. Any miss is a failure.

Test-only; used by tests/reliability/test_crash_convergence.py and bench/crash_convergence.py.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability_kit import ProjectApi, duplicates, manifest_text, source_yaml

__all__ = ["CrashStats", "crash_runs", "serve_subprocess", "variant"]

SOURCES = 30
KEY = "phx_local"
CANARY = "sk_test_CANARYcrash9931"


def variant(index: int) -> tuple[str, set[tuple[str, str]]]:
    """Manifest text for rotation `index % 3` and the (type, prefix) pairs it wants present."""
    kind = index % 3
    parts, present = [], set()
    for i in range(SOURCES):
        address, prefix = f"src_{i:02d}", f"s{i:02d}"
        if kind == 2 and i >= SOURCES - 5:
            parts.append(source_yaml(address, prefix=prefix, absent=True))
            continue
        present.add(("Stripe", prefix))
        if kind == 0:
            parts.append(source_yaml(address, prefix=prefix))
        elif kind == 1:
            parts.append(source_yaml(
                address, prefix=prefix, description="v1" if i % 2 == 0 else "managed",
                customer_frequency="12hour" if i % 3 == 0 else "24hour", extra_table=i % 5 == 0,
                primary_key=i % 4 == 0, revenue_invoiceless=False if i % 7 == 0 else None,
            ))  # fmt: skip
        else:
            parts.append(source_yaml(address, prefix=prefix, description="v2"))
    return manifest_text(*parts), present


@contextmanager
def serve_subprocess(workdir: Path) -> Iterator[str]:
    """`reconciler serve --db FILE --port 0 --control`; yields its base URL; terminates it on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--db", str(workdir / "emulator.db"), "--port", "0",
         "--control"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"serve did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@dataclass
class CrashStats:
    runs: int = 0
    killed: int = 0  # the kill landed while apply was still running
    partial: int = 0  # killed with some steps done (reported finished) and some not (a plan still had changes)
    finished_before_kill: int = 0
    duplicates: int = 0
    lost_settings: int = 0  # a plan after the converging apply still had changes
    converge_failures: int = 0  # the converging apply did not exit 0
    unmanaged_touched: int = 0
    kill_delays: list[float] = field(default_factory=list)
    kill_steps: list[int] = field(default_factory=list)  # finished steps seen before each kill
    problems: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.duplicates + self.lost_settings + self.converge_failures + self.unmanaged_touched

    def summary(self) -> str:
        delays = sorted(self.kill_delays) or [0.0]
        return (
            f"{self.runs} runs: {self.killed} killed mid-apply ({self.partial} with some but not all steps done), "
            f"{self.finished_before_kill} finished before "
            f"the kill; failures {self.failures} (duplicates {self.duplicates}, lost settings "
            f"{self.lost_settings}, converging apply failed {self.converge_failures}, unmanaged touched "
            f"{self.unmanaged_touched}); killed after {delays[0]:.2f}-{delays[-1]:.2f}s, after "
            f"{min(self.kill_steps, default=0)}-{max(self.kill_steps, default=0)} finished steps"
        )


def _env(host: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTHOG_", "RECONCILER_"))}
    env.update(
        {
            "POSTHOG_HOST": host,
            "POSTHOG_PROJECT_ID": "1",
            "POSTHOG_PERSONAL_API_KEY": KEY,
            "STRIPE_SECRET_KEY": CANARY,
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _apply_cmd(manifest: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "reconciler",
        "apply",
        "--auto-approve",
        "--allow-delete",
        "--max-deletes",
        str(SOURCES),
        "--parallelism",
        "4",
        str(manifest),
    ]


def _plan_clean(manifest: Path, env: dict[str, str], cwd: Path) -> tuple[bool, str]:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--detailed-exitcode", str(manifest)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def crash_runs(
    workdir: Path, runs: int, *, mode: str = "serve", seed: int = 0, min_steps: int = 0, max_steps: int = 40
) -> CrashStats:
    """`runs` kill-and-converge rounds against a fresh server (mode `serve`) or `--host local` state. Each kill
    lands after a random number of finished steps in [min_steps, max_steps] (0: while apply starts)."""
    rng = random.Random(seed)
    stats = CrashStats()
    workdir.mkdir(parents=True, exist_ok=True)
    manifest = workdir / "sources.yaml"
    if mode == "serve":
        with serve_subprocess(workdir) as url:
            _rounds(workdir, manifest, url, url, runs, rng, stats, (min_steps, max_steps))
    else:
        # The embedded emulator: state under workdir/.reconciler/; inspected through a serve on the same file
        # only between applies (never two writers at once).
        _rounds(workdir, manifest, "local", None, runs, rng, stats, (min_steps, max_steps))
    return stats


def _inspect(workdir: Path, url: str | None) -> Any:
    if url is not None:
        return _nullcontext(url)
    return _serve_on(workdir / ".reconciler")


@contextmanager
def _nullcontext(url: str) -> Iterator[str]:
    yield url


@contextmanager
def _serve_on(state_dir: Path) -> Iterator[str]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with serve_subprocess(state_dir) as url:
        yield url


def _kill_somewhere(
    manifest: Path,
    env: dict[str, str],
    workdir: Path,
    rng: random.Random,
    stats: CrashStats,
    step_range: tuple[int, int],
) -> None:
    """Start apply and SIGKILL it after `k` finished steps (its stderr progress lines, one per finished step; k
    random in `step_range`, 0 = while it starts, plans or runs its first step) plus a random few milliseconds.
    A kill after k >= 1 steps is checked to have landed mid-apply: a plan right after it must still have changes
    (the apply's own journal said some steps were done; the plan says not all were)."""
    steps = rng.randint(*step_range)
    proc = subprocess.Popen(
        _apply_cmd(manifest), env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    started = time.monotonic()
    finished = False
    try:
        if steps == 0:
            time.sleep(rng.uniform(0.0, 1.0))
        else:
            seen = 0
            while seen < steps:
                line = proc.stderr.readline()
                if not line:
                    finished = True
                    break
                seen += " … " in line
            time.sleep(rng.uniform(0.0, 0.03))
        if proc.poll() is not None:
            finished = True
        else:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
        proc.stderr.close()
    stats.kill_delays.append(time.monotonic() - started)
    if finished:
        stats.finished_before_kill += 1
        return
    stats.killed += 1
    stats.kill_steps.append(steps)
    if steps >= 1:
        clean, _ = _plan_clean(manifest, env, workdir)
        stats.partial += not clean


def _rounds(
    workdir: Path,
    manifest: Path,
    host: str,
    url: str | None,
    runs: int,
    rng: random.Random,
    stats: CrashStats,
    step_range: tuple[int, int],
) -> None:
    env = _env(host)
    with _inspect(workdir, url) as inspect_url:
        api = ProjectApi(inspect_url, 1, key=KEY)
        unmanaged = api.create_unmanaged()
        unmanaged_before = api.source(unmanaged)
        api.close()
    text, _ = variant(0)
    manifest.write_text(text)
    full = subprocess.run(_apply_cmd(manifest), env=env, cwd=workdir, capture_output=True, text=True, timeout=300)
    if full.returncode != 0:
        stats.problems.append(f"baseline apply failed: {full.stdout[-1000:]}{full.stderr[-1000:]}")
        stats.converge_failures += 1
        return
    for run in range(runs):
        stats.runs += 1
        text, present = variant(run + 1)
        manifest.write_text(text)
        _kill_somewhere(manifest, env, workdir, rng, stats, step_range)
        converge = subprocess.run(
            _apply_cmd(manifest), env=env, cwd=workdir, capture_output=True, text=True, timeout=300
        )
        if converge.returncode != 0:
            stats.converge_failures += 1
            stats.problems.append(
                f"run {run}: converging apply exit {converge.returncode}: "
                f"{converge.stdout[-1500:]}{converge.stderr[-1500:]}"
            )
        clean, output = _plan_clean(manifest, env, workdir)
        if not clean:
            stats.lost_settings += 1
            stats.problems.append(f"run {run}: plan after converging apply: {output}")
        with _inspect(workdir, url) as inspect_url:
            api = ProjectApi(inspect_url, 1, key=KEY)
            try:
                live = api.sources()
                dup = duplicates(live)
                if dup:
                    stats.duplicates += sum(n - 1 for n in dup.values())
                    stats.problems.append(f"run {run}: duplicates {dup}")
                wanted = present | {("Zendesk", "ui_made")}
                got = {(s["source_type"], s["prefix"]) for s in live}
                if got != wanted:
                    stats.lost_settings += 1
                    stats.problems.append(f"run {run}: sources {sorted(got ^ wanted)} differ from the manifest")
                if api.source(unmanaged) != unmanaged_before:
                    stats.unmanaged_touched += 1
                    stats.problems.append(f"run {run}: the unmanaged source changed")
            finally:
                api.close()
