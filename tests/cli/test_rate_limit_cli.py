"""Waiting on PostHog's rate limit is announced on stderr, once per wait, in the words of issue 14:
`PostHog rate limit: waiting 56 s (480/minute)`. The CLI in-process, the emulator over real HTTP: its fault
control answers 429 with PostHog's throttle body ("Expected available in 5 seconds"), and its own rate limit
stands in for PostHog's while the client paces itself under it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import run_cli
from reconciler.emulator.traffic.middleware import TrafficControl

#: Three sources, each with a table setting patched after its create: three `bulk_update_schemas` calls that
#: the executor sends at once, from three workers.
MANIFEST = "version: 1\nsources:\n" + "".join(
    f"""\
  crm_{n}:
    type: Hubspot
    prefix: crm_{n}
    config: {{hubspot_integration_id: {4210 + n}}}
    tables:
      contacts: {{sync: true, sync_type: full_refresh, frequency: 12hour}}
"""
    for n in range(3)
)
ANNOUNCED = re.compile(r"^PostHog rate limit: waiting \d+ s \((.*)\)$", flags=re.M)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def _control(emu: Any, method: str, path: str, **body: Any) -> Any:
    with emu.control() as control:
        response = control.request(method, path, json=body or None)
        assert response.status_code == 200, response.text
        return response.json()


def test_a_throttled_burst_is_announced_once_for_every_worker_it_holds(
    cli_emulator: Any, manifest: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = cli_emulator()
    monkeypatch.setenv("RECONCILER_RATE_LIMIT", "off")  # only the server decides here
    # The three table PATCHes are all answered 429 "Expected available in 5 seconds" (held 0.8 s, so the three
    # are in flight together): three workers pause for the same 5 s.
    rule = {"method": "PATCH", "path": "bulk_update_schemas", "status": 429, "times": 3, "wait_seconds": 5}
    _control(emu, "POST", "/faults", rules=[{**rule, "delay_ms": 800}])
    code = run_cli(["apply", "--auto-approve", "--parallelism", "4", str(manifest)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert ANNOUNCED.findall(err) == ["PostHog answered 429 to bulk_update_schemas"], err
    assert "PostHog rate limit: waiting 5 s (PostHog answered 429 to bulk_update_schemas)\n" in err
    assert _control(emu, "GET", "/faults")["rules"][0]["fired"] == 3
    assert "Apply complete: 6 steps succeeded" in out


def test_pacing_under_the_budget_is_announced_with_the_budget(
    cli_emulator: Any, manifest: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator throttles like PostHog at 3 requests a second; the client's budget is stricter (3 per 5 s),
    # so it waits before PostHog would have to refuse anything, and says so once per wait.
    emu = cli_emulator(traffic=TrafficControl.from_options(rate_limit="3/second"))
    monkeypatch.setenv("RECONCILER_RATE_LIMIT", "3/5s")
    code = run_cli(["apply", "--auto-approve", "--parallelism", "4", str(manifest)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    reasons = ANNOUNCED.findall(err)
    assert reasons and set(reasons) == {"3/5s"}, err
    # list + 3 creates + re-list + 3 table PATCHes = 8 requests, 3 per 5 s: two waits of about 6 s, each said
    # once, however many of the four workers it holds.
    assert len(reasons) == 2, err
    assert _control(emu, "GET", "/stats")["throttled"] == 0
