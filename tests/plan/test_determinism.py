"""Plan output does not depend on the hash seed: `reconciler plan` (text and JSON), run in fresh interpreters
with PYTHONHASHSEED 1, 2 and 3 against one emulator state, prints byte-identical output (DESIGN.md: sort
whatever you iterate)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

KEY = "sk_test_CANARYseed3303"
#: Several settings per table, so table changes and patch_schemas field lists hold several keys at once.
MANIFEST = """\
version: 1
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod
    config:
      auth_method: {selection: api_key, stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"}
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour, sync_time_of_day: "03:00:00"}
      Invoice: {sync: true, sync_type: append, incremental_field: created, incremental_field_type: integer,
                frequency: 12hour, primary_key_columns: [id]}
  stripe_eu:
    type: Stripe
    prefix: stripe_eu
    config:
      auth_method: {selection: api_key, stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"}
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour, sync_time_of_day: "04:00:00"}
"""


@pytest.fixture
def live(api: httpx.Client) -> None:
    """`stripe_prod` as the UI made it: tables known, none synced."""
    body = {
        "source_type": "Stripe",
        "prefix": "stripe_prod",
        "payload": {
            "auth_method": {"selection": "api_key", "stripe_secret_key": KEY},
            "schemas": [{"name": "Customer", "should_sync": False}, {"name": "Invoice", "should_sync": False}],
        },
    }
    api.post("/external_data_sources/", json=body).raise_for_status()


def plan_output(env: dict[str, str], seed: int, fmt: str, manifest: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--verbose", "--format", fmt, str(manifest)],
        env={**env, "PYTHONHASHSEED": str(seed)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_plan_output_is_identical_whatever_the_hash_seed(
    emulator: Any, team: int, live: None, tmp_path: Path, fmt: str
) -> None:
    manifest = tmp_path / "sources.yaml"
    manifest.write_text(MANIFEST)
    env = {"PATH": os.environ.get("PATH", ""), "STRIPE_SECRET_KEY": KEY, "NO_COLOR": "1", **emulator.cli_env(team)}
    outputs = [plan_output(env, seed, fmt, manifest) for seed in (1, 2, 3)]
    assert "patch_schemas" in outputs[0] and "create_source" in outputs[0]  # --verbose: the steps too
    assert outputs[1] == outputs[0]
    assert outputs[2] == outputs[0]
