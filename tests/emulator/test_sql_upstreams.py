"""SqlUpstream against the REAL local PostgreSQL (127.0.0.1:5432, db `test`) and MariaDB (127.0.0.1:3306).

Each module run creates its own objects (Postgres schemas `reconciler_test_<hex>_a/_b`, MariaDB database
`reconciler_test_<hex>` and user `rt_<hex>`) and drops them afterwards. Mocks appear only for fault
injection (a libpq wrong-password text this trust-auth server cannot produce) and as spies proving that
Cloud host checks never connect.
"""

from __future__ import annotations

import secrets
import socket
import traceback
from collections.abc import Iterator
from typing import Any

import psycopg
import pymysql
import pytest

from reconciler.emulator.upstreams import sql_discovery
from reconciler.emulator.upstreams.sql import SqlUpstream
from reconciler.emulator.upstreams.sql_discovery import mysql_incremental_type, postgres_incremental_type
from reconciler.emulator.upstreams.sql_errors import (
    friendly_discovery_error,
    internal_host_error,
    postgres_credential_error,
    scrub,
)
from reconciler.emulator.upstreams.types import Column, DiscoveredTable, IncrementalField, UpstreamError

SUFFIX = secrets.token_hex(4)
PG_A = f"reconciler_test_{SUFFIX}_a"
PG_B = f"reconciler_test_{SUFFIX}_b"
MY_DB = f"reconciler_test_{SUFFIX}"
MY_USER = f"rt_{SUFFIX}"
MY_PASSWORD = f"pw-{secrets.token_hex(6)}"

CANNOT_CONNECT_PG = "Could not connect to Postgres. Please check all connection details are valid."
CANNOT_CONNECT_MY = "Could not connect to MySQL. Please check all connection details are valid."
REFRESH_CANNOT_CONNECT = "Could not connect to the source. Check the host, port, and network access."
REFRESH_AUTH = "Could not authenticate with the source. Check the connection credentials."
REFRESH_FALLBACK = "Could not fetch schemas from source."
INTERNAL = "Hosts with internal IP addresses are not allowed"


def pg_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": "5432",
        "database": "test",
        "user": "postgres",
        "password": "unused-under-trust",
        "schema": PG_A,
    }
    config.update(overrides)
    return config


def my_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 3306,
        "database": MY_DB,
        "user": MY_USER,
        "password": MY_PASSWORD,
        "schema": MY_DB,
        "using_ssl": "false",
    }
    config.update(overrides)
    return config


def upstream_error(call: Any, *args: Any) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        call(*args)
    return caught.value


# -- real servers: fixtures ---------------------------------------------------------------------------


def _pg_admin() -> psycopg.Connection[Any]:
    return psycopg.connect(host="127.0.0.1", port=5432, dbname="test", user="postgres", autocommit=True)


@pytest.fixture(scope="module")
def pg_schemas() -> Iterator[None]:
    conn = _pg_admin()
    try:
        conn.execute(f"CREATE SCHEMA {PG_A}")
        conn.execute(f"CREATE SCHEMA {PG_B}")
        conn.execute(
            f"""CREATE TABLE {PG_A}.accounts (
                id bigserial PRIMARY KEY,
                email text NOT NULL,
                balance numeric(12, 2),
                is_active boolean NOT NULL DEFAULT true,
                created_at timestamptz NOT NULL DEFAULT now(),
                signup_date date,
                updated_at timestamp
            )"""
        )
        conn.execute(f"CREATE INDEX ON {PG_A}.accounts (created_at)")
        # Columns declared in the opposite order of the key, to tell key order from column order.
        conn.execute(
            f"""CREATE TABLE {PG_A}.events (
                seq smallint NOT NULL, account_id integer NOT NULL, payload jsonb, tags text[],
                PRIMARY KEY (account_id, seq)
            )"""
        )
        conn.execute(f"CREATE TABLE {PG_A}.legacy (id integer, note varchar(40))")
        conn.execute(f"CREATE TABLE {PG_A}.notes (body text)")
        conn.execute(f"CREATE VIEW {PG_A}.active_accounts AS SELECT id, email, created_at FROM {PG_A}.accounts")
        conn.execute(
            f"CREATE MATERIALIZED VIEW {PG_A}.daily AS"
            f" SELECT signup_date, count(*)::bigint AS n FROM {PG_A}.accounts GROUP BY 1"
        )
        conn.execute(
            f"CREATE TABLE {PG_B}.orders"
            " (order_id bigint PRIMARY KEY, amount numeric NOT NULL, placed_on date NOT NULL)"
        )
        yield
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {PG_A} CASCADE")
        conn.execute(f"DROP SCHEMA IF EXISTS {PG_B} CASCADE")
        conn.close()


