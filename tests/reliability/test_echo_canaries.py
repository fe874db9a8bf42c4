"""The canary matrix: every command × output format × failure mode, with secrets shaped to be hard to cut out
(PEM private keys over several lines, a password holding quotes, a backslash, spaces, `&=+%` and non-ASCII),
against servers that echo what they were sent in every form (raw, JSON-escaped, repr, URL-encoded, line by
line, cut short) and in every body style (DRF JSON, `{"message"}`, HTML, plain text).

Failure modes: a write echoed (create, `database_schema` preflight, PATCH of a rotation), a read echoed with
the Authorization header (the list every command starts with), and PostHog text planted with templates that
would read the canaries if they ever rendered. Every output (stdout and stderr of each run, every file written)
is scanned for every canary in every form; the server's own answer is scanned too, so a case where the echo
did not carry the canaries cannot pass unnoticed.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from canary_kit import Canaries
from hostile_kit import ECHO_FORMS, HostileServer, Rule, echo, echo_forms, hostile_server
from reliability_kit import fast_cli_client
from support.emulators import served

from reconciler.cli import run_cli
from reconciler.emulator.keys import ApiKey, keyring_from
from reconciler.emulator.testing import Emulator

_PEM_BODY = ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7", "bXlzZWNyZXRrZXlkYXRhZm9ydGVzdGluZ3B1cnBvc2VzMTIz"]


def _pem(kind: str, tag: str) -> str:
    lines = [f"CANARY{tag}{i}{body}" for i, body in enumerate(_PEM_BODY)]
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----", ""])


CANARIES = Canaries(
    {
        "STRIPE_SECRET_KEY": "sk_test_CANARYstripe0a1b2c3d",
        "PG_PASSWORD": 'CANARYpg"quote\\back slash/ü&=+%2c',
        "SSH_PRIVATE_KEY": _pem("OPENSSH PRIVATE KEY", "ssh"),
        "SSH_PASSPHRASE": "CANARYpassphrase'single\"double",
        "SNOWFLAKE_PRIVATE_KEY": _pem("PRIVATE KEY", "snow"),
        "BQ_PRIVATE_KEY": _pem("PRIVATE KEY", "bq"),
        "BQ_PROJECT_ID": "CANARY-bq-project-77",
        "BQ_PRIVATE_KEY_ID": "CANARYbqkeyid0f9e8d7c6b5a",
        "BQ_CLIENT_EMAIL": "CANARY-reader@example.iam.gserviceaccount.com",
        "BQ_TOKEN_URI": "https://oauth2.example.com/CANARYtoken",
        "POSTHOG_PERSONAL_API_KEY": "phx_CANARYapikey5d8e7f6a",
        "RECONCILER_FINGERPRINT_KEY": "CANARYfingerprint0b1c2d3e",
    }
)

MANIFEST = """\
version: 1
sources:
  pay:
    type: Stripe
    prefix: pay
    description: payments
    secrets_version: {version}
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{{{ secret('STRIPE_SECRET_KEY') }}}}"
    tables:
      Customer: {{sync: true, sync_type: full_refresh, frequency: 24hour}}
{others}"""

OTHERS = """\
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
      ssh_tunnel:
        enabled: true
        host: bastion.example.com
        port: 22
        auth:
          selection: keypair
          username: tunnel
          private_key: "{{ secret('SSH_PRIVATE_KEY') }}"
          passphrase: "{{ secret('SSH_PASSPHRASE') }}"
    tables:
      customers: {sync: true, sync_type: full_refresh}
  snow:
    type: Snowflake
    prefix: snow
    config:
      account_id: acme-eu
      database: analytics
      warehouse: reporting
      auth_type:
        selection: keypair
        user: reader
        private_key: "{{ secret('SNOWFLAKE_PRIVATE_KEY') }}"
      schema: public
    tables:
      customers: {sync: true, sync_type: full_refresh}
  bq:
    type: BigQuery
    prefix: bq
    config:
      key_file:
        project_id: "{{ secret('BQ_PROJECT_ID') }}"
        private_key: "{{ secret('BQ_PRIVATE_KEY') }}"
        private_key_id: "{{ secret('BQ_PRIVATE_KEY_ID') }}"
        client_email: "{{ secret('BQ_CLIENT_EMAIL') }}"
        token_uri: "{{ secret('BQ_TOKEN_URI') }}"
      dataset_id: events
      temporary-dataset: {enabled: false}
      dataset_project: {enabled: false}
      use_custom_region: {enabled: false}
    tables:
      customers: {sync: true, sync_type: full_refresh}
