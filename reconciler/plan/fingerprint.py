"""The secrets fingerprint kept in the ownership trailer (DESIGN.md "Secrets"). Pure.

Twelve hex characters in two halves, so each can be checked on its own:

    <version: 6 hex><values: 6 hex>

- *version* = sha256(`secrets_version`): always computable, so bumping `secrets_version` is noticed even
  by a plan that has no secret values (the usual pull-request plan);
- *values* = HMAC-SHA256(`RECONCILER_FINGERPRINT_KEY`, canonical secret values): computable only with the
  key and every value. Without them the half is unknown and not compared — so a plan without the key or
  the values never reports spurious re-sends, and one with both notices a rotated value. With no key the
  half is written as `000000`; there is never an unkeyed hash of a secret value, which anyone who can read
  the description could brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from reconciler.ownership import FINGERPRINT_LENGTH
from reconciler.secret import Secret

__all__ = [
    "UNKNOWN_VALUES",
    "complete_fingerprint",
    "secrets_changed",
    "values_part",
    "version_part",
]

_HALF = FINGERPRINT_LENGTH // 2
#: The values half when it cannot be computed (no key, or values absent when it was written).
UNKNOWN_VALUES = "0" * _HALF


def version_part(secrets_version: str | None) -> str:
    digest = hashlib.sha256(b"reconciler/secrets_version\0" + (secrets_version or "").encode("utf-8"))
    return digest.hexdigest()[:_HALF]


def values_part(secrets: Mapping[str, Secret], key: bytes | None) -> str | None:
    """HMAC of the secret values, or None when there is no key or some value is not available."""
    if not key or not all(s.available for s in secrets.values()):
        return None
    canonical = json.dumps({path: s.reveal() for path, s in sorted(secrets.items())}, separators=(",", ":"))
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()[:_HALF]


def secrets_changed(version: str, values: str | None, live: str | None) -> bool:
    """Whether the secrets PostHog holds may differ from the manifest's: no trailer yet, another
    `secrets_version`, or (when computable) other values."""
    if live is None or len(live) != FINGERPRINT_LENGTH:
        return True
    return live[:_HALF] != version or (values is not None and live[_HALF:] != values)


def complete_fingerprint(version: str, secrets: Mapping[str, Secret], key: bytes | None) -> str:
    """The fingerprint to write after sending `secrets` (their values are available at that point)."""
    return version + (values_part(secrets, key) or UNKNOWN_VALUES)
