"""The client against hostile servers on 127.0.0.1 (issue 17, items 6, 7, 8, 10): a server that trickles a byte
every so often, one that answers with hundreds of megabytes or a gzip bomb, one that nests JSON a hundred thousand
deep, one that asks for `Retry-After: 299`, and an API key that would break the Authorization header.

Each ends in one clear message and exit 1 (through the CLI) or one typed error (through the client), quickly, with
no traceback and nothing of the key shown. The servers' loops are bounded, so on code without these bounds a test
fails (wrong message, or a bounded wait that ends in another error) instead of hanging CI.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hostile_kit import HostileServer, Rule, deep_json, hostile_server, huge, retry_after, trickle
from reliability_kit import BASE, manifest_text

from reconciler import errors
from reconciler.cli import run_cli
from reconciler.emulator.testing import Emulator, running_emulator
from reconciler.posthog.client import build_client, build_http_client
from reconciler.secret import Secret
from reconciler.settings import resolve_settings

LIST = r"/external_data_sources/$"
MANIFEST = manifest_text(BASE)  # one Stripe source


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def workdir(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    (tmp_path / "sources.yaml").write_text(MANIFEST)  # type: ignore[operator]
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_hostile")
    monkeypatch.setenv("POSTHOG_PROJECT_ID", "1")
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "phx_local")
    monkeypatch.setenv("RECONCILER_RATE_LIMIT", "off")
    return tmp_path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(list(argv))
    assert "Traceback" not in out.getvalue() + err.getvalue()
    assert "This is a bug" not in err.getvalue(), err.getvalue()
    return code, out.getvalue(), err.getvalue()


def plan_against(server: HostileServer, monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, str, str]:
    monkeypatch.setenv("POSTHOG_HOST", server.url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return run("plan", "sources.yaml")


# ---- item 7: a total deadline per request ----------------------------------------------------------------------


@pytest.mark.parametrize("headers_too", [True, False], ids=["trickled-headers", "trickled-body"])
def test_a_trickling_server_is_cut_off_at_the_request_deadline(headers_too: bool) -> None:
    # 0.25 s between bytes never trips the 30 s read timeout; without a total deadline the list would run until the
    # server gives up (200 bytes: 50 s) and then fail on a short body instead.
    rule = Rule("GET", LIST, trickle(interval=0.25, limit=200, headers_too=headers_too))
    with hostile_server(rule) as server:
        settings = resolve_settings(
            {"POSTHOG_PERSONAL_API_KEY": "phx_x", "RECONCILER_REQUEST_DEADLINE": "1.5", "RECONCILER_RATE_LIMIT": "off"},
            host=server.url,
            project="1",
        )
        with build_client(settings) as client, pytest.raises(errors.DeadlineExceeded) as caught:
            client.list_sources()
        exchanges = server.served("GET", LIST)
    assert "no complete answer within 1.5 s" in str(caught.value)
    assert caught.value.reference == "deadline-exceeded"
    assert len(exchanges) == 1  # not sent again: a server that trickles once trickles again
    assert not exchanges[0].finished and exchanges[0].sent < 100  # ~6 bytes trickled (plus the head), not 200


def test_plan_against_a_trickling_server_fails_with_one_clear_message(
    workdir: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    with hostile_server(Rule("GET", LIST, trickle(interval=0.25, limit=200))) as server:
        code, out, err = plan_against(server, monkeypatch, RECONCILER_REQUEST_DEADLINE="1")
    assert code == 1 and out == ""
    assert err.startswith("Error: GET /api/projects/1/external_data_sources/: no complete answer within 1 s"), err
    assert "RECONCILER_REQUEST_DEADLINE" in err


def test_every_client_built_for_a_host_has_its_pools_bounded() -> None:
    """The deadline reaches httpx's connection pools through their private layout: an httpx upgrade that moves
    them makes this fail rather than silently lose the deadline."""
    from reconciler.posthog.transport import bound_by_deadline

    with build_http_client("https://ph.example", Secret("K", "phx_x")) as http:
        assert bound_by_deadline(http) == 1


# ---- item 7: a cap on the response size ------------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True], ids=["declared", "gzip-bomb"])
def test_an_answer_larger_than_the_cap_is_refused_without_reading_it_all(
    gzipped: bool, workdir: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 64 * 2**20
    with hostile_server(Rule("GET", LIST, huge(size, gzipped=gzipped))) as server:
        code, out, err = plan_against(server, monkeypatch, RECONCILER_MAX_RESPONSE_MB="1")
        (exchange,) = server.served("GET", LIST)
    assert code == 1 and out == ""
    assert "external_data_sources/: the answer is" in err and "than the 1048576 byte cap" in err, err
    assert "RECONCILER_MAX_RESPONSE_MB" in err
    if not gzipped:
        assert exchange.sent < size // 2  # the client hung up instead of reading 64 MB


def test_the_cap_counts_decoded_bytes_through_the_client() -> None:
    rule = Rule("GET", LIST, huge(8 * 2**20, gzipped=True))
    with hostile_server(rule) as server:
        env = {"POSTHOG_PERSONAL_API_KEY": "phx_x", "RECONCILER_MAX_RESPONSE_MB": "2", "RECONCILER_RATE_LIMIT": "off"}
        settings = resolve_settings(env, host=server.url, project="1")
        with build_client(settings) as client, pytest.raises(errors.ResponseTooLarge, match="2097152 byte cap"):
            client.list_sources()


# ---- item 8: deeply nested JSON -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 400, 500])
def test_deeply_nested_json_is_a_clear_error(status: int, workdir: object, monkeypatch: pytest.MonkeyPatch) -> None:
    with hostile_server(Rule("GET", LIST, deep_json(100_000, status=status))) as server:
        code, out, err = plan_against(server, monkeypatch)
    assert code == 1 and out == ""
    assert err.startswith("Error: GET /api/projects/1/external_data_sources/"), err
    assert "nested too deeply" in err


# ---- item 10: no single wait past the cap, and every long wait announced --------------------------------------


def plan_in_child(server: HostileServer, **env: str) -> tuple[int, str, str]:
    """`plan` in a child process with a time limit: code that waits what the server asks (299 s, up to five
    times) fails here after 60 s instead of holding CI."""
    child = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "sources.yaml"],
        env={**os.environ, "POSTHOG_HOST": server.url, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "Traceback" not in child.stderr
    return child.returncode, child.stdout, child.stderr


def test_retry_after_299_fails_at_once_with_the_wait_and_the_cap(workdir: object) -> None:
    with hostile_server(Rule("GET", LIST, retry_after(299))) as server:
        code, out, err = plan_in_child(server)
        assert len(server.served("GET", LIST)) == 1  # no second attempt after a 299 s stall
    assert code == 1 and out == ""
    assert "429: Request was throttled. Expected available in 299 seconds." in err
    assert "PostHog asked to wait 299 s before the next request, longer than the 120 s this run waits at once" in err
    assert "RECONCILER_MAX_WAIT to 299 or more" in err


def test_a_header_only_retry_after_is_capped_too(workdir: object) -> None:
    with hostile_server(Rule("GET", LIST, retry_after(299, in_text=False))) as server:
        code, _, err = plan_in_child(server, RECONCILER_MAX_WAIT="30")
    assert code == 1 and "asked to wait 299 s" in err and "longer than the 30 s this run waits at once" in err


def test_a_wait_under_the_cap_is_announced_on_stderr_before_it_starts(
    emu: Emulator, workdir: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One 429 asking for 5 s (the shortest wait announced), then the emulator answers.
    with hostile_server(Rule("GET", LIST, retry_after(5), times=1), upstream=emu.base_url) as server:
        code, out, err = plan_against(server, monkeypatch)
    assert code == 0, err
    assert err.count("PostHog rate limit: waiting 5 s (PostHog answered 429 to list_sources)\n") == 1, err
    assert "will be created" in out or "create" in out


def test_pacing_waits_are_announced_and_capped(caplog: pytest.LogCaptureFixture) -> None:
    from reconciler.posthog.ratelimit import RateLimiter

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    minute = RateLimiter("2/minute", clock=lambda: now[0], sleep=sleep, max_wait=120)
    with caplog.at_level(logging.WARNING, logger="reconciler.posthog"):
        for _ in range(3):
            minute.acquire()
    assert [r.getMessage() for r in caplog.records] == ["PostHog rate limit: waiting 61 s (2/minute)"]
    hour = RateLimiter("2/hour", clock=lambda: now[0], sleep=sleep, max_wait=120)
    hour.acquire()
    hour.acquire()
    with pytest.raises(errors.WaitTooLong) as caught:
        hour.acquire()
    assert "the next request may go in 3601 s, longer than the 120 s this run waits at once" in str(caught.value)
    assert "RECONCILER_MAX_WAIT to 3601 or more" in str(caught.value)


# ---- item 6: an API key that would break the Authorization header --------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("plan", "sources.yaml"),
        ("drift", "sources.yaml"),
        ("apply", "--auto-approve", "sources.yaml"),
        ("import", "--all"),
    ],
    ids=lambda argv: argv[0],
)
@pytest.mark.parametrize("key", ["phx_KEYSTART\nKEYEND", "phx_KEYSTART KEYEND", "phx_KEYSTART\udcffKEYEND"])
def test_a_malformed_api_key_is_refused_and_never_shown(
    argv: tuple[str, ...], key: str, emu: Emulator, workdir: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTHOG_HOST", emu.base_url)
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", key)
    code, out, err = run(*argv)
    assert code == 1 and out == ""
    assert err.startswith("Error: POSTHOG_PERSONAL_API_KEY contains "), err
    assert "KEYSTART" not in err and "KEYEND" not in err
