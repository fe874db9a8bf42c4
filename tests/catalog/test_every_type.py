"""Every catalogued source type, end to end: the example manifest docs/sources.md shows validates offline; a
misspelled field is caught with a did-you-mean; apply against the emulator creates the source; a second plan
is empty; `import` of it writes a manifest that validates and plans clean.

In process (the emulator's ASGI app through its transport) for speed; a few types also go through the CLI
over real HTTP at the end.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.emulators import TEST_KEYS, in_process, posthog_client

from reconciler.apply.executor import Executor
from reconciler.catalog import SourceType, load_catalog
from reconciler.cli import run_cli
from reconciler.docgen import example_manifest
from reconciler.emulator.testing import Emulator, simulated_registry
from reconciler.emulator.upstreams import SimulatedUpstream
from reconciler.importer import import_sources, render_import
from reconciler.manifest import LoadOptions, check_manifests
from reconciler.plan.model import Plan
from reconciler.plan.planner import PlanOptions, build_plan
from reconciler.posthog.client import PostHogClient

CATALOG = load_catalog()
TYPES = sorted(CATALOG)
_SECRET = re.compile(r"secret\('([A-Z0-9_]+)'\)")
_teams = itertools.count(1)
#: What the test emulator runs: every type simulated, Postgres/MySQL too (tables customers, events, orders).
UPSTREAMS = simulated_registry()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with in_process(keys=TEST_KEYS, upstreams=UPSTREAMS) as emulator:
        emulator.default_key = "phx_test"
        yield emulator


def secret_values(text: str) -> dict[str, str]:
    """A value for every secret() a manifest names; Stripe-shaped so Stripe's key rule accepts it too."""
    return {name: f"sk_test_{name.lower()}" for name in _SECRET.findall(text)}


