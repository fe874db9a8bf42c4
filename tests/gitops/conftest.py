"""Fixtures for the GitOps end-to-end tests: PostHog (`reconciler serve` on a loopback port), a real Postgres
schema as an upstream, and a fake GitHub (gitops_world) driving the shipped workflows in a throwaway repository.

The helper modules beside this file (`gitops_*`, uniquely named) are made importable here, so the tests work
under pytest's `prepend` and `importlib` import modes alike.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from gitops_gitlab import GitLab  # noqa: E402
from gitops_world import GitHubWorld, GitLabWorld, PostHog  # noqa: E402


@pytest.fixture
def upstream_db() -> Iterator[str]:
    """A fresh schema in the local Postgres (db `test`, trust auth) with four tables; yields its name."""
    schema = f"gitops_{secrets.token_hex(4)}"
    conn: psycopg.Connection[Any] = psycopg.connect(
        host="127.0.0.1", port=5432, dbname="test", user="postgres", autocommit=True
    )
    try:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(
            f"CREATE TABLE {schema}.accounts (id bigserial PRIMARY KEY, email text, "
            "updated_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(f"CREATE TABLE {schema}.events (id bigserial PRIMARY KEY, name text, created_at timestamptz)")
        conn.execute(f"CREATE TABLE {schema}.orders (id bigserial PRIMARY KEY, total numeric)")
        conn.execute(f"CREATE TABLE {schema}.audit_log (id bigserial PRIMARY KEY, note text)")  # never listed
        yield schema
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.close()


@pytest.fixture
def posthog(tmp_path: Path) -> Iterator[PostHog]:
    with PostHog.serve(tmp_path / "posthog") as server:
        yield server


@pytest.fixture
def github(tmp_path: Path, posthog: PostHog) -> GitHubWorld:
    return GitHubWorld.create(tmp_path / "github", posthog)


@pytest.fixture(autouse=True)
def _step_times(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    world = request.node.funcargs.get("github")
    if world is None:
        return
    totals: dict[str, list[float]] = {}
    for result in world.ci.results.values():
        for step in result.steps:
            totals.setdefault(f"{result.workflow}: {step.name}", []).append(step.seconds)
    for name, times in sorted(totals.items(), key=lambda kv: -sum(kv[1])):
        print(f"{sum(times):7.2f}s {len(times):3d}x {name}")


@pytest.fixture
def gitlab(tmp_path: Path, posthog: PostHog) -> Iterator[GitLabWorld]:
    server = GitLab()
    with server.serve():
        yield GitLabWorld.create(tmp_path / "gitlab", posthog, server)
