"""load.py: YAML with marks, templates (secret/env, sandbox), environment restrictions."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifest.document import Mark
from reconciler.manifest.files import collect_files
from reconciler.manifest.load import load_documents
from reconciler.manifest.templates import LoadOptions
from reconciler.secret import Secret

CANARY = "canary-7f3e9a-do-not-print"


def _load(tmp_path: Path, text: str, **env: str) -> tuple[object, list[str], list[object]]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    docs, errors = load_documents([path], LoadOptions(environ=env))
    return (docs[0] if docs else None), [str(e) for e in errors], (docs[0].secret_refs if docs else [])


def test_scalars_and_yaml_1_1_quirks(tmp_path: Path) -> None:
    doc, errors, _ = _load(tmp_path, "a: yes\nb: 12:30:00\nc: 2026-11-01\nd: 0x1F\ne: ~\nf: '5432'\ng: 1.5\n")
    assert errors == []
    assert doc.data == {"a": True, "b": "12:30:00", "c": "2026-11-01", "d": 31, "e": None, "f": "5432", "g": 1.5}


def test_marks_for_values_and_keys(tmp_path: Path) -> None:
    doc, _, _ = _load(tmp_path, "sources:\n  s:\n    type:   Stripe\n    tables: [a, b]\n")
    f = str(tmp_path / "m.yaml")
    assert doc.locate(("sources", "s", "type")) == Mark(f, 3, 13)
    assert doc.locate(("sources", "s", "type"), key=True) == Mark(f, 3, 5)
    assert doc.locate(("sources", "s", "tables", 1)) == Mark(f, 4, 17)
    assert doc.locate(("sources", "s", "nope", "deeper")) == Mark(f, 3, 5)


def test_merge_keys_explicit_wins(tmp_path: Path) -> None:
    doc, errors, _ = _load(tmp_path, "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    assert errors == [] and doc.data["use"] == {"y": 3, "x": 1}


def test_secret_fast_path_and_full_template_agree(tmp_path: Path) -> None:
    doc, errors, refs = _load(
        tmp_path,
        'a: "{{ secret(\'PW\') }}"\nb: "{{secret(\\"PW\\") }}"\nc: "{{ secret(\'PW\') if true else \'\' }}"\n',
        PW=CANARY,
    )
    assert errors == []
    assert doc.data["a"] == doc.data["b"] == doc.data["c"] == Secret("PW", CANARY)
    assert [r.name for r in refs] == ["PW", "PW", "PW"] and all(r.available for r in refs)
    assert CANARY not in repr(doc.data) and CANARY not in str(doc.data)


def test_mixed_secret_template_is_one_secret(tmp_path: Path) -> None:
    doc, errors, refs = _load(tmp_path, "u: \"postgres://{{ env('U') }}:{{ secret('PW') }}@h/db\"\n", U="app", PW="s3")
    assert errors == []
    value = doc.data["u"]
    assert isinstance(value, Secret) and value.name == "PW" and value.reveal() == "postgres://app:s3@h/db"
    assert [(r.name, r.path) for r in refs] == [("PW", ("u",))]


def test_missing_secret_is_lazy(tmp_path: Path) -> None:
    doc, errors, refs = _load(tmp_path, "a: \"{{ secret('NOT_SET') }}\"\nb: \"x{{ secret('NOT_SET') }}\"\n")
    assert errors == []
    assert doc.data["a"] == Secret("NOT_SET", None) and not doc.data["b"].available
    assert [r.available for r in refs] == [False, False]


def test_env_defaults_and_none(tmp_path: Path) -> None:
    doc, errors, _ = _load(
        tmp_path,
        "a: \"{{ env('SET') }}\"\nb: \"{{ env('UNSET', 'dflt') }}\"\nc: \"{{ env('UNSET', none) }}\"\n"
        "d: \"x-{{ env('UNSET', default=none) }}\"\n",
        SET="v",
    )
    assert errors == [] and doc.data == {"a": "v", "b": "dflt", "c": None, "d": "x-"}


def test_allow_env_and_allow_secret_are_separate_lists(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "a: \"{{ env('APP_HOST') }}\"\nb: \"{{ secret('APP_DB_PW') }}\"\nc: \"{{ secret('STRIPE_KEY') }}\"\n"
        "d: \"{{ env('APP_REGION') }}\"\n"
    )
    environ = {"APP_HOST": "h", "APP_DB_PW": CANARY, "STRIPE_KEY": CANARY, "APP_REGION": "eu"}
    options = LoadOptions(allow_env=("APP_*",), allow_secret=("APP_DB_*",), environ=environ)
    docs, errors = load_documents([path], options)
    assert docs[0].data["a"] == "h" and docs[0].data["d"] == "eu"
    assert docs[0].data["b"] == Secret("APP_DB_PW", CANARY)
    assert [str(e).splitlines()[0] for e in errors] == [
        f"{path}:3:4: c: secret('STRIPE_KEY') is not allowed: the variable does not match any --allow-secret pattern"
    ]


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ env('POSTHOG_PERSONAL_API_KEY') }}", "reconciler's own credential"),
        ("{{ env('RECONCILER_FINGERPRINT_KEY', 'x') }}", "reconciler's own credential"),
        ("{{ secret('POSTHOG_PERSONAL_API_KEY') }}", "reconciler's own credential"),
        ("{{ secret('RECONCILER_FINGERPRINT_KEY') }}", "reconciler's own credential"),
        ("{{ env('STRIPE_SECRET_KEY') }}", "the name marks a secret"),
        ("{{ env('GH_TOKEN') }}", "the name marks a secret"),
        ("{{ env('DB_PASSWORD') }}", "the name marks a secret"),
        ("{{ env('AWS_SECRET_ACCESS_KEY') }}", "the name marks a secret"),
        ("{{ env('APP_PASS') }}", "the name marks a secret"),
        ("{{ env('APP_AUTH', 'x') }}", "the name marks a secret"),
        ("x {{ env('APP_IN_BOTH') }}", "the manifests read this variable with secret()"),
    ],
)
def test_what_templates_may_never_read_whatever_the_patterns(tmp_path: Path, template: str, problem: str) -> None:
    """Reconciler's own keys, names that mark secrets, and variables read as secrets elsewhere: never by env(),
    with or without --allow-env / --allow-secret (issue 17, item 2)."""
    path = tmp_path / "m.yaml"
    path.write_text(f'a: "{template}"\nb: "{{{{ secret(\'APP_IN_BOTH\') }}}}"\n')
    environ = {n: CANARY for n in ("POSTHOG_PERSONAL_API_KEY", "RECONCILER_FINGERPRINT_KEY", "STRIPE_SECRET_KEY",
               "GH_TOKEN", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "APP_PASS", "APP_AUTH", "APP_IN_BOTH")}  # fmt: skip
    for options in (
        LoadOptions(environ=environ),
        LoadOptions(allow_env=("*",), environ=environ),
        LoadOptions(allow_env=("*",), allow_secret=("*",), environ=environ),
    ):
        _, errors = load_documents([path], options)
        expected = (problem,) if options.allow_secret is None else (problem, "--allow-secret names it a secret")
        assert [e.line for e in errors] == [1] and any(p in str(errors[0]) for p in expected), (options, errors)
        assert CANARY not in str(errors[0])


def test_names_that_do_not_mark_a_secret_stay_readable_by_env() -> None:
    from reconciler.manifest.variables import looks_secret

    assert not any(looks_secret(n) for n in ("APP_DB_HOST", "PORT", "REGION", "PASSENGER_COUNT", "AUTHOR", "PATH"))
    assert all(looks_secret(n) for n in ("API_KEY", "APIKEY", "x_token", "PG_PASSWD", "TLS_CERT", "DB_DSN", "MY_PAT"))


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ env.__self__ }}",
        "{{ secret.__func__ }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
        "{{ 'a' * 10000000 }}",
        "{{ (10 ** 1000) ** 1000 }}",
        "{% include 'x' %}",
        "{{ lipsum() }}",
    ],
)
def test_sandbox_blocks_escapes(tmp_path: Path, template: str) -> None:
    doc, errors, _ = _load(tmp_path, f'a: "{template}"\n', SECRET_THING=CANARY)
    assert len(errors) == 1 and errors[0].startswith(f"{tmp_path / 'm.yaml'}:1:4: a: template")
    assert doc.data["a"] is None


def test_secret_value_never_in_template_errors(tmp_path: Path) -> None:
    _, errors, _ = _load(
        tmp_path,
        "a: \"{{ secret('K') ~ 'x' }}\"\nb: \"{{ secret('K').upper() }}\"\nc: \"{% if secret('K') %}y{% endif %}\"\n"
        "d: \"{{ secret('K') | length }}\"\n",
        K=CANARY,
    )
    assert len(errors) == 4 and all("can only be output as is" in e for e in errors)
    assert not any(CANARY in e for e in errors)


def test_collect_files_sorted_recursive_hidden_skipped(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml", "sub/c.yaml", ".git/x.yaml", "sub/.hidden.yaml", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("version: 1\n")
    files, errors = collect_files([tmp_path, tmp_path / "b.yaml"])
    assert errors == []
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["a.yml", "b.yaml", "sub/c.yaml"]


def test_several_documents_per_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("a: 1\n---\n---\nb: 2\n")
    docs, errors = load_documents([path])
    assert errors == [] and [(d.index, d.data) for d in docs] == [(0, {"a": 1}), (2, {"b": 2})]


def test_nul_cannot_forge_secret_slots(tmp_path: Path) -> None:
    _, errors, _ = _load(tmp_path, 'a: "\\0S0\\0{{ 1 }}"\nb: "{{ env(\'N\') }}-{{ 2 }}"\n', N="\x00S0\x00")
    assert [e.split(": ", 2)[2] for e in errors] == [
        "a template may not contain NUL characters",
        "environment variable 'N' contains a NUL character",
    ]
