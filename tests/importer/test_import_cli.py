"""`reconciler import` end to end against the emulator: sources made UI-style (no trailer) through the API,
imported, then planned and applied, for the types with hand-made upstreams and both OAuth CRMs (every other
type's import round trip: tests/catalog/test_every_type.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import run_cli
from reconciler.emulator.testing import Emulator

#: Secret values sent at create time: none may ever appear in output or in an imported file.
CANARIES = {
    "stripe": "sk_test_CANARYimport001",
    "pg": "pg-CANARY-import-002",
    "ssh": "ssh-CANARY-import-003",
    "mysql": "my-CANARY-import-004",
    "mssql": "ms-CANARY-import-005",
    "snow_key": "-----BEGIN PRIVATE KEY-----CANARY006-----END PRIVATE KEY-----",
    "snow_pass": "snow-CANARY-import-007",
    "bq": "bq-CANARY-import-008",
    "zendesk": "zd-CANARY-import-009",
}


def _schemas(*tables: dict[str, Any]) -> list[dict[str, Any]]:
    return list(tables)


def _full(name: str, sync: bool = True) -> dict[str, Any]:
    return {"name": name, "should_sync": sync, "sync_type": "full_refresh"}


def _cursor(name: str, field: str, field_type: str, sync_type: str = "incremental") -> dict[str, Any]:
    return {
        "name": name,
        "should_sync": True,
        "sync_type": sync_type,
        "incremental_field": field,
        "incremental_field_type": field_type,
    }


#: One UI-style create per catalog type: (source_type, prefix, description, payload).
UI_SOURCES: list[tuple[str, str | None, str | None, dict[str, Any]]] = [
    (
        "Stripe",
        "stripe_prod",
        "Production Stripe",
        {
            "auth_method": {"selection": "api_key", "stripe_secret_key": CANARIES["stripe"]},
            "stripe_account_id": "acct_42",
            "schemas": _schemas(
                _full("Customer"), _cursor("Charge", "created", "integer", "append"), _full("Refund", False)
            ),
        },
    ),
    (
        "Postgres",
        "app_db",
        None,
        {
            "host": "db.example.com",
            "port": 5432,
            "database": "app",
            "user": "reader",
            "password": CANARIES["pg"],
            "schema": "public",
            "ssh_tunnel": {
                "enabled": True,
                "host": "bastion.example.com",
                "port": 2222,
                "auth": {"selection": "password", "username": "jump", "password": CANARIES["ssh"]},
                "require_tls": {"enabled": False},
            },
            "schemas": _schemas(_full("customers"), _cursor("orders", "created_at", "datetime")),
        },
    ),
    (
        "MySQL",
        "shop",
        "Shop database",
        {
            "host": "mysql.example.com",
            "port": "3306",
            "database": "shop",
            "user": "ro",
            "password": CANARIES["mysql"],
            "schema": "shop",
            "using_ssl": "false",
            "schemas": _schemas(_cursor("events", "id", "integer")),
        },
    ),
    (
        "MSSQL",
        None,
        None,
        {
            "host": "sql.example.com",
            "port": 1433,
            "database": "erp",
            "user": "sa",
            "password": CANARIES["mssql"],
            "schema": "dbo",
            "schemas": _schemas(_full("orders")),
        },
    ),
    (
        "Snowflake",
        "wh",
        None,
        {
            "account_id": "xy12345",
            "database": "ANALYTICS",
            "warehouse": "COMPUTE_WH",
            "schema": "PUBLIC",
            "role": "READER",
            "auth_type": {
                "selection": "keypair",
                "user": "LOADER",
                "private_key": CANARIES["snow_key"],
                "passphrase": CANARIES["snow_pass"],
            },
            "schemas": _schemas(_full("customers")),
        },
    ),
    (
        "BigQuery",
        "bq",
        None,
        {
            "key_file": {
                "project_id": "proj",
                "private_key": CANARIES["bq"],
                "private_key_id": "kid",
                "client_email": "sa@proj.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.example/token",
            },
            "dataset_id": "analytics",
            "temporary-dataset": {"enabled": True, "temporary_dataset_id": "scratch"},
            "dataset_project": {"enabled": False},
            "schemas": _schemas(_full("events")),
        },
    ),
    (
        "Hubspot",
        None,
        "CRM",
        {
            "hubspot_integration_id": 12,
            "custom_properties": {"enabled": True, "contacts_properties": "plan,seats"},
            "schemas": _schemas(_full("contacts"), _full("deals", False)),
        },
    ),
    (
        "Salesforce",
        "sf",
        None,
        {
            "salesforce_integration_id": "77",
            "schemas": _schemas(_cursor("Account", "SystemModstamp", "datetime")),
        },
    ),
    (
        "Zendesk",
        "support",
        None,
        {
            "subdomain": "acme",
            "api_key": CANARIES["zendesk"],
            "email_address": "ops@acme.test",
            "schemas": _schemas(_cursor("tickets", "generated_timestamp", "integer")),
        },
    ),
]


@pytest.fixture
def emu(cli_emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Emulator:
    monkeypatch.chdir(tmp_path)
    return cli_emulator(control=False)  # type: ignore[no-any-return]


def api(emu: Emulator) -> httpx.Client:
    return emu.client()


def create_ui_sources(emu: Emulator, sources: list[tuple[str, str | None, str | None, dict[str, Any]]]) -> None:
    with api(emu) as client:
        for source_type, prefix, description, payload in sources:
            body: dict[str, Any] = {"source_type": source_type, "payload": payload, "created_via": "web"}
            if prefix is not None:
                body["prefix"] = prefix
            if description is not None:
                body["description"] = description
            response = client.post("/external_data_sources/", json=body)
            assert response.status_code == 201, (source_type, response.text)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    for value in CANARIES.values():
        assert value not in out + err
    assert "Traceback" not in err
    return code, out, err


def assert_no_canary_in(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            text = path.read_text()
            for value in CANARIES.values():
                assert value not in text, path


def test_round_trip_import_plan_apply_for_ui_made_sources(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    create_ui_sources(emu, UI_SOURCES)
    out_dir = tmp_path / "manifests"
    code, _, err = cli(capsys, "import", "--all", "-o", f"{out_dir}/")
    assert code == 0, err
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == [
        "app_db.yaml",
        "bq.yaml",
        "hubspot.yaml",
        "mssql.yaml",
        "sf.yaml",
        "shop.yaml",
        "stripe_prod.yaml",
        "support.yaml",
        "wh.yaml",
    ]
    assert_no_canary_in(out_dir)
    # The variables to set are named on stderr and in each file's header comment.
    names = re.search(r"Set \d+ secret variables? before plan/apply: (.*)", err)
    assert names is not None
    variables = names.group(1).split(", ")
    assert variables == sorted(
        [
            "APP_DB_PASSWORD",
            "APP_DB_SSH_TUNNEL_AUTH_PASSWORD",
            "BQ_KEY_FILE_CLIENT_EMAIL",
            "BQ_KEY_FILE_PRIVATE_KEY",
            "BQ_KEY_FILE_PRIVATE_KEY_ID",
            "BQ_KEY_FILE_PROJECT_ID",
            "BQ_KEY_FILE_TOKEN_URI",
            "MSSQL_PASSWORD",
            "SHOP_PASSWORD",
            "STRIPE_PROD_AUTH_METHOD_STRIPE_SECRET_KEY",
            "SUPPORT_API_KEY",
            "WH_AUTH_TYPE_PRIVATE_KEY",
        ]
    )
    for name in variables:
        assert name in "".join(p.read_text() for p in out_dir.iterdir())
    # Without the variables, plan still works (it cannot diff secrets anyway).
    code, out, err = cli(capsys, "plan", "--format", "json", str(out_dir))
    assert code == 0, err
    # With them set, the only change per source is the secrets fingerprint (adoption writes the trailer).
    values = {name: f"value-for-{name.lower()}" for name in variables}
    values["STRIPE_PROD_AUTH_METHOD_STRIPE_SECRET_KEY"] = "sk_test_rotated"
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    CANARIES.update({f"set:{name}": value for name, value in values.items()})  # now these must not leak either
    code, out, err = cli(capsys, "plan", "--format", "json", str(out_dir))
    assert code == 0, err
    plan = json.loads(out)
    assert plan["errors"] == [] and plan["unmanaged"] == []
    assert len(plan["changes"]) == 9
    secret_paths: dict[str, set[str]] = {}
    for path in out_dir.iterdir():
        for match in re.finditer(r"^#   [A-Z0-9_]+ +(\w+) (config\.\S+)$", path.read_text(), re.MULTILINE):
            secret_paths.setdefault(match.group(1), set()).add(match.group(2))
    assert secret_paths["stripe_prod"] == {"config.auth_method.stripe_secret_key"}
    assert "hubspot" not in secret_paths and "sf" not in secret_paths  # OAuth: no secret in the config
    for change in plan["changes"]:
        assert change["action"] == "update", change
        expected = secret_paths.get(change["address"], set())
        assert change["secrets"] == ("will be re-sent" if expected else "unchanged")
        assert all(d.get("sensitive") for d in change["diff"].values()), change["diff"]
        assert set(change["diff"]) == expected
        assert "adopt: write the ownership trailer" in change["reasons"]
        assert change["unlisted_tables"] == []
        [step] = change["steps"]
        assert step["kind"] == "patch_source"
    code, out, err = cli(capsys, "apply", "--auto-approve", str(out_dir))
    assert code == 0, out + err
    code, out, err = cli(capsys, "plan", "--detailed-exitcode", str(out_dir))
    assert code == 0, out + err
    assert "No changes" in out
    code, out, err = cli(capsys, "drift", str(out_dir))
    assert code == 0, out + err
    assert "No drift: 9 declared source(s) match PostHog" in out
    code, out, err = cli(capsys, "drift", "--format", "json", str(out_dir))
    assert code == 0 and json.loads(out)["drift"] is False
    assert_no_canary_in(tmp_path)
    for name in values:
        CANARIES.pop(f"set:{name}")


def test_import_select_to_one_file_and_config_types(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_ui_sources(emu, UI_SOURCES)
    target = tmp_path / "two.yaml"
    code, _, err = cli(capsys, "import", "--select", "MySQL:shop", "--select", "MSSQL:", "-o", str(target))
    assert code == 0, err
    assert err.startswith(f"Wrote {target}\n")
    text = target.read_text()
    assert text.startswith("# Imported by `reconciler import` from project 1 on http://127.0.0.1:")
    assert "#   SHOP_PASSWORD   shop config.password\n#   MSSQL_PASSWORD  mssql config.password\n" in text
    body = text[text.index("version: 1") :]
    assert (
        body
        == """\
