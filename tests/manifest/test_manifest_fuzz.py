"""Whatever the input, validation returns errors; it never raises (hypothesis-generated manifests)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.catalog import load_catalog
from reconciler.manifest import LoadOptions, check_manifests

NAMES = sorted(
    {f.name for t in load_catalog().values() for f in t.all_fields()}
    | {
        "selection",
        "enabled",
        "host",
        "port",
        "auth",
        "require_tls",
        "username",
        "password",
        "sync",
        "sync_type",
        "frequency",
        "incremental_field",
        "cdc_enabled",
        "x",
    }
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(
        [
            "{{ secret('FUZZ') }}",
            "{{ env('FUZZ', 'x') }}",
            "true",
            "api_key",
            "oauth",
            "password",
            "keypair",
            "5432",
            "full_refresh",
            "append",
            "cdc",
            "1min",
            "12:00:00",
            "{{ oops",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(NAMES), inner, max_size=5)),
    max_leaves=12,
)
sources = st.dictionaries(
    st.sampled_from(["a", "b", "bad key", "c-1"]),
    st.one_of(
        values,
        st.fixed_dictionaries(
            {"type": st.sampled_from([*load_catalog(), "Nope", 3])},
            optional={
                "config": values,
                "tables": st.dictionaries(st.text(max_size=5), values, max_size=3),
                "prefix": values,
                "state": st.sampled_from(["present", "absent", None]),
                "protect": values,
                "description": values,
                "revenue_analytics": values,
            },
        ),
    ),
    max_size=3,
)


def _check(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.yaml"
        path.write_text(text)
        report = check_manifests([path], load_options=LoadOptions(environ={"FUZZ": "v"}))
    assert report.ok or report.errors
    for error in report.errors:
        assert error.file and error.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources=sources, version=st.sampled_from([1, 1, 1, 2, "1", None]))
def test_generated_manifests_never_raise(sources: dict[str, Any], version: Any) -> None:
    _check(yaml.safe_dump({"version": version, "sources": sources}))


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(st.sampled_from([*list("ab: -[]{}&*!|>'\"\n\t#%@`"), "{{", "}}", "<<", "&a", "*a"]), max_size=40))
def test_random_text_never_raises(parts: list[str]) -> None:
    _check("version: 1\n" + "".join(parts))
