"""Secret canaries: every command runs with canary secrets (config secrets, the personal API key, the fingerprint
key), with DEBUG logging on for every logger into a log file, and nothing that leaves the process may hold a
canary: stdout, stderr, the log file, plan files, drift and import output, anything in the working tree.

Error paths included: a proxy in front of the emulator that answers 400 / 500 echoing the request body and the
Authorization header back (as a careless server or a debug page would), `--debug`, and preflight.
Each canary is looked for raw and in encodings that would still reveal it (base64, URL-encoding, unkeyed hashes).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from canary_kit import Canaries, forms
from reliability_kit import fast_cli_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from support.emulators import served

from reconciler.cli import run_cli
from reconciler.emulator.keys import ApiKey, keyring_from
from reconciler.emulator.server import serve_in_thread
from reconciler.emulator.testing import Emulator

CANARIES = {
    "STRIPE_SECRET_KEY": "sk_test_CANARY0stripe7e1b",
    "ZD_API_KEY": "zd-CANARY1zendesk9f3a",
    "PG_PASSWORD": "pg-CANARY4password2c6",
    "POSTHOG_PERSONAL_API_KEY": "phx_CANARY2apikey5d8e",
    "RECONCILER_FINGERPRINT_KEY": "fpk-CANARY3fingerprint0b",
}
ROTATED = "sk_test_CANARY5rotated44a1"

MANIFEST = """\
version: 1
sources:
  pay:
    type: Stripe
    prefix: pay
    description: payments
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{ secret('STRIPE_SECRET_KEY') }}"
    tables:
      Customer: {sync: true, sync_type: full_refresh, frequency: 24hour}
  desk:
    type: Zendesk
    prefix: desk
    config:
      subdomain: acme
      email_address: ops@acme.test
      api_key: "{{ secret('ZD_API_KEY') }}"
    tables:
      tickets: {sync: true, sync_type: full_refresh}
  db:
    type: Postgres
    prefix: db
    config:
      host: db.example.com
      port: 5432
      database: app
      user: reader
      password: "{{ secret('PG_PASSWORD') }}"
      schema: public
    tables:
      customers: {sync: true, sync_type: full_refresh}
