"""PostHog's user-facing texts for SQL upstream failures, as pure functions of an error's text.

Pure: no I/O except the injectable name resolver of the Cloud host check. `sql.py` feeds these
functions the driver's exception text and raises `UpstreamError` with what they return; nothing here
knows psycopg or pymysql. Every text below is PostHog's, read from its source (reference/posthog-api.md
§8.3 step 8, §8.7, §12); where they come from is noted beside each table.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "HOST_NOT_RESOLVED",
    "INTERNAL_HOST",
    "REFRESH_FALLBACK",
    "Resolver",
    "connect_failed",
    "friendly_discovery_error",
    "internal_host_error",
    "postgres_credential_error",
    "scrub",
    "ssh_tunnel_failed",
    "system_resolver",
]

Resolver = Callable[[str], Sequence[str]]
"""Resolves a host name to its IP address strings; raises `socket.gaierror` when it cannot."""

# Cloud's SSRF guard (PostHog `common/mixins.py::_is_host_safe`), reference §8.3 step 8 and §12.
INTERNAL_HOST = "Hosts with internal IP addresses are not allowed"
HOST_NOT_RESOLVED = "Host could not be resolved"

# refresh_schemas' ladder (reference §8.7): first matching substring of the lower-cased
# "<ExceptionType>: <args>" text wins; dict order is PostHog's order.
REFRESH_FALLBACK = "Could not fetch schemas from source."
_CANNOT_CONNECT = "Could not connect to the source. Check the host, port, and network access."
_TIMED_OUT = "Connection timed out while fetching schemas from the source."
_CANNOT_AUTHENTICATE = "Could not authenticate with the source. Check the connection credentials."
_REFRESH_LADDER: dict[str, str] = {
    "timeout": _TIMED_OUT,
    "timed out": _TIMED_OUT,
    "connection refused": _CANNOT_CONNECT,
    "could not connect": _CANNOT_CONNECT,
    "could not translate host name": "Could not resolve the source host.",
    "name or service not known": "Could not resolve the source host.",
    "network is unreachable": "Could not reach the source network.",
    "no route to host": "Could not reach the source host.",
    "access denied": _CANNOT_AUTHENTICATE,
    "authentication failed": _CANNOT_AUTHENTICATE,
    "password authentication failed": _CANNOT_AUTHENTICATE,
    "unauthorized": _CANNOT_AUTHENTICATE,
    "forbidden": "The source credentials do not have permission to fetch schemas.",
    "ssl/tls connection is required": "SSL/TLS is required to connect to the source.",
    "could not establish session to ssh gateway": "Could not establish an SSH tunnel to the source.",
}

# "Source-specific friendly texts take precedence" (§8.7): the entries of each source's
# `get_non_retryable_errors()` that carry a text and can surface while connecting or listing tables.
# Entries without a text only mark an error as expected and never change the message, so they are omitted.
_SOURCE_SPECIFIC: dict[str, dict[str, str]] = {
    "Postgres": {
        "SASL authentication failed": (
            "Your database rejected the credentials during authentication "
            '("SASL authentication failed"). This usually means the username or password is '
            "wrong. Some connection poolers (for example Supabase's transaction pooler) also "
            "require a pooler-specific username such as postgres.<project-ref>. Check your "
            "credentials, then re-enable the sync."
        ),
        "permission denied for": (
            "PostHog's database role isn't allowed to read one or more of the tables you selected to sync "
            '(PostgreSQL reported "permission denied"). Grant the connecting role SELECT on those tables '
            "(for example: GRANT SELECT ON <table> TO <role>), then re-enable the sync."
        ),
    },
    "MySQL": {
        "[SSL: WRONG_VERSION_NUMBER]": (
            "We couldn't establish an SSL connection to your MySQL server — it responded as if SSL is not "
            "enabled. If your server (or a proxy in front of it) doesn't support SSL, set 'Use SSL?' to No; "
            "otherwise check that you're connecting to an SSL-enabled host and port."
        ),
    },
}

# Postgres create-time texts (PostHog `sources/postgres/source.py::PostgresErrors`, reference §8.3 step 8):
# a case-sensitive substring of the OperationalError's joined args, first match in this order wins.
_SERVER_CLOSED = (
    "Your database closed the connection unexpectedly while connecting. This usually means the host or "
    "port is wrong, the server requires SSL/TLS, or a connection pooler, firewall, or SSH tunnel dropped "
    "the connection. Check your host, port, and SSL settings."
)
_SSL_UNSUPPORTED = (
    "SSL/TLS connection is required but your database does not support it. "
    "Please enable SSL/TLS on your PostgreSQL server."
)
_POSTGRES_CREDENTIAL_ERRORS: tuple[tuple[str, str], ...] = (
    ("password authentication failed for user", "Invalid user or password"),
    ("error received from server in SCRAM exchange: Wrong password", "Invalid user or password"),
    ("could not translate host name", "Could not connect to the host"),
    (
        "Is the server running on that host and accepting TCP/IP connections",
        "Could not connect to the host on the port given",
    ),
    ('database "', "Database does not exist"),
    ("timeout expired", "Connection timed out. Does your database have our IP addresses allowed?"),
    ("the database system is starting up", "Your database is starting up or recovering. Wait a moment and try again."),
    ("SSL/TLS connection is required", _SSL_UNSUPPORTED),
    ("server does not support SSL, but SSL was required", _SSL_UNSUPPORTED),
    (
        "SSL connection has been closed unexpectedly",
        "The SSL/TLS connection to your database was closed unexpectedly. Check your database's SSL "
        "configuration and that the port is correct.",
    ),
    ("server closed the connection unexpectedly", _SERVER_CLOSED),
)

_MASK = "********"


def connect_failed(source_name: str) -> str:
    """The catch-all create-time text of a SQL source (Postgres: any unmapped error; MySQL: every error)."""
    return f"Could not connect to {source_name}. Please check all connection details are valid."


def ssh_tunnel_failed(source_name: str) -> str:
    """What PostHog says when the SSH tunnel cannot be opened during the credential check."""
    return f"Could not connect to {source_name} via the SSH tunnel. Please check all connection details are valid."


def postgres_credential_error(operational_error_text: str) -> str:
    """Map the text of a psycopg OperationalError to PostHog's create-time message (§8.3 step 8)."""
    for needle, message in _POSTGRES_CREDENTIAL_ERRORS:
        if needle in operational_error_text:
            return message
    return connect_failed("Postgres")


