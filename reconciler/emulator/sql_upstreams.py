"""Real Postgres and MySQL upstreams of the emulator: credential checks and table discovery against the
database a source's job_inputs name, over psycopg 3 and pymysql.

Boundary: this module talks to databases and nothing else. It knows neither HTTP nor the store; it
implements `upstream_types.Upstream` and reports every failure as `UpstreamError` carrying PostHog's
user-facing text (chosen by the pure functions of `upstream_errors.py`). No exception it raises carries
a password, in its message or in its context chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pymysql

from reconciler.catalog import SSH_TUNNEL_SECRET_NAMES
from reconciler.emulator import upstream_errors as texts
from reconciler.emulator.upstream_types import Column, DiscoveredTable, IncrementalField, UpstreamError

__all__ = [
    "SQL_SOURCE_TYPES",
    "SqlUpstream",
    "mysql_incremental_type",
    "postgres_incremental_type",
]

SQL_SOURCE_TYPES = ("Postgres", "MySQL")

# Schemas PostHog never lists when the Postgres `schema` field is blank, plus per-session temp schemas.
_PG_SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")

_SSH_GATEWAY_DOWN = "Could not establish session to SSH gateway"  # sshtunnel's text, passed through by PostHog


def postgres_incremental_type(data_type: str) -> str | None:
    """PostHog's incremental field type for a Postgres column type, or None if it cannot be a cursor.

    PostHog offers timestamps, dates and the three integer types only (not numeric, not serial aliases
    beyond what information_schema reports as integer/smallint/bigint).
    """
    lowered = data_type.lower()
    if lowered.startswith("timestamp"):
        return "timestamp"
    if lowered == "date":
        return "date"
    if lowered in ("integer", "smallint", "bigint"):
        return "integer"
    return None


def mysql_incremental_type(data_type: str) -> str | None:
    """PostHog's incremental field type for a MySQL/MariaDB `information_schema` data type, or None.

    PostHog offers timestamp, date, datetime and the five integer types (tinyint included); not decimal.
    """
    lowered = data_type.lower()
    if lowered.startswith("timestamp"):
        return "timestamp"
    if lowered == "date":
        return "date"
    if lowered == "datetime":
        return "datetime"
    if lowered in ("tinyint", "smallint", "mediumint", "int", "bigint"):
        return "integer"
    return None


def _truthy(value: Any, default: bool) -> bool:
    """PostHog stores booleans of job_inputs as strings ("True", "true", "false") as often as bools."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "on")


@dataclass(frozen=True)
class _Target:
    """The connection details of one SQL source, parsed from job_inputs. The password never prints."""

    source_type: str
    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)
    schema: str | None
    using_ssl: bool
    ssh_tunnel: Mapping[str, Any] | None = field(repr=False)

    @property
    def source_name(self) -> str:
        return self.source_type


class _ConfigError(Exception):
    """job_inputs cannot be turned into a connection target (e.g. a port that is not a number)."""


def _parse(source_type: str, config: Mapping[str, Any]) -> _Target:
    if source_type not in SQL_SOURCE_TYPES:
        raise ValueError(f"SqlUpstream handles {', '.join(SQL_SOURCE_TYPES)}, not {source_type!r}")
    try:
        port = int(str(config.get("port", "")).strip())
    except ValueError:
        raise _ConfigError("port is not a number") from None
    schema = config.get("schema")
    tunnel = config.get("ssh_tunnel")
    return _Target(
        source_type=source_type,
        host=str(config.get("host") or "").strip(),
        port=port,
        database=str(config.get("database") or ""),
        user=str(config.get("user") or ""),
        password=str(config.get("password") or ""),
        schema=str(schema).strip() if schema is not None and str(schema).strip() else None,
        # MySQL's "Use SSL?" select defaults to "true" (reference §10).
        using_ssl=_truthy(config.get("using_ssl"), default=True),
        ssh_tunnel=tunnel if isinstance(tunnel, Mapping) and _truthy(tunnel.get("enabled"), False) else None,
    )


def _secrets_of(config: Mapping[str, Any]) -> list[str]:
    """Every secret-looking value of job_inputs (DB password, connection string, tunnel secrets)."""
    found = [str(config.get(key) or "") for key in ("password", "connection_string")]
    tunnel = config.get("ssh_tunnel")
    if isinstance(tunnel, Mapping):
        for container in (tunnel.get("auth"), tunnel.get("auth_type")):
            if isinstance(container, Mapping):
                found += [str(container.get(key) or "") for key in sorted(SSH_TUNNEL_SECRET_NAMES)]
    return [value for value in found if value]


