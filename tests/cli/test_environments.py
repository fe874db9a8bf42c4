"""One repository, two PostHog environments (reconciler.yaml + `--env`), end to end: the CLI in-process, the emulator
over real HTTP. Staging is project 1 and production project 2 of one emulator; a source exists only in production;
variables differ per environment; a saved plan is refused under the other environment; each error names its
file:line and a hint and exits 1 with no write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import run_cli
from reconciler.emulator.keys import ApiKey, KeyRing

CANARY = "sk_test_CANARYenv5512"
KEY = "phx_envs"

CONFIG = """\
version: 1
manifests: manifests
environments:
  staging:
    host: {host}
    project: "1"
    variables:
      stripe_account: acct_staging
      frequency: 24hour
  production:
    host: {host}
    project: "2"
    variables:
      stripe_account: acct_live
      frequency: 1hour
      eu_account: acct_live_eu
"""

MANIFEST = """\
version: 1
sources:
  stripe:
    type: Stripe
    prefix: stripe
    description: "Stripe account {{ var('stripe_account') }}"
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
      stripe_account_id: "{{ var('stripe_account') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: "{{ var('frequency') }}"}
  stripe_eu:
    type: Stripe
    prefix: stripe_eu
    environments: [production]
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
      stripe_account_id: "{{ var('eu_account') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh}
