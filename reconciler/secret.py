"""`Secret`: a value that cannot print. A leaf module.

Manifests wrap every `secret('NAME')` value in a Secret; renderers only ever see its status.
`reveal()` is meant to be called in exactly one place: where the API client builds a request body.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["Secret", "SecretUnavailable", "reveal_all"]

_MASK = "(secret)"


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
        return self._value is not None

    def reveal(self) -> str:
        if self._value is None:
            raise SecretUnavailable(self.name)
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name!r})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        # Same variable, same value: equal. Never exposes the value itself.
        return isinstance(other, Secret) and other.name == self.name and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self.name))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or serialised")


def reveal_all(value: Any) -> Any:
    """Copy of a JSON-like structure with every Secret replaced by its value (for request bodies only)."""
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, dict):
        return {k: reveal_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reveal_all(v) for v in value]
    return value
