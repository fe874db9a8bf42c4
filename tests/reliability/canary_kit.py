"""Finding a canary secret in what a command left behind: raw, and in every encoding that would still reveal it
(base64, URL-encoding, unkeyed hashes, reversed, and the forms an echoing server shows — JSON-escaped, repr,
each line of a multi-line value, a start cut short).

Test-only; shared by the canary suites (`test_secret_canaries.py`, `test_echo_canaries.py`).
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from hostile_kit import ECHO_FORMS

__all__ = ["Canaries", "forms"]


def forms(value: str) -> dict[str, str]:
    """Every way `value` could be written that still reveals it, by name."""
    raw = value.encode()
    found = {
        "raw": value,
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "urlsafe-base64": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "url-encoded": urllib.parse.quote(value, safe=""),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "sha256[:12]": hashlib.sha256(raw).hexdigest()[:12],
        "sha1": hashlib.sha1(raw).hexdigest(),
        "md5": hashlib.md5(raw).hexdigest(),
        "reversed": value[::-1],
    }
    for name, shown in ECHO_FORMS.items():
        for index, text in enumerate(shown(value)):
            # A start of 8 characters may be a public prefix (`sk_test_`, `-----BEG`): the `CANARY` marker
            # every canary carries past its first characters is what `Canaries.hits` looks for in that case.
            if len(text) >= 12 or (name != "prefix" and len(text) >= 8 and text.strip("-") == text):
                found[f"{name}#{index}"] = text
    return found


class Canaries:
    """Named canary values (each holding the marker `CANARY`, in every line if multi-line) and the needles
    that find any of them in a text."""

    MARKER = "CANARY"

    def __init__(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            assert all(self.MARKER in line for line in value.splitlines() if "-----" not in line), name
        self.values = dict(values)
        self.needles = {f"{name}/{form}": text for name, value in values.items() for form, text in forms(value).items()}

    def hits(self, text: str) -> list[str]:
        """Labels of every needle in `text`; the bare marker counts too (a form nobody thought of)."""
        found = [label for label, needle in self.needles.items() if needle in text]
        if self.MARKER in text:
            found.append(f"marker {self.MARKER}")
        return found

    def scan_tree(self, root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
        """Every file under `root` (but those starting with a `skip` prefix) that holds a canary."""
        found = {}
        for path in sorted(root.rglob("*")):
            relative = str(path.relative_to(root))
            if path.is_file() and not relative.startswith(skip):
                here = self.hits(path.read_bytes().decode("utf-8", "replace"))
                if here:
                    found[relative] = here
        return found
