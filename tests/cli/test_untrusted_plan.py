"""A saved plan is untrusted input (issue 17 item 3): `apply plan.json` enforces the `--allow-secret` list the
plan was made under, accepts `{"secret": …}` only in fields the catalog marks secret, never reads reconciler's own
credentials, and checks every field of the file against the catalog — all before any request. Hand-edited plan
files through the real CLI; the emulator (over HTTP) counts the requests that reached it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import run_cli

PASSWORD = "pg-CANARY-untrusted-3107"
GH_TOKEN = "ghp_CANARYuntrusted0000000000000000000"
MANIFEST = """\
version: 1
sources:
  app_db:
    type: Postgres
    prefix: app
    description: DESCRIPTION
    config:
      host: db.example.com
      port: 5432
      database: app
      user: reader
      password: "{{ secret('APP_DB_PASSWORD') }}"
      schema: public
    tables:
      customers: {sync: true, sync_type: full_refresh}
"""
Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def emu(cli_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("APP_DB_PASSWORD", PASSWORD)
    monkeypatch.setenv("GH_TOKEN", GH_TOKEN)
    return cli_emulator()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err and GH_TOKEN not in out + err and "Traceback" not in err
    return code, out, err


def stats(emu: Any) -> dict[str, Any]:
    with emu.control() as control:
        return dict(control.get("/stats").json())


def reset(emu: Any) -> None:
    with emu.control() as control:
        control.post("/stats/reset").raise_for_status()


def planned(capsys: pytest.CaptureFixture[str], tmp_path: Path, description: str = "App database") -> Path:
    manifest = tmp_path / "sources.yaml"
    manifest.write_text(MANIFEST.replace("DESCRIPTION", description))
    out = tmp_path / "plan.json"
    code, _, err = run(capsys, "plan", "--allow-secret", "APP_DB_*", "-o", str(out), str(manifest))
    assert code == 0, err
    return out


def edited(path: Path, edit: Edit) -> Path:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    return path


def create_payload(document: dict[str, Any]) -> dict[str, Any]:
    step = document["changes"][0]["steps"][0]
    assert step["kind"] == "create_source"
    return dict(step["payload"])


def _set(key: str, value: Any) -> Edit:
    return lambda d: d["changes"][0]["steps"][0]["payload"].__setitem__(key, value)


def _set_allow(value: Any, key: str, secret: Any) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        d["allow_secret"] = value
        _set(key, secret)(d)

    return edit


def _table(key: str, value: Any) -> Edit:
    return lambda d: d["changes"][0]["steps"][0]["schemas"][0].__setitem__(key, value)


def _diff(d: dict[str, Any]) -> None:
    d["changes"][0]["diff"]["config.host"]["new"] = {"secret": "APP_DB_PASSWORD"}


def _deep(d: dict[str, Any]) -> None:
    value: dict[str, Any] = {}
    d["changes"][0]["diff"]["config.host"]["new"] = value
    for _ in range(100):
        value["x"] = value = {}


def _trailer(d: dict[str, Any]) -> None:
    d["changes"][0]["steps"][0]["description"]["address"] = "someone_else"


def _type(d: dict[str, Any]) -> None:
    d["changes"][0]["steps"][0]["source_type"] = "MySQL"


REFUSALS: dict[str, tuple[Edit, str]] = {
    "GH_TOKEN as the password": (
        _set("password", {"secret": "GH_TOKEN"}),
        "payload.password: secret('GH_TOKEN') is not allowed: the variable does not match any --allow-secret "
        "pattern (the list the plan was made under)",
    ),
    "a secret as the user": (
        _set("user", {"secret": "APP_DB_PASSWORD"}),
        "payload.user: a secret reference in 'user', which Postgres does not mark secret",
    ),
    "a secret as the schema": (
        _set("schema", {"secret": "APP_DB_PASSWORD"}),
        "payload.schema: a secret reference in 'schema', which Postgres does not mark secret",
    ),
    "reconciler's own key, list widened": (
        _set_allow(["*"], "password", {"secret": "POSTHOG_PERSONAL_API_KEY"}),
        "secret('POSTHOG_PERSONAL_API_KEY') is not allowed: it is reconciler's own credential",
    ),
    "the fingerprint key, list removed": (
        _set_allow(None, "password", {"secret": "RECONCILER_FINGERPRINT_KEY"}),
        "secret('RECONCILER_FINGERPRINT_KEY') is not allowed: it is reconciler's own credential",
    ),
    "a field Postgres does not have": (_set("callback_url", "https://evil.example"), "Postgres has no field"),
    "a nested object where a scalar belongs": (
        _set("host", {"a": {"secret": "APP_DB_PASSWORD"}}),
        "payload.host.a: Postgres has no field 'a'",
    ),
    "a secret in a table setting": (
        _table("sync_type", {"secret": "APP_DB_PASSWORD"}),
        "schemas[0].sync_type: a secret reference where no secret belongs",
    ),
    "an unknown table setting": (_table("webhook_url", "x"), "schemas[0].webhook_url: not a setting"),
    "a secret in the diff": (_diff, "diff.config.host.new: a secret reference where no secret belongs"),
    "a value nested deeper than plan writes": (_deep, "nested deeper than any value plan writes"),
    "a trailer naming another address": (_trailer, "the trailer would name 'someone_else'"),
    "a create of another type": (_type, "a create of another type or prefix than its change's"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_hand_edited_plan_is_refused_before_any_request(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    edit, message = REFUSALS[case]
    plan = edited(planned(capsys, tmp_path), edit)
    reset(emu)
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan))
    assert code == 1
    assert message in err and str(plan) in err and "nothing was sent" in err
    assert stats(emu)["total"] == 0


def test_a_plan_file_nested_past_the_recursion_limit_is_a_clear_error(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan = planned(capsys, tmp_path)
    plan.write_text(plan.read_text().replace('"schema": "public"', '"schema": ' + "[" * 100_000 + "]" * 100_000))
    reset(emu)
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan))
    assert code == 1 and "plan file is nested too deeply to be a saved plan" in err
    assert stats(emu)["total"] == 0


def test_the_apply_job_pins_the_list_so_a_widened_one_is_refused(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The issue's attack: an edited file widening its own list; the apply job passes the list it expects."""
    plan = edited(planned(capsys, tmp_path), _set_allow(["*"], "password", {"secret": "GH_TOKEN"}))
    reset(emu)
    code, _, err = run(capsys, "apply", "--auto-approve", "--allow-secret", "APP_DB_*", str(plan))
    assert code == 1 and "--allow-secret APP_DB_* differs from the list" in err
    assert stats(emu)["total"] == 0


