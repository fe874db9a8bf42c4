"""How counts read in English output: `1 source`, `2 sources`, never `source(s)`. A leaf module.

Every message that states a count goes through `count()`, so plural forms live in one place.
"""

from __future__ import annotations

__all__ = ["count"]

#: Nouns whose plural is not noun + "s".
_IRREGULAR = {"is": "are", "was": "were", "entry": "entries", "dependency": "dependencies"}


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`count(1, "source")` → "1 source"; `count(2, "source")` → "2 sources"; `count(0, "table")` → "0 tables"."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {plural or _IRREGULAR.get(noun) or noun + 's'}"
