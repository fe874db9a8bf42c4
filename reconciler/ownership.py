"""The ownership trailer reconciler appends to a PostHog source's `description`. A leaf module.

A managed source's description is `<user text><separator><trailer>`, with the trailer
`[managed by reconciler · <address> · s:<12 hex>]` (DESIGN.md "Identity"). PostHog limits the whole
description to 400 characters (reference/posthog-api.md §6, §8.3), so the user's own text may use only
what the trailer leaves. This module formats and parses that text and nothing else.
"""

from __future__ import annotations

import re

__all__ = [
    "ADDRESS_PATTERN",
    "DESCRIPTION_LIMIT",
    "FINGERPRINT_LENGTH",
    "TRAILER_SEPARATOR",
    "compose_description",
    "format_trailer",
    "max_user_description_length",
    "parse_trailer",
    "trailer_length",
]

#: PostHog's `description` max_length (reference/posthog-api.md §6).
DESCRIPTION_LIMIT = 400
#: Hex characters of the secrets fingerprint kept in the trailer.
FINGERPRINT_LENGTH = 12
#: Between the user's text and the trailer (only when there is user text).
TRAILER_SEPARATOR = "\n"
#: What a source address may look like: it appears in the trailer, so it must not contain ` · ` or `]`.
ADDRESS_PATTERN = r"[A-Za-z_][A-Za-z0-9_-]{0,62}"

_OPEN = "[managed by reconciler · "
_TRAILER_RE = re.compile(
    r"(?:^|\s)\[managed by reconciler · (?P<address>"
    + ADDRESS_PATTERN
    + r") · s:(?P<fp>[0-9a-f]{"
    + str(FINGERPRINT_LENGTH)
    + r"})\]\s*\Z"
)
_ADDRESS_RE = re.compile(ADDRESS_PATTERN + r"\Z")
_FP_RE = re.compile(r"[0-9a-f]{" + str(FINGERPRINT_LENGTH) + r"}\Z")


def format_trailer(address: str, fingerprint: str) -> str:
    """`[managed by reconciler · <address> · s:<fingerprint>]`; the fingerprint is cut to 12 hex characters."""
    if not _ADDRESS_RE.match(address):
        raise ValueError(f"not a valid source address: {address!r}")
    fp = fingerprint[:FINGERPRINT_LENGTH]
    if not _FP_RE.match(fp):
        raise ValueError("fingerprint must be at least 12 lowercase hex characters")
    return f"{_OPEN}{address} · s:{fp}]"


def trailer_length(address: str) -> int:
    """Characters the trailer for `address` takes, separator included (the worst case: user text present)."""
    return len(_OPEN) + len(address) + len(" · s:") + FINGERPRINT_LENGTH + len("]") + len(TRAILER_SEPARATOR)


def max_user_description_length(address: str) -> int:
    """How many characters of the user's own description fit beside the trailer of `address`."""
    return DESCRIPTION_LIMIT - trailer_length(address)


def compose_description(user_text: str | None, address: str, fingerprint: str) -> str:
    """The full description to send: user text (if any), separator, trailer."""
    trailer = format_trailer(address, fingerprint)
    return f"{user_text}{TRAILER_SEPARATOR}{trailer}" if user_text else trailer


def parse_trailer(description: str | None) -> tuple[str | None, str | None, str | None]:
    """Split a live description into (user_text, address, fingerprint).

    Without a trailer, returns (description, None, None). User text is None when nothing but the trailer
    (and whitespace) is present.
    """
    if not description:
        return description, None, None
    match = _TRAILER_RE.search(description)
    if match is None:
        return description, None, None
    user = description[: match.start()].rstrip()
    return (user or None), match.group("address"), match.group("fp")
