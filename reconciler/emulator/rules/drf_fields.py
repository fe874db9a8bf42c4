"""DRF field validation as PostHog's serializers apply it: CharField, ChoiceField and BooleanField messages and codes.

Each helper returns the cleaned value or raises the DRF-family ApiProblem with `attr` set (§3).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from reconciler.emulator.problems import ApiProblem

__all__ = ["char_field", "choice_field", "parse_bool", "required_field"]


def required_field(data: Mapping[str, Any], name: str, *, allow_null: bool = False) -> Any:
    if name not in data:
        raise ApiProblem.required(name)
    if data[name] is None and not allow_null:
        raise ApiProblem.drf(400, "This field may not be null.", code="null", attr=name)
    return data[name]


def char_field(value: Any, name: str, *, max_length: int | None = None, allow_null: bool = True) -> str | None:
    """DRF CharField(trim_whitespace=True, allow_blank=True): numbers become strings; bools, lists and
    objects are "Not a valid string."; over-long values fail with code `max_length`."""
    if value is None:
        if allow_null:
            return None
        raise ApiProblem.drf(400, "This field may not be null.", code="null", attr=name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ApiProblem.drf(400, "Not a valid string.", attr=name)
    text = str(value).strip()
    if max_length is not None and len(text) > max_length:
        raise ApiProblem.drf(
            400, f"Ensure this field has no more than {max_length} characters.", code="max_length", attr=name
        )
    return text


def choice_field(value: Any, name: str, choices: Collection[str], *, allow_null: bool = False) -> str | None:
    if value is None:
        if allow_null:
            return None
        raise ApiProblem.drf(400, "This field may not be null.", code="null", attr=name)
    if not isinstance(value, str) or value not in choices:
        raise ApiProblem.drf(400, f'"{value}" is not a valid choice.', code="invalid_choice", attr=name)
    return value


_TRUE = {True, "true", "True", "TRUE", "1", "yes", "on", "y", "t"}
_FALSE = {False, "false", "False", "FALSE", "0", "no", "off", "n", "f"}


def parse_bool(value: Any, attr: str) -> bool:
    """DRF BooleanField: the usual spellings, else 400 "Must be a valid boolean." on `attr`."""
    if isinstance(value, bool | int | str) and value in _TRUE:
        return True
    if isinstance(value, bool | int | str) and value in _FALSE:
        return False
    raise ApiProblem.drf(400, "Must be a valid boolean.", attr=attr)
