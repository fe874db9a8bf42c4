"""Type checks on the values a PostHog response carries, for the models' `from_wire`.

A server that sends `"status": 5` or `"added": []` gets a `ShapeError` naming the field and the problem, never
the value: a hostile or echoing server's text must not reach an error message (the client reports it as
`ApiError`). What passes is what the pydantic models of before accepted in their lax mode: `"yes"` or 1 is a
boolean, `"5"` or 5.0 an integer, but 5 is no string. Pure: knows neither HTTP nor the models' fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.truth import bool_word

__all__ = ["ShapeError", "exact_object", "integer", "optional_bool", "optional_str"]

_INT_TEXT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
_INT64 = 2**63


class ShapeError(ValueError):
    """A response value of the wrong type: `field` is where it was, `problem` what was expected."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    def within(self, outer: str) -> ShapeError:
        """This error as seen from the object that holds the value under `outer` (`schemas.status`)."""
        return ShapeError(f"{outer}.{self.field}", self.problem)


def optional_str(value: Any, field: str) -> str | None:
    """A string or null (a number is not a string here)."""
    if value is None or isinstance(value, str):
        return value
    raise ShapeError(field, "expected a string or null")


def optional_bool(value: Any, field: str) -> bool | None:
    """A boolean or null; also 0/1 and the words true/false, yes/no, on/off, t/f, y/n (any case)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    meant = bool_word(value) if isinstance(value, str) else None
    if meant is not None:
        return meant
    raise ShapeError(field, "expected a boolean or null")


def integer(value: Any, field: str) -> int:
    """An integer; also a whole float (5.0) or its text ("5", " 5 ", "5.0", "1_000"). A boolean counts as 0/1."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer() and -_INT64 <= value < _INT64:
        return int(value)
    if isinstance(value, str) and _INT_TEXT.fullmatch(text := value.strip()):
        try:
            return int(text.partition(".")[0])
        except ValueError:  # more digits than int() reads
            pass
    raise ShapeError(field, "expected an integer")


def exact_object(data: Any, fields: tuple[str, ...]) -> Mapping[str, Any]:
    """`data` as an object holding exactly `fields` (an unknown key is an error, and is not named: it is the
    server's text)."""
    if not isinstance(data, Mapping):
        raise ShapeError("response", "expected an object")
    for name in fields:
        if name not in data:
            raise ShapeError(name, "missing")
    if len(data) != len(fields):
        raise ShapeError("response", "holds a field that is not expected")
    return data
