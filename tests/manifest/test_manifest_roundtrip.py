"""Every valid example round-trips: load → dump_manifest → load gives the same DesiredState."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifest import DesiredState, LoadOptions, dump_manifest, load_desired_state
from reconciler.manifest.models import DesiredSource

ROOT = Path(__file__).resolve().parents[2]
VALID_FILES = [ROOT / "examples" / "sources.yaml", *sorted((Path(__file__).parent / "valid").glob("*.yaml"))]
ENV = {"STRIPE_SECRET_KEY": "sk_test_1", "BQ_PRIVATE_KEY": "-----BEGIN-----", "RECONCILER_TEST_TEAM": "data"}


def _semantic(source: DesiredSource) -> dict[str, object]:
    return {
        **{name: getattr(source, name) for name in source.FIELDS if name not in ("location", "marks")},
        "tables_given": {name: t.given for name, t in source.tables.items()},
        "revenue_given": source.revenue_analytics.given if source.revenue_analytics else None,
    }


def _same(a: DesiredState, b: DesiredState) -> None:
    assert list(a.sources) == list(b.sources)
    for address in a.sources:
        assert _semantic(a.sources[address]) == _semantic(b.sources[address]), address
    assert a.project == b.project
    assert [(u.name, u.address, u.field, u.available) for u in a.secret_uses] == [
        (u.name, u.address, u.field, u.available) for u in b.secret_uses
    ]


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.name)
def test_round_trip(path: Path, tmp_path: Path) -> None:
    options = LoadOptions(environ=ENV)
    first = load_desired_state([path], load_options=options)
    text = dump_manifest(first)
    assert "sk_test_1" not in text and "BEGIN" not in text
    out = tmp_path / "dumped.yaml"
    out.write_text(text)
    second = load_desired_state([out], load_options=options)
    _same(first, second)
    assert dump_manifest(second) == text
