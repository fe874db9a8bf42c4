"""reconciler.ownership: the description trailer's format, parsing and length budget."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.ownership import (
    DESCRIPTION_LIMIT,
    compose_description,
    format_trailer,
    max_user_description_length,
    parse_trailer,
)

FP = "3f9a1c2b7d4e"


def test_format_matches_design() -> None:
    assert format_trailer("stripe_prod", FP + "ffff") == "[managed by reconciler · stripe_prod · s:3f9a1c2b7d4e]"


@pytest.mark.parametrize("user", [None, "Production Stripe", "line one\nline two", "x" * 10])
def test_compose_then_parse(user: str | None) -> None:
    text = compose_description(user, "stripe-prod_2", FP)
    assert parse_trailer(text) == (user, "stripe-prod_2", FP)


def test_full_budget_fits_exactly() -> None:
    address = "a" * 63
    user = "u" * max_user_description_length(address)
    assert len(compose_description(user, address, FP)) == DESCRIPTION_LIMIT


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (None, (None, None, None)),
        ("", ("", None, None)),
        ("made in the UI", ("made in the UI", None, None)),
        ("[managed by reconciler · x · s:short]", ("[managed by reconciler · x · s:short]", None, None)),
        (
            "text [managed by reconciler · a · s:3f9a1c2b7d4e] more",
            ("text [managed by reconciler · a · s:3f9a1c2b7d4e] more", None, None),
        ),
        ("hello  [managed by reconciler · a · s:3f9a1c2b7d4e]\n", ("hello", "a", FP)),
    ],
)
def test_parse(description: str | None, expected: tuple[str | None, ...]) -> None:
    assert parse_trailer(description) == expected


@pytest.mark.parametrize(("address", "fp"), [("has space", FP), ("a]b", FP), ("ok", "XYZ"), ("ok", "abc")])
def test_format_rejects_bad_input(address: str, fp: str) -> None:
    with pytest.raises(ValueError):
        format_trailer(address, fp)


@given(
    user=st.one_of(st.none(), st.text(min_size=1, max_size=300).filter(lambda t: t == t.strip())),
    address=st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,62}", fullmatch=True),
    fp=st.from_regex(r"[0-9a-f]{12,64}", fullmatch=True),
)
def test_compose_parse_round_trip(user: str | None, address: str, fp: str) -> None:
    assert parse_trailer(compose_description(user, address, fp)) == (user, address, fp[:12])
