"""Fault rules with delays: counted when chosen, and an after-commit write survives a client timeout."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from support.emulators import served

from reconciler.emulator.testing import create_body, stripe_payload


def test_a_delayed_rule_for_one_request_delays_only_that_one() -> None:
    with served(control=True) as emu, emu.control() as control, emu.client() as api:
        control.post(
            "/faults",
            json={
                "rules": [
                    {"method": "GET", "path": "external_data_sources", "status": 502, "times": 1, "delay_ms": 3000}
                ]
            },
        ).raise_for_status()
        first: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: first.setdefault("r", api.get("/external_data_sources/")))
        thread.start()
        time.sleep(0.3)
        with emu.client() as other:
            second = other.get("/external_data_sources/")
        # The second request was answered normally while the first was still held by the rule's delay.
        assert second.status_code == 200 and thread.is_alive()
        thread.join()
        assert first["r"].status_code == 502


def test_after_commit_write_lands_even_when_the_client_gave_up() -> None:
    with served(control=True) as emu, emu.control() as control:
        control.post(
            "/faults",
            json={
                "rules": [
                    {
                        "method": "POST",
                        "path": "external_data_sources/$",
                        "status": 502,
                        "times": 1,
                        "after_commit": True,
                        "delay_ms": 600,
                    }
                ]
            },
        )
        with emu.client() as api:
            api.timeout = httpx.Timeout(0.2)
            with pytest.raises(httpx.ReadTimeout):
                api.post("/external_data_sources/", json=create_body("Stripe", stripe_payload(), prefix="late"))
        time.sleep(0.8)
        with emu.client() as api:
            assert [s["prefix"] for s in api.get("/external_data_sources/").json()["results"]] == ["late"]
