"""Is a host name this machine? By name only, no DNS lookup. A leaf: imports nothing internal.

Shared by the client side (`settings.py` refuses `http://` beyond loopback; the client words connection
errors) and the emulator (`serve` refuses its public default key beyond loopback), which must not import
each other. Must not know: anything else in the project.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(hostname: str) -> bool:
    """localhost, *.localhost (RFC 6761), 127.0.0.0/8, ::1 — by name only; no DNS lookup."""
    name = hostname.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