"""


CANARY_SET = Canaries({**CANARIES, "ROTATED": ROTATED})
hits = CANARY_SET.hits
scan_tree = CANARY_SET.scan_tree


# ---- servers ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    keys = keyring_from([ApiKey(CANARIES["POSTHOG_PERSONAL_API_KEY"], frozenset({1}), frozenset({"*"}))])
    # Fast retries: the echoing proxy's 500s would otherwise cost the default back-off (seconds).
    with served(keys=keys, control=True) as emulator, fast_cli_client(timeout=10):
        yield emulator


ECHO_RULES = [
    ("POST", re.compile(r"/external_data_sources/?$"), 400, "drf"),
    ("POST", re.compile(r"/database_schema/?$"), 400, "message"),
    ("PATCH", re.compile(r"/external_data_sources/[^/]+/?$"), 500, "html"),
]


def echo_proxy(upstream: str) -> Starlette:
    """Forwards to `upstream`; the requests ECHO_RULES name get an error that echoes what was sent."""

    async def handle(request: Request) -> Response:
        body = await request.body()
        for method, pattern, status, style in ECHO_RULES:
            if request.method == method and pattern.search(request.url.path):
                echo = f"cannot use {body.decode()} with {request.headers.get('authorization')}"
                if style == "drf":
                    return JSONResponse(
                        {"type": "validation_error", "code": "invalid_input", "detail": echo, "attr": "payload"},
                        status_code=status,
                    )
                if style == "message":
                    return JSONResponse({"message": echo}, status_code=status)
                return HTMLResponse(f"<html><body><pre>{echo}</pre></body></html>", status_code=status)
        async with httpx.AsyncClient(base_url=upstream) as client:
            headers = {k: v for k, v in request.headers.items() if k.lower() in {"authorization", "content-type"}}
            answer = await client.request(
                request.method, request.url.path, params=request.query_params, content=body, headers=headers
            )
        return Response(answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type"))

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST", "PATCH", "DELETE", "PUT"])])


@pytest.fixture(scope="module")
def proxy(emu: Emulator) -> Iterator[str]:
    with serve_in_thread(echo_proxy(emu.base_url)) as url:
        yield url


# ---- the run ---------------------------------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working tree with the manifest, canary env, and every logger at DEBUG into workdir/debug.log."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.yaml").write_text(MANIFEST)
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POSTHOG_PROJECT_ID", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    handler = logging.FileHandler(tmp_path / "debug.log", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous = root.level, logging.getLogger("reconciler").level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("reconciler").setLevel(logging.DEBUG)
    try:
        yield tmp_path
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(previous[0])
        logging.getLogger("reconciler").setLevel(previous[1])


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(list(argv))
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text or "--debug" in argv
    return code, text


def test_every_command_and_output_leaks_no_canary(
    emu: Emulator, proxy: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTHOG_HOST", emu.base_url)
    outputs: dict[str, tuple[int, str]] = {}

    def go(label: str, *argv: str) -> int:
        outputs[label] = run(*argv)
        return outputs[label][0]

    assert go("validate", "validate", "sources.yaml") == 0
    assert go("validate json", "validate", "--format", "json", "--require-secrets", "sources.yaml") == 0
    for fmt in ("text", "markdown", "json"):
        assert go(f"plan {fmt}", "plan", "--format", fmt, "sources.yaml") == 0
    assert go("plan -o", "plan", "-o", "plan.json", "sources.yaml") == 0
    assert go("plan --preflight", "plan", "--preflight", "sources.yaml") in (0, 1)
    assert go("apply saved plan", "apply", "--auto-approve", "plan.json") == 0
    # A rotated secret: with the fingerprint key the change is detected and the new value re-sent.
    monkeypatch.setenv("STRIPE_SECRET_KEY", ROTATED)
    assert go("plan rotated", "plan", "--format", "json", "sources.yaml") == 0
    rotated = json.loads(outputs["plan rotated"][1][: outputs["plan rotated"][1].rindex("}") + 1])
    assert [c["address"] for c in rotated["changes"] if c["action"] == "update"] == ["pay"]
    assert go("apply json", "apply", "--auto-approve", "--format", "json", "sources.yaml") == 0
    (workdir / "sources.yaml").write_text(MANIFEST.replace("payments", "payments v2"))
    assert go("apply text --sync", "apply", "--auto-approve", "--sync", "sources.yaml") == 0
    for fmt in ("text", "markdown", "json"):
        assert go(f"drift {fmt}", "drift", "--format", fmt, "sources.yaml") in (0, 2)
    assert go("drift --output", "drift", "--output", "drift.md", "--format", "markdown", "sources.yaml") in (0, 2)
    assert go("import stdout", "import", "--all") == 0
    assert go("import file", "import", "--all", "-o", "imported.yaml") == 0
    assert go("import dir", "import", "--all", "-o", "imported/") == 0
    assert go("debug plan", "--debug", "plan", "--format", "json", "sources.yaml") == 0
    # A wrong secret: PostHog's credential check fails (its message must not carry the value).
    monkeypatch.setenv("STRIPE_SECRET_KEY", ROTATED + "invalid")
    assert go("apply bad credential", "apply", "--auto-approve", "sources.yaml") == 1

    # Error paths through the echoing proxy: create (400 drf), database_schema (400 message), PATCH (500 HTML).
    monkeypatch.setenv("STRIPE_SECRET_KEY", ROTATED)
    monkeypatch.setenv("POSTHOG_HOST", proxy)
    (workdir / "sources.yaml").write_text(
        MANIFEST.replace("payments", "payments v3").replace("prefix: desk", "prefix: desk2")
    )
    assert go("echo apply", "apply", "--auto-approve", "--format", "json", "--allow-delete", "sources.yaml") == 1
    echoed = json.loads(_json_part(outputs["echo apply"][1]))
    errors = [s["error"] for s in echoed["steps"] if s["status"] == "failed"]
    assert any("cannot use" in e for e in errors), errors  # the echo did arrive, redacted
    assert go("echo preflight", "plan", "--preflight", "sources.yaml") == 1
    assert "cannot use" in outputs["echo preflight"][1]
    assert go("echo debug apply", "--debug", "apply", "--auto-approve", "sources.yaml") == 1

    leaks = {label: hits(text) for label, (_, text) in outputs.items() if hits(text)}
    assert leaks == {}
    assert scan_tree(workdir) == {}
    log = (workdir / "debug.log").read_text(encoding="utf-8")
    assert "external_data_sources" in log  # logging was really on
    assert hits(log) == []


def _json_part(text: str) -> str:
    """stdout's JSON report, from the combined stdout+stderr text (stdout comes first)."""
    start = text.index("{")
    depth = 0
    for i, char in enumerate(text[start:], start):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return text[start : i + 1]
    raise AssertionError("no JSON report in the output")


def test_the_scanner_finds_every_form(tmp_path: Path) -> None:
    """The checks above can fail: every encoded form of a canary is found, in text and in files."""
    value = CANARIES["STRIPE_SECRET_KEY"]
    for form, text in forms(value).items():
        assert f"STRIPE_SECRET_KEY/{form}" in hits(f"prefix {text} suffix"), form
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "f.json").write_text(json.dumps({"k": value}))
    assert "STRIPE_SECRET_KEY/raw" in scan_tree(tmp_path)["deep/er/f.json"]


def test_local_host_leaves_no_canary_outside_the_emulator_state(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--host local`: the embedded emulator plays PostHog and keeps secrets in `.reconciler/` (as PostHog
    would); every other file in the working tree, and every output, stays clean."""
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "phx_local")
    monkeypatch.setenv("POSTHOG_HOST", "local")
    (workdir / "sources.yaml").write_text(MANIFEST.split("  db:\n")[0])  # no real Postgres needed
    outputs = [
        run("plan", "-o", "plan.json", "sources.yaml"),
        run("apply", "--auto-approve", "plan.json"),
        run("drift", "--format", "json", "sources.yaml"),
        run("import", "--all", "-o", "imported.yaml"),
    ]
    assert [code for code, _ in outputs] == [0, 0, 0, 0], outputs
    assert [hits(text) for _, text in outputs] == [[], [], [], []]
    found = {path: labels for path, labels in scan_tree(workdir).items() if not path.startswith(".reconciler")}
    assert found == {}
