"""The SQLite store on its own, without HTTP: atomicity, ordering, soft delete, stringified job_inputs,
refresh reconciliation, jobs, persistence and thread safety."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.store import NewSchema, PrefixConflict, Store, stringify_leaves


def _create(store: Store, team: int = 1, prefix: str | None = None, source_type: str = "Stripe", **kw: Any) -> str:
    args: dict[str, Any] = dict(
        team_id=team, source_type=source_type, prefix=prefix, description=None, access_method="warehouse",
        created_via="api", created_by="a@b", job_inputs={"port": 5432, "flag": True, "none": None},
        revenue_enabled=True, schemas=[NewSchema("b"), NewSchema("a")],
    )  # fmt: skip
    args.update(kw)
    return store.create_source(**args).id


def test_stringify_leaves() -> None:
    value = {"a": 1, "b": {"c": True, "d": None, "e": [1, False]}, "f": 1.5}
    assert stringify_leaves(value) == {"a": "1", "b": {"c": "True", "d": None, "e": ["1", "False"]}, "f": "1.5"}


def test_create_stores_stringified_job_inputs_and_name_ordered_schemas() -> None:
    store = Store()
    sid = _create(store)
    row = store.get_source(1, sid)
    assert row is not None
    assert row.job_inputs == {"port": "5432", "flag": "True", "none": None}
    assert [s.name for s in store.schemas_of([sid])[sid]] == ["a", "b"]
    assert store.get_source(2, sid) is None  # other team


def test_prefix_conflicts_and_soft_delete_frees_the_prefix() -> None:
    store = Store()
    sid = _create(store)
    assert store.prefix_conflict(1, "Stripe", None) == "required"
    assert store.prefix_conflict(1, "Stripe", "") == "required"
    assert store.prefix_conflict(1, "Stripe", "x") is None
    assert store.prefix_conflict(1, "Hubspot", None) is None
    with pytest.raises(PrefixConflict) as err:
        _create(store)
    assert err.value.kind == "required"
    _create(store, prefix="x")
    with pytest.raises(PrefixConflict):
        _create(store, prefix="x")
    store.soft_delete_source(sid)
    assert store.get_source(1, sid) is None
    assert store.prefix_conflict(1, "Stripe", None) is None
    assert store.schemas_of([sid]) == {sid: []}


def test_failed_create_leaves_no_row() -> None:
    store = Store()
    bad = NewSchema("x", available_columns=[{"not": object()}])  # not JSON-serialisable → fails mid-transaction
    with pytest.raises(TypeError):
        _create(store, schemas=[NewSchema("ok"), bad])
    assert store.list_sources(1, limit=10, offset=0) == (0, [])


def test_list_newest_first_and_paged() -> None:
    store = Store()
    ids = [_create(store, prefix=f"p{i}") for i in range(4)]
    count, page = store.list_sources(1, limit=2, offset=1)
    assert count == 4
    assert [r.id for r in page] == [ids[2], ids[1]]


def test_update_source_sets_only_given_columns() -> None:
    store = Store()
    sid = _create(store, description="keep")
    store.update_source(sid, job_inputs={"port": 1})
    row = store.get_source(1, sid)
    assert row is not None and row.description == "keep" and row.job_inputs == {"port": "1"}
    store.update_source(sid, description=None, revenue_enabled=False)
    row = store.get_source(1, sid)
    assert row is not None and row.description is None and row.revenue_enabled is False


def test_reconcile_schemas() -> None:
    store = Store()
    sid = _create(store, schemas=[NewSchema("a", should_sync=True, sync_type="full_refresh"), NewSchema("b")])
    a = store.schemas_of([sid])[sid][0]
    assert store.reconcile_schemas(sid, 1, [NewSchema("a"), NewSchema("b"), NewSchema("c")]) == (1, 0)
    assert store.reconcile_schemas(sid, 1, [NewSchema("a"), NewSchema("b"), NewSchema("c")]) == (0, 0)
    job = store.start_jobs(sid)[0]
    store.finish_job(job.id, status="Completed", rows_synced=1)
    assert store.reconcile_schemas(sid, 1, [NewSchema("c")]) == (0, 1)  # b deleted, a kept (synced)
    kept = {s.name: s for s in store.schemas_of([sid])[sid]}
    assert set(kept) == {"a", "c"} and kept["a"].should_sync is False and kept["a"].status == "Completed"
    assert store.reconcile_schemas(sid, 1, [NewSchema("a"), NewSchema("b"), NewSchema("c")]) == (1, 0)
    restored = {s.name: s for s in store.schemas_of([sid])[sid]}
    assert restored["a"].id == a.id and restored["a"].sync_type == "full_refresh"


def test_jobs_lifecycle() -> None:
    store = Store()
    sid = _create(store, schemas=[NewSchema("a", should_sync=True), NewSchema("b")])
    jobs = store.start_jobs(sid)
    assert [j.status for j in jobs] == ["Running"]
    assert store.last_completed_job_at([sid]) == {}
    store.finish_job(jobs[0].id, status="Completed", rows_synced=7)
    assert store.last_completed_job_at([sid]) == {sid: jobs[0].created_at}
    assert store.list_jobs(sid)[0].rows_synced == 7
    assert store.list_jobs(sid, schema_names=["b"]) == []


def test_persists_in_a_file(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    store = Store(db)
    sid = _create(store)
    store.close()
    reopened = Store(db)
    row = reopened.get_source(1, sid)
    assert row is not None and row.job_inputs["port"] == "5432"
    assert [s.name for s in reopened.schemas_of([sid])[sid]] == ["a", "b"]
    reopened.close()


def test_threadsafe_concurrent_creates_keep_prefixes_unique() -> None:
    store = Store()
    errors: list[str] = []

    def worker() -> None:
        for i in range(20):
            try:
                _create(store, prefix=f"p{i}")
            except PrefixConflict as exc:
                errors.append(exc.kind)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    count, rows = store.list_sources(1, limit=1000, offset=0)
    assert count == 20 and len({r.prefix for r in rows}) == 20
    assert errors == ["exists"] * 60