def test_the_unedited_plan_applies_and_sends_the_allowed_secret(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan = planned(capsys, tmp_path)
    assert create_payload(json.loads(plan.read_text()))["password"] == {"secret": "APP_DB_PASSWORD"}
    code, _, err = run(capsys, "apply", "--auto-approve", "--allow-secret", "APP_DB_*", str(plan))
    assert code == 0, err
    with emu.client() as api:
        [source] = api.get("/external_data_sources/").json()["results"]
    assert source["job_inputs"]["user"] == "reader" and "password" not in source["job_inputs"]


def test_manifests_catch_a_plausible_edit_the_catalog_allows(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An allowed secret sent to a host the editor chose passes every catalog check; `--manifests` re-plans from
    the manifests and refuses the write they do not ask for."""
    plan = edited(planned(capsys, tmp_path), _set("host", "db.attacker.example"))
    reset(emu)
    code, _, err = run(capsys, "apply", "--auto-approve", "--manifests", str(tmp_path / "sources.yaml"), str(plan))
    assert code == 1 and "1 of its change(s) are not what the manifests in" in err
    assert "app_db: config.host = db.attacker.example" in err
    assert [route for route in stats(emu)["by_route"] if not route.startswith("GET ")] == []
    code, _, err = run(
        capsys, "apply", "--auto-approve", "--manifests", str(tmp_path / "sources.yaml"), str(planned(capsys, tmp_path))
    )
    assert code == 0, err


def test_a_catalog_path_named_by_the_plan_file_is_never_read(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan = edited(planned(capsys, tmp_path), lambda d: d.__setitem__("catalog", str(tmp_path / "missing.json")))
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan))
    assert code == 0 and "missing.json" not in err, err


def test_an_update_pointed_at_another_source_is_refused_before_any_write(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, "apply", "--auto-approve", str(planned(capsys, tmp_path)))[0] == 0
    with emu.client() as api:
        other = api.post(
            "/external_data_sources/",
            json={
                "source_type": "Stripe",
                "prefix": "victim",
                "payload": {
                    "auth_method": {"selection": "api_key", "stripe_secret_key": "sk_test_victim"},
                    "schemas": [{"name": "Customer", "should_sync": True, "sync_type": "full_refresh"}],
                },
            },
        ).json()["id"]

    def retarget(d: dict[str, Any]) -> None:
        [change] = [c for c in d["changes"] if c["steps"]]
        change["live_id"] = other
        for step in change["steps"]:
            step["source_id"] = other

    plan = edited(planned(capsys, tmp_path, "App database, edited"), retarget)
    reset(emu)
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan))
    assert code == 1 and f"the saved plan's app_db acts on source {other}, but app_db is source" in err
    assert [route for route in stats(emu)["by_route"] if not route.startswith("GET ")] == []
