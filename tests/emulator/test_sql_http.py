"""Postgres and MySQL sources end to end through HTTP against the REAL local servers (PostgreSQL
127.0.0.1:5432 db `test`, MariaDB 127.0.0.1:3306): database_schema, create, refresh_schemas as tables appear and
vanish, schema PATCH/reload on a real table, credential and reachability errors, and `--cloud-host-checks`.

The module creates its own Postgres schema, MariaDB database and user, and drops them afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from support.emulators import in_process

from reconciler.emulator.testing import Emulator, create_body
from reconciler.emulator.upstreams import default_upstreams

SUFFIX = secrets.token_hex(4)
PG_SCHEMA = f"reconciler_http_{SUFFIX}"
MY_DB = f"reconciler_http_{SUFFIX}"
MY_USER = f"rh_{SUFFIX}"
MY_PASSWORD = f"pw-{secrets.token_hex(6)}"
INTERNAL = "Hosts with internal IP addresses are not allowed"


def pg_admin() -> psycopg.Connection[Any]:
    return psycopg.connect(host="127.0.0.1", port=5432, dbname="test", user="postgres", autocommit=True)


def my_admin() -> pymysql.connections.Connection:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)


@pytest.fixture(scope="module")
def databases() -> Iterator[None]:
    pg = pg_admin()
    my = my_admin()
    try:
        pg.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        pg.execute(
            f"CREATE TABLE {PG_SCHEMA}.accounts (id bigserial PRIMARY KEY, email text NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now(), balance numeric)"
        )
        pg.execute(f"CREATE TABLE {PG_SCHEMA}.notes (body text)")
        with my.cursor() as cur:
            cur.execute(f"CREATE DATABASE {MY_DB}")
            cur.execute(
                f"CREATE TABLE {MY_DB}.orders (id int PRIMARY KEY AUTO_INCREMENT, placed_at datetime NOT NULL,"
                " note varchar(20))"
            )
            cur.execute(f"CREATE USER '{MY_USER}'@'%' IDENTIFIED BY '{MY_PASSWORD}'")
            cur.execute(f"GRANT ALL ON {MY_DB}.* TO '{MY_USER}'@'%'")
        yield
    finally:
        pg.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        pg.close()
        with my.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {MY_DB}")
            cur.execute(f"DROP USER IF EXISTS '{MY_USER}'@'%'")
        my.close()


@pytest.fixture(scope="module")
def real(databases: None) -> Iterator[Emulator]:
    """A private emulator whose Postgres/MySQL upstreams really connect (as `reconciler serve`)."""
    with in_process(upstreams=default_upstreams()) as emu:
        yield emu


def pg(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres",
                              "password": "unused-under-trust", "schema": PG_SCHEMA}  # fmt: skip
    return {**config, **overrides}


def my(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "database": MY_DB, "user": MY_USER,
                              "password": MY_PASSWORD, "schema": MY_DB, "using_ssl": "false"}  # fmt: skip
    return {**config, **overrides}


def test_postgres_database_schema_create_and_refresh(real: Emulator) -> None:
    with real.client() as api:
        preview = api.post("/external_data_sources/database_schema/", json={"source_type": "Postgres", **pg()})
        assert preview.status_code == 200, preview.text
        by_table = {t["table"]: t for t in preview.json()}
        assert sorted(by_table) == ["accounts", "notes"]
        assert by_table["accounts"] == {
            "table": "accounts", "label": None, "should_sync": False, "should_sync_default": True,
            "description": None, "rows": None,
            "incremental_fields": [
                {"label": "id", "type": "integer", "field": "id", "field_type": "integer", "nullable": False,
                 "is_indexed": True},
                {"label": "created_at", "type": "timestamp", "field": "created_at", "field_type": "timestamp",
                 "nullable": False, "is_indexed": False},
            ],
            "incremental_available": True, "append_available": True, "cdc_available": None,
            "incremental_field": "id", "sync_type": None, "supports_webhooks": False, "webhook_only": False,
            "available_columns": [
                {"field": "id", "label": "id", "type": "bigint", "nullable": False},
                {"field": "email", "label": "email", "type": "text", "nullable": False},
                {"field": "created_at", "label": "created_at", "type": "timestamp with time zone", "nullable": False},
                {"field": "balance", "label": "balance", "type": "numeric", "nullable": True},
            ],
            "detected_primary_keys": ["id"], "permission_error": None, "rls_warning": None,
        }  # fmt: skip
        assert (by_table["notes"]["incremental_fields"], by_table["notes"]["detected_primary_keys"]) == ([], [])
        body = create_body("Postgres", {**pg(), "schemas": [
            {"name": "accounts", "should_sync": True, "sync_type": "incremental", "incremental_field": "id",
             "incremental_field_type": "integer"},
            {"name": "notes", "should_sync": False},
        ]}, prefix=f"pg{SUFFIX}")  # fmt: skip
        r = api.post("/external_data_sources/", json=body)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        source = api.get(f"/external_data_sources/{sid}/").json()
        assert "password" not in source["job_inputs"] and source["job_inputs"]["host"] == "127.0.0.1"
        schemas = {s["name"]: s for s in source["schemas"]}
        assert schemas["accounts"]["primary_key_columns"] == ["id"]
        assert schemas["accounts"]["available_columns"][2] == {"name": "created_at",
                                                               "data_type": "timestamp with time zone",
                                                               "is_nullable": False}  # fmt: skip
        # a real table: columns exist upstream, so enabled_columns is checked against them
        url = f"/external_data_schemas/{schemas['accounts']['id']}/"
        assert api.patch(url, json={"enabled_columns": ["email"]}).status_code == 200
        assert api.patch(url, json={"enabled_columns": ["nope"]}).json()["detail"].startswith(
            "Unknown columns in enabled_columns: ['nope']")  # fmt: skip
        assert api.post(f"/external_data_sources/{sid}/reload/").status_code == 200
        assert api.get(url).json()["table"]["name"] == f"pg{SUFFIX}postgres_accounts"
        fields = api.post(f"{url}incremental_fields/").json()
        assert [f["field"] for f in fields["incremental_fields"]] == ["id", "created_at"]
        # the database changes: a table appears, a never-synced one vanishes
        with pg_admin() as admin:
            admin.execute(f"CREATE TABLE {PG_SCHEMA}.late (id integer PRIMARY KEY, at date)")
            admin.execute(f"DROP TABLE {PG_SCHEMA}.notes")
        try:
            refreshed = api.post(f"/external_data_sources/{sid}/refresh_schemas/")
            assert refreshed.json() == {"added": 1, "deleted": 1, "total_tables_seen": 2}
            assert api.post(f"/external_data_sources/{sid}/refresh_schemas/").json()["added"] == 0
            names = [s["name"] for s in api.get(f"/external_data_sources/{sid}/").json()["schemas"]]
            assert names == ["accounts", "late"]
        finally:
            with pg_admin() as admin:
                admin.execute(f"DROP TABLE IF EXISTS {PG_SCHEMA}.late")
                admin.execute(f"CREATE TABLE IF NOT EXISTS {PG_SCHEMA}.notes (body text)")
        # the server goes away: refresh gives §8.7's friendly text
        real.store.update_source(sid, job_inputs={**pg(), "port": 1})
        r = api.post(f"/external_data_sources/{sid}/refresh_schemas/")
        assert (r.status_code, r.json()) == (
            400, {"message": "Could not connect to the source. Check the host, port, and network access."})  # fmt: skip


def test_postgres_blank_schema_lists_qualified_names(real: Emulator) -> None:
    with real.client() as api:
        r = api.post("/external_data_sources/database_schema/", json={"source_type": "Postgres", **pg(schema="")})
        assert r.status_code == 200
        ours = sorted(t["table"] for t in r.json() if t["table"].startswith(PG_SCHEMA + "."))
        assert ours == [f"{PG_SCHEMA}.accounts", f"{PG_SCHEMA}.notes"]


def test_postgres_failures(real: Emulator) -> None:
    with real.client() as api:
        before = api.get("/external_data_sources/").json()["count"]
        cannot = "Could not connect to Postgres. Please check all connection details are valid."
        cases = [
            (pg(user=f"no_role_{SUFFIX}"), cannot),
            (pg(port=1), "Could not connect to the host on the port given"),
            (pg(database=f"no_db_{SUFFIX}"), "Database does not exist"),
        ]  # fmt: skip
        for config, message in cases:
            r = api.post("/external_data_sources/database_schema/", json={"source_type": "Postgres", **config})
            assert (r.status_code, r.json()) == (400, {"message": message})
            body = create_body("Postgres", {**config, "schemas": [{"name": "accounts", "should_sync": False}]})
            r = api.post("/external_data_sources/", json=body)
            assert (r.status_code, r.json()) == (400, {"message": message})
        assert api.get("/external_data_sources/").json()["count"] == before  # a failed create leaves no row


def test_mysql_database_schema_create_refresh_and_wrong_password(real: Emulator) -> None:
    with real.client() as api:
        preview = api.post("/external_data_sources/database_schema/", json={"source_type": "MySQL", **my()})
        assert preview.status_code == 200, preview.text
        (orders,) = preview.json()
        assert orders["table"] == "orders" and orders["detected_primary_keys"] == ["id"]
        assert [(f["field"], f["field_type"]) for f in orders["incremental_fields"]] == [
            ("id", "integer"), ("placed_at", "datetime")]  # fmt: skip
        assert orders["available_columns"][2] == {"field": "note", "label": "note", "type": "varchar", "nullable": True}
        tables = [{"name": "orders", "should_sync": True, "sync_type": "full_refresh"}]
        body = create_body("MySQL", {**my(), "schemas": tables}, prefix=f"my{SUFFIX}")
        r = api.post("/external_data_sources/", json=body)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        with my_admin() as admin, admin.cursor() as cur:
            cur.execute(f"CREATE TABLE {MY_DB}.refunds (id int PRIMARY KEY, created date)")
        try:
            assert api.post(f"/external_data_sources/{sid}/refresh_schemas/").json() == {
                "added": 1, "deleted": 0, "total_tables_seen": 2}  # fmt: skip
        finally:
            with my_admin() as admin, admin.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {MY_DB}.refunds")
        wrong = my(password="not-" + MY_PASSWORD)
        r = api.post("/external_data_sources/database_schema/", json={"source_type": "MySQL", **wrong})
        assert (r.status_code, r.json()) == (
            400, {"message": "Could not connect to MySQL. Please check all connection details are valid."})  # fmt: skip
        r = api.patch(f"/external_data_sources/{sid}/", json={"job_inputs": {"password": "not-" + MY_PASSWORD}})
        assert r.status_code == 400
        assert r.json()["detail"] == "Could not connect to MySQL. Please check all connection details are valid."
        # the stored password still works; refresh with a wrong one gives §8.7's authentication text
        real.store.update_source(sid, job_inputs=wrong)
        r = api.post(f"/external_data_sources/{sid}/refresh_schemas/")
        assert (r.status_code, r.json()) == (
            400, {"message": "Could not authenticate with the source. Check the connection credentials."})  # fmt: skip


def test_cloud_host_checks_on_create_database_schema_and_patch(databases: None, tmp_path: Path) -> None:
    """§12: internal hosts are refused on create and database_schema; PATCH first demands credential re-entry
    when only the host changes, and with a new password fails with the internal-host detail."""
    db = tmp_path / "state.db"
    with in_process(upstreams=default_upstreams(), db=db) as local, local.client() as api:
        body = create_body("Postgres", {**pg(), "schemas": [{"name": "accounts", "should_sync": False}]})
        sid = api.post("/external_data_sources/", json=body).json()["id"]  # allowed without the checks
    with in_process(upstreams=default_upstreams(cloud_host_checks=True), db=db) as cloud, cloud.client() as api:
        r = api.post("/external_data_sources/database_schema/", json={"source_type": "Postgres", **pg()})
        assert (r.status_code, r.json()) == (400, {"message": INTERNAL})
        r = api.post("/external_data_sources/", json=create_body("MySQL", {**my(), "schemas": [{"name": "orders"}]}))
        assert (r.status_code, r.json()) == (400, {"message": INTERNAL})
        r = api.patch(f"/external_data_sources/{sid}/", json={"job_inputs": {"host": "localhost"}})
        assert (r.status_code, r.json()["detail"]) == (400, "Changing the connection host requires re-entering your "
                                                            "credentials.")  # fmt: skip
        r = api.patch(f"/external_data_sources/{sid}/", json={"job_inputs": {"host": "localhost", "password": "x"}})
        assert r.status_code == 400
        assert r.json() == {"type": "validation_error", "code": "invalid_input", "detail": INTERNAL, "attr": None}
        assert api.get(f"/external_data_sources/{sid}/").json()["job_inputs"]["host"] == "127.0.0.1"