def friendly_discovery_error(text: str, source_type: str | None = None) -> str:
    """refresh_schemas' message for a discovery failure whose exception text is `text` (§8.7).

    `text` is best given as PostHog builds it, "<ExceptionType>: <args joined by spaces>". With
    `source_type`, that source's own friendly texts are tried first, as PostHog does.
    """
    lowered = text.lower()
    for needle, message in _SOURCE_SPECIFIC.get(source_type or "", {}).items():
        if needle.lower() in lowered:
            return message
    for needle, message in _REFRESH_LADDER.items():
        if needle in lowered:
            return message
    return REFRESH_FALLBACK


def system_resolver(host: str) -> list[str]:
    """Every address the system resolver gives for `host` (raises socket.gaierror)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]


#: RFC 6598 shared address space (carrier-grade NAT; cloud VPCs use it for pods and peering). Python's
#: `is_private` leaves it out, and so does the check at PostHog's reference commit; refused here all the same
#: (docs/emulator.md, "Requests the emulator refuses").
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")


def _is_internal_ip(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return _is_internal_ip(str(embedded))
    elif ip in _SHARED_ADDRESS_SPACE:
        return True
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def internal_host_error(host: str, resolve: Resolver = system_resolver) -> str | None:
    """PostHog Cloud's SSRF check of a database or SSH host: the refusal text, or None when allowed.

    Literal internal addresses and `localhost` are refused without any lookup; a name is resolved and
    refused if any address is internal, or if it does not resolve at all (as PostHog does).
    """
    normalized = host.lower().strip().rstrip(".")
    if normalized.endswith(".postwh.com"):  # PostHog-managed DuckLake hosts are allowed on Cloud
        return None
    if normalized == "localhost":
        return INTERNAL_HOST
    try:
        if _is_internal_ip(normalized):
            return INTERNAL_HOST
    except ValueError:
        pass  # not an IP literal: resolve it below
    try:
        addresses = resolve(normalized)
    except (socket.gaierror, UnicodeError):
        return HOST_NOT_RESOLVED
    for address in addresses:
        try:
            if _is_internal_ip(address):
                return INTERNAL_HOST
        except ValueError:
            return INTERNAL_HOST  # an address we cannot classify is not proven public
    return None


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each non-empty secret masked (longest first, so overlaps go too)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return text