def _error_text(error: BaseException) -> str:
    """An exception as PostHog's refresh_schemas classifier sees it: "<Type>: <args joined by spaces>"."""
    message = " ".join(str(arg) for arg in error.args if arg is not None) or str(error)
    return f"{type(error).__name__}: {message}"


def _tunnel_problem(tunnel: Mapping[str, Any], cloud_checks: bool, resolve: texts.Resolver) -> str | None:
    """PostHog's pre-connection checks of an enabled SSH tunnel (`ssh_tunnel_is_valid`), or None if it passes.

    Private keys are only checked for presence; PostHog also parses them ("Private key could not be
    parsed"), which this emulator does not.
    """
    host = str(tunnel.get("host") or "")
    if cloud_checks and host:
        refused = texts.internal_host_error(host, resolve)
        if refused is not None:
            return f"SSH tunnel host not allowed: {refused}"
    auth = tunnel.get("auth") or tunnel.get("auth_type") or {}
    auth = auth if isinstance(auth, Mapping) else {}
    selection = auth.get("selection") or auth.get("type")
    if selection == "password":
        if not auth.get("username") or not auth.get("password"):
            return "Username and password required"
    elif selection == "keypair":
        if not auth.get("private_key"):
            return "Private key is required"
    else:
        return "Authentication type not recognised"
    try:
        port = int(str(tunnel.get("port")))
    except ValueError:
        return None  # PostHog fails later, opening the tunnel
    if port in (80, 443):
        return f"Port {port} is not allowed"
    return None


