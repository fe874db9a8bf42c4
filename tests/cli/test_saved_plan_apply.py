"""`apply plan.json` applies what was reviewed and nothing else (issue 13 item 3): every plan-shaping flag is
refused before any request; `--manifests` checks the manifest digest, `--max-age` the plan's age,
`--allow-env`/`--allow-secret` are compared with the plan's own lists; a stale-plan refusal names the source that
moved and says when the plan looks already applied; edits to sources the plan does not touch do not make it
stale. The CLI in-process, the emulator over real HTTP (its traffic counter proves what was sent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import run_cli

STRIPE = """\
version: 1
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod
    description: Production Stripe
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh}
"""
ZENDESK = """\
version: 1
sources:
  zendesk:
    type: Zendesk
    prefix: zd
    config:
      subdomain: acme
      email_address: ops@example.com
      api_key: "{{ secret('ZENDESK_API_KEY') }}"
    tables:
      tickets: {sync: true, sync_type: full_refresh}
"""
EPOCH = 1_800_000_000


@pytest.fixture
def emu(cli_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_saved_plan")
    monkeypatch.setenv("ZENDESK_API_KEY", "zd_saved_plan")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    return cli_emulator()


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    root = tmp_path / "manifests"
    root.mkdir()
    (root / "stripe.yaml").write_text(STRIPE)
    (root / "zendesk.yaml").write_text(ZENDESK)
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "sk_test_saved_plan" not in out + err
    return code, out, err


def reset(emu: Any) -> None:
    with emu.control() as control:
        control.post("/stats/reset").raise_for_status()


def requests(emu: Any) -> int:
    with emu.control() as control:
        return int(control.get("/stats").json()["total"])


def live(emu: Any) -> list[dict[str, Any]]:
    with emu.client() as api:
        return list(api.get("/external_data_sources/").json()["results"])


def saved_plan(capsys: pytest.CaptureFixture[str], manifests: Path, *extra: str) -> Path:
    out = manifests.parent / "plan.json"
    code, _, err = run(capsys, "plan", "-o", str(out), *extra, str(manifests))
    assert code == 0, err
    return out


@pytest.mark.parametrize(
    "flags",
    [
        ["--target", "stripe_prod"],
        ["--prune"],
        ["--sync"],
        ["--catalog", "bundled"],
        ["--allow-literal-secrets"],
        ["--reviewed", "plan.json"],
        ["--target", "stripe_prod", "--prune"],
    ],
)
def test_plan_shaping_flags_are_refused_with_a_saved_plan(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    plan = saved_plan(capsys, manifests)
    reset(emu)
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan), *flags)
    assert code == 1
    named = ", ".join(f for f in flags if f.startswith("--"))
    assert f"Error: refusing {named} with the saved plan {plan}: a saved plan is applied exactly as it was" in err
    assert "hint: nothing was sent" in err
    assert requests(emu) == 0 and live(emu) == []


def test_target_with_a_saved_plan_no_longer_applies_the_other_source(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: `--target stripe_prod` with a plan of two sources applied zendesk too."""
    plan = saved_plan(capsys, manifests)
    assert run(capsys, "apply", "--auto-approve", "--target", "stripe_prod", str(plan))[0] == 1
    assert live(emu) == []
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan))
    assert code == 0, err
    assert sorted(s["source_type"] for s in live(emu)) == ["Stripe", "Zendesk"]


@pytest.mark.parametrize("flags", [["--manifests", "m"], ["--max-age", "1h"]])
def test_saved_plan_checks_without_a_saved_plan_are_refused(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    code, _, err = run(capsys, "apply", "--auto-approve", str(manifests), *flags)
    assert code == 1 and f"{flags[0]} only check a saved plan" in err
    assert requests(emu) == 0


def test_manifests_must_be_the_planned_ones(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(manifests.parent)
    plan = saved_plan(capsys, Path("manifests"))
    (manifests / "stripe.yaml").write_text(STRIPE.replace("Production Stripe", "Stripe, edited after review"))
    reset(emu)
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan), "--manifests", "manifests")
    assert code == 1
    assert "the manifests in manifests are not the ones" in err and "plan.json was made from" in err
    assert requests(emu) == 0
    (manifests / "stripe.yaml").write_text(STRIPE)
    # The same files given another way (an absolute path) are the same manifests.
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan), "--manifests", str(manifests))
    assert code == 0, err
    assert len(live(emu)) == 2