def write(path: Path, manifest: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
    return path


def plan_for(client: PostHogClient, path: Path, environ: dict[str, str], project: int) -> Plan:
    report = check_manifests([path], load_options=LoadOptions(environ=environ))
    assert report.errors == [], [str(e) for e in report.errors]
    assert report.state is not None
    return build_plan(report.state, client.fetch_live_state(), CATALOG, PlanOptions(host="h", project=str(project)))


def variables(imported: Any) -> list[Any]:
    return [v for source in imported for v in source.variables if v.required]


def original_secret(source: dict[str, Any], dotted: str, environ: dict[str, str]) -> str:
    """The value the applied manifest gave the secret at `dotted` (config.auth_method.stripe_secret_key)."""
    value: Any = source
    for part in dotted.split("."):
        value = value[part]
    [name] = _SECRET.findall(value)
    return environ[name]


def misspelled(source: dict[str, Any], st: SourceType) -> tuple[str, str, dict[str, Any]]:
    """A field, a plausible typo of it (its last letter doubled), and the source with the field's key so
    misspelled. The type's first config field (added with a text value when the example leaves it out); for
    the types PostHog lists with no form fields yet (unreleased), the source's own `prefix` key."""
    if not st.fields:
        return "prefix", "prefixx", {("prefixx" if k == "prefix" else k): v for k, v in source.items()}
    right = st.fields[0].name
    wrong = right + right[-1]
    config = source["config"]
    typo = {(wrong if k == right else k): v for k, v in config.items()} if right in config else {**config, wrong: "x"}
    return right, wrong, {**source, "config": typo}


def with_a_discovered_table(source: dict[str, Any], st: SourceType) -> dict[str, Any]:
    """Types whose tables PostHog discovers have none in the example: pick the first the emulator offers,
    as a user picks one PostHog lists."""
    if "tables" in source:
        return source
    upstream = UPSTREAMS.get(st.name)
    assert isinstance(upstream, SimulatedUpstream), st.name
    return {**source, "tables": {upstream.tables[0].name: {"sync": True, "sync_type": "full_refresh"}}}


def test_every_enum_type_is_catalogued() -> None:
    enum = (Path(__file__).resolve().parents[2] / "reconciler" / "catalog" / "all_source_types.txt").read_text()
    assert {line.strip() for line in enum.splitlines() if line.strip() and not line.startswith("#")} == set(TYPES)
    assert len(TYPES) == 148


@pytest.mark.parametrize("source_type", TYPES)
def test_example_validates_applies_plans_clean_and_imports(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source_type: str
) -> None:
    st = CATALOG[source_type]
    manifest = example_manifest(st)
    address = st.name.lower()
    path = write(tmp_path / "example.yaml", manifest)
    environ = secret_values(json.dumps(manifest))

    # 1. The example validates offline.
    report = check_manifests([path], load_options=LoadOptions(environ=environ))
    assert report.errors == [], [str(e) for e in report.errors]

    # 2. A misspelled field is caught, with a did-you-mean naming the right one.
    right, wrong, typo = misspelled(manifest["sources"][address], st)
    bad_path = write(tmp_path / "typo.yaml", {**manifest, "sources": {address: typo}})
    messages = [str(e) for e in check_manifests([bad_path], load_options=LoadOptions(environ=environ)).errors]
    assert any(f"did you mean '{right}'?" in m and wrong in m for m in messages), messages

    # 3. Apply creates it; 4. a second plan is empty.
    for name, value in environ.items():
        monkeypatch.setenv(name, value)  # apply reads secret values when it sends them
    manifest["sources"][address] = with_a_discovered_table(manifest["sources"][address], st)
    path = write(tmp_path / "applied.yaml", manifest)
    project = next(_teams)
    with posthog_client(emu, team=project) as client:
        plan = plan_for(client, path, environ, project)
        assert not plan.errors, plan.errors
        assert [c.action.value for c in plan.changes] == ["create"]
        result = Executor(client).run(plan)
        assert result.ok, [(r.step, r.error) for r in result.results if r.error]
        [live] = client.fetch_live_state().sources
        assert (live.source_type, live.prefix) == (st.name, address)
        assert not plan_for(client, path, environ, project).has_changes

        # 5. import writes a manifest that validates and plans clean (with the same secrets set).
        imported = import_sources(client.fetch_live_state().sources, CATALOG)
        text = render_import(imported, host="h", project=str(project))
        assert st.name in text
        back = tmp_path / "imported.yaml"
        back.write_text(text)
        values = {v.name: original_secret(manifest["sources"][address], v.path, environ) for v in variables(imported)}
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        again = plan_for(client, back, values, project)
        assert not again.has_changes, [(c.address, c.field_diffs, c.reasons) for c in again.changes if c.steps]


@pytest.mark.parametrize("source_type", ["GoogleAds", "Github", "Okta", "ClickHouse", "Shopify"])
def test_cli_over_http_validate_apply_plan_import(
    cli_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    source_type: str,
) -> None:  # fmt: skip
    """The same round trip through the CLI and a served emulator, for a few types of different shapes
    (integration + PostHog pattern, OAuth option, a per-type connection target, database-like, discovered)."""
    cli_emulator()
    monkeypatch.chdir(tmp_path)
    st = CATALOG[source_type]
    manifest = example_manifest(st)
    address = st.name.lower()
    manifest["sources"][address] = with_a_discovered_table(manifest["sources"][address], st)
    environ = secret_values(json.dumps(manifest))
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    write(tmp_path / "sources.yaml", manifest)

    def cli(*argv: str) -> tuple[int, str]:
        code = run_cli(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in err and all(v not in out + err for v in environ.values())
        return code, out + err

    assert cli("validate", "sources.yaml") == (0, "1 source in 1 file: valid\n")
    code, out = cli("apply", "--auto-approve", "sources.yaml")
    assert code == 0 and "Apply complete" in out, out
    code, out = cli("plan", "--detailed-exitcode", "sources.yaml")
    assert code == 0 and "No changes" in out, out
    code, out = cli("import", "--all", "-o", "imported/")
    assert code == 0, out
    [imported] = sorted((tmp_path / "imported").iterdir())
    assert cli("validate", str(imported))[0] == 0
    code, out = cli("plan", "--detailed-exitcode", str(imported))
    assert code == 0 and "No changes" in out, out