"""


@pytest.fixture
def emu(cli_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    keys = KeyRing({KEY: ApiKey(KEY, frozenset({1, 2}), frozenset({"*"}))})
    emu = cli_emulator(control=False, keys=keys)
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", KEY)
    monkeypatch.setenv("STRIPE_SECRET_KEY", CANARY)
    # The environment sets host and project: nothing else may name them.
    monkeypatch.delenv("POSTHOG_HOST")
    monkeypatch.delenv("POSTHOG_PROJECT_ID")
    monkeypatch.delenv("RECONCILER_ENV", raising=False)
    return emu


@pytest.fixture
def repo(emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "manifests").mkdir()
    (root / "reconciler.yaml").write_text(CONFIG.format(host=emu.base_url))
    (root / "manifests" / "sources.yaml").write_text(MANIFEST)
    (root / "ci").mkdir()
    monkeypatch.chdir(root / "ci")  # found by walking up
    return root


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    assert "Traceback" not in err
    return code, out, err


def live(emu: Any, team: int) -> dict[str, dict[str, Any]]:
    with emu.client(key=KEY, team=team) as client:
        body = client.get("external_data_sources/").json()
    return {s["prefix"]: s for s in body["results"]}


def test_two_environments_each_planned_and_applied_with_its_own_variables(
    emu: Any, repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = cli(capsys, "plan", "--env", "staging")
    assert code == 0, out
    assert out.startswith(f"reconciler plan for environment staging: project 1 at {emu.base_url}\n")
    assert "Plan: 1 to create" in out and "stripe_eu" not in out and "acct_staging" in out
    code, out, _ = cli(capsys, "plan", "--env", "production", "--format", "json")
    document = json.loads(out)
    assert document["target"] == {"host": emu.base_url, "project": "2", "environment": "production"}
    assert sorted(c["address"] for c in document["changes"]) == ["stripe", "stripe_eu"]

    assert cli(capsys, "apply", "--env", "staging", "--auto-approve")[0] == 0
    monkeypatch.setenv("RECONCILER_ENV", "production")  # the variable selects it as --env does
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, out + err

    staging, production = live(emu, 1), live(emu, 2)
    assert sorted(staging) == ["stripe"] and sorted(production) == ["stripe", "stripe_eu"]
    assert staging["stripe"]["job_inputs"]["stripe_account_id"] == "acct_staging"
    assert production["stripe"]["job_inputs"]["stripe_account_id"] == "acct_live"
    assert production["stripe_eu"]["job_inputs"]["stripe_account_id"] == "acct_live_eu"
    frequencies = {s["sync_frequency"] for s in production["stripe"]["schemas"] if s["name"] == "Customer"}
    assert frequencies == {"1hour"}

    for name in ("staging", "production"):
        code, out, _ = cli(capsys, "plan", "--env", name, "--detailed-exitcode")
        assert code == 0 and "No changes" in out, out
        assert cli(capsys, "drift", "--env", name)[0] == 0


def test_a_saved_plan_is_refused_under_the_other_environment(
    emu: Any, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = repo / "plan.json"
    assert cli(capsys, "plan", "--env", "staging", "-o", str(plan))[0] == 0
    assert json.loads(plan.read_text())["target"]["environment"] == "staging"
    code, out, err = cli(capsys, "apply", "--env", "production", "--auto-approve", str(plan))
    assert (code, out) == (1, "")
    assert err == (
        "Error: the saved plan was made for environment 'staging'; this apply is for environment 'production'\n"
        "  hint: apply it with --env staging\n"
    )
    assert live(emu, 1) == {} and live(emu, 2) == {}  # nothing written anywhere
    code, _, err = cli(capsys, "apply", "--env", "staging", "--auto-approve", str(plan))
    assert code == 0, err
    assert sorted(live(emu, 1)) == ["stripe"] and live(emu, 2) == {}


def test_markdown_names_the_environment(emu: Any, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "plan", "--env", "production", "--format", "markdown")
    assert code == 0
    assert out.startswith(
        "### reconciler plan (production)\n\n"
        f"Environment <code>production</code>: project <code>2</code> on <code>{emu.base_url}</code>\n"
    )


def test_validate_without_env_checks_every_environment(
    emu: Any, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "validate") == (0, "2 sources in 1 file: valid\n", "")
    manifest = repo / "manifests" / "sources.yaml"
    manifest.write_text(MANIFEST.replace("{{ var('frequency') }}", "{{ var('frequncy') }}"))
    code, out, err = cli(capsys, "validate")
    assert (code, out) == (1, "")
    assert err.splitlines()[0::2] == [
        "../manifests/sources.yaml:13:66: stripe.tables.Customer.frequency: variable 'frequncy' is not defined for "
        "environment 'production'; did you mean 'frequency'?",
        "../manifests/sources.yaml:13:66: stripe.tables.Customer.frequency: variable 'frequncy' is not defined for "
        "environment 'staging'; did you mean 'frequency'?",
        "2 errors",
    ]


# ---- errors: one message with file:line and a hint, exit 1, nothing written ------------------------------


def _error(capsys: pytest.CaptureFixture[str], emu: Any, *argv: str) -> str:
    code, out, err = cli(capsys, *argv)
    assert (code, out) == (1, ""), err
    assert live(emu, 1) == {} and live(emu, 2) == {}
    return err


def test_unknown_environment(emu: Any, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, emu, "plan", "--env", "prodution")
    assert err == (
        "Error: ../reconciler.yaml:3:1: unknown environment 'prodution'; did you mean 'production'?\n"
        "  hint: declared: production, staging\n"
    )


def test_a_variable_the_environment_does_not_define(emu: Any, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = repo / "manifests" / "sources.yaml"
    manifest.write_text(
        MANIFEST.replace(
            "stripe_account_id: \"{{ var('stripe_account') }}\"", "stripe_account_id: \"{{ var('eu_account') }}\""
        )
    )
    err = _error(capsys, emu, "apply", "--env", "staging", "--auto-approve")
    assert err == (
        "Error: ../manifests/sources.yaml:11:26: stripe.config.stripe_account_id: variable 'eu_account' is not "
        "defined for environment 'staging'; did you mean 'stripe_account'?\n"
        "  hint: add it under environments.staging.variables (../reconciler.yaml:7:5), or give a default: "
        "var('eu_account', 'value')\n"
    )
    # Production defines it, and a source that exists only in production may use production's variables.
    assert cli(capsys, "validate", "--env", "production")[0] == 0


def test_a_source_restricted_to_an_environment_that_does_not_exist(
    emu: Any, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "manifests" / "sources.yaml").write_text(MANIFEST.replace("[production]", "[staging, prodution]"))
    err = _error(capsys, emu, "plan", "--env", "staging")
    assert err.startswith(
        "Error: ../manifests/sources.yaml:17:29: stripe_eu.environments.1: environment 'prodution' is not declared "
        "in ../reconciler.yaml; did you mean 'production'?\n  hint: declared: production, staging\n"
    )


def test_env_without_a_repository_config(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = tmp_path / "alone"
    (alone / ".git").mkdir(parents=True)  # the walk stops at a repository root
    (alone / "manifests").mkdir()
    (alone / "manifests" / "sources.yaml").write_text(MANIFEST.replace("    environments: [production]\n", ""))
    (tmp_path / "reconciler.yaml").write_text(CONFIG.format(host=emu.base_url))  # above the root: not used
    monkeypatch.chdir(alone)
    err = _error(capsys, emu, "plan", "--env", "staging")
    assert err == (
        f"Error: --env staging: there is no reconciler.yaml in {alone} or any directory above it (up to the "
        "repository root)\n"
        "  hint: declare environments in reconciler.yaml at the repository root (docs/environments.md), or drop "
        "--env / RECONCILER_ENV\n"
    )


def test_a_source_restricted_without_a_repository_config(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sources.yaml"
    text = MANIFEST.replace("{{ var('stripe_account') }}", "acct_1").replace("{{ var('eu_account') }}", "a")
    path.write_text(text.replace("\"{{ var('frequency') }}\"", "24hour"))
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "validate", "sources.yaml")
    assert code == 1
    assert err.startswith(
        "sources.yaml:17:20: stripe_eu.environments.0: the source is restricted to environment 'production', but "
        "there is no reconciler.yaml declaring environments\n"
        "  hint: declare them in reconciler.yaml at the repository root (docs/environments.md)\n"
    )


def test_an_environment_must_be_chosen(emu: Any, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, emu, "plan")
    assert err == (
        "Error: ../reconciler.yaml:3:1: reconciler.yaml declares environments (production, staging): choose one\n"
        "  hint: pass --env NAME or set RECONCILER_ENV; a plan is always for exactly one environment\n"
    )


def test_a_flag_may_not_contradict_the_environment(
    emu: Any, repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    err = _error(capsys, emu, "apply", "--env", "production", "--project", "1", "--auto-approve")
    assert err == (
        "Error: --project says project '1', but environment 'production' pins project '2' "
        "(../reconciler.yaml:12:14)\n"
        "  hint: drop --project (the environment sets the project), or choose another environment with --env\n"
    )
    monkeypatch.setenv("POSTHOG_PROJECT_ID", "2")  # repeating the pinned value is fine
    assert cli(capsys, "plan", "--env", "production")[0] == 0


def test_the_repository_config_is_checked_like_a_manifest(
    emu: Any, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = repo / "reconciler.yaml"
    qa = "  qa:\n    project: 3\n    variables: {nested: {no: 1}}\n"
    config.write_text(CONFIG.format(host=emu.base_url).replace("variables:", "varibles:", 1) + qa)
    err = _error(capsys, emu, "validate", "--env", "staging")
    assert (
        "../reconciler.yaml:7:5: environments.staging.varibles: unknown key 'varibles'; did you mean "
        "'variables'?" in err
    )
    assert (
        "../reconciler.yaml:19:25: environments.qa.variables.nested: variable 'nested' must be a string, "
        "number or boolean, got a mapping" in err
    )


def test_a_manifest_project_or_a_host_variable_may_not_contradict_the_environment(
    emu: Any, repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = repo / "manifests" / "sources.yaml"
    manifest.write_text(MANIFEST.replace("version: 1\n", 'version: 1\nproject: "1"\n', 1))
    err = _error(capsys, emu, "plan", "--env", "production")
    assert err.startswith(
        "Error: the manifests' project: (../manifests/sources.yaml:2) says project '1', but environment 'production' "
        "pins project '2' (../reconciler.yaml:12:14)\n"
    )
    assert cli(capsys, "plan", "--env", "staging")[0] == 0  # the same pin is no contradiction
    manifest.write_text(MANIFEST)
    monkeypatch.setenv("POSTHOG_HOST", "https://eu.posthog.com")
    err = _error(capsys, emu, "plan", "--env", "staging")
    assert err.startswith(
        f"Error: POSTHOG_HOST says host 'https://eu.posthog.com', but environment 'staging' pins host '{emu.base_url}' "
        "(../reconciler.yaml:5:11)\n"
    )


def test_a_reviewed_plan_of_another_environment_is_refused(
    emu: Any, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "reviewed").mkdir()
    assert cli(capsys, "plan", "--env", "staging", "-o", str(repo / "reviewed" / "staging.json"))[0] == 0
    err = _error(capsys, emu, "apply", "--env", "production", "--reviewed", "../reviewed", "--auto-approve")
    assert err == (
        "Error: reviewed plan ../reviewed/staging.json was made for environment 'staging'; this apply is for "
        "environment 'production'\n  hint: apply it with --env staging\n"
    )


def test_the_pinned_catalog_of_reconciler_yaml_is_used(
    emu: Any, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "catalog", "pull", "--env", "staging", "-o", "../catalog.json")
    assert code == 0, err
    wizard = json.loads((repo / "catalog.json").read_text())
    assert "Stripe" in wizard
    del wizard["Stripe"]
    (repo / "catalog.json").write_text(json.dumps(wizard))
    config = repo / "reconciler.yaml"
    config.write_text(
        config.read_text().replace("manifests: manifests\n", "manifests: manifests\ncatalog: catalog.json\n")
    )
    code, _, err = cli(capsys, "validate", "--env", "staging")
    assert code == 1 and "source type 'Stripe' is not in the catalog in use" in err, err
    assert cli(capsys, "validate", "--env", "staging", "--catalog", "bundled")[0] == 0  # the flag still wins