def test_max_age_refuses_an_old_plan(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = saved_plan(capsys, manifests)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH + 2 * 3600 + 60))
    reset(emu)
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan), "--max-age", "2h")
    assert code == 1 and "the saved plan is 2h1m old" in err and "older than --max-age 2h" in err
    assert requests(emu) == 0
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan), "--max-age", "bogus")
    assert code == 1 and "is not a duration" in err
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan), "--max-age", "1h30m", "--max-age", "1d")
    assert code == 0, err
    document = json.loads(plan.read_text())
    document["saved_at"] = None
    plan.write_text(json.dumps(document))
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan), "--max-age", "1d")
    assert code == 1 and "does not say when it was saved" in err


def test_allow_lists_at_apply_are_compared_with_the_plans_not_merged(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = saved_plan(capsys, manifests, "--allow-secret", "STRIPE_*", "--allow-secret", "ZENDESK_*")
    assert json.loads(plan.read_text())["allow_secret"] == ["STRIPE_*", "ZENDESK_*"]
    reset(emu)
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan), "--allow-secret", "*")
    assert code == 1
    assert "--allow-secret * differs from the list" in err and "(STRIPE_*, ZENDESK_*)" in err
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan), "--allow-env", "APP_*")
    assert code == 1 and "no --allow-env (not restricted)" in err
    assert requests(emu) == 0
    code, _, err = run(
        capsys, "apply", "--auto-approve", str(plan), "--allow-secret", "ZENDESK_*", "--allow-secret", "STRIPE_*"
    )
    assert code == 0, err


def test_stale_refusal_names_the_source_and_says_when_the_plan_looks_applied(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = saved_plan(capsys, manifests)
    assert run(capsys, "apply", "--auto-approve", str(manifests))[0] == 0
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan))
    assert code == 1
    assert "stripe_prod: created in PostHog since the plan was made (it already holds what the plan would write)" in err
    assert "The plan looks already applied: PostHog holds every value it would write" in err
    assert "run `reconciler plan` to confirm nothing is left to do" in err

    # An update planned, then a UI edit to the same source: stale, and not "applied".
    (manifests / "stripe.yaml").write_text(STRIPE.replace("Production Stripe", "Stripe, production"))
    plan = saved_plan(capsys, manifests)
    [stripe] = [s for s in live(emu) if s["source_type"] == "Stripe"]
    with emu.client() as api:
        api.patch(f"/external_data_sources/{stripe['id']}/", json={"description": "edited in the UI"})
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan))
    assert code == 1
    assert "the saved plan is stale (1 source moved): stripe_prod: changed in PostHog since the plan was made" in err
    assert "already" not in err and "plan again and review the new plan" in err


def test_an_edit_to_a_source_the_plan_does_not_touch_leaves_it_fresh(
    emu: Any, manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "apply", "--auto-approve", str(manifests))[0] == 0
    (manifests / "stripe.yaml").write_text(STRIPE.replace("Production Stripe", "Stripe, production"))
    plan = saved_plan(capsys, manifests)
    assert [c["address"] for c in json.loads(plan.read_text())["changes"] if c["action"] != "no-op"] == ["stripe_prod"]
    [zendesk] = [s for s in live(emu) if s["source_type"] == "Zendesk"]
    with emu.client() as api:
        api.patch(f"/external_data_sources/{zendesk['id']}/", json={"job_inputs": {"email_address": "x@example.com"}})
    code, _, err = run(capsys, "apply", "--auto-approve", str(plan))
    assert code == 0, err
