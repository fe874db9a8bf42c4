"""Two `reconciler apply` processes of the same manifest at once never create a duplicate source.

Both plan the same creates; PostHog (and the emulator) refuses the second create of a (type, prefix) with
400 "Prefix already exists" (reference/posthog-api.md §11), so the loser reports that step FAILED, its chain
skipped, and exits 1; a re-run converges. The race is made certain, not likely: the server holds each
apply's first source list until both applies have asked (`ListBarrier`), so both plan every create.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
from reliability_kit import ProjectApi, duplicates, manifest_text, source_yaml
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.emulator.server import serve_in_thread
from reconciler.emulator.traffic.middleware import TrafficControl

KEY = "phx_local"
CANARY = "sk_test_CANARYconc3141"
SOURCES = 6


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTHOG_", "RECONCILER_"))}
    env.update(
        {
            "POSTHOG_HOST": url,
            "POSTHOG_PROJECT_ID": "1",
            "POSTHOG_PERSONAL_API_KEY": KEY,
            "STRIPE_SECRET_KEY": CANARY,
            "NO_COLOR": "1",
        }
    )
    return env


def _apply(manifest: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--parallelism", "3", *extra, str(manifest)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class ListBarrier:
    """ASGI wrapper: the first `parties` source-list requests wait for each other (at most `timeout` seconds),
    so every apply sees the same empty project however late its process started on a loaded machine."""

    def __init__(self, app: ASGIApp, parties: int = 2, timeout: float = 60) -> None:
        self.app, self.parties, self.timeout = app, parties, timeout
        self.arrived = 0
        self.all_here: anyio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "")).rstrip("/")
        is_list = scope["type"] == "http" and scope["method"] == "GET" and path.endswith("/external_data_sources")
        if is_list and self.arrived < self.parties:
            self.all_here = self.all_here or anyio.Event()
            self.arrived += 1
            if self.arrived == self.parties:
                self.all_here.set()
            with anyio.move_on_after(self.timeout):
                await self.all_here.wait()
        await self.app(scope, receive, send)


def test_two_applies_at_once_create_each_source_once(start_emulator: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "sources.yaml"
    manifest.write_text(manifest_text(*(source_yaml(f"src_{i}", prefix=f"c{i}") for i in range(SOURCES))))
    # Some latency so the two applies' creates interleave rather than run back to back.
    with start_emulator(traffic=TrafficControl(latency_ms=50)) as emu, serve_in_thread(ListBarrier(emu.app)) as url:
        env = _env(url)
        procs = [_apply(manifest, env, "--format", "json"), _apply(manifest, env, "--format", "json")]
        results = [(p.wait(120), *p.communicate()) for p in procs]
        api = ProjectApi(url, 1, key=KEY)
        try:
            live = api.sources()
            assert duplicates(live) == {}
            assert sorted(s["prefix"] for s in live) == [f"c{i}" for i in range(SOURCES)]
            created: list[str] = []
            planned = 0
            for code, out, err in results:
                assert "Traceback" not in out + err and CANARY not in out + err
                report = json.loads(out)
                assert code == (0 if report["ok"] else 1)
                planned += sum(step["kind"] == "create_source" for step in report["steps"])
                for step in report["steps"]:
                    if step["kind"] == "create_source" and step["status"] == "succeeded":
                        created.append(step["address"])
                    elif step["kind"] == "create_source":
                        # What the user sees: the loser's create is refused by PostHog's uniqueness check.
                        assert step["status"] == "failed", step
                        assert "400: Prefix already exists" in step["error"], step["error"]
            assert planned == 2 * SOURCES  # both planned every create: the race really happened
            # Every source was created by exactly one of the two (a found-by-re-list create counts once).
            assert sorted(created) == sorted(f"src_{i}" for i in range(SOURCES)), created
            # A re-run converges.
            again = subprocess.run(
                [sys.executable, "-m", "reconciler", "apply", "--auto-approve", str(manifest)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert again.returncode == 0, again.stdout + again.stderr
            assert duplicates(api.sources()) == {}
            plan = subprocess.run(
                [sys.executable, "-m", "reconciler", "plan", "--detailed-exitcode", str(manifest)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert plan.returncode == 0 and "No changes" in plan.stdout, plan.stdout + plan.stderr
        finally:
            api.close()
