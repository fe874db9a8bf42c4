"""fields.py: the record base of the manifest models and the checker that reads raw manifest mappings into them.

The edge cases of the lax reading manifests have always had (booleans from words and 0/1, numbers as strings,
error order and locations); messages are tested through `validate` in test_manifest_validate.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.manifest import check_manifests
from reconciler.manifest.fields import FieldError, validated
from reconciler.manifest.models import (
    Defaults,
    DesiredSource,
    DesiredState,
    Location,
    ManifestDocument,
    RevenueAnalytics,
    SourceInput,
    TableSettings,
)

HERE = Location("m.yaml", 1, 1)


def _table(raw: Any) -> TableSettings | list[FieldError]:
    model, errors = validated(TableSettings, raw)
    return errors if model is None else model


def _kinds(model_class: type[Any], raw: Any) -> list[tuple[str, tuple[str | int, ...]]]:
    model, errors = validated(model_class, raw)
    assert (model is None) == bool(errors)
    return [(e.kind, e.loc) for e in errors]


# --- booleans ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        (0, False),
        (1, True),
        (1.0, True),
        (-0.0, False),
        *((word, True) for word in ("true", "TRUE", "Yes", "on", "t", "Y", "1", b"yes")),
        *((word, False) for word in ("false", "No", "OFF", "f", "n", "0", b"off")),
    ],
)
def test_a_bool_reads_yes_no_words_and_integral_zero_or_one(raw: Any, expected: bool) -> None:
    settings = _table({"sync": raw})
    assert isinstance(settings, TableSettings) and settings.sync is expected


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (2, "bool_parsing"),
        (-1, "bool_parsing"),
        (2.0, "bool_parsing"),
        (" true", "bool_parsing"),
        ("", "bool_parsing"),
        ("maybe", "bool_parsing"),
        (b"\xff", "bool_parsing"),
        (0.5, "bool_type"),
        (float("nan"), "bool_type"),
        (float("inf"), "bool_type"),
        (2**63, "bool_type"),
        ([], "bool_type"),
        ({}, "bool_type"),
    ],
)
def test_a_bool_refuses_other_values_with_their_kind(raw: Any, kind: str) -> None:
    assert _table({"sync": raw}) == [FieldError(kind, ("sync",), raw)]


# --- strings, choices, patterns ------------------------------------------------------------------------------


def test_a_string_field_writes_numbers_out_but_refuses_a_bool() -> None:
    spec, errors = validated(SourceInput, {"type": 1.5, "prefix": 10**20, "description": 7, "secrets_version": True})
    assert spec is None
    assert errors == [FieldError("string_type", ("secrets_version",), True)]
    spec = validated(SourceInput, {"type": 1.5, "prefix": 10**20, "description": b"text"})[0]
    assert spec is not None and (spec.type, spec.prefix, spec.description) == ("1.5", "100000000000000000000", "text")
    assert _kinds(SourceInput, {"type": b"\xff"}) == [("string_unicode", ("type",))]


def test_a_text_choice_matches_text_only() -> None:
    assert _kinds(TableSettings, {"sync_type": b"full_refresh"}) == [("literal_error", ("sync_type",))]
    assert _kinds(TableSettings, {"sync_type": "FULL_REFRESH"}) == [("literal_error", ("sync_type",))]
    assert _kinds(TableSettings, {"frequency": ["6hour"]}) == [("literal_error", ("frequency",))]
    assert _table({"sync_type": None}) == TableSettings(sync_type=None)


@pytest.mark.parametrize("raw", [1, 1.0, True])
def test_version_1_is_any_number_equal_to_1(raw: Any) -> None:
    document = validated(ManifestDocument, {"version": raw})[0]
    assert document is not None and type(document.version) is int and document.version == 1


def test_version_refuses_text_and_says_when_a_number_is_too_big_to_read() -> None:
    assert _kinds(ManifestDocument, {"version": "1"}) == [("literal_error", ("version",))]
    assert _kinds(ManifestDocument, {"version": 2**63}) == [("int_parsing_size", ("version",))]
    assert _kinds(ManifestDocument, {"version": [1]}) == [("literal_error", ("version",))]


def test_sync_time_of_day_is_matched_whole_after_reading_it_as_a_string() -> None:
    assert _table({"sync_time_of_day": "23:59:59"}) == TableSettings(sync_time_of_day="23:59:59")
    # `$` in Python's re also matches before a final newline; the format's pattern does not.
    for raw in ("03:00:00\n", "24:00:00", "3:00:00", 30000):
        assert _table({"sync_time_of_day": raw}) == [FieldError("string_pattern_mismatch", ("sync_time_of_day",), raw)]
    assert _kinds(TableSettings, {"sync_time_of_day": True}) == [("string_type", ("sync_time_of_day",))]


# --- lists and mappings --------------------------------------------------------------------------------------


def test_a_list_of_strings_becomes_a_tuple_each_item_checked_at_its_index() -> None:
    assert _table({"primary_key_columns": ["id", 2]}) == TableSettings(primary_key_columns=("id", "2"))
    assert _table({"enabled_columns": {"id"}}) == TableSettings(enabled_columns=("id",))
    assert _kinds(TableSettings, {"enabled_columns": ["a", None, True]}) == [
        ("string_type", ("enabled_columns", 1)),
        ("string_type", ("enabled_columns", 2)),
    ]
    for raw in ("id", {"id": 1}, b"id"):
        assert _kinds(TableSettings, {"primary_key_columns": raw}) == [("tuple_type", ("primary_key_columns",))]


def test_environments_needs_one_good_name_and_says_so_after_the_bad_items() -> None:
    assert _kinds(SourceInput, {"type": "S", "environments": []}) == [("too_short", ("environments",))]
    assert _kinds(SourceInput, {"type": "S", "environments": [True]}) == [
        ("string_type", ("environments", 0)),
        ("too_short", ("environments",)),
    ]
    assert _kinds(SourceInput, {"type": "S", "environments": [True, "prod"]}) == [("string_type", ("environments", 0))]


def test_mapping_keys_are_strings_with_numbers_written_out() -> None:
    spec = validated(SourceInput, {"type": "S", "config": {1: "a", 2.5: "b"}, "tables": {7: {}}})[0]
    assert spec is not None and spec.config == {"1": "a", "2.5": "b"} and spec.tables == {"7": TableSettings()}
    assert _kinds(SourceInput, {"type": "S", "config": {True: 1, None: 2}}) == [
        ("string_type", ("config", 1, "[key]")),
        ("string_type", ("config", "None", "[key]")),
    ]
    assert _kinds(SourceInput, {"type": "S", "tables": ["Customer"]}) == [("dict_type", ("tables",))]


def test_nested_models_need_a_mapping_and_report_inside_it() -> None:
    assert _kinds(SourceInput, {"type": "S", "tables": {"Customer": None, "Charge": {"sync": 5, "zz": 1}}}) == [
        ("model_type", ("tables", "Customer")),
        ("bool_parsing", ("tables", "Charge", "sync")),
        ("extra_forbidden", ("tables", "Charge", "zz")),
    ]
    assert _kinds(ManifestDocument, {"version": 1, "defaults": None}) == [("model_type", ("defaults",))]
    assert _kinds(SourceInput, {"type": "S", "revenue_analytics": {"enabled": None}}) == [
        ("value_error", ("revenue_analytics", "enabled"))
    ]


# --- models --------------------------------------------------------------------------------------------------


def test_field_errors_come_in_declaration_order_then_unknown_keys_in_input_order() -> None:
    raw = {"zz": 1, 3: "x", "state": None, "protect": "perhaps", "aa": 2}
    model, errors = validated(SourceInput, raw)
    assert model is None
    assert errors == [
        FieldError("missing", ("type",), raw),
        FieldError("bool_parsing", ("protect",), "perhaps"),
        FieldError("value_error", ("state",), None),
        FieldError("extra_forbidden", ("zz",), 1),
        FieldError("invalid_key", (3,), 3),
        FieldError("extra_forbidden", ("aa",), 2),
    ]
    assert _kinds(SourceInput, ["type"]) == [("model_type", ())]


def test_null_is_refused_only_where_declared_and_given_keeps_explicit_nulls() -> None:
    assert _kinds(TableSettings, {"sync": None, "frequency": None, "cdc_table_mode": None}) == [
        ("value_error", ("sync",)),
        ("value_error", ("frequency",)),
        ("value_error", ("cdc_table_mode",)),
    ]
    settings = _table({"sync_type": None, "primary_key_columns": None, "sync": "yes"})
    assert isinstance(settings, TableSettings)
    assert settings.given == {"sync_type", "primary_key_columns", "sync"}
    assert settings.given_values() == {"sync": True, "sync_type": None, "primary_key_columns": None}
    defaults = validated(ManifestDocument, {"version": 1})[0]
    assert defaults is not None and defaults.defaults == Defaults() and defaults.defaults.given == frozenset()


def test_records_are_frozen_keyword_built_and_equal_by_value() -> None:
    settings = TableSettings(sync=True)
    assert settings.given == {"sync"} and settings.sync_type is None
    assert settings == TableSettings(sync=True, sync_type=None) and settings != TableSettings(sync=False)
    assert hash(settings) == hash(TableSettings(sync=True, sync_type=None))
    assert settings != RevenueAnalytics(enabled=True)
    with pytest.raises(AttributeError):
        settings.sync = False  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field"):
        TableSettings(sink=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="needs address"):
        DesiredSource(type="Stripe", location=HERE)  # type: ignore[call-arg]
    assert TableSettings.FIELDS[:3] == ("sync", "sync_type", "incremental_field")


def test_a_default_mapping_is_not_shared_and_replace_counts_the_change_as_given() -> None:
    a = DesiredSource(address="a", type="Stripe", location=HERE)
    b = DesiredSource(address="b", type="Stripe", location=HERE)
    assert a.config == {} and a.config is not b.config
    state = DesiredState(sources={"a": a})
    warned = state.replace(warnings=("w",))
    assert (warned.warnings, warned.sources, state.warnings) == (("w",), {"a": a}, ())
    assert warned.given == {"sources", "warnings"}
    with pytest.raises(TypeError, match="no field warning"):
        state.replace(warning=())
    assert "marks" not in repr(a) and repr(TableSettings(sync=True)).startswith(
        "TableSettings(sync=True, sync_type=None"
    )


def test_messages_of_kinds_a_yaml_manifest_can_reach(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nsources:\n  s:\n    type: Stripe\n    state: absent\n    environments: []\n    protect: 2\n"
    )
    errors = [str(e).splitlines()[0] for e in check_manifests([path]).errors]
    assert errors == [
        f"{path}:6:19: s.environments: Tuple should have at least 1 item after validation, not 0",
        f"{path}:7:14: s.protect: expected true or false, got an integer",
    ]