@pytest.fixture()
def pg_temp_table() -> Iterator[None]:
    """Another session's temporary table: it lives in a pg_temp_N schema, visible in pg_class."""
    conn = _pg_admin()
    try:
        conn.execute(f"CREATE TEMP TABLE tmp_{SUFFIX} (id integer PRIMARY KEY)")
        yield
    finally:
        conn.close()


@pytest.fixture(scope="module")
def maria_db() -> Iterator[None]:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {MY_DB}")
            cursor.execute(
                f"""CREATE TABLE {MY_DB}.accounts (
                    id INT AUTO_INCREMENT PRIMARY KEY,
                    email VARCHAR(255) NOT NULL,
                    balance DECIMAL(12, 2) NULL,
                    flags TINYINT NOT NULL DEFAULT 0,
                    created_at DATETIME NOT NULL,
                    updated_at TIMESTAMP NULL DEFAULT NULL,
                    signup_date DATE NULL,
                    KEY (created_at)
                )"""
            )
            cursor.execute(
                f"""CREATE TABLE {MY_DB}.line_items (
                    line_no SMALLINT NOT NULL, order_id BIGINT NOT NULL, sku VARCHAR(20),
                    PRIMARY KEY (order_id, line_no)
                )"""
            )
            cursor.execute(f"CREATE TABLE {MY_DB}.legacy (id INT, note TEXT)")
            cursor.execute(f"CREATE VIEW {MY_DB}.active_accounts AS SELECT id, email FROM {MY_DB}.accounts")
            cursor.execute(f"CREATE USER '{MY_USER}'@'127.0.0.1' IDENTIFIED BY '{MY_PASSWORD}'")
            cursor.execute(f"GRANT SELECT, SHOW VIEW ON {MY_DB}.* TO '{MY_USER}'@'127.0.0.1'")
        yield
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {MY_DB}")
            cursor.execute(f"DROP USER IF EXISTS '{MY_USER}'@'127.0.0.1'")
        conn.close()


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


class Connected(BaseException):
    """Raised by the no_connect spy; a BaseException so the upstream's error handling cannot swallow it."""


@pytest.fixture()
def no_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spy: any connection attempt fails the test."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise Connected("the upstream must not connect")

    monkeypatch.setattr(sql_discovery.psycopg, "connect", refuse)
    monkeypatch.setattr(sql_discovery.pymysql, "connect", refuse)


# -- Postgres discovery ---------------------------------------------------------------------------------

ACCOUNTS_COLUMNS = (
    Column("id", "bigint", False),
    Column("email", "text", False),
    Column("balance", "numeric", True),
    Column("is_active", "boolean", False),
    Column("created_at", "timestamp with time zone", False),
    Column("signup_date", "date", True),
    Column("updated_at", "timestamp without time zone", True),
)


def _cursor(name: str, field_type: str, *, nullable: bool, indexed: bool) -> IncrementalField:
    return IncrementalField(name, field_type, name, field_type, nullable=nullable, is_indexed=indexed)


