"""Real Postgres and MySQL upstreams of the emulator: credential checks and table discovery against the
database a source's job_inputs name, over psycopg 3 and pymysql.

Boundary: this module talks to databases and nothing else. It knows neither HTTP nor the store; it
implements `types.Upstream` and reports every failure as `UpstreamError` carrying PostHog's
user-facing text (chosen by the pure functions of `sql_errors.py`). No exception it raises carries
a password, in its message or in its context chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from reconciler.catalog import SSH_TUNNEL_SECRET_NAMES
from reconciler.emulator.upstreams import sql_errors as texts
from reconciler.emulator.upstreams.sql_discovery import SqlTarget, discover_tables
from reconciler.emulator.upstreams.types import DiscoveredTable, UpstreamError

__all__ = ["SQL_SOURCE_TYPES", "SqlUpstream"]

SQL_SOURCE_TYPES = ("Postgres", "MySQL")

_SSH_GATEWAY_DOWN = "Could not establish session to SSH gateway"  # sshtunnel's text, passed through by PostHog


def _truthy(value: Any, default: bool) -> bool:
    """PostHog stores booleans of job_inputs as strings ("True", "true", "false") as often as bools."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "on")


class _ConfigError(Exception):
    """job_inputs cannot be turned into a connection target (e.g. a port that is not a number)."""


def _parse(source_type: str, config: Mapping[str, Any]) -> SqlTarget:
    if source_type not in SQL_SOURCE_TYPES:
        raise ValueError(f"SqlUpstream handles {', '.join(SQL_SOURCE_TYPES)}, not {source_type!r}")
    try:
        port = int(str(config.get("port", "")).strip())
    except ValueError:
        raise _ConfigError("port is not a number") from None
    schema = config.get("schema")
    tunnel = config.get("ssh_tunnel")
    return SqlTarget(
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

    def _pre_connect_problem(self, target: SqlTarget) -> str | None:
        if target.ssh_tunnel is not None:
            problem = _tunnel_problem(target.ssh_tunnel, self._cloud_host_checks, self._resolve)
            # PostHog would now open the tunnel; we cannot, so it fails like an unreachable gateway.
            return problem if problem is not None else _SSH_GATEWAY_DOWN
        if self._cloud_host_checks:
            return texts.internal_host_error(target.host, self._resolve)
        return None

    def _connect_problem(self, target: SqlTarget) -> str | None:
        """Connect and list tables, as PostHog's check does; the create-time failure text, or None."""
        try:
            self._discover(target)
        except psycopg.OperationalError as error:
            return texts.postgres_credential_error(" ".join(str(arg) for arg in error.args))
        except Exception:  # PostHog answers its catch-all for anything else, whatever the source
            return texts.connect_failed(target.source_name)
        return None

    def _discover(self, target: SqlTarget) -> list[DiscoveredTable]:
        return discover_tables(target, self._connect_timeout)
