"""Keeps bench/bench_validate.py honest: its generated manifests must be valid (small size here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from reconciler.manifest import check_manifests

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_validate.py"


def test_bench_manifests_are_valid(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_validate", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(tmp_path, 23, 4)
    report = check_manifests([tmp_path])
    assert [str(e) for e in report.errors] == []
    assert report.state is not None and len(report.state.sources) == 23 and len(report.files) == 4
    assert {s.type for s in report.state.sources.values()} == {"Stripe", "Postgres", "Hubspot", "BigQuery", "Zendesk"}