def _pg_schema_a(qualify: str = "") -> list[DiscoveredTable]:
    return [
        DiscoveredTable(
            name=f"{qualify}accounts",
            columns=ACCOUNTS_COLUMNS,
            primary_keys=("id",),
            key_constraint=("id",),
            incremental_fields=(
                _cursor("id", "integer", nullable=False, indexed=True),
                _cursor("created_at", "timestamp", nullable=False, indexed=True),
                _cursor("signup_date", "date", nullable=True, indexed=False),
                _cursor("updated_at", "timestamp", nullable=True, indexed=False),
            ),
            incremental_available=True,
            append_available=True,
        ),
        DiscoveredTable(  # a view: every column nullable, no key of its own, `id` taken as the key
            name=f"{qualify}active_accounts",
            columns=(
                Column("id", "bigint", True),
                Column("email", "text", True),
                Column("created_at", "timestamp with time zone", True),
            ),
            primary_keys=("id",),
            incremental_fields=(
                _cursor("id", "integer", nullable=True, indexed=False),
                _cursor("created_at", "timestamp", nullable=True, indexed=False),
            ),
            incremental_available=True,
            append_available=True,
        ),
        DiscoveredTable(  # a materialized view (absent from information_schema)
            name=f"{qualify}daily",
            columns=(Column("signup_date", "date", True), Column("n", "bigint", True)),
            primary_keys=(),
            incremental_fields=(
                _cursor("signup_date", "date", nullable=True, indexed=False),
                _cursor("n", "integer", nullable=True, indexed=False),
            ),
            incremental_available=True,
            append_available=True,
        ),
        DiscoveredTable(
            name=f"{qualify}events",
            columns=(
                Column("seq", "smallint", False),
                Column("account_id", "integer", False),
                Column("payload", "jsonb", True),
                Column("tags", "ARRAY", True),
            ),
            primary_keys=("account_id", "seq"),
            key_constraint=("account_id", "seq"),
            incremental_fields=(
                _cursor("seq", "integer", nullable=False, indexed=False),
                _cursor("account_id", "integer", nullable=False, indexed=True),
            ),
            incremental_available=True,
            append_available=True,
        ),
        DiscoveredTable(  # no primary key but an `id` column: PostHog's fallback key
            name=f"{qualify}legacy",
            columns=(Column("id", "integer", True), Column("note", "character varying", True)),
            primary_keys=("id",),
            incremental_fields=(_cursor("id", "integer", nullable=True, indexed=False),),
            incremental_available=True,
            append_available=True,
        ),
        DiscoveredTable(name=f"{qualify}notes", columns=(Column("body", "text", True),), primary_keys=()),
    ]


@pytest.mark.usefixtures("pg_schemas")
def test_postgres_discover_one_schema_lists_tables_views_columns_keys_and_cursors() -> None:
    assert SqlUpstream().discover("Postgres", pg_config()) == _pg_schema_a()


@pytest.mark.usefixtures("pg_schemas")
def test_postgres_numeric_is_not_an_incremental_candidate_as_in_posthog() -> None:
    (orders,) = SqlUpstream().discover("Postgres", pg_config(schema=PG_B))
    assert orders == DiscoveredTable(
        name="orders",
        columns=(
            Column("order_id", "bigint", False),
            Column("amount", "numeric", False),
            Column("placed_on", "date", False),
        ),
        primary_keys=("order_id",),
        key_constraint=("order_id",),
        incremental_fields=(
            _cursor("order_id", "integer", nullable=False, indexed=True),
            _cursor("placed_on", "date", nullable=False, indexed=False),
        ),
        incremental_available=True,
        append_available=True,
    )


@pytest.mark.usefixtures("pg_schemas", "pg_temp_table")
@pytest.mark.parametrize("blank", [{"schema": ""}, {"schema": "   "}, {"schema": None}, {}], ids=repr)
def test_postgres_blank_schema_lists_every_non_system_schema_qualified(blank: dict[str, Any]) -> None:
    config = pg_config()
    del config["schema"]
    config.update(blank)

    tables = SqlUpstream().discover("Postgres", config)

    names = [table.name for table in tables]
    ours = [table for table in tables if table.name.startswith(f"reconciler_test_{SUFFIX}_")]
    orders = [table for table in SqlUpstream().discover("Postgres", pg_config(schema=PG_B))]
    assert ours == _pg_schema_a(f"{PG_A}.") + [
        DiscoveredTable(**{**vars(table), "name": f"{PG_B}.{table.name}"}) for table in orders
    ]
    assert names == sorted(names, key=lambda name: tuple(name.split(".", 1)))
    assert all("." in name for name in names)
    system = ("information_schema.", "pg_catalog.", "pg_toast")
    assert [name for name in names if name.startswith(system) or name.startswith("pg_temp")] == []
    assert f"tmp_{SUFFIX}" not in {name.split(".", 1)[1] for name in names}


@pytest.mark.usefixtures("pg_schemas")
@pytest.mark.parametrize("port", ["5432", 5432, " 5432 "])
def test_postgres_check_credentials_connects_with_port_as_stored(port: object) -> None:
    SqlUpstream().check_credentials("Postgres", pg_config(port=port))


def test_postgres_schema_without_tables_is_an_empty_listing() -> None:
    assert SqlUpstream().discover("Postgres", pg_config(schema=f"reconciler_absent_{SUFFIX}")) == []


# -- Postgres failures -----------------------------------------------------------------------------------


def test_postgres_unknown_role_is_refused_by_the_real_server() -> None:
    # With trust auth the server names the missing role; PostHog has no mapping for that text, so it
    # answers its catch-all (behind password auth the same server would say "password authentication
    # failed", mapped to "Invalid user or password" — see the fault-injection test below).
    config = pg_config(user=f"no_such_role_{SUFFIX}")
    upstream = SqlUpstream()
    assert upstream_error(upstream.check_credentials, "Postgres", config).message == CANNOT_CONNECT_PG
    assert upstream_error(upstream.discover, "Postgres", config).message == REFRESH_FALLBACK


