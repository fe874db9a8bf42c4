"""`Secret`: a value that cannot print, the one walk that finds Secrets, and the one redactor. A leaf module.

Manifests wrap every `secret('NAME')` value in a Secret; renderers only ever see its status.
`reveal()` is meant to be called in exactly one place: where the API client builds a request body.
`redact` is the one place that cuts secret values (and credential-shaped text) out of text we show: in every
form a server may echo them (escaped, encoded, line by line, cut short), not only as they were sent.
Must not know: anything else in the project (imports nothing internal).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn
from urllib.parse import quote, quote_plus

__all__ = [
    "REDACTED",
    "SECRET_MASK",
    "Secret",
    "SecretUnavailable",
    "collect_secrets",
    "echo_forms",
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
#: A text this long that starts a known value's form is cut out too: a server that cuts its message short
#: still shows the start of what it echoes. Also the shortest line of a multi-line value cut out on its own.
_MIN_PREFIX = 8


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
    replaced by `[redacted]` in every form a server may echo it (`echo_forms`), and any start of such a form
    of 8 characters or more (a message cut short). Values under 4 characters are left alone.

    With `credential_shapes`, also anything credential-shaped (URL passwords, `password=…`, bearer tokens,
    Stripe/PostHog keys, PEM private keys): for free text from upstreams, such as a source's `latest_error`.
    """
    needles = _needles(frozenset(v for v in known if len(v) >= _MIN_REDACT_LENGTH))
    return _redact(value, needles, credential_shapes)


@dataclass(frozen=True)
class _Needles:
    """The forms of a set of known values, ready to find in one pass over a text."""

    by_head: dict[str, tuple[str, ...]]  # first 8 characters → every form that starts with them
    short: tuple[str, ...]  # forms of 4 to 7 characters: found whole only


@lru_cache(maxsize=16)
def _needles(known: frozenset[str]) -> _Needles:
    """Built once per set of values (drift redacts many texts with the same values)."""
    by_head: dict[str, list[str]] = {}
    short: list[str] = []
    for form in sorted({f for value in known for f in echo_forms(value)}):
        if len(form) >= _MIN_PREFIX:
            by_head.setdefault(form[:_MIN_PREFIX], []).append(form)
        else:
            short.append(form)
    return _Needles({head: tuple(forms) for head, forms in by_head.items()}, tuple(short))


#: How a server may show a value it was sent: as sent, JSON-escaped (ASCII-only or not), as Python's repr,
#: URL-encoded (path or form style), HTML-escaped. Applied twice: a JSON body echoed inside JSON is escaped twice.
_ENCODINGS: tuple[Callable[[str], str], ...] = (
    lambda v: json.dumps(v)[1:-1],
    lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
    lambda v: repr(v)[1:-1],
    lambda v: v.encode("unicode_escape").decode("ascii"),
    lambda v: quote(v, safe=""),
    lambda v: quote(v),
    lambda v: quote_plus(v),
    lambda v: _html_escape(v),
)


def _html_escape(value: str) -> str:
    import html  # only when a secret is redacted: the module and its entity table cost ~1.5 ms of every start-up

    return html.escape(value)


def echo_forms(value: str) -> set[str]:
    """Every text that shows `value` as an echoing server might: the value and each of its lines (a multi-line
    secret such as a PEM key printed line by line), in every encoding of `_ENCODINGS`, once or twice over."""
    forms = {value} | {line.strip() for line in value.splitlines() if len(line.strip()) >= _MIN_PREFIX}
    for _ in range(2):
        forms |= {encode(form) for form in forms for encode in _ENCODINGS}
    return {f for f in forms if len(f) >= _MIN_REDACT_LENGTH}


def _spans(text: str, needles: _Needles) -> Iterator[tuple[int, int]]:
    """(start, end) of every form, or start of a form at least 8 characters long, that appears in `text`."""
    for at in range(len(text) - _MIN_PREFIX + 1):
        forms = needles.by_head.get(text[at : at + _MIN_PREFIX])
        if forms:
            yield at, at + max(_common_prefix(text, at, form) for form in forms)
    for form in needles.short:
        at = text.find(form)
        while at != -1:
            yield at, at + len(form)
            at = text.find(form, at + 1)


def _common_prefix(text: str, at: int, form: str) -> int:
    n = _MIN_PREFIX
    while n < len(form) and at + n < len(text) and text[at + n] == form[n]:
        n += 1
    return n


def _cut(text: str, needles: _Needles) -> str:
    """`text` with every span a needle covers (overlaps merged) replaced by one `[redacted]`."""
    spans = sorted(_spans(text, needles))
    if not spans:
        return text
    out, last = [], 0
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start <= end:
            end = max(end, next_end)
            continue
        out += [text[last:start], REDACTED]
        last, start, end = end, next_start, next_end
    out += [text[last:start], REDACTED, text[end:]]
    return "".join(out)


def _redact(value: Any, needles: _Needles, shapes: bool) -> Any:
    if isinstance(value, str):
        if needles.by_head or needles.short:
            value = _cut(value, needles)
        if shapes:
            for pattern in _CREDENTIAL_SHAPES:
                value = pattern.sub(lambda m: m.group("keep") + REDACTED, value)
        return value
    if isinstance(value, Mapping):
        return {k: _redact(v, needles, shapes) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, needles, shapes) for v in value]
    return value
