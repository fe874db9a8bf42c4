"""Declared fields: the frozen record base of the manifest models, and the checker that turns a manifest's raw
mapping into one, or into every error at once.

A model declares each field once, with its type for the type checker and its `Check` for the manifest
(`sync: bool | None = field(BOOL, default=None, not_null=True)`). `validated(Model, raw)` walks those
declarations in order and yields `FieldError(kind, loc, input)` records in the order, and with the lax
coercions, the manifest format has always had: booleans from 0/1 and yes/no words, numbers as strings (a bool
is not one), lists of strings, mappings with string keys, nested models, unknown and missing fields.
field_errors.py says them in our words. Without pydantic: building its models cost ~70 ms per command.

Must not know: the catalog, files, YAML, the manifest's field names. Pure: no I/O.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple, TypeVar, dataclass_transform

from reconciler.truth import bool_word

__all__ = [
    "BOOL",
    "STR",
    "TIME_OF_DAY",
    "Check",
    "FieldError",
    "Loc",
    "Record",
    "choice",
    "field",
    "mapping",
    "model",
    "one_of",
    "strings",
    "validated",
]

Loc = tuple[str | int, ...]


class FieldError(NamedTuple):
    """One problem with one value: `kind` (e.g. `extra_forbidden`), where (`loc`, field names and keys from the
    checked mapping down), and the value found there (`input`)."""

    kind: str
    loc: Loc
    input: Any


#: Checks a value found at `loc`: returns the (coerced) value, or `INVALID` after appending its errors.
Check = Callable[[Any, Loc, list[FieldError]], Any]
INVALID: Any = object()
_REQUIRED: Any = object()


class _Field(NamedTuple):
    check: Check | None
    default: Any
    not_null: bool


def field(check: Check | None = None, *, default: Any = _REQUIRED, not_null: bool = False) -> Any:
    """A field's declaration: `check` validates manifest input (None: not read from manifests), `default` is
    used when it is omitted (none: required); `not_null` refuses an explicit null before `check` runs."""
    return _Field(check, default, not_null)


R = TypeVar("R", bound="Record")


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
class Record:
    """A frozen record built by keyword. Fields are the annotated class attributes, in declaration order
    (`FIELDS`); `given` is the set of fields the constructor was passed (explicit nulls included), so "not
    written" stays apart from `None`. Equal when of the same class with equal field values."""

    FIELDS: ClassVar[tuple[str, ...]] = ()
    _DECLARED: ClassVar[dict[str, _Field]] = {}
    _HIDDEN: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls) -> None:
        declared = {}
        for name, annotation in inspect.get_annotations(cls).items():
            if not str(annotation).startswith("ClassVar"):
                value = cls.__dict__.get(name, _REQUIRED)
                declared[name] = value if isinstance(value, _Field) else _Field(None, value, False)
        cls._DECLARED = declared
        cls.FIELDS = tuple(declared)

    def __init__(self, **values: Any) -> None:
        self._known(values)
        state = self.__dict__
        for name, declared in self._DECLARED.items():
            if name in values:
                state[name] = values[name]
            elif declared.default is _REQUIRED:
                raise TypeError(f"{type(self).__name__} needs {name}")
            else:  # a mutable default is copied, as a dataclass's default_factory would make a new one
                state[name] = dict(declared.default) if type(declared.default) is dict else declared.default
        state["_given"] = frozenset(values)

    @property
    def given(self) -> frozenset[str]:
        """Fields the constructor was passed (for a manifest model: the ones it wrote, explicit nulls too)."""
        given: frozenset[str] = self.__dict__["_given"]
        return given

    def given_values(self) -> dict[str, Any]:
        """The given fields and their values, in declaration order (what writing the model back needs)."""
        return {name: self.__dict__[name] for name in self.FIELDS if name in self.given}

    def replace(self: R, **changes: Any) -> R:
        """A copy with some fields changed (they count as given)."""
        self._known(changes)
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__, **changes)
        copy.__dict__["_given"] = self.given | changes.keys()
        return copy

    def _known(self, values: Mapping[str, Any]) -> None:
        unknown = values.keys() - self._DECLARED.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(self.__dict__[name] for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={self.__dict__[n]!r}" for n in self.FIELDS if n not in self._HIDDEN)
        return f"{type(self).__name__}({shown})"


# --- the checker ------------------------------------------------------------------------------------------


def validated(model_class: type[R], raw: Any) -> tuple[R | None, list[FieldError]]:
    """`raw` (a manifest mapping) as a `model_class`, or None and every error found in it."""
    errors: list[FieldError] = []
    result = _model_value(model_class, raw, (), errors)
    return (None if result is INVALID else result), errors


def _model_value(model_class: type[R], raw: Any, loc: Loc, errors: list[FieldError]) -> Any:
    if not isinstance(raw, dict):
        errors.append(FieldError("model_type", loc, raw))
        return INVALID
    start = len(errors)
    values = {}
    for name, declared in model_class._DECLARED.items():
        if name not in raw:
            if declared.default is _REQUIRED:
                errors.append(FieldError("missing", (*loc, name), raw))
            continue
        value = raw[name]
        if declared.not_null and value is None:
            errors.append(FieldError("value_error", (*loc, name), value))
            continue
        assert declared.check is not None, f"{model_class.__name__}.{name} is not read from manifests"
        value = declared.check(value, (*loc, name), errors)
        if value is not INVALID:
            values[name] = value
    for key, value in raw.items():
        if not isinstance(key, str):
            errors.append(FieldError("invalid_key", (*loc, _loc_item(key)), key))
        elif key not in model_class._DECLARED:
            errors.append(FieldError("extra_forbidden", (*loc, key), value))
    return INVALID if len(errors) > start else model_class(**values)


def model(model_class: type[Record]) -> Check:
    """A nested model: a mapping checked against `model_class`'s fields."""
    return lambda value, loc, errors: _model_value(model_class, value, loc, errors)


def one_of(check: Check) -> Check:
    """`check`, or None (`X | None`)."""
    return lambda value, loc, errors: None if value is None else check(value, loc, errors)


def _any(value: Any, loc: Loc, errors: list[FieldError]) -> Any:
    return value


_I64 = (-(2**63), 2**63 - 1)


def _bool(value: Any, loc: Loc, errors: list[FieldError]) -> Any:
    """A bool; in lax form an integral 0 or 1, or a yes/no word (any case) as text or bytes."""
    if isinstance(value, bool):
        return value
    kind = "bool_type"
    if isinstance(value, str | bytes | bytearray):
        meant = bool_word(_text(value) or "")
        if meant is not None:
            return meant
        kind = "bool_parsing"
    elif isinstance(value, int | float) and value == value and _I64[0] <= value <= _I64[1] and value % 1 == 0:
        if value in (0, 1):
            return value == 1
        kind = "bool_parsing"
    errors.append(FieldError(kind, loc, value))
    return INVALID


def _text(value: Any) -> str | None:
    """`value` as a string: text, a number written out (a bool is not a number here), UTF-8 bytes; else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, bytes | bytearray):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return None
    return None


def _str(value: Any, loc: Loc, errors: list[FieldError]) -> Any:
    text = _text(value)
    if text is None:
        kind = "string_unicode" if isinstance(value, bytes | bytearray) else "string_type"
        errors.append(FieldError(kind, loc, value))
        return INVALID
    return text


_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]")


def _time_of_day(value: Any, loc: Loc, errors: list[FieldError]) -> Any:
    """HH:MM:SS (a string, checked like any other, then its pattern)."""
    text = _str(value, loc, errors)
    if text is not INVALID and not _TIME_OF_DAY.fullmatch(text):
        errors.append(FieldError("string_pattern_mismatch", loc, value))
        return INVALID
    return text


def choice(*choices: Any) -> Check:
    """One of `choices` (a Literal): text choices match text only; a number matches any equal number."""
    numbers = any(not isinstance(option, str) for option in choices)

    def check(value: Any, loc: Loc, errors: list[FieldError]) -> Any:
        if isinstance(value, str):
            if value in choices:
                return value
        elif numbers and isinstance(value, int) and not isinstance(value, bool) and not _I64[0] <= value <= _I64[1]:
            errors.append(FieldError("int_parsing_size", loc, value))  # a number choice reads a 64-bit integer
            return INVALID
        else:
            try:
                for option in choices:
                    if not isinstance(option, str) and hash(value) == hash(option) and value == option:
                        return option
            except TypeError:  # unhashable
                pass
        errors.append(FieldError("literal_error", loc, value))
        return INVALID

    return check


def strings(*, min_length: int = 0) -> Check:
    """A tuple of strings from a list (or tuple, set): each item checked at its index, then the count of good
    ones against `min_length`."""

    def check(value: Any, loc: Loc, errors: list[FieldError]) -> Any:
        if not isinstance(value, list | tuple | set | frozenset):
            errors.append(FieldError("tuple_type", loc, value))
            return INVALID
        items = [_str(item, (*loc, index), errors) for index, item in enumerate(value)]
        good = tuple(item for item in items if item is not INVALID)
        if len(good) < min_length:
            errors.append(FieldError("too_short", loc, value))
            return INVALID
        return good if len(good) == len(items) else INVALID

    return check


def mapping(check: Check = _any) -> Check:
    """A dict with string keys (numbers written out) and values checked by `check`; a bad key is an error at
    `(key, "[key]")`."""

    def check_mapping(value: Any, loc: Loc, errors: list[FieldError]) -> Any:
        if not isinstance(value, Mapping):
            errors.append(FieldError("dict_type", loc, value))
            return INVALID
        out = {}
        start = len(errors)
        for key, item in value.items():
            at = (*loc, _loc_item(key))
            text = _str(key, (*at, "[key]"), errors)
            item = check(item, at, errors)
            if text is not INVALID and item is not INVALID:
                out[text] = item
        return INVALID if len(errors) > start else out

    return check_mapping


def _loc_item(key: Any) -> str | int:
    """A key as a location part: text and integers as they are, anything else as text."""
    if isinstance(key, str):
        return key
    if isinstance(key, int) and _I64[0] <= key <= _I64[1]:
        return int(key)
    return str(key)


BOOL: Check = _bool
STR: Check = _str
TIME_OF_DAY: Check = _time_of_day