def test_postgres_unknown_database() -> None:
    config = pg_config(database=f"no_such_db_{SUFFIX}")
    upstream = SqlUpstream()
    assert upstream_error(upstream.check_credentials, "Postgres", config).message == "Database does not exist"
    assert upstream_error(upstream.discover, "Postgres", config).message == REFRESH_FALLBACK


def test_postgres_wrong_password_against_this_server_follows_its_pg_hba_rule() -> None:
    """The local server authenticates 127.0.0.1 by TRUST: it never asks for a password, so a wrong one
    is accepted, by PostHog as by us. This test reads the rule that applies and asserts the matching
    outcome, so it stays true (and still checks something) if the server is ever switched to scram."""
    role, password = f"rt_pg_{SUFFIX}", secrets.token_hex(8)
    with _pg_admin() as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        try:
            rule = admin.execute(
                "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND address = '127.0.0.1'"
                " ORDER BY line_number LIMIT 1"
            ).fetchone()
            config = pg_config(user=role, password="definitely-" + password[::-1])
            if rule is not None and rule[0] == "trust":
                SqlUpstream().check_credentials("Postgres", config)
            else:
                error = upstream_error(SqlUpstream().check_credentials, "Postgres", config)
                assert error.message == "Invalid user or password"
        finally:
            admin.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize(
    "libpq_text",
    [
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password '
        'authentication failed for user "alice"',
        'connection failed: connection to server at "db.example.com" (203.0.113.9), port 5432 failed: '
        "error received from server in SCRAM exchange: Wrong password",
    ],
)
def test_postgres_wrong_password_texts_from_libpq(monkeypatch: pytest.MonkeyPatch, libpq_text: str) -> None:
    """Fault injection: the texts libpq gives behind password/scram auth, which this server cannot produce."""

    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise psycopg.OperationalError(libpq_text)

    monkeypatch.setattr(sql_discovery.psycopg, "connect", fail)
    upstream = SqlUpstream()
    assert upstream_error(upstream.check_credentials, "Postgres", pg_config()).message == "Invalid user or password"
    expected = REFRESH_AUTH if "authentication failed" in libpq_text else REFRESH_FALLBACK
    assert upstream_error(upstream.discover, "Postgres", pg_config()).message == expected


def test_postgres_unreachable_port() -> None:
    config = pg_config(port=1)
    upstream = SqlUpstream()
    error = upstream_error(upstream.check_credentials, "Postgres", config)
    assert error.message == "Could not connect to the host on the port given"
    assert upstream_error(upstream.discover, "Postgres", config).message == REFRESH_CANNOT_CONNECT


def test_postgres_unresolvable_host() -> None:
    config = pg_config(host="no-such-host.invalid")
    upstream = SqlUpstream()
    # psycopg resolves names itself ("failed to resolve host ...: Name or service not known"); PostHog's
    # create-time table has no entry for that wording, its refresh ladder does.
    assert upstream_error(upstream.check_credentials, "Postgres", config).message == CANNOT_CONNECT_PG
    assert upstream_error(upstream.discover, "Postgres", config).message == "Could not resolve the source host."


def test_postgres_connect_timeout(silent_port: int) -> None:
    config = pg_config(port=silent_port)
    upstream = SqlUpstream(connect_timeout=2)
    error = upstream_error(upstream.check_credentials, "Postgres", config)
    assert error.message == "Connection timed out. Does your database have our IP addresses allowed?"
    message = upstream_error(upstream.discover, "Postgres", config).message
    assert message == "Connection timed out while fetching schemas from the source."


def test_port_that_is_not_a_number() -> None:
    upstream = SqlUpstream()
    assert upstream_error(upstream.check_credentials, "Postgres", pg_config(port="54x")).message == CANNOT_CONNECT_PG
    assert upstream_error(upstream.check_credentials, "MySQL", my_config(port="")).message == CANNOT_CONNECT_MY
    assert upstream_error(upstream.discover, "MySQL", my_config(port="")).message == REFRESH_FALLBACK


def test_other_source_types_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="'Stripe'"):
        SqlUpstream().check_credentials("Stripe", {})


