"""The words read as true or false where a value may be a boolean written as text (any case): `true`/`false`,
`yes`/`no`, `on`/`off`, `t`/`f`, `y`/`n`, `1`/`0` — the set pydantic's lax mode accepted, which manifests
(`manifest/fields.py`) and PostHog's responses (`posthog/shape.py`) were read with and still are."""

from __future__ import annotations

__all__ = ["bool_word"]

_TRUE = frozenset(("1", "on", "t", "true", "y", "yes"))
_FALSE = frozenset(("0", "off", "f", "false", "n", "no"))


def bool_word(text: str) -> bool | None:
    """True or False for one of the words above (any case), None for any other text."""
    word = text.lower()
    if word in _TRUE:
        return True
    return False if word in _FALSE else None
