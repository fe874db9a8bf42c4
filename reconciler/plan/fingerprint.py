"""The secrets fingerprint kept in the ownership trailer (DESIGN.md "Secrets"). Pure.

With a key (`RECONCILER_FINGERPRINT_KEY`): HMAC-SHA256(key, canonical secret values + secrets_version),
cut to 12 hex characters. Without a key: a hash of `secrets_version` alone — never an unkeyed hash of a
secret value, which would let anyone who can read the description brute-force a weak secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from reconciler.ownership import FINGERPRINT_LENGTH
from reconciler.secret import Secret

__all__ = ["UNKNOWN_FINGERPRINT", "collect_secrets", "secrets_fingerprint"]

#: Written when a trailer is needed but the fingerprint cannot be computed (values absent): the next plan
#: with values sees a difference and re-sends, which is the safe direction.
UNKNOWN_FINGERPRINT = "0" * FINGERPRINT_LENGTH


def secrets_fingerprint(secrets: Mapping[str, Secret], secrets_version: str | None, key: bytes | None) -> str | None:
    """The fingerprint, or None when a key is configured but some secret value is not available."""
    version = secrets_version or ""
    if not key:
        digest = hashlib.sha256(b"reconciler/secrets_version\0" + version.encode("utf-8")).hexdigest()
        return digest[:FINGERPRINT_LENGTH]
    if not all(s.available for s in secrets.values()):
        return None
    canonical = json.dumps(
        {"secrets": {path: s.reveal() for path, s in sorted(secrets.items())}, "version": version},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()[:FINGERPRINT_LENGTH]


def collect_secrets(config: Mapping[str, Any], prefix: str = "") -> dict[str, Secret]:
    """Every Secret in a config mapping, keyed by dotted path (`auth_method.stripe_secret_key`)."""
    found: dict[str, Secret] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Secret):
            found[path] = value
        elif isinstance(value, Mapping):
            found.update(collect_secrets(value, path + "."))
    return found