# -- MySQL / MariaDB ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("maria_db")
def test_mysql_discover_lists_tables_and_views_of_the_schema() -> None:
    assert SqlUpstream().discover("MySQL", my_config()) == [
        DiscoveredTable(
            name="accounts",
            columns=(
                Column("id", "int", False),
                Column("email", "varchar", False),
                Column("balance", "decimal", True),
                Column("flags", "tinyint", False),
                Column("created_at", "datetime", False),
                Column("updated_at", "timestamp", True),
                Column("signup_date", "date", True),
            ),
            primary_keys=("id",),
            key_constraint=("id",),
            incremental_fields=(  # decimal is not a cursor for PostHog; tinyint is
                _cursor("id", "integer", nullable=False, indexed=True),
                _cursor("flags", "integer", nullable=False, indexed=False),
                _cursor("created_at", "datetime", nullable=False, indexed=True),
                _cursor("updated_at", "timestamp", nullable=True, indexed=False),
                _cursor("signup_date", "date", nullable=True, indexed=False),
            ),
            incremental_available=True,
            append_available=True,
        ),
        DiscoveredTable(
            name="active_accounts",
            columns=(Column("id", "int", False), Column("email", "varchar", False)),
            primary_keys=("id",),
            incremental_fields=(_cursor("id", "integer", nullable=False, indexed=False),),
            incremental_available=True,
            append_available=True,
        ),
        DiscoveredTable(
            name="legacy",
            columns=(Column("id", "int", True), Column("note", "text", True)),
            primary_keys=("id",),
            incremental_fields=(_cursor("id", "integer", nullable=True, indexed=False),),
            incremental_available=True,
            append_available=True,
        ),
        DiscoveredTable(
            name="line_items",
            columns=(
                Column("line_no", "smallint", False),
                Column("order_id", "bigint", False),
                Column("sku", "varchar", True),
            ),
            primary_keys=("order_id", "line_no"),
            key_constraint=("order_id", "line_no"),
            incremental_fields=(
                _cursor("line_no", "integer", nullable=False, indexed=False),
                _cursor("order_id", "integer", nullable=False, indexed=True),
            ),
            incremental_available=True,
            append_available=True,
        ),
    ]


@pytest.mark.usefixtures("maria_db")
def test_mysql_schema_missing_lists_nothing() -> None:
    assert SqlUpstream().discover("MySQL", my_config(schema="")) == []


@pytest.mark.usefixtures("maria_db")
@pytest.mark.parametrize("using_ssl", ["true", "false", True, False, "True", None])
def test_mysql_using_ssl_behaves_as_posthog_against_a_server_without_tls(using_ssl: object) -> None:
    # PostHog's pymysql 1.1.1 with a CA bundle still connects in clear when the server offers no TLS.
    config = my_config(using_ssl=using_ssl)
    if using_ssl is None:
        del config["using_ssl"]
    SqlUpstream().check_credentials("MySQL", config)


@pytest.mark.usefixtures("maria_db")
def test_mysql_wrong_password_is_refused_by_the_real_server() -> None:
    config = my_config(password="not-" + MY_PASSWORD)
    upstream = SqlUpstream()
    upstream.check_credentials("MySQL", my_config())  # the right one works
    assert upstream_error(upstream.check_credentials, "MySQL", config).message == CANNOT_CONNECT_MY
    assert upstream_error(upstream.discover, "MySQL", config).message == REFRESH_AUTH


@pytest.mark.usefixtures("maria_db")
def test_mysql_unknown_user() -> None:
    config = my_config(user=f"nobody_{SUFFIX}")
    assert upstream_error(SqlUpstream().check_credentials, "MySQL", config).message == CANNOT_CONNECT_MY
    assert upstream_error(SqlUpstream().discover, "MySQL", config).message == REFRESH_AUTH


def test_mysql_unreachable_port() -> None:
    config = my_config(port="1")
    upstream = SqlUpstream()
    assert upstream_error(upstream.check_credentials, "MySQL", config).message == CANNOT_CONNECT_MY
    assert upstream_error(upstream.discover, "MySQL", config).message == REFRESH_CANNOT_CONNECT


def test_mysql_connect_timeout(silent_port: int) -> None:
    config = my_config(port=silent_port)
    upstream = SqlUpstream(connect_timeout=2)
    assert upstream_error(upstream.check_credentials, "MySQL", config).message == CANNOT_CONNECT_MY
    message = upstream_error(upstream.discover, "MySQL", config).message
    assert message == "Connection timed out while fetching schemas from the source."


# -- Cloud host checks and SSH tunnels ---------------------------------------------------------------------

