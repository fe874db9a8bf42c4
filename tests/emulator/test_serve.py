"""`reconciler serve` as a real subprocess: start-up output, the issue's curl, persistence across restart,
keys files; plus keys-file parsing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty, Queue

import httpx
import pytest

from reconciler.emulator.keys import parse_keyring
from reconciler.errors import ConfigError


@contextmanager
def serve(*args: str) -> Iterator[tuple[str, list[str]]]:
    """Run `python -m reconciler serve --port 0 ARGS`; yield (base URL, start-up lines)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    queue: Queue[str] = Queue()
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: [queue.put(line) for line in proc.stdout or ()], daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while len(lines) < (4 if "--control" in args else 3):  # --control adds a start-up line
            try:
                lines.append(queue.get(timeout=max(0.0, deadline - time.monotonic())).rstrip("\n"))
            except Empty:
                raise AssertionError(f"server did not start: {lines} exit={proc.poll()}") from None
        url = lines[0].rsplit(" ", 1)[1]
        yield url, lines
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(10)
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()


def _curl(url: str) -> tuple[int, dict[str, object]]:
    """The issue's command; through httpx when curl is not installed (same request)."""
    if shutil.which("curl"):
        out = subprocess.run(
            ["curl", "-s", "-w", "\n%{http_code}", "-H", "Authorization: Bearer phx_local", url],
            capture_output=True, text=True, check=True, timeout=20,
        ).stdout  # fmt: skip
        body, _, code = out.rpartition("\n")
        return int(code), json.loads(body)
    r = httpx.get(url, headers={"Authorization": "Bearer phx_local"})
    return r.status_code, r.json()


def test_serve_answers_the_issue_curl_and_persists_across_restart(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with serve("--db", str(db)) as (url, lines):
        assert lines[0].startswith("reconciler emulator listening on http://127.0.0.1:")
        assert lines[1] == f"storage: {db}"
        assert lines[2] == "API key: phx_local (all scopes, team 1)"
        port = url.rsplit(":", 1)[1]
        status, body = _curl(f"http://localhost:{port}/api/projects/1/external_data_sources/")
        assert (status, body) == (200, {"count": 0, "next": None, "previous": None, "results": []})
        created = httpx.post(
            f"{url}/api/environments/1/external_data_sources/",
            headers={"Authorization": "Bearer phx_local"},
            json={"source_type": "Stripe", "prefix": "persisted",
                  "payload": {"auth_method": {"selection": "api_key", "stripe_secret_key": "sk_test_persist"},
                              "schemas": [{"name": "Customer", "should_sync": True, "sync_type": "full_refresh"}]}},
        )  # fmt: skip
        assert created.status_code == 201
    with serve("--db", str(db)) as (url, _):
        status, body = _curl(f"{url}/api/projects/1/external_data_sources/")
    assert status == 200 and body["count"] == 1
    results = body["results"]
    assert isinstance(results, list)
    assert results[0]["id"] == created.json()["id"] and results[0]["prefix"] == "persisted"
    assert [s["name"] for s in results[0]["schemas"]] == ["Customer"]


def test_serve_in_memory_by_default_and_keys_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        "- {key: phx_alpha, teams: [1, 2], scopes: ['*']}\n"
        "- {key: phx_beta, teams: [7], scopes: ['external_data_source:read']}\n"
    )
    with serve("--keys", str(keys)) as (url, lines):
        assert lines[1] == "storage: in memory (lost on exit)"
        assert lines[2] == f"API keys: from {keys}"
        assert "phx_alpha" not in "\n".join(lines)
        get = lambda key, team: httpx.get(  # noqa: E731
            f"{url}/api/projects/{team}/external_data_sources/", headers={"Authorization": f"Bearer {key}"}
        )
        assert get("phx_alpha", 2).status_code == 200
        assert get("phx_alpha", 7).json()["detail"] == "You don't have access to the project."
        assert get("phx_alpha", 3).json()["detail"] == "Project not found."
        assert get("phx_beta", 7).status_code == 200
        assert get("phx_local", 1).status_code == 401