class SqlUpstream:
    """The Postgres and MySQL upstreams: really connect to the database job_inputs name.

    * `check_credentials` follows PostHog's `validate_credentials`: SSH-tunnel checks, then (with
      `cloud_host_checks`) Cloud's internal-host refusal without connecting, then a real connection and
      table listing; failures carry PostHog's create-time texts (reference §8.3 step 8).
    * `discover` lists tables and views with columns, primary keys and incremental candidates in the
      `database_schema` shape (§8.9); failures carry refresh_schemas' friendly texts (§8.7).

    SSH tunnels cannot be opened here: a source with an enabled tunnel that passes PostHog's tunnel checks
    fails as if its gateway were unreachable ("Could not establish session to SSH gateway").

    MySQL `using_ssl`: PostHog (pymysql 1.1.1 with a CA bundle) encrypts when the server offers TLS and
    silently connects in clear when it does not, without verifying the certificate. This class does the
    same (pymysql's "preferred" mode), so `using_ssl: true` against a local MariaDB without TLS succeeds,
    as it would in PostHog; `using_ssl: false` never attempts TLS.
    """

    def __init__(
        self,
        cloud_host_checks: bool = False,
        *,
        connect_timeout: int = 5,
        resolver: texts.Resolver = texts.system_resolver,
    ) -> None:
        self._cloud_host_checks = cloud_host_checks
        self._connect_timeout = max(2, connect_timeout)  # libpq treats values below 2 as 2
        self._resolve = resolver

    def __repr__(self) -> str:
        return f"SqlUpstream(cloud_host_checks={self._cloud_host_checks})"

    # -- the Upstream protocol ---------------------------------------------------------------------

    def check_credentials(self, source_type: str, config: Mapping[str, Any]) -> None:
        secrets = _secrets_of(config)
        try:
            target = _parse(source_type, config)
        except _ConfigError:
            raise UpstreamError(texts.connect_failed(source_type)) from None
        problem = self._pre_connect_problem(target)
        if problem is None:
            problem = self._connect_problem(target)
        if problem is not None:
            raise UpstreamError(texts.scrub(problem, secrets))

    def discover(self, source_type: str, config: Mapping[str, Any]) -> list[DiscoveredTable]:
        secrets = _secrets_of(config)
        try:
            target = _parse(source_type, config)
        except _ConfigError as error:
            raise UpstreamError(texts.friendly_discovery_error(_error_text(error), source_type)) from None
        if target.ssh_tunnel is not None:
            # PostHog refuses an invalid tunnel config with "SSHTunnel auth/port is not valid" (no friendly
            # text), and a valid one here fails like an unreachable gateway.
            invalid = _tunnel_problem(target.ssh_tunnel, cloud_checks=False, resolve=self._resolve) is not None
            text = "Exception: SSHTunnel auth is not valid" if invalid else f"Exception: {_SSH_GATEWAY_DOWN}"
            raise UpstreamError(texts.friendly_discovery_error(text))
        message: str
        try:
            return self._discover(target)
        except Exception as error:  # PostHog classifies whatever discovery raises (§8.7)
            message = texts.friendly_discovery_error(_error_text(error), source_type)
        # Raised outside the `except` block, so the driver's exception (whose text may echo secrets)
        # is not even attached as __context__.
        raise UpstreamError(texts.scrub(message, secrets))

    # -- steps ----------------------------------------------------------------------------------------

    def _pre_connect_problem(self, target: _Target) -> str | None:
        if target.ssh_tunnel is not None:
            problem = _tunnel_problem(target.ssh_tunnel, self._cloud_host_checks, self._resolve)
            # PostHog would now open the tunnel; we cannot, so it fails like an unreachable gateway.
            return problem if problem is not None else _SSH_GATEWAY_DOWN
        if self._cloud_host_checks:
            return texts.internal_host_error(target.host, self._resolve)
        return None

    def _connect_problem(self, target: _Target) -> str | None:
        """Connect and list tables, as PostHog's check does; the create-time failure text, or None."""
        try:
            self._discover(target)
        except psycopg.OperationalError as error:
            return texts.postgres_credential_error(" ".join(str(arg) for arg in error.args))
        except Exception:  # PostHog answers its catch-all for anything else, whatever the source
            return texts.connect_failed(target.source_name)
        return None

    def _discover(self, target: _Target) -> list[DiscoveredTable]:
        if target.source_type == "Postgres":
            return self._discover_postgres(target)
        return self._discover_mysql(target)

    # -- Postgres -------------------------------------------------------------------------------------

    def _discover_postgres(self, target: _Target) -> list[DiscoveredTable]:
        # Keyword arguments, never a DSN string: nothing to echo back in an error.
        with psycopg.connect(
            host=target.host,
            port=target.port,
            dbname=target.database,
            user=target.user,
            password=target.password,
            connect_timeout=self._connect_timeout,
            sslmode="prefer",  # what PostHog uses when validating and discovering
            application_name="reconciler-emulator",
            options="-c statement_timeout=30000",
            autocommit=True,
        ) as conn:
            relations = _pg_relations(conn, target.schema)
            if not relations:
                return []
            schemas = sorted({schema for schema, _ in relations})
            columns = _pg_columns(conn, schemas)
            primary_keys = _pg_primary_keys(conn, schemas)
            indexed = _pg_leading_index_columns(conn, schemas)
        qualify = target.schema is None
        tables = []
        for schema, relname in relations:
            key = (schema, relname)
            tables.append(
                _table(
                    f"{schema}.{relname}" if qualify else relname,
                    columns.get(key, []),
                    primary_keys.get(key, []),
                    indexed.get(key, set()),
                    postgres_incremental_type,
                )
            )
        return tables

    # -- MySQL ----------------------------------------------------------------------------------------

    def _discover_mysql(self, target: _Target) -> list[DiscoveredTable]:
        with pymysql.connect(
            host=target.host,
            port=target.port,
            database=target.database,
            user=target.user,
            password=target.password,
            connect_timeout=self._connect_timeout,
            # pymysql reads the server greeting under read_timeout, not connect_timeout: bound both, so a
            # port that accepts but never speaks times out like an unreachable one. Discovery's
            # information_schema queries answer well within it.
            read_timeout=self._connect_timeout,
            write_timeout=self._connect_timeout,
            # No ssl_* argument = pymysql's "preferred" mode (TLS if offered, unverified), which is how
            # PostHog's using_ssl=true behaves; see the class docstring.
            ssl_disabled=not target.using_ssl,
        ) as conn:
            # MySQL's `schema` is required by PostHog's form; an empty one lists nothing.
            schema = target.schema or ""
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
                    " WHERE table_schema = %s ORDER BY table_name, ordinal_position",
                    (schema,),
                )
                rows = cursor.fetchall()
                cursor.execute(
                    "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc"
                    " JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name"
                    " AND tc.table_schema = kcu.table_schema AND tc.table_name = kcu.table_name"
                    " WHERE tc.table_schema = %s AND tc.constraint_type = 'PRIMARY KEY'"
                    " ORDER BY tc.table_name, kcu.ordinal_position",
                    (schema,),
                )
                pk_rows = cursor.fetchall()
                cursor.execute(
                    "SELECT table_name, column_name FROM information_schema.statistics"
                    " WHERE table_schema = %s AND seq_in_index = 1",
                    (schema,),
                )
                index_rows = cursor.fetchall()
        columns: dict[str, list[Column]] = {}
        for table, name, data_type, is_nullable in rows:
            columns.setdefault(table, []).append(Column(name, data_type, is_nullable == "YES"))
        primary_keys: dict[str, list[str]] = {}
        for table, name in pk_rows:
            primary_keys.setdefault(table, []).append(name)
        indexed: dict[str, set[str]] = {}
        for table, name in index_rows:
            indexed.setdefault(table, set()).add(name)
        return [
            _table(table, cols, primary_keys.get(table, []), indexed.get(table, set()), mysql_incremental_type)
            for table, cols in columns.items()
        ]