INTERNAL_HOSTS = [
    "localhost",
    "LOCALHOST.",
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.20",
    "169.254.169.254",
    "::1",
    "::ffff:127.0.0.1",
    "fe80::1",
]


@pytest.mark.usefixtures("no_connect")
@pytest.mark.parametrize("host", INTERNAL_HOSTS)
@pytest.mark.parametrize("source_type", ["Postgres", "MySQL"])
def test_cloud_host_checks_refuse_internal_hosts_without_connecting(source_type: str, host: str) -> None:
    config = (pg_config if source_type == "Postgres" else my_config)(host=host)
    error = upstream_error(SqlUpstream(cloud_host_checks=True).check_credentials, source_type, config)
    assert error.message == INTERNAL


@pytest.mark.usefixtures("pg_schemas")
def test_without_cloud_host_checks_local_hosts_are_fine() -> None:
    SqlUpstream().check_credentials("Postgres", pg_config(host="localhost"))


@pytest.mark.usefixtures("no_connect")
def test_cloud_host_checks_resolve_names() -> None:
    def resolver(host: str) -> list[str]:
        if host == "db.internal.example":
            return ["93.184.216.34", "10.0.0.5"]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    upstream = SqlUpstream(cloud_host_checks=True, resolver=resolver)
    assert (
        upstream_error(upstream.check_credentials, "Postgres", pg_config(host="db.internal.example")).message
        == INTERNAL
    )
    error = upstream_error(upstream.check_credentials, "MySQL", my_config(host="nowhere.example"))
    assert error.message == "Host could not be resolved"


@pytest.mark.parametrize(
    ("host", "addresses", "expected"),
    [
        ("172.15.255.255", [], None),  # just outside 172.16/12
        ("172.32.0.1", [], None),
        ("8.8.8.8", ["8.8.8.8"], None),
        ("db.example.com", ["93.184.216.34"], None),
        ("db.example.com", ["93.184.216.34", "192.168.0.9"], INTERNAL),
        ("db.example.com", ["::ffff:10.0.0.1"], INTERNAL),
        ("lake.postwh.com", ["10.0.0.1"], None),  # PostHog-managed hosts are allowed
        ("127.0.0.1", [], INTERNAL),
        # 100.64.0.0/10, shared address space (issue 17 item 9): refused, literal or resolved; its edges not.
        ("100.64.0.1", [], INTERNAL),
        ("100.127.255.255", [], INTERNAL),
        ("db.example.com", ["100.70.1.2"], INTERNAL),
        ("db.example.com", ["::ffff:100.64.0.9"], INTERNAL),
        ("100.63.255.255", [], None),
        ("100.128.0.1", [], None),
    ],
)
def test_internal_host_error(host: str, addresses: list[str], expected: str | None) -> None:
    assert internal_host_error(host, lambda _name: addresses) == expected


TUNNEL = {
    "enabled": True,
    "host": "bastion.example.com",
    "port": 22,
    "auth": {"selection": "password", "username": "jump", "password": "tunnel-secret"},
}


@pytest.mark.usefixtures("no_connect")
@pytest.mark.parametrize("source_type", ["Postgres", "MySQL"])
def test_enabled_ssh_tunnel_fails_like_an_unreachable_gateway(source_type: str) -> None:
    config = (pg_config if source_type == "Postgres" else my_config)(ssh_tunnel=TUNNEL)
    upstream = SqlUpstream()
    assert upstream_error(upstream.check_credentials, source_type, config).message == (
        "Could not establish session to SSH gateway"
    )
    assert upstream_error(upstream.discover, source_type, config).message == (
        "Could not establish an SSH tunnel to the source."
    )
    invalid = {**config, "ssh_tunnel": {**TUNNEL, "port": 443}}
    assert upstream_error(upstream.discover, source_type, invalid).message == REFRESH_FALLBACK


@pytest.mark.usefixtures("no_connect")
@pytest.mark.parametrize(
    ("tunnel", "expected"),
    [
        ({**TUNNEL, "auth": {"selection": "password", "username": "jump"}}, "Username and password required"),
        ({**TUNNEL, "auth": {"selection": "keypair", "username": "jump"}}, "Private key is required"),
        ({**TUNNEL, "auth": {"selection": "magic"}}, "Authentication type not recognised"),
        ({**TUNNEL, "port": "443"}, "Port 443 is not allowed"),
        ({**TUNNEL, "auth_type": TUNNEL["auth"], "auth": None, "port": 80}, "Port 80 is not allowed"),
        ({**TUNNEL, "enabled": "True", "auth": {"type": "keypair", "private_key": ""}}, "Private key is required"),
    ],
)
def test_ssh_tunnel_checks_run_before_anything_else(tunnel: dict[str, Any], expected: str) -> None:
    error = upstream_error(SqlUpstream().check_credentials, "Postgres", pg_config(ssh_tunnel=tunnel))
    assert error.message == expected


