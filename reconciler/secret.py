"""`Secret`: a value that cannot print, the one walk that finds Secrets, and the one redactor. A leaf module.

Manifests wrap every `secret('NAME')` value in a Secret; renderers only ever see its status.
`reveal()` is meant to be called in exactly one place: where the API client builds a request body.
`redact` is the one place that cuts secret values (and credential-shaped text) out of text we show.
Must not know: anything else in the project (imports nothing internal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn

__all__ = [
    "REDACTED",
    "SECRET_MASK",
    "Secret",
    "SecretUnavailable",
    "collect_secrets",
    "has_secret",
    "redact",
    "reveal_all",
    "secret_values",
    "walk_secrets",
    "without_secrets",
]

#: How a Secret prints, wherever it is printed.
SECRET_MASK = "(secret)"
#: What replaces a secret value (or credential-shaped text) cut out of a text we show or keep.
REDACTED = "[redacted]"
#: Shorter known values are not cut out: they would blank ordinary words.
_MIN_REDACT_LENGTH = 4


class SecretUnavailable(LookupError):
    """The secret's environment variable is not set; raised only when a value is really needed."""

    def __init__(self, name: str) -> None:
        super().__init__(f"secret {name!r} is not set in the environment")
        self.name = name


class Secret:
    """A named secret whose value may be absent (plan/drift work without values).

    str/repr/format never show the value; pickling and copying through __dict__ are refused, so a
    Secret cannot end up in a plan file or log by accident.
    """

    __slots__ = ("_value", "name")

    def __init__(self, name: str, value: str | None) -> None:
        self.name = name
        self._value = value

    @property
    def available(self) -> bool:
        """Set and not empty: PostHog ignores an empty secret on PATCH (it keeps the stored one), so sending
        one would not re-send anything — and a changed connection target would then fail upstream."""
        return bool(self._value)

    def reveal(self) -> str:
        if not self._value:
            raise SecretUnavailable(self.name)
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name!r})"

    def __str__(self) -> str:
        return SECRET_MASK

    def __format__(self, spec: str) -> str:
        return SECRET_MASK

    def __eq__(self, other: object) -> bool:
        # Same variable, same value: equal. Never exposes the value itself.
        return isinstance(other, Secret) and other.name == self.name and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self.name))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or serialised")


# ---- the walk -----------------------------------------------------------------------------------------


def walk_secrets(value: Any, prefix: str = "") -> Iterator[tuple[str, Secret]]:
    """Every Secret inside a JSON-like value with its dotted path (`auth_method.stripe_secret_key`; list
    items by index), in the value's own order. The one walk: every other helper here is built on it."""
    if isinstance(value, Secret):
        yield prefix, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk_secrets(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from walk_secrets(item, f"{prefix}.{index}" if prefix else str(index))


def collect_secrets(value: Any) -> dict[str, Secret]:
    """Every Secret inside `value`, keyed by dotted path (for fingerprints and re-send decisions)."""
    return dict(walk_secrets(value))


def has_secret(value: Any) -> bool:
    return next(walk_secrets(value), None) is not None


def secret_values(value: Any) -> list[str]:
    """The values of every available Secret inside `value`: only ever to cut them out of texts (`redact`)."""
    return [secret.reveal() for _, secret in walk_secrets(value) if secret.available]


def reveal_all(value: Any) -> Any:
    """Copy of a JSON-like structure with every Secret replaced by its value (for request bodies only)."""
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, Mapping):
        return {k: reveal_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reveal_all(v) for v in value]
    return value


def without_secrets(value: Any) -> Any:
    """Copy of a JSON-like structure with every Secret left out (mapping keys and list items dropped): a
    value safe to show as "what the manifest asks for"."""
    if isinstance(value, Mapping):
        return {k: without_secrets(v) for k, v in value.items() if not isinstance(v, Secret)}
    if isinstance(value, list | tuple):
        return [without_secrets(v) for v in value if not isinstance(v, Secret)]
    return value


# ---- the redactor -------------------------------------------------------------------------------------

#: Credential-shaped text that may appear in upstream error messages, whatever the manifest knows.
_CREDENTIAL_SHAPES = (
    re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?=@)", re.IGNORECASE),  # scheme://user:PASS@
    re.compile(
        r"(?P<keep>\b(?:password|passwd|pwd|secret|token|api[_-]?key|private[_-]?key|passphrase)"
        r"\s*[=:]\s*)(?:\"[^\"]*\"|'[^']*'|[^\s,;&]+)",
        re.IGNORECASE,
    ),
    re.compile(r"(?P<keep>\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"(?P<keep>)\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+"),
    re.compile(r"(?P<keep>)\bph[xc]_[A-Za-z0-9]{6,}"),
    re.compile(r"(?P<keep>)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL),
)


def redact(value: Any, known: Iterable[str] = (), *, credential_shapes: bool = False) -> Any:
    """Copy of `value` (a text, or every text inside a JSON-like structure) with each `known` secret value
    (longest first, so overlaps go too; values under 4 characters are left alone) replaced by `[redacted]`.

    With `credential_shapes`, also anything credential-shaped (URL passwords, `password=…`, bearer tokens,
    Stripe/PostHog keys, PEM private keys): for free text from upstreams, such as a source's `latest_error`.
    """
    values = sorted({v for v in known if len(v) >= _MIN_REDACT_LENGTH}, key=lambda v: (-len(v), v))
    return _redact(value, values, credential_shapes)


def _redact(value: Any, values: list[str], shapes: bool) -> Any:
    if isinstance(value, str):
        for secret in values:
            value = value.replace(secret, REDACTED)
        if shapes:
            for pattern in _CREDENTIAL_SHAPES:
                value = pattern.sub(lambda m: m.group("keep") + REDACTED, value)
        return value
    if isinstance(value, Mapping):
        return {k: _redact(v, values, shapes) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, values, shapes) for v in value]
    return value
