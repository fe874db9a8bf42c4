"""Golden output of the errors a user meets first (issue 14 "Errors a user can act on"): each case runs the
CLI in-process against a real emulator (or none), and its exit code, stdout and stderr must equal
`golden/errors/<case>.txt` byte for byte, with the emulator's port written as PORT.

Regenerate after an intended change with `RECONCILER_UPDATE_GOLDEN=1 pytest tests/cli/test_error_goldens.py`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import run_cli
from reconciler.posthog.retry import RetryPolicy

GOLDEN = Path(__file__).parent / "golden" / "errors"
STRIPE_KEY = "sk_test_CANARYgolden2207"
MANIFEST = """\
version: 1
sources:
  stripe_prod:
    type: Stripe
    prefix: stripe_prod
    protect: true
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh}
"""


@dataclass
class World:
    """What a case may use: a scratch directory with `sources.yaml`, and a running emulator."""

    dir: Path
    url: str
    port: str
    control: Callable[[], httpx.Client]


@pytest.fixture
def world(start_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # No waiting between retries: the goldens are about the final message, not the backoff.
    monkeypatch.setattr("reconciler.posthog.client.RetryPolicy", lambda: RetryPolicy(sleep=lambda _: None))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.yaml").write_text(MANIFEST)
    for name in ("POSTHOG_HOST", "POSTHOG_PROJECT_ID", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STRIPE_SECRET_KEY", STRIPE_KEY)
    with start_emulator(control=True) as emu:
        monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", emu.default_key)
        yield World(tmp_path, emu.base_url, emu.base_url.rsplit(":", 1)[1], emu.control)


def run(world: World, capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """`$ reconciler ARGV`, the exit code, stdout and stderr, as one text (the golden file's content)."""
    code = run_cli(argv)
    out, err = capsys.readouterr()
    assert STRIPE_KEY not in out + err and "Traceback" not in err
    shown = " ".join(argv)
    text = f"$ reconciler {shown}\nexit {code}\n--- stdout\n{out}--- stderr\n{err}"
    return re.sub(r"\b127\.0\.0\.1:" + world.port + r"\b", "127.0.0.1:PORT", text)


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("RECONCILER_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")


#: The plan's errors reach a pull-request comment too: each plan case runs in text and in markdown.
FORMATS = pytest.mark.parametrize("fmt", ["text", "markdown"])


def plan_argv(fmt: str, *argv: str) -> list[str]:
    return ["plan", *(["--format", "markdown"] if fmt == "markdown" else []), *argv]


def golden_name(name: str, fmt: str) -> str:
    return name if fmt == "text" else f"{name}.{fmt}"


# ---- connecting ------------------------------------------------------------------------------------------


@FORMATS
def test_tls_to_a_plain_http_port(world: World, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """`--host 127.0.0.1:8010` means https://: the error says so and offers http://."""
    text = run(world, capsys, plan_argv(fmt, "--host", f"127.0.0.1:{world.port}", "--project", "1", "sources.yaml"))
    assert_golden(golden_name("tls-to-plain-port", fmt), text)


@FORMATS
def test_nothing_listening(world: World, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    text = run(world, capsys, plan_argv(fmt, "--host", "http://127.0.0.1:1", "--project", "1", "sources.yaml"))
    assert_golden(golden_name("connection-refused", fmt), text)


@FORMATS
def test_a_host_name_that_does_not_resolve(world: World, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """`--host eu.posthog.con`: no scheme (https:// is assumed, and shown) and a typo."""
    text = run(world, capsys, plan_argv(fmt, "--host", "eu.posthog.invalid", "--project", "1", "sources.yaml"))
    assert_golden(golden_name("host-not-resolved", fmt), text)


@FORMATS
def test_a_project_url_pasted_from_the_browser(world: World, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    text = run(
        world, capsys, plan_argv(fmt, "--host", "https://eu.posthog.com/project/123/data-warehouse", "sources.yaml")
    )
    assert_golden(golden_name("project-page-url", fmt), text)


@FORMATS
def test_project_not_found(world: World, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    text = run(world, capsys, plan_argv(fmt, "--host", world.url, "--project", "999", "sources.yaml"))
    assert_golden(golden_name("project-not-found", fmt), text)


@FORMATS
def test_a_proxy_error_page_is_said_once(world: World, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """A load balancer's HTML 503 page repeats its title as the heading: the message does not."""
    with world.control() as control:
        rule = {"method": "GET", "path": "external_data_sources/?$", "status": 503, "times": 10}
        assert control.post("/faults", json={"rules": [rule]}).status_code == 200
    text = run(world, capsys, plan_argv(fmt, "--host", world.url, "--project", "1", "sources.yaml"))
    assert_golden(golden_name("proxy-503", fmt), text)


# ---- refusing ------------------------------------------------------------------------------------------


def test_a_protected_replace_gives_its_reason_once(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    host = ["--host", world.url, "--project", "1"]
    assert run_cli(["apply", *host, "--auto-approve", "sources.yaml"]) == 0
    capsys.readouterr()
    (world.dir / "sources.yaml").write_text(MANIFEST.replace("prefix: stripe_prod", "prefix: stripe_live"))
    text = run(world, capsys, ["apply", *host, "--auto-approve", "--allow-delete", "sources.yaml"])
    assert_golden("protected-replace", text)


def test_a_saved_plan_and_manifests_together(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    host = ["--host", world.url, "--project", "1"]
    assert run_cli(["plan", *host, "-o", "plan.json", "sources.yaml"]) == 0
    capsys.readouterr()
    (world.dir / "manifests").mkdir()
    text = run(world, capsys, ["apply", *host, "plan.json", "manifests/"])
    assert_golden("plan-and-manifests", text)


def test_serve_beyond_loopback_without_keys(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    text = run(world, capsys, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert_golden("serve-public-default-key", text)


# ---- manifests ---------------------------------------------------------------------------------------


def test_validate_an_empty_file(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    (world.dir / "empty.yaml").write_text("")
    assert_golden("validate-empty-file", run(world, capsys, ["validate", "empty.yaml"]))


def test_validate_a_defaults_only_file(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    (world.dir / "defaults.yaml").write_text("version: 1\ndefaults:\n  unlisted_tables: ignore\n")
    assert_golden("validate-defaults-only", run(world, capsys, ["validate", "defaults.yaml", "sources.yaml"]))


def test_validate_a_zendesk_subdomain_with_an_underscore(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    (world.dir / "zendesk.yaml").write_text(
        "version: 1\nsources:\n  support:\n    type: Zendesk\n    prefix: zendesk\n    config:\n"
        "      subdomain: my_subdomain\n      api_key: \"{{ secret('ZENDESK_API_KEY') }}\"\n"
        "      email_address: support@example.com\n    tables:\n      tickets: {sync: true, sync_type: full_refresh}\n"
    )
    assert_golden("validate-zendesk-subdomain", run(world, capsys, ["validate", "zendesk.yaml"]))


# ---- the same errors in a pull-request comment -------------------------------------------------------------


def test_a_protected_replace_in_the_pull_request_comment(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    host = ["--host", world.url, "--project", "1"]
    assert run_cli(["apply", *host, "--auto-approve", "sources.yaml"]) == 0
    capsys.readouterr()
    (world.dir / "sources.yaml").write_text(MANIFEST.replace("prefix: stripe_prod", "prefix: stripe_live"))
    text = run(world, capsys, plan_argv("markdown", *host, "--allow-delete", "sources.yaml"))
    assert_golden("protected-replace.markdown", text)


def test_manifest_errors_in_the_pull_request_comment(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A manifest PostHog would refuse and an empty file: the comment shows each error with file:line and hint."""
    (world.dir / "zendesk.yaml").write_text(
        "version: 1\nsources:\n  support:\n    type: Zendesk\n    prefix: zendesk\n    config:\n"
        "      subdomain: my_subdomain\n      api_key: \"{{ secret('ZENDESK_API_KEY') }}\"\n"
        "      email_address: support@example.com\n    tables:\n      tickets: {sync: true, sync_type: full_refresh}\n"
    )
    text = run(world, capsys, plan_argv("markdown", "--host", world.url, "--project", "1", "zendesk.yaml"))
    assert_golden("plan-zendesk-subdomain.markdown", text)
    (world.dir / "empty.yaml").write_text("")
    text = run(world, capsys, plan_argv("markdown", "--host", world.url, "--project", "1", "empty.yaml"))
    assert_golden("plan-empty-file.markdown", text)