"""

FORMS = sorted(ECHO_FORMS)
STYLES = ["drf", "html", "message", "text"]
#: Every form × style. The default run takes the diagonal (each form once, the styles in turn: every form and
#: every style covered); `pytest -m slow` runs the whole matrix.
CASES = [
    pytest.param(form, style, id=f"{form}-{style}", marks=() if STYLES[i % len(STYLES)] == style else pytest.mark.slow)
    for i, form in enumerate(FORMS)
    for style in STYLES
]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    keys = keyring_from([ApiKey(CANARIES.values["POSTHOG_PERSONAL_API_KEY"], frozenset({1}), frozenset({"*"}))])
    with served(keys=keys, control=True) as emulator, fast_cli_client(timeout=10):
        yield emulator


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name, value in CANARIES.values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POSTHOG_PROJECT_ID", "1")
    return tmp_path


def write_manifest(workdir: Path, *, version: int = 1, others: bool = True) -> None:
    text = MANIFEST.format(version=version, others=OTHERS if others else "")
    (workdir / "sources.yaml").write_text(text, encoding="utf-8")


def run(label: str, *argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(list(argv))
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text, (label, text)
    return code, text


def assert_no_leak(outputs: dict[str, tuple[int, str]], workdir: Path) -> None:
    leaks = {label: CANARIES.hits(text) for label, (_, text) in outputs.items() if CANARIES.hits(text)}
    assert leaks == {}
    assert CANARIES.scan_tree(workdir) == {}


def assert_echoed(server: HostileServer, method: str, pattern: str, form: str, *, auth: bool = False) -> None:
    """The server really echoed canaries (so the scan above had something to miss)."""
    exchanges = server.served(method, pattern)
    assert exchanges, f"no {method} {pattern} reached the echoing server"
    shown = "\n".join(echo_forms(e.body, [form]) for e in exchanges)
    if auth:
        shown += "\n".join(s for e in exchanges for s in ECHO_FORMS[form](e.headers.get("authorization", "")))
    assert CANARIES.hits(shown), f"the {form} echo carried no canary"


@pytest.mark.parametrize(("form", "style"), CASES)
def test_echoed_writes_leak_nothing(emu: Emulator, workdir: Path, form: str, style: str) -> None:
    """Creates and preflight checks answered with an error that echoes the request body and the key."""
    rules = [
        Rule("POST", r"/external_data_sources/?$", echo([form], style=style)),
        Rule("POST", r"/external_data_sources/database_schema/?$", echo([form], style=style)),
    ]
    write_manifest(workdir)
    with hostile_server(*reversed(rules), upstream=emu.base_url) as server:
        base = ("--host", server.url)
        outputs = {
            "plan --preflight": run("plan --preflight", "plan", "--preflight", *base, "sources.yaml"),
            "plan --preflight json": run(
                "plan --preflight json", "plan", "--preflight", "--format", "json", *base, "sources.yaml"
            ),
            "apply": run("apply", "apply", "--auto-approve", *base, "sources.yaml"),
            "apply json": run("apply json", "apply", "--auto-approve", "--format", "json", *base, "sources.yaml"),
        }
        assert_echoed(server, "POST", r"/external_data_sources/?$", form)
        assert_echoed(server, "POST", r"/database_schema/?$", form)
    assert {label: code for label, (code, _) in outputs.items()} == dict.fromkeys(outputs, 1)
    for label in ("apply", "apply json"):
        assert "[redacted]" in outputs[label][1], (label, outputs[label][1])
    assert_no_leak(outputs, workdir)


@pytest.mark.parametrize(("form", "style"), CASES)
def test_echoed_reads_leak_nothing(emu: Emulator, workdir: Path, form: str, style: str) -> None:
    """The list every command starts with, refused with an error that echoes the Authorization header."""
    write_manifest(workdir)
    rule = Rule("GET", r"/external_data_sources/?$", echo([form], style=style, status=403))
    commands = {
        **{f"plan {f}": ("plan", "--format", f, "sources.yaml") for f in ("text", "markdown", "json")},
        **{f"drift {f}": ("drift", "--format", f, "sources.yaml") for f in ("text", "markdown", "json")},
        "plan -o": ("plan", "-o", "plan.json", "sources.yaml"),
        "apply": ("apply", "--auto-approve", "sources.yaml"),
        "apply json": ("apply", "--auto-approve", "--format", "json", "sources.yaml"),
        "import": ("import", "--all"),
        "import -o": ("import", "--all", "-o", "imported.yaml"),
    }
    with hostile_server(rule, upstream=emu.base_url) as server:
        outputs = {label: run(label, *argv[:1], "--host", server.url, *argv[1:]) for label, argv in commands.items()}
        assert_echoed(server, "GET", r"/external_data_sources/?$", form, auth=True)
    assert {label: code for label, (code, _) in outputs.items()} == dict.fromkeys(outputs, 1)
    assert not (workdir / "plan.json").exists()
    assert_no_leak(outputs, workdir)


@pytest.fixture(scope="module")
def rotation(emu: Emulator) -> Iterator[list[int]]:
    """`pay` created once in the emulator; each case bumps `secrets_version` past the last one planned."""
    yield [1]


@pytest.mark.parametrize(("form", "style"), CASES)
def test_echoed_rotation_patch_leaks_nothing(
    emu: Emulator, workdir: Path, rotation: list[int], form: str, style: str
) -> None:
    """A rotation re-sends the key in a PATCH that the server answers with an echo (500s are retried)."""
    if rotation == [1]:
        write_manifest(workdir, others=False)
        assert run("setup", "apply", "--auto-approve", "--host", emu.base_url, "sources.yaml")[0] == 0
    rotation[0] += 1
    write_manifest(workdir, version=rotation[0], others=False)
    rule = Rule("PATCH", r"/external_data_sources/[^/]+/?$", echo([form], style=style, status=400))
    with hostile_server(rule, upstream=emu.base_url) as server:
        base = ("--host", server.url)
        outputs = {
            "plan -o": run("plan -o", "plan", "-o", "plan.json", *base, "sources.yaml"),
            "apply saved plan": run("apply saved plan", "apply", "--auto-approve", *base, "plan.json"),
            "apply json": run("apply json", "apply", "--auto-approve", "--format", "json", *base, "sources.yaml"),
        }
        assert_echoed(server, "PATCH", r"/external_data_sources/", form)
    assert [code for _, (code, _) in outputs.items()] == [0, 1, 1]
    assert "[redacted]" in outputs["apply saved plan"][1]
    assert_no_leak(outputs, workdir)


HOSTILE_TEXT = [
    "{{ env('POSTHOG_PERSONAL_API_KEY') }}",
    "{{ secret('STRIPE_SECRET_KEY') }}",
    "{% for k in range(1) %}{{ env('RECONCILER_FINGERPRINT_KEY') }}{% endfor %}",
    "{# comment #}{{ secret('PG_PASSWORD') }}",
]


PLANTED_KEY = "sk_test_planted0000"


def test_planted_posthog_text_never_renders(emu: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Text a PostHog UI user planted (templates that would read the canaries) goes through import, plan,
    apply and drift in every format as data: no output and no PostHog field ever holds a canary."""
    key = CANARIES.values["POSTHOG_PERSONAL_API_KEY"]
    api = httpx.Client(base_url=emu.base_url, headers={"Authorization": f"Bearer {key}"})
    created = []
    for index, text in enumerate(HOSTILE_TEXT):
        answer = api.post(
            "/api/projects/1/external_data_sources/",
            json={
                "source_type": "Stripe",
                "prefix": f"planted{index}",
                "description": text,
                "payload": {
                    "auth_method": {"selection": "api_key", "stripe_secret_key": PLANTED_KEY},
                    "schemas": [{"name": "Customer", "should_sync": True, "sync_type": "full_refresh"}],
                },
            },
        )
        assert answer.status_code == 201, answer.text
        created.append(answer.json()["id"])
    base = ("--host", emu.base_url)
    outputs = {"import": run("import planted", "import", *base, "--all", "-o", "imported.yaml")}
    imported = (workdir / "imported.yaml").read_text(encoding="utf-8")
    # Adopting needs the keys typed in the UI, under the names import chose for them.
    for name in sorted(set(re.findall(r"secret\('([A-Z0-9_]+)'\)", imported))):
        monkeypatch.setenv(name, PLANTED_KEY)
    for label, argv in {
        **{f"plan {f}": ("plan", "--format", f) for f in ("text", "markdown", "json")},
        "apply": ("apply", "--auto-approve", "--allow-delete"),
        **{f"drift {f}": ("drift", "--format", f) for f in ("text", "markdown", "json")},
    }.items():
        outputs[label] = run(f"{label} planted", *argv[:1], *base, *argv[1:], "imported.yaml")
    assert {label: code for label, (code, _) in outputs.items()} == dict.fromkeys(outputs, 0), outputs
    stored = api.get("/api/projects/1/external_data_sources/").json()["results"]
    api.close()
    descriptions = [s["description"] for s in stored if s["id"] in created]
    for text in HOSTILE_TEXT:
        assert any(text in (d or "") for d in descriptions), (text, descriptions)  # kept as text, not rendered
    assert CANARIES.hits(json.dumps(stored)) == []
    assert "{{" in imported
    assert_no_leak(outputs, workdir)


def test_matrix_size() -> None:
    """The matrix docs/security.md quotes: 7 forms × 4 styles × (4 write, 11 read, 3 rotation runs) + 8 runs of
    planted text; the default run takes 7 of the 28 form × style pairs, covering every form and every style."""
    assert (len(FORMS), len(STYLES), len(CASES)) == (7, 4, 28)
    default = [case.values for case in CASES if not case.marks]
    assert len(default) == len(FORMS)
    assert {form for form, _ in default} == set(FORMS) and {style for _, style in default} == set(STYLES)
