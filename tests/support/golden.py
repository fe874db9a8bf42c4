"""Golden transcripts of the real CLI: one scratch directory, one emulator, commands run in-process, and each
command's exit code, stdout and stderr written as one text that must equal a file under `tests/` byte for byte.

What varies between runs is made stable before comparing: the clock is fixed (SOURCE_DATE_EPOCH, which also
leaves durations out of apply's lines), the emulator's port is written `PORT`, and its random ids are
numbered in order of appearance (`<id-1>`, `<id-2>`, …). Apply runs with `--parallelism 1` so its step lines
come in plan order.

Regenerate every golden file after an intended change with
`RECONCILER_UPDATE_GOLDEN=1 pytest tests/apply/test_golden.py tests/drift/test_golden.py`, then read the diff.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import run_cli
from reconciler.emulator.testing import Emulator

__all__ = ["BASE", "UPDATE_ENV", "GoldenWorld", "assert_golden", "golden_world"]

UPDATE_ENV = "RECONCILER_UPDATE_GOLDEN"
STRIPE_KEY = "sk_test_CANARYgolden5150"
ZENDESK_KEY = "zd-CANARY-golden-5150"
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")

#: Three sources the golden stories start from (applied before the command under test).
BASE = """\
version: 1
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod
    description: Billing
    secrets_version: "1"
    config:
      auth_method: {selection: api_key, stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"}
      stripe_account_id: acct_1
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
      Charge: {sync: true, sync_type: incremental, incremental_field: created, incremental_field_type: integer}
    revenue_analytics: {enabled: true}
  crm:
    type: Hubspot
    prefix: crm
    config: {hubspot_integration_id: 4211}
    tables:
      contacts: {sync: true, sync_type: full_refresh, frequency: 12hour}
  support:
    type: Zendesk
    prefix: zd
    config: {subdomain: acme, api_key: "{{ secret('ZD_KEY') }}", email_address: ops@example.com}
    tables:
      tickets: {sync: true, sync_type: full_refresh}
"""


def assert_golden(path: Path, actual: str) -> None:
    """`actual` must equal the file at `path`; with RECONCILER_UPDATE_GOLDEN set, it is written there instead."""
    if os.environ.get(UPDATE_ENV):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with {UPDATE_ENV}=1 to write it"
    assert actual == path.read_text(encoding="utf-8")


@dataclass
class GoldenWorld:
    """A scratch directory holding `sources.yaml` and an emulator the CLI is pointed at."""

    dir: Path
    emulator: Emulator
    capsys: pytest.CaptureFixture[str]

    def write(self, manifest: str) -> None:
        (self.dir / "sources.yaml").write_text(manifest, encoding="utf-8")

    def apply_base(self) -> None:
        """Apply BASE (not recorded): where the update, delete and drift stories start."""
        self.write(BASE)
        code, out, err = self.cli("apply", "--auto-approve", "sources.yaml")
        assert code == 0, out + err

    def cli(self, *argv: str) -> tuple[int, str, str]:
        code = run_cli(list(argv))
        out, err = self.capsys.readouterr()
        assert STRIPE_KEY not in out + err and ZENDESK_KEY not in out + err and "Traceback" not in err
        return code, out, err

    def transcript(self, *argv: str) -> str:
        """`$ reconciler ARGV`, the exit code, stdout and stderr as one stable text (the golden file's content)."""
        code, out, err = self.cli(*argv)
        text = f"$ reconciler {' '.join(argv)}\nexit {code}\n--- stdout\n{out}--- stderr\n{err}"
        text = text.replace(self.emulator.base_url, "http://127.0.0.1:PORT")
        ids: dict[str, str] = {}
        return _UUID.sub(lambda m: ids.setdefault(m.group(), f"<id-{len(ids) + 1}>"), text)

    def api(self) -> httpx.Client:
        """PostHog's API as the UI uses it (project 1, the emulator's key): for changes made outside reconciler."""
        return self.emulator.client()


def golden_world(
    start_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[GoldenWorld]:
    """A generator for a fixture: a scratch directory and a fresh emulator (control API on) the CLI points at."""
    monkeypatch.chdir(tmp_path)
    for name in ("POSTHOG_HOST", "POSTHOG_PROJECT_ID", "NO_COLOR", "RECONCILER_FINGERPRINT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setenv("STRIPE_SECRET_KEY", STRIPE_KEY)
    monkeypatch.setenv("ZD_KEY", ZENDESK_KEY)
    with start_emulator(control=True) as emu:
        for name, value in emu.cli_env().items():
            monkeypatch.setenv(name, value)
        yield GoldenWorld(tmp_path, emu, capsys)
