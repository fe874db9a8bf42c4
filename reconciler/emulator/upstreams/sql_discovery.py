"""What a Postgres or MySQL database holds, read as PostHog reads it: relations, columns, primary keys, leading
index columns and incremental-cursor candidates, over psycopg 3 and pymysql (reference/posthog-api.md §8.9).

Knows the drivers and the catalogs' SQL; knows nothing of job_inputs, PostHog's error texts or HTTP (`sql.py`
turns job_inputs into a `SqlTarget` and driver errors into PostHog's texts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pymysql

from reconciler.emulator.upstreams.types import Column, DiscoveredTable, IncrementalField

__all__ = ["SqlTarget", "discover_tables", "mysql_incremental_type", "postgres_incremental_type"]

# Schemas PostHog never lists when the Postgres `schema` field is blank, plus per-session temp schemas.
_PG_SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")


@dataclass(frozen=True)
class SqlTarget:
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


def discover_tables(target: SqlTarget, connect_timeout: int) -> list[DiscoveredTable]:
    """Connect and list the target's tables; driver exceptions propagate (the caller classifies them)."""
    if target.source_type == "Postgres":
        return _discover_postgres(target, connect_timeout)
    return _discover_mysql(target, connect_timeout)


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


# ---- Postgres -------------------------------------------------------------------------------------


def _discover_postgres(target: SqlTarget, connect_timeout: int) -> list[DiscoveredTable]:
    # Keyword arguments, never a DSN string: nothing to echo back in an error.
    with psycopg.connect(
        host=target.host,
        port=target.port,
        dbname=target.database,
        user=target.user,
        password=target.password,
        connect_timeout=connect_timeout,
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


# ---- MySQL ----------------------------------------------------------------------------------------


def _discover_mysql(target: SqlTarget, connect_timeout: int) -> list[DiscoveredTable]:
    with pymysql.connect(
        host=target.host,
        port=target.port,
        database=target.database,
        user=target.user,
        password=target.password,
        connect_timeout=connect_timeout,
        # pymysql reads the server greeting under read_timeout, not connect_timeout: bound both, so a
        # port that accepts but never speaks times out like an unreachable one. Discovery's
        # information_schema queries answer well within it.
        read_timeout=connect_timeout,
        write_timeout=connect_timeout,
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
    incremental_type: Callable[[str], str | None],
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
        key_constraint=tuple(primary_keys),
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
