"""Fault matrix: every request kind `apply` sends × every failure a server or proxy can produce, through the
CLI in-process against the emulator over real HTTP, faults injected with the control API's rules.

Each cell: seed the project (an earlier apply, plus one unmanaged source made "in the UI"), add one fault rule,
run `apply --format json`; the report must be exact (ok, or exactly the faulted step FAILED with the cause and
the rest of its chain skipped; exit code to match). Then, faults cleared, a second apply must leave PostHog
matching the manifest: `plan --detailed-exitcode` exits 0, no (type, prefix) is held twice, and the unmanaged
source reads back byte-for-byte as before.

Two intensities: `transient` (the rule fires once: retries and re-listing absorb it wherever a call may be
replayed; `reload` is never replayed once it may have arrived, since each call starts a sync, so it fails
precisely) and `persistent` (it fires on every attempt: apply must fail precisely, and the re-run converges).
A delayed rule counts a request only when its delay ends, so every attempt sent meanwhile is delayed too: a
"transient" timeout on create (three attempts, no pause between them) therefore fails, precisely.
Set FAULT_MATRIX_TABLE=path to get the outcome table written there (bench/fault_matrix.py does).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import (
    API_KEY,
    KINDS,
    RETRY_PAUSE,
    STRIPE_CANARY,
    Kind,
    ProjectApi,
    duplicates,
    fast_cli_client,
)
from support.emulators import served

from reconciler.cli import run_cli
from reconciler.emulator.keys import ApiKey, keyring_from
from reconciler.emulator.testing import Emulator

CLIENT_TIMEOUT = 0.4
DELAY_MS = 800  # beyond CLIENT_TIMEOUT: the client gives up, the server goes on
#: The faults: emulator rule fields (reference/posthog-api.md §3 bodies; 502/503 are a proxy's HTML page).
FAULTS: dict[str, dict[str, Any]] = {
    "429": {"status": 429, "wait_seconds": 0},
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503},
    "drop": {"status": 0},
    # The client gives up (read timeout); then the server runs the endpoint anyway and drops the socket. Caveat
    # (emulator): by then uvicorn reports the client gone, so endpoints that read a body (create, PATCH) fail to
    # read it and commit nothing (the "commit+502" column covers a committed write whose answer is lost).
    "timeout": {"status": 0, "delay_ms": DELAY_MS, "after_commit": True},
    "commit+502": {"status": 502, "after_commit": True},
}
#: What the failed step's error must say, per fault.
CAUSE = {
    "429": "429: Request was throttled",
    "500": "500: A server error occurred",
    "502": "502",
    "503": "503",
    "drop": "Server disconnected without sending a response",
    "timeout": "ReadTimeout",
    "commit+502": "502",
}
INTENSITY = {"transient": 1, "persistent": 99}

_teams = itertools.count(10)
_RESULTS: dict[tuple[str, str, str], str] = {}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    keys = keyring_from([ApiKey(API_KEY, frozenset(range(1, 400)), frozenset({"*"}))])
    with served(keys=keys, control=True) as emulator, fast_cli_client(CLIENT_TIMEOUT):
        yield emulator
    table = os.environ.get("FAULT_MATRIX_TABLE")
    if table:
        Path(table).write_text(render_table(_RESULTS), encoding="utf-8")


@pytest.fixture
def env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTHOG_HOST", emu.base_url)
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", API_KEY)
    monkeypatch.setenv("STRIPE_SECRET_KEY", STRIPE_CANARY)
    monkeypatch.delenv("POSTHOG_PROJECT_ID", raising=False)
    monkeypatch.delenv("RECONCILER_FINGERPRINT_KEY", raising=False)


@dataclass
class Run:
    code: int
    out: str
    err: str


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert STRIPE_CANARY not in out + err
    return Run(code, out, err)


def wait_fired(api: ProjectApi) -> int:
    """How often the rule answered; a delayed rule counts only once its delay is over, so wait for that."""
    deadline = time.monotonic() + DELAY_MS / 1000 + 1
    while True:
        fired = int(api.control("GET", "/faults")["rules"][0]["fired"])
        if fired or time.monotonic() > deadline:
            return fired
        time.sleep(0.05)


def check_report(run: Run, kind: Kind, fault: str) -> str:
    """The first apply's JSON report is exact; returns the table cell's first half."""
    report = json.loads(run.out)
    assert run.code == (0 if report["ok"] else 1), run
    steps = report["steps"]
    failed = [s for s in steps if s["status"] == "failed"]
    if report["ok"]:
        assert all(s["status"] == "succeeded" for s in steps)
        notes = [s["note"] for s in steps if s["note"] and "lost" in s["note"]]
        return "ok (found by re-list)" if notes else "ok"
    assert len(failed) == 1, steps
    [bad] = failed
    assert bad["kind"] == kind.step_kind, bad
    assert CAUSE[fault] in bad["error"], bad["error"]
    after = steps[steps.index(bad) + 1 :]
    same_source = [s for s in after if s["address"] == bad["address"]]
    assert all(s["status"] == "skipped" and s["error"].startswith("skipped: ") for s in same_source), same_source
    assert "Apply FAILED" not in run.out  # json only on stdout; progress lines on stderr
    assert f"{bad['address']}: {bad['effect']} … FAILED" in run.err
    return "FAILED " + bad["kind"]


def _cells() -> list[Any]:
    """Every transient cell in the default run; of the persistent ones a diagonal (each kind and each fault at
    least once), the rest under `-m slow`."""
    cells = []
    faults = list(FAULTS)
    for i, kind in enumerate(KINDS):
        for j, fault in enumerate(faults):
            for intensity in INTENSITY:
                diagonal = j in (i % len(faults), (i + 4) % len(faults))
                marks = [pytest.mark.slow] if intensity == "persistent" and not diagonal else []
                cells.append(
                    pytest.param(
                        kind, fault, intensity, marks=marks, id=f"{kind.name.replace(' ', '_')}-{fault}-{intensity}"
                    )
                )
    return cells


@pytest.mark.parametrize(("kind", "fault", "intensity"), _cells())
def test_fault_cell(
    kind: Kind, fault: str, intensity: str, emu: Emulator, env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    team = next(_teams)
    api = ProjectApi(emu.base_url, team)
    try:
        unmanaged = api.create_unmanaged()
        manifest = tmp_path / "sources.yaml"
        base = ("--project", str(team), str(manifest))
        if kind.seed is not None:
            manifest.write_text(kind.seed)
            assert cli(capsys, "apply", "--auto-approve", *base).code == 0
        before = api.source(unmanaged)
        manifest.write_text(kind.target)
        rule = {
            "method": kind.method,
            "path": kind.path.format(team=team),
            "times": INTENSITY[intensity],
            **FAULTS[fault],
        }
        api.add_fault(**rule)
        # A delayed request is counted only when its delay ends; retrying sooner would meet the same rule
        # again (the emulator counts a rule after its delay), so timeouts get a real pause between attempts.
        RETRY_PAUSE[0] = DELAY_MS / 1000 if "delay_ms" in rule else 0.0
        try:
            first = cli(capsys, "apply", "--auto-approve", "--format", "json", *kind.flags, *base)
            fired = wait_fired(api)
        finally:
            RETRY_PAUSE[0] = 0.0
            api.clear_faults()
        assert fired >= 1, "the fault never fired: the cell tests nothing"
        cell = check_report(first, kind, fault)

        second = cli(capsys, "apply", "--auto-approve", *kind.flags, *base)
        assert second.code == 0, second
        final = cli(capsys, "plan", "--detailed-exitcode", *base)
        assert final.code == 0 and "No changes" in final.out, final
        live = api.sources()
        assert duplicates(live) == {}
        assert api.source(unmanaged) == before
        expected = {("Stripe", "sa"), ("Zendesk", "ui_made")}
        assert {(s["source_type"], s["prefix"]) for s in live} == expected
        _RESULTS[(kind.name, fault, intensity)] = f"{cell} / converged"
    finally:
        api.close()


def render_table(results: dict[tuple[str, str, str], str]) -> str:
    lines = []
    for intensity in INTENSITY:
        lines.append(f"\n{intensity} faults (rule fires {INTENSITY[intensity]}x): first apply / after second apply\n")
        lines.append("| request kind | " + " | ".join(FAULTS) + " |")
        lines.append("|---" * (len(FAULTS) + 1) + "|")
        for kind in KINDS:
            cells = [results.get((kind.name, f, intensity), "not run") for f in FAULTS]
            lines.append(f"| {kind.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
