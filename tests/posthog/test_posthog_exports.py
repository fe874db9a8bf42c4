"""The package's public surface, and the boundary: pure parts load without httpx."""

from __future__ import annotations

import subprocess
import sys

import reconciler.posthog as posthog
from reconciler.posthog import client, errors, models, normalise, ratelimit, retry


def test_every_exported_name_resolves() -> None:
    for module in (posthog, client, errors, models, normalise, ratelimit, retry):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    assert posthog.PostHogClient is client.PostHogClient
    assert posthog.LiveState is models.LiveState


def test_models_and_normalisation_do_not_import_httpx() -> None:
    code = (
        "import sys, reconciler.posthog, reconciler.posthog.models, reconciler.posthog.normalise, "
        "reconciler.settings; print('httpx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
