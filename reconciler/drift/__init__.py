"""`reconciler drift`: manifests against what PostHog has, and source health, for people on a schedule.

`model.py` (categories, findings, the report) ← `compare.py` (changed, tables: plan/diff.py's comparisons)
and `health.py` (statuses, stale syncs) ← `report.py` (`build_drift`: identity.py's matching, missing,
unmanaged) → `render.py` (text, markdown, JSON). Read-only by construction: nothing here writes.
"""