def test_serve_refuses_a_bad_rate_limit_and_bad_keys(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "reconciler", "serve", "--rate-limit", "480/fortnight"],
                          capture_output=True, text=True, env=env, timeout=30, check=False)  # fmt: skip
    assert proc.returncode == 1
    assert "480/fortnight" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "reconciler", "serve", "--bulk-schemas", "never"],
                          capture_output=True, text=True, env=env, timeout=30, check=False)  # fmt: skip
    assert proc.returncode == 1 and "'never' is not one of 'allowed', 'session-only'" in proc.stderr
    bad = tmp_path / "keys.yaml"
    bad.write_text("- {key: phx_secretvalue, teams: one}\n")
    proc = subprocess.run([sys.executable, "-m", "reconciler", "serve", "--keys", str(bad)],
                          capture_output=True, text=True, env=env, timeout=30, check=False)  # fmt: skip
    assert proc.returncode == 1
    assert "'teams' must be a list of integer team ids" in proc.stderr
    assert "phx_secretvalue" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr


def test_serve_beyond_loopback_needs_keys_of_your_own(tmp_path: Path) -> None:
    """The default key is printed and documented: on 0.0.0.0 anyone on the network could use it."""
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "reconciler", "serve", "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, text=True, env=env, timeout=30, check=False)  # fmt: skip
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        "Error: refusing to listen on 0.0.0.0 with the default key phx_local: it is public (printed at start-up "
        "and in the docs), so anyone who can reach this port could use it\n"
        "  hint: pass --keys FILE with keys of your own (docs/emulator.md), or listen on 127.0.0.1\n"
    )
    keys = tmp_path / "keys.yaml"
    keys.write_text("- {key: phx_private_key, teams: [1]}\n")
    with serve("--host", "0.0.0.0", "--keys", str(keys)) as (url, lines):
        assert lines[0].startswith("reconciler emulator listening on http://0.0.0.0:")
        port = url.rsplit(":", 1)[1]
        reply = httpx.get(f"http://127.0.0.1:{port}/api/projects/1/external_data_sources/",
                          headers={"Authorization": "Bearer phx_private_key"})  # fmt: skip
        assert reply.status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a non-empty YAML list of keys"),
        ({"key": "x"}, "expected a non-empty YAML list of keys"),
        (["phx"], "entry 1: expected a mapping with key, teams, scopes"),
        ([{"key": "a", "teams": [1], "scope": ["*"]}], "entry 1: unknown field(s) scope"),
        ([{"teams": [1]}], "entry 1: 'key' must be a non-empty string"),
        ([{"key": "a", "teams": [1]}, {"key": "a", "teams": [2]}], "entry 2: duplicate key"),
        ([{"key": "a", "teams": [1], "scopes": "*"}], "entry 1: 'scopes' must be a list of strings"),
        ([{"key": "a", "teams": [True]}], "entry 1: 'teams' must be a list of integer team ids"),
    ],
)
def test_keys_file_errors(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_keyring(data, "keys.yaml")
    assert str(err.value) == f"keys.yaml: {message}"


def test_keys_file_semantics() -> None:
    ring = parse_keyring(
        [
            {"key": "a", "teams": [1, 2], "scopes": ["external_data_source:write"]},
            {"key": "b", "teams": [3], "scoped_teams": [3, 4], "email": "b@example.com"},
        ]
    )
    a, b = ring.get("a"), ring.get("b")
    assert a is not None and b is not None
    assert a.allows("external_data_source:read") and a.allows("external_data_source:write")
    assert not a.allows("feature_flag:read")
    assert b.allows("anything:write")  # scopes default to "*"
    assert b.email == "b@example.com"
    assert ring.teams == frozenset({1, 2, 3, 4})


def test_serve_with_control_rate_limit_and_session_only_bulk_schemas() -> None:
    """The part-2 flags end to end in a real `reconciler serve`: the control API is announced and answers,
    the per-key rate limit throttles with PostHog's 429 body, bulk_update_schemas refuses API keys."""
    args = ("--control", "--rate-limit", "4/minute", "--bulk-schemas", "session-only", "--latency-ms", "1")
    with serve(*args) as (url, lines):
        assert lines[3] == f"control API: {url}/_emulator/"
        headers = {"Authorization": "Bearer phx_local"}
        api = f"{url}/api/projects/1/external_data_sources"
        sid = "00000000-0000-0000-0000-000000000000"
        r = httpx.patch(f"{api}/{sid}/bulk_update_schemas/", json={"schemas": []}, headers=headers)
        assert r.status_code == 403
        assert r.json()["detail"] == "This action does not support personal API key access"
        statuses = [httpx.get(f"{api}/", headers=headers).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        stats = httpx.get(f"{url}/_emulator/stats").json()
        assert stats["total"] == 5 and stats["throttled"] == 1
        assert stats["by_route"]["GET /api/projects/{project_id}/external_data_sources/"] == 4
        assert stats["settings"] == {"rate_limit": "4/minute", "latency_ms": 1}
