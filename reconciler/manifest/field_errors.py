"""The field checker's errors (reconciler.manifest.fields) in our words: each located at its node (its key for
unknown and missing fields), with "did you mean" for unknown names and the allowed choices for enum-like fields.

Must not know: the catalog, files, YAML.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.catalog import INCREMENTAL_FIELD_TYPES
from reconciler.manifest.document import NodePath
from reconciler.manifest.fields import FieldError
from reconciler.manifest.models import (
    CDC_TABLE_MODE_VALUES,
    FREQUENCY_VALUES,
    SYNC_TYPE_VALUES,
    UNLISTED_POLICIES,
    Defaults,
    ManifestDocument,
    RevenueAnalytics,
    SourceInput,
    TableSettings,
)
from reconciler.manifest.problems import Report, did_you_mean, kind_of
from reconciler.secret import Secret

__all__ = ["report_field_errors"]

_CHOICES = {
    "sync_type": SYNC_TYPE_VALUES,
    "incremental_field_type": INCREMENTAL_FIELD_TYPES,
    "frequency": FREQUENCY_VALUES,
    "cdc_table_mode": CDC_TABLE_MODE_VALUES,
    "unlisted_tables": UNLISTED_POLICIES,
    "state": ("present", "absent"),
}


#: Error kinds whose message is "expected X, got <the value's kind>".
_EXPECTED = {
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "tuple_type": "a list of strings",
}

#: The other kinds' messages, as manifests have always shown them.
_MESSAGES = {
    "value_error": "may not be null",
    "invalid_key": "Keys should be strings",
    "too_short": "Tuple should have at least 1 item after validation, not 0",
    "int_parsing_size": "Unable to parse input string as an integer, exceeded maximum size",
    "string_unicode": "Input should be a valid string, unable to parse raw data as a unicode string",
}


def report_field_errors(errors: Iterable[FieldError], base: NodePath, report: Report, *, document_level: bool) -> None:
    for error in errors:
        _report_error(error, base, report, document_level)


def _report_error(error: FieldError, base: NodePath, report: Report, document_level: bool) -> None:
    """One error in our words, located at its node (its key for unknown and missing fields)."""
    kind, loc, value = error
    path = (*base, *loc)
    name = str(loc[-1]) if loc else ""
    if isinstance(value, Secret):
        report(
            path,
            "secret() is not allowed here: this field is not secret and appears in plans",
            hint="use env('NAME') for non-secret values",
            reference="secret-not-allowed",
        )
    elif kind == "extra_forbidden":
        candidates = _known_fields(loc, document_level)
        report(path, f"unknown field '{name}'{did_you_mean(name, candidates)}", key=True, reference="unknown-field")
    elif kind == "missing":
        report(path[:-1], f"missing required field '{name}'", key=True, reference="missing-field")
    elif kind == "literal_error" and name == "version":
        report(path, f"unsupported manifest version {value!r}; this reconciler reads version 1")
    elif kind == "literal_error" and name in _CHOICES:
        _report_choice(path, name, value, report)
    elif kind in _EXPECTED:
        report(path, f"expected {_EXPECTED[kind]}, got {kind_of(value)}")
    elif kind == "string_pattern_mismatch" and name == "sync_time_of_day":
        report(path, f"invalid sync_time_of_day {value!r}; expected HH:MM:SS (UTC), e.g. '03:30:00'")
    else:
        report(path, _MESSAGES[kind])


def _known_fields(loc: tuple[Any, ...], document_level: bool) -> Iterable[str]:
    """The field names allowed where an unknown one was found (for did-you-mean)."""
    if document_level:
        return Defaults.FIELDS if loc[0] == "defaults" else ManifestDocument.FIELDS
    if loc[0] == "tables" and len(loc) == 3:
        return TableSettings.FIELDS
    if loc[0] == "revenue_analytics":
        return RevenueAnalytics.FIELDS
    return SourceInput.FIELDS


def _report_choice(path: NodePath, name: str, value: Any, report: Report) -> None:
    choices = _CHOICES[name]
    shown = value if isinstance(value, str | int | float | bool) or value is None else kind_of(value)
    report(
        path,
        f"invalid {name} {shown!r}; expected one of: {', '.join(choices)}"
        + (did_you_mean(value, choices) if isinstance(value, str) else ""),
        reference="invalid-choice",
    )
