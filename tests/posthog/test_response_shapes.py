"""A response value of the wrong type is an ApiError naming the field and the problem, never the value.

A hostile or echoing server controls these values; the canary checks that none of its text reaches the
error (reference/posthog-api.md §6–§9 for the shapes)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest
from posthog_fakes import FakeClock, Script, make_client, reply
from posthog_wire import postgres_wire, schema_wire

from reconciler.errors import ApiError
from reconciler.posthog.client import PostHogClient
from reconciler.posthog.models import PreflightTable, RefreshResult
from reconciler.posthog.shape import ShapeError, integer, optional_bool, optional_str

CANARY = "canary-Zq81-from-the-server"
REFRESH = {"added": 1, "deleted": 0, "total_tables_seen": 3}
TABLE = {"table": "orders", "incremental_fields": [], "cdc_available": None}


def with_schema(**overrides: Any) -> dict[str, Any]:
    row = postgres_wire()
    row["schemas"][0].update(overrides)
    return row


Call = Callable[[PostHogClient], object]
GET: Call = lambda c: c.get_source("s1")  # noqa: E731
REFRESH_CALL: Call = lambda c: c.refresh_schemas("s1")  # noqa: E731
JOBS: Call = lambda c: c.jobs("s1")  # noqa: E731
PREFLIGHT: Call = lambda c: c.database_schema("Postgres", {"host": "h"})  # noqa: E731
PATCH_SCHEMA: Call = lambda c: c.patch_schema("t1", {"should_sync": True})  # noqa: E731

CASES = [
    (GET, postgres_wire(status=[CANARY]), "status: expected a string or null"),
    (GET, postgres_wire(description={"text": CANARY}), "description: expected a string or null"),
    (GET, postgres_wire(prefix=[CANARY]), "prefix: expected a string or null"),
    (GET, postgres_wire(engine=5), "engine: expected a string or null"),  # a number is no string
    (GET, with_schema(sync_type=[CANARY]), "schemas.sync_type: expected a string or null"),
    (GET, with_schema(sync_frequency={"every": CANARY}), "schemas.sync_frequency: expected a string or null"),
    (GET, with_schema(status=True), "schemas.status: expected a string or null"),
    (PATCH_SCHEMA, schema_wire("t", "t1", cdc_table_mode=[CANARY]), "cdc_table_mode: expected a string or null"),
    (REFRESH_CALL, {**REFRESH, "added": CANARY}, "added: expected an integer"),
    (REFRESH_CALL, {**REFRESH, "deleted": [CANARY]}, "deleted: expected an integer"),
    (REFRESH_CALL, {**REFRESH, "total_tables_seen": 2.5}, "total_tables_seen: expected an integer"),
    (REFRESH_CALL, {"added": 1, "deleted": 0}, "total_tables_seen: missing"),
    (REFRESH_CALL, {**REFRESH, CANARY: 1}, "response: holds a field that is not expected"),
    (REFRESH_CALL, [CANARY], "response: expected an object"),
    (JOBS, [{"id": "j1", "status": {CANARY: 1}}], "status: expected a string or null"),
    (PREFLIGHT, [{**TABLE, "cdc_available": CANARY}], "cdc_available: expected a boolean or null"),
    (PREFLIGHT, [{**TABLE, "cdc_available": 2}], "cdc_available: expected a boolean or null"),
    (
        PREFLIGHT,
        [{**TABLE, "incremental_fields": [{"field": "id", "type": [CANARY]}]}],
        "incremental_fields.type: expected a string or null",
    ),
]


@pytest.mark.parametrize(("call", "body", "problem"), CASES)
def test_a_value_of_the_wrong_type_is_named_by_field_never_shown(
    clock: FakeClock, call: Call, body: Any, problem: str
) -> None:
    client = make_client(Script([reply(200, body)]), clock)
    with pytest.raises(ApiError) as caught:
        call(client)
    assert str(caught.value) == f"unexpected response shape from PostHog: {problem}"
    shown = "".join(traceback.format_exception(caught.value)) + repr(caught.value) + repr(caught.value.__context__)
    assert CANARY not in shown


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (REFRESH, RefreshResult(added=1, deleted=0, total_tables_seen=3)),
        (
            {"added": "2", "deleted": 0.0, "total_tables_seen": " 4 "},
            RefreshResult(added=2, deleted=0, total_tables_seen=4),
        ),
    ],
)
def test_refresh_counts_read_as_integers(clock: FakeClock, body: dict[str, Any], expected: RefreshResult) -> None:
    assert make_client(Script([reply(200, body)]), clock).refresh_schemas("s1") == expected


@pytest.mark.parametrize(("wire", "expected"), [(None, None), (True, True), ("yes", True), (0, False), ("OFF", False)])
def test_preflight_cdc_available_reads_the_usual_boolean_spellings(wire: object, expected: bool | None) -> None:
    assert PreflightTable.from_wire({**TABLE, "cdc_available": wire}).cdc_available is expected


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (optional_str, [(None, None), ("", ""), ("x", "x")], [5, 1.5, True, [], {}]),
        (
            optional_bool,
            [(None, None), (False, False), (1, True), (0.0, False), ("TRUE", True), ("n", False), ("on", True)],
            [2, -1, 0.5, "", " true", "tru", "1.0", [], {}],
        ),
        (
            integer,
            [(7, 7), (True, 1), (5.0, 5), ("-5", -5), ("+5", 5), ("\t5\n", 5), ("5.00", 5), ("1_000", 1000)],
            [None, 5.5, float("inf"), float("nan"), "", "5.", ".5", "1e3", "0x5", "_1", "1__0", "٥", "9" * 5000, []],
        ),
    ],
)
def test_leaf_checks_accept_and_refuse(
    check: Callable[[Any, str], object], good: list[tuple[object, object]], bad: list[object]
) -> None:
    assert [check(value, "f") for value, _ in good] == [expected for _, expected in good]
    for value in bad:
        with pytest.raises(ShapeError) as caught:
            check(value, "some.field")
        assert caught.value.field == "some.field" and str(caught.value).startswith("some.field: expected ")