@pytest.mark.usefixtures("no_connect")
def test_ssh_tunnel_host_is_checked_on_cloud_and_replaces_the_db_host_check() -> None:
    tunnel = {**TUNNEL, "host": "10.0.0.2"}
    error = upstream_error(SqlUpstream(cloud_host_checks=True).check_credentials, "MySQL", my_config(ssh_tunnel=tunnel))
    assert error.message == f"SSH tunnel host not allowed: {INTERNAL}"
    # A tunnelled source's own host is not checked (it is reached from the bastion).
    config = pg_config(host="127.0.0.1", ssh_tunnel={**TUNNEL, "host": "93.184.216.34"})
    error = upstream_error(SqlUpstream(cloud_host_checks=True).check_credentials, "Postgres", config)
    assert error.message == "Could not establish session to SSH gateway"


@pytest.mark.usefixtures("pg_schemas")
@pytest.mark.parametrize("enabled", [False, "False", "false", None])
def test_disabled_ssh_tunnel_is_ignored(enabled: object) -> None:
    SqlUpstream().check_credentials("Postgres", pg_config(ssh_tunnel={**TUNNEL, "enabled": enabled}))


# -- secrets never leak ------------------------------------------------------------------------------------


def _assert_clean(error: UpstreamError, secret: str) -> None:
    assert secret not in error.message
    assert secret not in str(error)
    assert secret not in repr(error)
    assert secret not in "".join(traceback.format_exception(error))
    assert error.__cause__ is None
    assert error.__context__ is None  # the driver's exception is not even chained


@pytest.mark.parametrize("field", ["database", "user"])
def test_postgres_server_echoing_the_password_never_reaches_an_error(field: str) -> None:
    password = f"Sekr1t{secrets.token_hex(4)}"
    config = pg_config(password=password, **{field: password})
    upstream = SqlUpstream()
    # The real server does echo it ('database "<pw>" does not exist' / 'role "<pw>" does not exist').
    with pytest.raises(psycopg.OperationalError, match=password):
        psycopg.connect(host="127.0.0.1", port=5432, dbname=config["database"], user=config["user"], connect_timeout=3)
    for call in (upstream.check_credentials, upstream.discover):
        _assert_clean(upstream_error(call, "Postgres", config), password)


@pytest.mark.usefixtures("maria_db")
@pytest.mark.parametrize("field", ["database", "user"])
def test_mysql_server_echoing_the_password_never_reaches_an_error(field: str) -> None:
    # The test user's real password, also used as a database or user name the server then echoes
    # ("Access denied for user 'rt_..'@'127.0.0.1' to database '<pw>'" / "... for user '<pw>'@...").
    config = my_config(**{field: MY_PASSWORD})
    with pytest.raises(pymysql.MySQLError, match=MY_PASSWORD):
        pymysql.connect(
            host="127.0.0.1", port=3306, database=config["database"], user=config["user"], password=MY_PASSWORD
        )
    upstream = SqlUpstream()
    for call in (upstream.check_credentials, upstream.discover):
        _assert_clean(upstream_error(call, "MySQL", config), MY_PASSWORD)


def test_secrets_of_the_tunnel_never_reach_an_error() -> None:
    config = pg_config(port=1, password="db-secret", ssh_tunnel={**TUNNEL, "enabled": False})
    for call in (SqlUpstream().check_credentials, SqlUpstream().discover):
        error = upstream_error(call, "Postgres", config)
        for secret in ("db-secret", "tunnel-secret"):
            _assert_clean(error, secret)


def test_repr_shows_no_configuration() -> None:
    assert repr(SqlUpstream(cloud_host_checks=True)) == "SqlUpstream(cloud_host_checks=True)"


def test_scrub() -> None:
    assert scrub('role "abc" / abcdef', ["abc", "abcdef", ""]) == 'role "********" / ********'
    assert scrub("nothing here", []) == "nothing here"


