"""Text `import` reads from PostHog is data, never a template (issue 17, item 1).

Anyone who can edit a source in the PostHog UI chooses its description, its config values and its table names.
If `import` wrote `{{ env('POSTHOG_PERSONAL_API_KEY') }}` as it is, the next `plan` would render it (printing
the key) and `apply` would send the key back into a field that UI user reads. Here: every such value, imported
and loaded again, is the same literal string, and nothing in it is ever evaluated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.catalog import load_catalog
from reconciler.cli import run_cli
from reconciler.emulator.testing import Emulator
from reconciler.importer import import_sources, render_import
from reconciler.manifest import LoadOptions, load_desired_state
from reconciler.manifest.dump import dump_manifest
from reconciler.manifest.models import DesiredSource, DesiredState, Location
from reconciler.posthog.models import LiveSource

CANARY = "phx_CANARY_import_hostile_1f2e"
ENV = {"POSTHOG_PERSONAL_API_KEY": CANARY, "RECONCILER_FINGERPRINT_KEY": CANARY, "HOME": "/home/canary"}

#: Template syntax in every form jinja knows (line statements and comments are written as jinja's usual `#`/`##`
#: prefixes would be, in case someone ever enables them).
HOSTILE = [
    "{{ env('POSTHOG_PERSONAL_API_KEY') }}",
    "{{ secret('RECONCILER_FINGERPRINT_KEY') }}",
    "{%- for x in range(3) -%}{{ env('HOME') }}{%- endfor %}",
    "{# a comment #}{{ 7 * 7 }}",
    "{% raw %}{{ env('HOME') }}{% endraw %}{% endraw %}",
    "# for x in range(2)\n{{ env('HOME') }}\n# endfor\n## comment",
    "% for x in [1]\n{{x}}\n% endfor",
    "ends with a newline {{ 1 }}\n",
    "windows\r\nline {{ 2 }}\r\n",
    "lone \r return {{ 3 }}",
    "{{{{ nested }}}}",
    "}}{{'",
    "{",
    "{{",
    "{%",
    "{#",
    "ünïcode {{ '\\u00e9' }} \t tab",
]


def _live(description: str, value: str, table: str = "Customer") -> LiveSource:
    return LiveSource.from_wire(
        {
            "id": "src",
            "source_type": "Stripe",
            "prefix": "pay",
            "description": description,
            "access_method": "warehouse",
            "status": "Completed",
            "job_inputs": {"auth_method": {"selection": "api_key"}, "stripe_account_id": value},
            "schemas": [{"id": "s1", "name": table, "should_sync": True, "sync_type": "full_refresh"}],
            "revenue_analytics_config": {"enabled": False, "include_invoiceless_charges": True},
        },
        load_catalog(),
    )


def _round_trip(tmp: Path, description: str, value: str, table: str = "Customer") -> tuple[str, DesiredSource]:
    [imported] = import_sources([_live(description, value, table)], load_catalog())
    text = render_import([imported], host="https://us.posthog.com", project="1")
    path = tmp / "imported.yaml"
    path.write_text(text, encoding="utf-8")
    state = load_desired_state([path], load_options=LoadOptions(environ=ENV))
    return text, state.sources[imported.address]


@pytest.mark.parametrize("text", HOSTILE)
def test_imported_hostile_text_renders_back_to_the_same_literal(text: str, tmp_path: Path) -> None:
    written, loaded = _round_trip(tmp_path, text[:300], text, table=text.strip() or "t")
    assert loaded.description == text[:300]
    assert loaded.config["stripe_account_id"] == text
    assert list(loaded.tables) == [text.strip() or "t"]  # a table name is a mapping key: never rendered
    assert CANARY not in written and "/home/canary" not in written
    assert "49" not in str(loaded.description)  # {{ 7 * 7 }} was not evaluated


# Text PostHog could hold: anything printable, newlines, and template delimiters far more often than chance.
_PIECES = st.sampled_from(["{{", "}}", "{%", "%}", "{#", "#}", "{", "}", "\n", "\r", "\r\n", "-", "'", '"', "\\"])
_TEXT = st.lists(st.one_of(_PIECES, st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=5)), max_size=30)


@given(description=_TEXT.map("".join), value=_TEXT.map("".join))
@example(description="{{ env('POSTHOG_PERSONAL_API_KEY') }}", value="{% if true %}x{% endif %}\n")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_round_trips_and_never_evaluates(description: str, value: str, tmp_path: Path) -> None:
    description = description.strip()[:300]  # PostHog trims descriptions; the trailer needs room
    _, loaded = _round_trip(tmp_path, description, value)
    assert loaded.description == (description or None)
    assert loaded.config["stripe_account_id"] == value


def test_dump_writes_every_string_of_a_state_as_a_literal(tmp_path: Path) -> None:
    """`dump_manifest` is the inverse of load for any DesiredState, not just imported ones."""
    source = DesiredSource(
        address="a",
        type="Stripe",
        prefix="{{ env('HOME') }}",
        config={"stripe_account_id": "{% raw %}", "nested": {"list": ["{#", "plain"]}},
        location=Location("<test>", 1, 1),
        written=frozenset({"type", "prefix", "config"}),
    )
    path = tmp_path / "m.yaml"
    path.write_text(dump_manifest(DesiredState(sources={"a": source})))
    [document] = _documents(path)
    assert document["sources"]["a"]["prefix"] == "{{ env('HOME') }}"
    assert document["sources"]["a"]["config"] == {"stripe_account_id": "{% raw %}", "nested": {"list": ["{#", "plain"]}}


def _documents(path: Path) -> list[Any]:
    from reconciler.manifest.load import load_documents

    docs, errors = load_documents([path], LoadOptions(environ=ENV))
    assert errors == []
    return [d.data for d in docs]


# ---- end to end: a UI user plants templates, reconciler imports, plans and applies -------------------------------


@pytest.fixture
def ui_source(emulator: Emulator, team: int) -> dict[str, Any]:
    """A Postgres source made in the UI whose every free-text field holds a template."""
    body = {
        "source_type": "Postgres",
        "prefix": "planted",
        "description": "{{ env('POSTHOG_PERSONAL_API_KEY') }} and {% for c in 'ab' %}{{ c }}{% endfor %}",
        "payload": {
            "host": "db.example.com",
            "port": 5432,
            "database": "{{ env('RECONCILER_FINGERPRINT_KEY') }}",
            "user": "{# hidden #}{{ 6 * 7 }}",
            "password": "pg-ui-password",
            "schema": "public",
            "schemas": [{"name": "customers", "should_sync": True, "sync_type": "full_refresh"}],
        },
    }
    with emulator.client(key="phx_test", team=team) as api:
        response = api.post("/external_data_sources/", json=body)
        assert response.status_code == 201, response.text
        return {**body, "id": response.json()["id"]}


def test_import_plan_apply_keeps_planted_templates_as_text(
    emulator: Emulator, team: int, ui_source: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name, value in {**emulator.cli_env(team), "POSTHOG_PERSONAL_API_KEY": "phx_test"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RECONCILER_FINGERPRINT_KEY", CANARY)
    monkeypatch.setenv("PLANTED_PASSWORD", "pg-ui-password")

    def cli(*argv: str) -> tuple[int, str]:
        code = run_cli(list(argv))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    manifest = tmp_path / "planted.yaml"
    assert cli("import", "--all", "-o", str(manifest))[0] == 0
    code, out = cli("plan", "--format", "json", str(manifest))
    assert code == 0, out
    plan = json.loads(out[: out.rindex("}") + 1])
    [change] = plan["changes"]
    assert change["action"] == "update"  # adoption: trailer and secrets only, no config or description change
    assert set(change["diff"]) <= {"config.password"}, change["diff"]
    code, out = cli("apply", "--auto-approve", str(manifest))
    assert code == 0, out
    assert CANARY not in out and "phx_test" not in out
    with emulator.client(key="phx_test", team=team) as api:
        live = api.get(f"/external_data_sources/{ui_source['id']}/").json()
    assert live["description"].startswith(ui_source["description"] + "\n[managed by reconciler")
    assert live["job_inputs"]["database"] == "{{ env('RECONCILER_FINGERPRINT_KEY') }}"
    assert live["job_inputs"]["user"] == "{# hidden #}{{ 6 * 7 }}"
    code, out = cli("plan", "--detailed-exitcode", str(manifest))
    assert code == 0 and "No changes" in out, out
    assert CANARY not in manifest.read_text()
