"""Is a host name this machine? By name only, no DNS lookup. A leaf: imports nothing internal.

Shared by the client side (`settings.py` refuses `http://` beyond loopback; the client words connection
errors) and the emulator (`serve` refuses its public default key beyond loopback), which must not import
each other. Must not know: anything else in the project.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(hostname: str) -> bool:
    """localhost, 127.0.0.0/8, ::1 — by name only; no DNS lookup.

    `*.localhost` is not loopback here: RFC 6761 says it should resolve to loopback, but nothing makes a
    resolver (or /etc/hosts, or a DNS search domain) obey, and an API key would then travel in clear.
    """
    name = hostname.strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
