"""Bad input never reaches PostHog: the manifest corpus and hypothesis-generated manifests run through `validate`,
`plan` and `apply` against an emulator that counts requests.

For every invalid input: exit 1, no traceback, the message says where (`FILE:LINE:COL` from validate and from
plan/apply's manifest errors; the source address for plan-level errors), and the emulator saw zero writes
(no POST/PATCH/PUT/DELETE). Valid generated inputs: `validate` exits 0 and `plan` (read-only) writes nothing.
Default run: the corpus plus a small fuzz profile; `-m slow`: 2,000 generated manifests.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from reliability_kit import ProjectApi
from support.emulators import served

from reconciler.cli import run_cli
from reconciler.emulator.testing import Emulator

CORPUS = Path(__file__).resolve().parent.parent / "manifest" / "corpus"
CASES = sorted(CORPUS.glob("*.yaml"))
KEY = "phx_local"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with served(control=True) as emulator:
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Iterator[ProjectApi]:
    project = ProjectApi(emu.base_url, 1, key=KEY)
    project.control("POST", "/stats/reset")
    yield project
    project.close()


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(argv)
    return code, out.getvalue(), err.getvalue()


def _case_args(path: Path) -> tuple[list[str], dict[str, str]]:
    args: list[str] = []
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# args: "):
            args += line[len("# args: ") :].split()
        elif line.startswith("# env: "):
            name, _, value = line[len("# env: ") :].partition("=")
            env[name] = value
    return args, env


def _env(emu: Emulator, extra: dict[str, str]) -> dict[str, str]:
    return {"POSTHOG_HOST": emu.base_url, "POSTHOG_PROJECT_ID": "1", "POSTHOG_PERSONAL_API_KEY": KEY, **extra}


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_corpus_case_validate_plan_apply(
    path: Path, emu: Emulator, api: ProjectApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, env = _case_args(path)
    plan_args = [a for a in args if a != "--require-secrets"]  # a validate-only flag
    monkeypatch.chdir(CORPUS)
    with mock.patch.dict(os.environ, _env(emu, env)):
        results = {
            "validate": run(["validate", *args, path.name]),
            "plan": run(["plan", *plan_args, path.name]),
            "apply": run(["apply", "--auto-approve", "--allow-delete", *plan_args, path.name]),
        }
    located = re.compile(rf"{re.escape(path.name)}:\d+:\d+: ")
    for command, (code, out, err) in results.items():
        assert code == 1, (command, out, err)
        assert "Traceback" not in out + err and "This is a bug" not in err, (command, err)
        if command == "validate" or located.search(err):
            assert located.search(err), (command, err)
        else:
            # Plan-level errors (e.g. secrets only apply needs) name the source address instead.
            assert re.search(r"error\[[\w-]+\] \w+: |  - \w+: ", out + err), (command, out, err)
    assert api.writes() == {}


# ---- generated manifests ---------------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "version": 1,
    "sources": {
        "pay": {
            "type": "Stripe",
            "prefix": "pay",
            "description": "fuzz",
            "config": {"auth_method": {"selection": "api_key", "stripe_secret_key": "{{ secret('FUZZ_KEY') }}"}},
            "tables": {
                "Customer": {"sync": True, "sync_type": "full_refresh", "frequency": "24hour"},
                "Charge": {
                    "sync": True,
                    "sync_type": "append",
                    "incremental_field": "created",
                    "incremental_field_type": "integer",
                },
            },
            "revenue_analytics": {"include_invoiceless_charges": False},
        },
        "zd": {
            "type": "Zendesk",
            "config": {"subdomain": "acme", "email_address": "a@acme.test", "api_key": "{{ secret('FUZZ_KEY') }}"},
            "tables": {"tickets": {"sync": True, "sync_type": "full_refresh"}},
        },
    },
}
KEYS = [
    "type",
    "prefix",
    "config",
    "tables",
    "state",
    "protect",
    "description",
    "sync",
    "sync_type",
    "frequency",
    "incremental_field",
    "primary_key_columns",
    "time_of_day",
    "selection",
    "subdomain",
    "auth_method",
    "version",
    "sources",
    "project",
    "revenue_analytics",
    "enabled",
    "secrets_version",
    "Customer",
    "x",
    "",
    "sync_time_of_day",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(
        [
            "{{ secret('FUZZ_KEY') }}",
            "{{ secret('UNSET_FUZZ') }}",
            "{{ env('FUZZ_KEY') }}",
            "{{ 1/0 }}",
            "{{ oops",
            "{% for %}",
            "absent",
            "present",
            "Stripe",
            "Postgres",
            "Nope",
            "append",
            "incremental",
            "cdc",
            "1min",
            "never",
            "25:00:00",
            "12:00:00",
            "api_key",
            "oauth",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
    max_leaves=8,
)
SYNTAX = st.sampled_from(
    [
        "\t",
        ": :",
        "- [",
        "{",
        "}",
        "&a",
        "*a",
        "<<: *a",
        "!!python/object:os.system",
        "%YAML",
        "\n---\n",
        "'",
        '"',
        "? ",
        "|",
        "@",
        "\x00",
        "\ufeff",
        "key: value: x",
        "  - \n",
    ]
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _mutate(doc: Any, data: st.DataObject) -> Any:
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths), label="path")
        op = data.draw(st.sampled_from(["replace", "delete", "add", "rename"]), label="op")
        if not path:
            if op == "replace":
                doc = data.draw(VALUES, label="root")
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if op == "replace":
            parent[last] = data.draw(VALUES, label="value")
        elif op == "delete":
            del parent[last]
        elif op == "add" and isinstance(parent[last], dict):
            parent[last][data.draw(st.sampled_from(KEYS), label="key")] = data.draw(VALUES, label="value")
        elif op == "rename" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(KEYS), label="new name")] = parent.pop(last)
    return doc


def _text(data: st.DataObject) -> str:
    doc = _mutate(copy.deepcopy(BASE), data)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if data.draw(st.booleans(), label="break the syntax"):
        lines = text.splitlines(keepends=True)
        at = data.draw(st.integers(0, len(lines)), label="at")
        text = "".join([*lines[:at], data.draw(SYNTAX, label="junk"), *lines[at:]])
    return text


def _check_one(text: str, emu: Emulator, api: ProjectApi) -> None:
    with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, _env(emu, {"FUZZ_KEY": "sk_test_fz12"})):
        path = Path(tmp) / "m.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        code, out, err = run(["validate", str(path)])
        event("valid" if code == 0 else "invalid")
        assert code in (0, 1) and "Traceback" not in out + err and "This is a bug" not in err, err
        if code == 1:
            errors = [line for line in err.splitlines()[:-1] if not line.startswith("  ")]
            assert errors and all(line.startswith(f"{path}:") for line in errors), err
            assert re.fullmatch(r"\d+ errors?", err.splitlines()[-1]), err
            for argv in (["plan", str(path)], ["apply", "--auto-approve", "--allow-delete", str(path)]):
                code, out, err = run(argv)
                assert code == 1 and "Traceback" not in out + err and "This is a bug" not in err, (argv, err)
                assert f"{path}:" in err, (argv, err)
        else:
            code, out, err = run(["plan", str(path)])
            assert code in (0, 1) and "Traceback" not in out + err and "This is a bug" not in err, err
    assert api.writes() == {}, text


_FAST = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_SLOW = settings(
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_FAST
@given(data=st.data())
def test_generated_manifests_fast(data: st.DataObject, emu: Emulator, api: ProjectApi) -> None:
    _check_one(_text(data), emu, api)


@pytest.mark.slow
@_SLOW
@given(data=st.data())
def test_generated_manifests_2000(data: st.DataObject, emu: Emulator, api: ProjectApi) -> None:
    _check_one(_text(data), emu, api)
