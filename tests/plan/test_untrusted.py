"""`plan/untrusted.py` never refuses a plan reconciler wrote: for every catalogued type, the create plan of its
documented example manifest, saved and read back with no environment, passes the untrusted-plan check and reports
exactly the variables the manifest reads with secret() (the refusals themselves: tests/cli/test_untrusted_plan.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from reconciler.catalog import load_catalog
from reconciler.docgen import example_manifest
from reconciler.manifest import LoadOptions, check_manifests
from reconciler.plan.planner import PlanOptions, build_plan
from reconciler.plan.saved import load_plan, save_plan
from reconciler.plan.untrusted import check_untrusted_plan
from reconciler.posthog.models import LiveState

CATALOG = load_catalog()
_SECRET = re.compile(r"secret\('([A-Z0-9_]+)'\)")


@pytest.mark.parametrize("source_type", sorted(CATALOG))
def test_a_plan_reconciler_wrote_passes_for_every_type(tmp_path: Path, source_type: str) -> None:
    manifest = example_manifest(CATALOG[source_type])
    path = tmp_path / "example.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
    names = set(_SECRET.findall(json.dumps(manifest)))
    report = check_manifests([path], load_options=LoadOptions(environ={n: "sk_test_x" for n in names}))
    assert report.state is not None, [str(e) for e in report.errors]
    plan = build_plan(report.state, LiveState(), CATALOG, PlanOptions(host="h", project="1"))
    saved = load_plan(save_plan(plan, tool_version="t", manifest_digest="d"), {})
    references = check_untrusted_plan(saved.plan, CATALOG)
    assert {ref.name for ref in references} == names
    assert all(ref.where.startswith("plan file.changes[0].steps[0].payload.") for ref in references)
