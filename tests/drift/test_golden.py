"""Golden transcripts of `reconciler drift` (text and markdown): after an apply, PostHog is edited as the UI would
(a config field, a description, table settings, a source deleted, one created) and the manifests move on without
an apply; drift must report each in the manifest's words (`frequency`, `sync`, never PostHog's
`sync_frequency`, `should_sync`).

The CLI runs in-process against a real emulator (tests/support/golden.py says what is made stable and how).
Regenerate after an intended change: `RECONCILER_UPDATE_GOLDEN=1 pytest tests/drift/test_golden.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.golden import BASE, GoldenWorld, assert_golden, golden_world

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def world(
    start_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[GoldenWorld]:
    yield from golden_world(start_emulator, tmp_path, monkeypatch, capsys)


def _drifted(world: GoldenWorld) -> None:
    world.apply_base()
    with world.api() as api:
        sources = {s["prefix"]: s for s in api.get("external_data_sources/").json()["results"]}
        stripe, crm = sources["stripe_prod"], sources["crm"]
        schemas = {s["name"]: s["id"] for s in stripe["schemas"]}
        # In the UI: a readable config field, a table's frequency and sync, the Zendesk source deleted.
        api.patch(
            f"external_data_sources/{stripe['id']}/", json={"job_inputs": {"stripe_account_id": "acct_UI"}}
        ).raise_for_status()
        api.patch(f"external_data_schemas/{schemas['Customer']}/", json={"sync_frequency": "1hour"}).raise_for_status()
        api.patch(f"external_data_schemas/{schemas['Charge']}/", json={"should_sync": False}).raise_for_status()
        api.delete(f"external_data_sources/{sources['zd']['id']}/").raise_for_status()
        # A source made in the UI: unmanaged.
        api.post(
            "external_data_sources/",
            json={
                "source_type": "Hubspot",
                "prefix": "marketing",
                "payload": {"hubspot_integration_id": 99, "schemas": [{"name": "contacts", "should_sync": False}]},
            },
        ).raise_for_status()
        assert crm["prefix"] == "crm"
    # The manifests move on without an apply.
    world.write(BASE.replace("frequency: 12hour", "frequency: 6hour"))


@pytest.mark.parametrize(("fmt", "suffix"), [("text", "txt"), ("markdown", "md")])
def test_drift(world: GoldenWorld, fmt: str, suffix: str) -> None:
    _drifted(world)
    text = world.transcript("drift", "--format", fmt, "sources.yaml")
    assert_golden(GOLDEN / f"drift-{fmt}.{suffix}", text)
    assert text.splitlines()[1] == "exit 2"
    assert "table Customer: frequency is " in text and "table Charge: sync is true in the manifest" in text
    assert "sync_frequency" not in text and "should_sync" not in text


def test_no_drift(world: GoldenWorld) -> None:
    world.apply_base()
    assert_golden(GOLDEN / "no-drift-text.txt", world.transcript("drift", "sources.yaml"))
