"""PostHog's facts about source values that its wizard form does not describe: the `ssh_tunnel` value's
shape (reference/posthog-api.md §10) and the auto-created revenue-analytics config (§6). Pure data. (Value
rules a type's fields must follow are per-type facts: `x-configChecks` in source_types.yaml.)

The one home of these facts: the manifest checker, the JSON Schema, the diff, the importer, the docs and the
emulator all read them from here. Must not know: anything but this data.
"""

from __future__ import annotations

__all__ = [
    "REVENUE_ANALYTICS_KEYS",
    "SSH_TUNNEL_AUTH_KEYS",
    "SSH_TUNNEL_AUTH_SECRET",
    "SSH_TUNNEL_AUTH_SELECTIONS",
    "SSH_TUNNEL_ENABLED_NEEDS",
    "SSH_TUNNEL_KEYS",
    "SSH_TUNNEL_PUBLIC_NAMES",
    "SSH_TUNNEL_SECRET_NAMES",
    "SSH_TUNNEL_TARGET_KEYS",
    "SSH_TUNNEL_TEXT_KEYS",
    "revenue_analytics_defaults",
]

#: Keys of an `ssh_tunnel` value, and of its `auth` block, as a manifest writes them (§10).
SSH_TUNNEL_KEYS = ("enabled", "host", "port", "auth", "require_tls")
SSH_TUNNEL_AUTH_KEYS = ("selection", "username", "password", "private_key", "passphrase")
SSH_TUNNEL_AUTH_SELECTIONS = ("password", "keypair")
#: What an enabled tunnel cannot do without.
SSH_TUNNEL_ENABLED_NEEDS = ("host", "port", "auth")
#: The secret each auth selection cannot do without (a keypair's passphrase is optional).
SSH_TUNNEL_AUTH_SECRET = {"password": "password", "keypair": "private_key"}
#: Inside an `ssh_tunnel` value: which names are secret (stripped on read) and which are readable (§6, §10).
SSH_TUNNEL_SECRET_NAMES = frozenset({"password", "passphrase", "private_key"})
SSH_TUNNEL_PUBLIC_NAMES = frozenset({"host", "port", "username", "auth", "auth_type", "require_tls"})
#: Tunnel keys whose change is a new connection target: PostHog then demands the secrets again (§8.4 step 4).
SSH_TUNNEL_TARGET_KEYS = ("enabled", "host", "port")
#: Tunnel and auth keys PostHog stores as text.
SSH_TUNNEL_TEXT_KEYS = frozenset({"host", "username"})

#: The revenue-analytics config's keys (§6, §8.12).
REVENUE_ANALYTICS_KEYS = ("enabled", "include_invoiceless_charges")


def revenue_analytics_defaults(source_type: str) -> dict[str, bool]:
    """What PostHog auto-creates with a source (§6): enabled for Stripe only; invoiceless charges included."""
    return {"enabled": source_type == "Stripe", "include_invoiceless_charges": True}
