"""Import and drift against a real PostgreSQL upstream (127.0.0.1:5432, db `test`, trust auth): the emulator
connects to it for credential checks and discovery, so a table created in the database shows up as drift
once PostHog's discovery (`refresh_schemas`) has seen it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from reconciler.cli import run_cli
from reconciler.emulator.testing import Emulator
from reconciler.emulator.upstreams import default_upstreams

SCHEMA = f"reconciler_drift_{secrets.token_hex(4)}"
PASSWORD = "pg-CANARY-real-7730"


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(host="127.0.0.1", port=5432, dbname="test", user="postgres", autocommit=True)


@pytest.fixture
def database() -> Iterator[psycopg.Connection[Any]]:
    conn = _admin()
    try:
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(
            f"CREATE TABLE {SCHEMA}.accounts (id bigserial PRIMARY KEY, email text, "
            "updated_at timestamptz NOT NULL DEFAULT now())"
        )
        yield conn
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.close()


@pytest.fixture
def emu(cli_emulator: Any) -> Emulator:
    return cli_emulator(upstreams=default_upstreams(), control=False)  # type: ignore[no-any-return]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err and "Traceback" not in err
    return code, out, err


def test_import_apply_then_a_new_upstream_table_is_drift(
    emu: Emulator,
    database: psycopg.Connection[Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with emu.client() as api:
        created = api.post(
            "/external_data_sources/",
            json={
                "source_type": "Postgres",
                "prefix": "app",
                "created_via": "web",
                "payload": {
                    "host": "127.0.0.1",
                    "port": "5432",
                    "database": "test",
                    "user": "postgres",
                    "password": PASSWORD,
                    "schema": SCHEMA,
                    "schemas": [
                        {
                            "name": "accounts",
                            "should_sync": True,
                            "sync_type": "incremental",
                            "incremental_field": "updated_at",
                            "incremental_field_type": "timestamp",
                        }
                    ],
                },
            },
        )
        assert created.status_code == 201, created.text
        source_id = created.json()["id"]
    target = tmp_path / "app.yaml"
    assert cli(capsys, "import", "--select", "Postgres:app", "-o", str(target))[0] == 0
    text = target.read_text()
    assert "      port: 5432\n" in text and f"      schema: {SCHEMA}\n" in text and PASSWORD not in text
    assert "        incremental_field: updated_at\n        incremental_field_type: timestamp\n" in text
    monkeypatch.setenv("APP_PASSWORD", PASSWORD)
    code, out, err = cli(capsys, "apply", "--auto-approve", str(target))
    assert code == 0, out + err
    assert cli(capsys, "drift", str(target))[0] == 0

    database.execute(f"CREATE TABLE {SCHEMA}.invoices (id bigserial PRIMARY KEY, total numeric)")
    assert cli(capsys, "drift", str(target))[0] == 0  # PostHog has not discovered it yet
    with emu.client() as api:
        api.post(f"/external_data_sources/{source_id}/refresh_schemas/").raise_for_status()
    # Discovered but not syncing: PostHog's normal state, reported without failing unless asked for.
    code, out, _ = cli(capsys, "drift", str(target))
    assert code == 0
    assert "  · unsynced  table invoices is in PostHog (not syncing) but not listed (unlisted_tables: report)\n" in out
    code, out, _ = cli(capsys, "drift", "--fail-on", "unsynced", str(target))
    assert code == 2