# -- pure ladders ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "ConnectionTimeout: connection timeout expired",
            "Connection timed out while fetching schemas from the source.",
        ),
        (
            "OperationalError: 2013 Lost connection (timed out)",
            "Connection timed out while fetching schemas from the source.",
        ),
        ("OperationalError: ... failed: Connection refused", REFRESH_CANNOT_CONNECT),
        ("OperationalError: could not connect to server", REFRESH_CANNOT_CONNECT),
        ('OperationalError: could not translate host name "x" to address', "Could not resolve the source host."),
        ("OperationalError: [Errno -2] Name or service not known", "Could not resolve the source host."),
        ("OSError: [Errno 101] Network is unreachable", "Could not reach the source network."),
        ("OSError: [Errno 113] No route to host", "Could not reach the source host."),
        ("OperationalError: 1045 Access denied for user 'u'@'h' (using password: YES)", REFRESH_AUTH),
        ('OperationalError: FATAL:  password authentication failed for user "u"', REFRESH_AUTH),
        ("Exception: LDAP authentication failed", REFRESH_AUTH),
        ("HTTPError: 401 Unauthorized", REFRESH_AUTH),
        ("HTTPError: 403 Forbidden", "The source credentials do not have permission to fetch schemas."),
        ("SSLRequiredError: SSL/TLS connection is required but ...", "SSL/TLS is required to connect to the source."),
        (
            "BaseSSHTunnelForwarderError: Could not establish session to SSH gateway",
            "Could not establish an SSH tunnel to the source.",
        ),
        ('OperationalError: FATAL:  role "x" does not exist', REFRESH_FALLBACK),
        ("", REFRESH_FALLBACK),
        # first rung wins: a timeout that also mentions a refusal is a timeout
        (
            "OperationalError: connection refused after timeout",
            "Connection timed out while fetching schemas from the source.",
        ),
        ("Error: access denied, forbidden", REFRESH_AUTH),
    ],
)
def test_friendly_discovery_error_ladder(text: str, expected: str) -> None:
    assert friendly_discovery_error(text) == expected


def test_source_specific_friendly_texts_take_precedence() -> None:
    text = "OperationalError: FATAL:  SASL authentication failed"
    assert friendly_discovery_error(text) == REFRESH_AUTH
    assert friendly_discovery_error(text, "Postgres").startswith("Your database rejected the credentials")
    assert friendly_discovery_error(text, "MySQL") == REFRESH_AUTH
    ssl_text = "OperationalError: 2013 Lost connection ([SSL: WRONG_VERSION_NUMBER] wrong version number)"
    assert friendly_discovery_error(ssl_text, "MySQL").startswith("We couldn't establish an SSL connection")
    assert friendly_discovery_error(ssl_text) == REFRESH_FALLBACK


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('... failed: FATAL:  password authentication failed for user "u"', "Invalid user or password"),
        ('... could not translate host name "h" to address', "Could not connect to the host"),
        (
            "... failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?",
            "Could not connect to the host on the port given",
        ),
        ('... FATAL:  database "d" does not exist', "Database does not exist"),
        ("connection timeout expired", "Connection timed out. Does your database have our IP addresses allowed?"),
        (
            "FATAL:  the database system is starting up",
            "Your database is starting up or recovering. Wait a moment and try again.",
        ),
        (
            "server does not support SSL, but SSL was required",
            "SSL/TLS connection is required but your database does not support it."
            " Please enable SSL/TLS on your PostgreSQL server.",
        ),
        ('FATAL:  role "r" does not exist', CANNOT_CONNECT_PG),
        ("PASSWORD AUTHENTICATION FAILED FOR USER", CANNOT_CONNECT_PG),  # PostHog matches case-sensitively
    ],
)
def test_postgres_credential_error(text: str, expected: str) -> None:
    assert postgres_credential_error(text) == expected


@pytest.mark.parametrize(
    ("data_type", "postgres", "mysql"),
    [
        ("integer", "integer", None),
        ("int", None, "integer"),
        ("smallint", "integer", "integer"),
        ("bigint", "integer", "integer"),
        ("tinyint", None, "integer"),
        ("mediumint", None, "integer"),
        ("numeric", None, None),
        ("decimal", None, None),
        ("date", "date", "date"),
        ("datetime", None, "datetime"),
        ("timestamp", "timestamp", "timestamp"),
        ("timestamp with time zone", "timestamp", "timestamp"),
        ("TIMESTAMP WITHOUT TIME ZONE", "timestamp", "timestamp"),
        ("text", None, None),
        ("boolean", None, None),
    ],
)
def test_incremental_types(data_type: str, postgres: str | None, mysql: str | None) -> None:
    assert postgres_incremental_type(data_type) == postgres
    assert mysql_incremental_type(data_type) == mysql
