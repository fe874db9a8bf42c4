"""Smoke tests for the benchmark scripts in bench/: each runs at a tiny size, unthrottled or with a generous
limit, over real HTTP against a `reconciler serve` child process, so the scripts cannot rot. Counts and
outcomes are asserted exactly; timings never are."""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    """The bench modules, imported the way the scripts import each other (bench/ on sys.path)."""
    sys.path.insert(0, str(BENCH))
    try:
        import bench_apply
        import bench_install
        import bench_plan
        import bench_plan_variants
        import bench_refresher
        import bench_startup
        import benchlib

        yield {
            "apply": bench_apply,
            "install": bench_install,
            "plan": bench_plan,
            "refresher": bench_refresher,
            "startup": bench_startup,
            "variants": bench_plan_variants,
            "lib": benchlib,
        }
    finally:
        sys.path.remove(str(BENCH))


def test_plan_makes_one_list_request_and_sees_only_the_edited_source(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    result = bench["plan"].run(12, 4, 1, "1000/minute", tmp_path)
    assert (result.requests, result.list_requests, result.throttled) == (1, 1, 0)
    # Seeded from the manifests, then every 10th source's first table edited: sources 0 and 10.
    assert (
        result.summary == "Plan: 0 to create, 2 to update (impact: next-sync), 0 to replace, 0 to delete, 10 unchanged."
    )
    assert result.issue_bound == 1
    text = bench["plan"].render_results([result], "1000/minute")
    assert "| 12 × 4 " in text and "rate limit 1000/minute" in text


def test_plan_breakdown_names_every_phase(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    bench["plan"].run(3, 2, 1, None, tmp_path)  # writes the manifests and the seeded store the breakdown reads
    names = [name for name, _, _ in bench["plan"].breakdown_in_child(3, 2, tmp_path)]
    assert names[-4:] == [
        "load + validate manifests (load_state)",
        "list over HTTP + LiveSource models (fetch_live_state)",
        "build_plan",
        "render text",
    ]


def test_apply_uses_the_minimum_requests_and_converges(bench: dict[str, ModuleType]) -> None:
    result = bench["apply"].run(3, 2, 2, 1, "1000/minute")
    assert result.requests == result.minimum == 1 + 3 + 1 + 3
    assert result.by_kind == {"list": 2, "create": 3, "bulk": 3, "other": 0}
    assert (result.throttled, result.converged) == (0, True)
    assert "| 3 × 2 " in bench["apply"].render([result], "1000/minute", 1)


def test_apply_main_unthrottled_exits_zero(bench: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]) -> None:
    assert bench["apply"].main(["--sources", "2", "--tables", "1", "--parallelism", "1", "--rate-limit", "off"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("apply at rate limit 'off', 1 run(s) each\n")
    assert "| 2 × 1 " in out and "| 2/2/2/0 " in out


def test_apply_arithmetic(bench: dict[str, ModuleType]) -> None:
    apply = bench["apply"]
    assert apply.minimum_requests(100) == 202
    assert apply.minimum_requests(1001) == 1 + 1001 + 2 + 1001
    assert apply.pacing_floor(480, "480/minute,4800/hour") == 0
    assert apply.pacing_floor(481, "480/minute,4800/hour") == 61
    assert apply.pacing_floor(4801, "480/minute,4800/hour") == 3601
    assert apply.pacing_floor(10, "off") == 0


def test_refresher_counts_one_get_per_source(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    result = bench["refresher"].run(5, 2, "1000/minute", 2, tmp_path)
    assert (result.list_requests, result.get_requests, result.throttled) == (1, 5, 0)
    assert result.ratio == 5 and result.same_state
    assert "| 5 × 2 " in bench["refresher"].render([result], "1000/minute", 2)


def test_startup_help_imports_no_heavy_package(bench: dict[str, ModuleType]) -> None:
    results = {r.name: r for r in bench["startup"].run(1)}
    assert list(results) == [
        "python -c pass (baseline)",
        "reconciler --help",
        "reconciler --version",
        "reconciler validate (2 sources)",
        "reconciler plan (10 sources × 5 tables, remote emulator)",
        "reconciler drift (10 sources × 5 tables, remote emulator)",
    ]
    assert results["reconciler --help"].heavy == ()
    assert results["reconciler --version"].heavy == ()
    assert set(results["reconciler validate (2 sources)"].heavy or ()) <= {"yaml", "jinja2"}
    for command in ("plan", "drift"):
        remote = results[f"reconciler {command} (10 sources × 5 tables, remote emulator)"]
        assert set(remote.heavy or ()) == {"httpx", "yaml"}
    assert all(r.max_rss_mb > 1 for r in results.values())


def test_install_bench_builds_the_wheel_with_and_without_the_emulator_packages(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    install = bench["install"]
    requires = {}
    for name, drop in (("full", frozenset()), ("light", install.EMULATOR_ONLY)):
        (tmp_path / name).mkdir()
        wheel = install.build_wheel(install.ROOT, tmp_path / name, drop=drop)
        with zipfile.ZipFile(wheel) as archive:
            meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            lines = archive.read(meta).decode().splitlines()
        requires[name] = {
            re.split(r"[\[<>=]", line.split(": ", 1)[1])[0]
            for line in lines
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        }
    # The emulator's packages are the `emulator` extra: dropping them from the core changes nothing.
    assert requires["light"] == requires["full"]
    assert "pydantic" not in requires["light"] and "httpx" in requires["light"]
    assert not requires["full"] & install.EMULATOR_ONLY


def test_format_table(bench: dict[str, ModuleType]) -> None:
    assert bench["lib"].format_table(["a", "bb"], [[1, "x"], ["long", 2]]) == (
        "| a    | bb |\n|------|----|\n| 1    | x  |\n| long | 2  |"
    )


def test_plan_variants_all_produce_the_same_plan(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    rows = bench["variants"].run(3, 2, 1, tmp_path)
    assert [name for name, *_ in rows] == list(bench["variants"].VARIANTS)
    assert {summary for *_, summary in rows} == {
        "Plan: 0 to create, 1 to update (impact: next-sync), 0 to replace, 0 to delete, 2 unchanged."
    }