version: 1
project: '1'
defaults:
  unlisted_tables: report
sources:
  shop:
    type: MySQL
    prefix: shop
    description: Shop database
    config:
      host: mysql.example.com
      port: 3306
      database: shop
      user: ro
      password: "{{ secret('SHOP_PASSWORD') }}"
      schema: shop
      using_ssl: false
    tables:
      events:
        sync: true
        sync_type: incremental
        incremental_field: id
        incremental_field_type: integer
        frequency: 6hour
        primary_key_columns:
        - id
  mssql:
    type: MSSQL
    config:
      host: sql.example.com
      port: 1433
      database: erp
      user: sa
      password: "{{ secret('MSSQL_PASSWORD') }}"
      schema: dbo
    tables:
      orders:
        sync: true
        sync_type: full_refresh
        frequency: 6hour
"""
    )


def test_import_to_stdout_lists_optional_secrets(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    create_ui_sources(emu, [UI_SOURCES[1], UI_SOURCES[4]])
    code, out, err = cli(capsys, "import", "--all")
    assert code == 0, err
    assert "#   app_db config.connection_string: \"{{ secret('APP_DB_CONNECTION_STRING') }}\"" in out
    assert "#   wh config.auth_type.passphrase: \"{{ secret('WH_AUTH_TYPE_PASSPHRASE') }}\"" in out
    assert "temporary" not in out  # only the selected types
    assert "      ssh_tunnel:\n        enabled: true\n        host: bastion.example.com\n        port: 2222\n" in out
    assert "          password: \"{{ secret('APP_DB_SSH_TUNNEL_AUTH_PASSWORD') }}\"" in out


def test_import_never_overwrites_without_force(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_ui_sources(emu, UI_SOURCES[:2])
    target = tmp_path / "sources.yaml"
    target.write_text("# mine\n")
    code, _, err = cli(capsys, "import", "--all", "-o", str(target))
    assert code == 1 and f"refusing to overwrite {target}" in err and "--force" in err
    assert target.read_text() == "# mine\n"
    # Directory mode: one existing file blocks the whole import; nothing is written.
    directory = tmp_path / "dir"
    directory.mkdir()
    (directory / "app_db.yaml").write_text("# mine\n")
    code, _, err = cli(capsys, "import", "--all", "-o", str(directory))
    assert code == 1 and "app_db.yaml" in err
    assert sorted(p.name for p in directory.iterdir()) == ["app_db.yaml"]
    code, _, err = cli(capsys, "import", "--all", "--force", "-o", str(directory))
    assert code == 0, err
    assert sorted(p.name for p in directory.iterdir()) == ["app_db.yaml", "stripe_prod.yaml"]
    assert (directory / "app_db.yaml").read_text().startswith("# Imported by")


def test_import_needs_a_selection_and_reports_bad_ones(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "import", "--all")
    assert code == 1 and "nothing to import: project 1 has no sources" in err
    create_ui_sources(emu, UI_SOURCES[:1])
    code, _, err = cli(capsys, "import")
    assert code == 1 and "--select TYPE:PREFIX (repeatable), --all or --unmanaged" in err
    code, _, err = cli(capsys, "import", "--all", "--select", "Stripe:stripe_prod")
    assert code == 1 and "--select TYPE:PREFIX (repeatable), --all or --unmanaged" in err
    code, _, err = cli(capsys, "import", "--select", "Stripe")
    assert code == 1 and "expected TYPE:PREFIX" in err
    code, _, err = cli(capsys, "import", "--select", "Stripe:nope")
    assert code == 1 and "no Stripe source with prefix 'nope'" in err