def _table(
    name: str,
    columns: list[Column],
    primary_keys: list[str],
    indexed: set[str],
    incremental_type: Any,
) -> DiscoveredTable:
    """One discovered table in PostHog's terms.

    `primary_keys` falls back to ["id"] when the catalog has none but an `id` column exists: PostHog's
    `detected_primary_keys` rule for SQL sources. Incremental candidates keep column order; `label`
    equals `field` and `type` equals `field_type` for SQL sources (§8.9 example).
    """
    detected = list(primary_keys) or (["id"] if any(column.name == "id" for column in columns) else [])
    candidates = []
    for column in columns:
        field_type = incremental_type(column.data_type)
        if field_type is not None:
            candidates.append(
                IncrementalField(
                    label=column.name,
                    type=field_type,
                    field=column.name,
                    field_type=field_type,
                    nullable=column.nullable,
                    is_indexed=column.name in indexed,
                )
            )
    return DiscoveredTable(
        name=name,
        columns=tuple(columns),
        primary_keys=tuple(detected),
        incremental_fields=tuple(candidates),
        incremental_available=bool(candidates),
        append_available=bool(candidates),
    )


def _pg_relations(conn: psycopg.Connection[Any], schema: str | None) -> list[tuple[str, str]]:
    """(schema, relation) pairs PostHog lists: tables, partitioned tables, views, materialized views and
    foreign tables; blank `schema` = every schema but the system and per-session temp ones."""
    with conn.cursor() as cursor:
        if schema is not None:
            cursor.execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname = %s ORDER BY 1, 2",
                (schema,),
            )
        else:
            cursor.execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> ALL(%s)"
                " AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'"
                " ORDER BY 1, 2",
                (list(_PG_SYSTEM_SCHEMAS),),
            )
        return [(str(row[0]), str(row[1])) for row in cursor.fetchall()]


def _pg_columns(conn: psycopg.Connection[Any], schemas: list[str]) -> dict[tuple[str, str], list[Column]]:
    """Columns in ordinal order. Types are information_schema's `data_type` ("integer", "character
    varying", "timestamp with time zone", ...), as PostHog reports them; materialized views, absent from
    information_schema, are read from pg_attribute with format_type()."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name, column_name, data_type, is_nullable, ordinal_position"
            " FROM information_schema.columns WHERE table_schema = ANY(%s)"
            " UNION ALL"
            " SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),"
            " CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END, a.attnum"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE c.relkind = 'm' AND n.nspname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped"
            " ORDER BY 1, 2, 6",
            (schemas, schemas),
        )
        result: dict[tuple[str, str], list[Column]] = {}
        for schema, table, name, data_type, is_nullable, _position in cursor.fetchall():
            result.setdefault((schema, table), []).append(Column(name, data_type, is_nullable == "YES"))
        return result


def _pg_primary_keys(conn: psycopg.Connection[Any], schemas: list[str]) -> dict[tuple[str, str], list[str]]:
    """Primary-key columns in key order, from pg_catalog (information_schema hides them from non-owners)."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, c.relname, a.attname FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indisprimary AND n.nspname = ANY(%s)"
            " ORDER BY 1, 2, array_position(i.indkey, a.attnum)",
            (schemas,),
        )
        result: dict[tuple[str, str], list[str]] = {}
        for schema, table, name in cursor.fetchall():
            result.setdefault((schema, table), []).append(name)
        return result


def _pg_leading_index_columns(conn: psycopg.Connection[Any], schemas: list[str]) -> dict[tuple[str, str], set[str]]:
    """Columns that lead a valid, non-partial, non-expression index: PostHog's `is_indexed`."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, c.relname, a.attname FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]"
            " WHERE i.indkey[0] <> 0 AND i.indisvalid AND i.indpred IS NULL AND n.nspname = ANY(%s)",
            (schemas,),
        )
        result: dict[tuple[str, str], set[str]] = {}
        for schema, table, name in cursor.fetchall():
            result.setdefault((schema, table), set()).add(name)
        return result
