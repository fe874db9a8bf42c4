"""`@record` behaves as `@dataclass(frozen=True)` does: each case defines the same class both ways and compares
equality, hashing, repr, immutability and the dataclasses API on the same values."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.records import record

Decorate = Callable[[type], type]
BOTH: list[tuple[str, Decorate]] = [("dataclass", dataclasses.dataclass(frozen=True)), ("record", record)]
BOTH_SLOTTED: list[tuple[str, Decorate]] = [
    ("dataclass", dataclasses.dataclass(frozen=True, kw_only=True, slots=True)),
    ("record", record(kw_only=True, slots=True)),
]


def plain(decorate: Decorate) -> type:
    class Plain:
        """Fields of the kinds the package uses."""

        name: str
        count: int = 0
        tags: tuple[str, ...] = ()
        note: str | None = dataclasses.field(default=None, compare=False, repr=False)
        weight: float = dataclasses.field(default=1.0, hash=False)

    return decorate(Plain)


def one_field(decorate: Decorate) -> type:
    class One:
        value: Any

    return decorate(One)


def no_field(decorate: Decorate) -> type:
    class Empty:
        pass

    return decorate(Empty)


def own_methods(decorate: Decorate) -> type:
    class Own:
        key: str
        extra: int = 0

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Own) and other.key == self.key

        def __repr__(self) -> str:
            return f"<Own {self.key}>"

    return decorate(Own)


def own_hash(decorate: Decorate) -> type:
    class Hashed:
        key: str
        data: dict[str, int] = dataclasses.field(default_factory=dict)

        def __hash__(self) -> int:
            return hash(("Hashed", self.key))

    return decorate(Hashed)


def outcome(make: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", make()
    except Exception as exc:  # the same exception type is part of the behaviour
        return "raised", type(exc).__name__


@pytest.mark.parametrize("build", [plain, one_field, no_field, own_methods, own_hash])
def test_same_methods_kept_or_added(build: Callable[[Decorate], type]) -> None:
    (_, reference), (_, ours) = [(n, build(d)) for n, d in BOTH]
    for name in ("__eq__", "__hash__", "__repr__"):
        assert (name in reference.__dict__) == (name in ours.__dict__), name
        assert (reference.__dict__.get(name) is None) == (ours.__dict__.get(name) is None), name


values = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.tuples(st.text(max_size=3)))


@given(
    name=st.text(max_size=4), count=st.integers(), tags=st.lists(st.text(max_size=2), max_size=3).map(tuple),
    note=st.one_of(st.none(), st.text(max_size=3)), weight=st.floats(allow_nan=False),
    other_name=st.text(max_size=4), other_note=st.one_of(st.none(), st.text(max_size=3)),
)  # fmt: skip
def test_eq_hash_repr_as_dataclass(
    name: str,
    count: int,
    tags: tuple[str, ...],
    note: str | None,
    weight: float,
    other_name: str,
    other_note: str | None,
) -> None:
    results = []
    for _, decorate in BOTH:
        cls = plain(decorate)
        a = cls(name, count, tags, note, weight)
        b = cls(other_name, count, tags, other_note, weight)
        c = cls(name, count, tags, other_note, weight + 1)
        results.append(
            (a == b, a == c, a != c, hash(a) == hash(cls(name, count, tags, None, weight)),
             hash(a) == hash(c), repr(a).split("(", 1)[1], a == (name, count), a.__eq__(object()))
        )  # fmt: skip
    assert results[0] == results[1]


@given(st.one_of(values, st.lists(values, max_size=2), st.dictionaries(st.text(max_size=2), values, max_size=2)))
def test_one_field_and_unhashable_values(value: Any) -> None:
    reference, ours = (one_field(d) for _, d in BOTH)
    assert outcome(lambda: hash(reference(value))) == outcome(lambda: hash(ours(value)))
    assert (reference(value) == reference(value)) == (ours(value) == ours(value))
    assert repr(reference(value)).split("(", 1)[1] == repr(ours(value)).split("(", 1)[1]


def test_frozen_and_the_dataclasses_api() -> None:
    reference, ours = (plain(d) for _, d in BOTH)
    for cls in (reference, ours):
        item = cls("a", 1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            item.count = 2  # type: ignore[misc]
        assert dataclasses.is_dataclass(item)
        assert dataclasses.replace(item, count=3) == cls("a", 3)
        assert dataclasses.asdict(item) == {"name": "a", "count": 1, "tags": (), "note": None, "weight": 1.0}
        assert [f.name for f in dataclasses.fields(cls)] == ["name", "count", "tags", "note", "weight"]
    assert (
        repr(ours("a", 1)) == repr(reference("a", 1)) == "plain.<locals>.Plain(name='a', count=1, tags=(), weight=1.0)"
    )


def test_slots_and_keyword_only() -> None:
    reference, ours = (plain(d) for _, d in BOTH_SLOTTED)
    for cls in (reference, ours):
        assert "__slots__" in cls.__dict__
        with pytest.raises(TypeError):
            cls("a")
        item = cls(name="a", tags=("x",))
        assert item == cls(name="a", tags=("x",), note="ignored") and hash(item) == hash(cls(name="a", tags=("x",)))
        with pytest.raises(dataclasses.FrozenInstanceError):
            item.name = "b"  # type: ignore[misc]
    assert repr(ours(name="a")) == repr(reference(name="a"))


def test_own_methods_win_and_recursion_is_guarded() -> None:
    for _, decorate in BOTH:
        own = own_methods(decorate)
        assert own("k", 1) == own("k", 2) and repr(own("k")) == "<Own k>"
        assert hash(own("k", 1)) == hash(own("k", 1))
        hashed = own_hash(decorate)
        assert hash(hashed("k", {"a": 1})) == hash(("Hashed", "k"))
    shown = []
    for _, decorate in BOTH:
        loop: list[Any] = []
        item = one_field(decorate)(loop)
        loop.append(item)
        shown.append(repr(item))
    assert shown[0] == shown[1] == "one_field.<locals>.One(value=[...])"
