"""`@record`: a frozen dataclass that costs less to define.

Python 3.11 builds each dataclass method by compiling generated source (`exec`): six compilations for a frozen
class with `__eq__`, `__hash__` and `__repr__`, ~0.5 ms a class, and a cold `reconciler plan` defines ~75 classes
(docs/performance.md, "Start-up"). `@record` lets `dataclasses` compile what must be per-class code (`__init__`
and the frozen `__setattr__`/`__delattr__`) and gives `__eq__`, `__hash__` and `__repr__` as closures over the
field names, which behave as the generated ones do: equal when of the same class with equal compared fields, a
hash of those fields' tuple (fields with `hash=` set follow it), `Name(field=value, ...)` with recursion guarded.
A method the class writes itself is kept, as `dataclass` keeps it. Everything else is `dataclasses`' own
(`fields`, `replace`, `asdict`, `field(...)`, slots, keyword-only fields).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["record"]

T = TypeVar("T", bound=type)
_MISSING = object()


@overload
def record(cls: T, /) -> T: ...
@overload
def record(*, kw_only: bool = False, slots: bool = False) -> Callable[[T], T]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: Any = None, /, *, kw_only: bool = False, slots: bool = False) -> Any:
    """`@record` or `@record(kw_only=True, slots=True)` on a class: what `@dataclass(frozen=True, ...)` makes."""

    def wrap(target: type) -> type:
        made: type = dataclasses.dataclass(frozen=True, eq=False, repr=False, kw_only=kw_only, slots=slots)(target)
        _add_methods(made)
        return made

    return wrap if cls is None else wrap(cls)


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function from an instance to the tuple of its `names` fields (C-speed `attrgetter`)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _add_methods(cls: type) -> None:
    fields = dataclasses.fields(cls)
    compared = _values(tuple(f.name for f in fields if f.compare))
    hashed = _values(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))
    shown = tuple((f.name, attrgetter(f.name)) for f in fields if f.repr)

    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(hashed(self))

    @recursive_repr()
    def __repr__(self: Any) -> str:
        return f"{self.__class__.__qualname__}({', '.join(f'{name}={get(self)!r}' for name, get in shown)})"

    own = dict(cls.__dict__)
    written_hash = own.get("__hash__", _MISSING)
    # dataclass(frozen=True) adds the field hash unless the class wrote one (`__eq__` alone sets it to None)
    if written_hash is _MISSING or (written_hash is None and "__eq__" in own):
        cls.__hash__ = __hash__  # type: ignore[method-assign,assignment]
    if "__eq__" not in own:
        cls.__eq__ = __eq__  # type: ignore[method-assign,assignment]
    if "__repr__" not in own:
        cls.__repr__ = __repr__  # type: ignore[method-assign,assignment]
    for method in (__eq__, __hash__, __repr__):
        method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
