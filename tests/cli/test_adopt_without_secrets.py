"""Adoption without every secret (issue 13 item 9): `import --unmanaged` imports only the sources nobody owns yet,
and `adopt_without_secrets: true` on a source adopts it — writes the ownership trailer, manages its tables and
non-secret fields — without re-sending secrets nobody has any more; PostHog keeps the ones it holds. The CLI
in-process, the emulator over real HTTP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import run_cli

UI_PASSWORD = "pg-CANARY-typed-in-the-ui-4410"
OWNED = """\
version: 1
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh}
"""


@pytest.fixture
def emu(cli_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_adopt")
    monkeypatch.setenv("NO_COLOR", "1")
    return cli_emulator()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert UI_PASSWORD not in out + err and "Traceback" not in err
    return code, out, err


def made_in_the_ui(emu: Any) -> str:
    """A Postgres source someone typed into PostHog's form (no trailer); the password is theirs alone."""
    with emu.client() as api:
        response = api.post(
            "/external_data_sources/",
            json={
                "source_type": "Postgres",
                "prefix": "app",
                "description": "Made in the UI",
                "payload": {
                    "host": "db.example.com",
                    "port": 5432,
                    "database": "app",
                    "user": "reader",
                    "password": UI_PASSWORD,
                    "schema": "public",
                    "schemas": [{"name": "customers", "should_sync": True, "sync_type": "full_refresh"}],
                },
            },
        )
        response.raise_for_status()
        return str(response.json()["id"])


def stored_password(emu: Any, source_id: str) -> Any:
    row = emu.store.get_source(1, source_id)
    return row.job_inputs.get("password") if row is not None else None


def test_import_unmanaged_skips_what_reconciler_owns(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    owned = tmp_path / "owned.yaml"
    owned.write_text(OWNED)
    assert run(capsys, "apply", "--auto-approve", str(owned))[0] == 0
    code, _, err = run(capsys, "import", "--unmanaged")
    assert code == 1 and "no source nobody owns yet" in err
    made_in_the_ui(emu)
    code, out, err = run(capsys, "import", "--unmanaged")
    assert code == 0, err
    assert "type: Postgres" in out and "Stripe" not in out.split("sources:", 1)[1]
    assert "skipped 1 source(s) reconciler already owns" in err and "Stripe:stripe_prod" in err
    assert "adopt_without_secrets: true" in out  # the header says how to adopt without the values
    code, out, _ = run(capsys, "import", "--all")
    assert code == 0 and "stripe_prod:" in out and "app:" in out
    assert run(capsys, "import", "--all", "--unmanaged")[0] == 1  # one way of choosing at a time


def test_adopt_without_secrets_writes_the_trailer_and_manages_tables_without_the_password(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source_id = made_in_the_ui(emu)
    manifests = tmp_path / "manifests"
    code, _, err = run(capsys, "import", "--unmanaged", "-o", f"{manifests}/")
    assert code == 0, err
    [path] = sorted(manifests.glob("*.yaml"))
    text = path.read_text()
    for name in re.findall(r"secret\('([A-Z0-9_]+)'\)", text):
        monkeypatch.delenv(name, raising=False)  # nobody has the password any more

    # Without the opt-in, adoption re-sends the secrets: apply cannot, and says so before any write.
    code, out, _ = run(capsys, "plan", str(manifests))
    assert code == 0 and "adopting a source reconciler never configured" in out
    code, _, err = run(capsys, "apply", "--auto-approve", str(manifests))
    assert code == 1 and "secret-missing" not in err and "is not set" in err

    # With it: the trailer is written, a table added, the password PostHog holds is kept.
    adopted = text.replace("    type: Postgres\n", "    type: Postgres\n    adopt_without_secrets: true\n")
    adopted = adopted.replace("    tables:\n", "    tables:\n      orders: {sync: true, sync_type: full_refresh}\n")
    path.write_text(adopted)
    code, out, err = run(capsys, "plan", "--detailed-exitcode", str(manifests))
    assert code == 2, err
    assert "adopting without re-sending secrets (adopt_without_secrets)" in out and "will be re-sent" not in out
    code, out, err = run(capsys, "apply", "--auto-approve", str(manifests))
    assert code == 0, out + err
    with emu.client() as api:
        live = api.get(f"/external_data_sources/{source_id}/").json()
    assert live["description"].startswith("Made in the UI\n[managed by reconciler · app · s:")
    assert {s["name"]: s["should_sync"] for s in live["schemas"]}["orders"] is True
    assert stored_password(emu, source_id) == UI_PASSWORD
    code, out, err = run(capsys, "plan", "--detailed-exitcode", str(manifests))
    assert code == 0 and "No changes" in out, out + err
    assert run(capsys, "drift", str(manifests))[0] == 0

    # Owned now, the field does nothing: a secrets_version bump re-sends as usual (and needs the value).
    path.write_text(
        adopted.replace(
            "    adopt_without_secrets: true\n", "    adopt_without_secrets: true\n    secrets_version: 2\n"
        )
    )
    code, out, _ = run(capsys, "plan", str(manifests))
    assert code == 0 and "secrets fingerprint changed" in out


def test_a_connection_target_change_still_needs_the_secrets(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made_in_the_ui(emu)
    manifests = tmp_path / "manifests"
    assert run(capsys, "import", "--unmanaged", "-o", f"{manifests}/")[0] == 0
    [path] = sorted(manifests.glob("*.yaml"))
    text = path.read_text().replace("    type: Postgres\n", "    type: Postgres\n    adopt_without_secrets: true\n")
    path.write_text(text.replace("db.example.com", "db2.example.com"))
    code, out, _ = run(capsys, "plan", str(manifests))
    assert code == 0 and "connection target changed: PostHog requires the secrets again" in out
    assert run(capsys, "apply", "--auto-approve", str(manifests))[0] == 1
