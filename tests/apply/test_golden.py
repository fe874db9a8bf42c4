"""Golden transcripts of `reconciler apply` (text and JSON): the plan it prints first, one line per step in the
manifest's words, and the report. Stories: creating three sources; an update of every impact kind (metadata,
next-sync, full-resync, credentials) with a replace and a delete; a targeted apply; and a step PostHog refuses
(the rest of its source skipped, other sources applied).

The CLI runs in-process against a real emulator (tests/support/golden.py says what is made stable and how).
Regenerate after an intended change: `RECONCILER_UPDATE_GOLDEN=1 pytest tests/apply/test_golden.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.golden import BASE, GoldenWorld, assert_golden, golden_world

GOLDEN = Path(__file__).parent / "golden"
APPLY = ("apply", "--auto-approve", "--parallelism", "1")

#: BASE changed in every way an update can be, plus a replace (new prefix) and a delete (state: absent).
CHANGED = (
    BASE.replace("description: Billing", "description: Billing (production)")
    .replace('secrets_version: "1"', 'secrets_version: "2"')
    .replace("frequency: 24hour", "frequency: 6hour")
    .replace("Charge: {sync: true, sync_type: incremental, incremental_field: created, incremental_field_type: "
             "integer}", "Charge: {sync: true, sync_type: full_refresh}")
    .replace("revenue_analytics: {enabled: true}", "revenue_analytics: {enabled: false}")
    .replace("prefix: crm\n", "prefix: crm_v2\n")
    .split("  support:")[0]
    + "  support:\n    type: Zendesk\n    prefix: zd\n    state: absent\n"
)  # fmt: skip


@pytest.fixture
def world(
    start_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[GoldenWorld]:
    yield from golden_world(start_emulator, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_create(world: GoldenWorld, fmt: str) -> None:
    world.write(BASE)
    text = world.transcript(*APPLY, "--format", fmt, "sources.yaml")
    assert_golden(GOLDEN / f"create-{fmt}.txt", text)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_update_replace_delete(world: GoldenWorld, fmt: str) -> None:
    world.apply_base()
    world.write(CHANGED)
    text = world.transcript(*APPLY, "--allow-delete", "--max-deletes", "2", "--format", fmt, "sources.yaml")
    assert_golden(GOLDEN / f"update-{fmt}.txt", text)
    # The step lines speak the manifest's words, old → new, never PostHog's `sync_frequency`.
    log = "\n".join(line for line in text.splitlines() if " … " in line)
    assert "; Customer: frequency 24hour → 6hour … ok" in log and "sync_frequency" not in log


def test_targeted(world: GoldenWorld) -> None:
    world.apply_base()
    world.write(CHANGED)
    text = world.transcript(*APPLY, "--target", "stripe_prod", "sources.yaml")
    assert_golden(GOLDEN / "targeted-text.txt", text)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_refused_step(world: GoldenWorld, fmt: str) -> None:
    world.apply_base()
    world.write(CHANGED)
    with world.api() as api:
        [stripe] = [s for s in api.get("external_data_sources/").json()["results"] if s["prefix"] == "stripe_prod"]
    with world.emulator.control() as control:
        rule = {"method": "PATCH", "path": f"{stripe['id']}/bulk_update_schemas", "status": 400, "times": 1}
        assert control.post("/faults", json={"rules": [rule]}).status_code == 200
    text = world.transcript(*APPLY, "--allow-delete", "--max-deletes", "2", "--format", fmt, "sources.yaml")
    assert_golden(GOLDEN / f"refused-step-{fmt}.txt", text)
    assert text.splitlines()[1] == "exit 1"
    if fmt == "json":
        document = json.loads(text.split("--- stdout\n", 1)[1].split("--- stderr\n", 1)[0])
        statuses = [s["status"] for s in document["steps"] if s["address"] == "stripe_prod"]
        assert "failed" in statuses and statuses[-1] == "skipped"
