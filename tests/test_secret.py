"""reconciler.secret: the Secret type, the one walk that finds Secrets, and the one redactor (pure, no I/O)."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from reconciler.secret import (
    REDACTED,
    SECRET_MASK,
    Secret,
    SecretUnavailable,
    collect_secrets,
    has_secret,
    redact,
    reveal_all,
    secret_values,
    walk_secrets,
    without_secrets,
)

CANARY = "canary-value-7731"
KEY = Secret("STRIPE_KEY", CANARY)
PASS = Secret("PG_PASSWORD", "pg-pass-4410")
UNSET = Secret("NOT_SET", None)
CONFIG: dict[str, Any] = {
    "host": "db.example.com",
    "password": PASS,
    "auth_method": {"selection": "api_key", "stripe_secret_key": KEY},
    "ssh_tunnel": {"enabled": True, "auth": {"selection": "keypair", "private_key": UNSET, "passphrase": None}},
    "tags": ["a", KEY],
}


# ---- the Secret type ------------------------------------------------------------------------------------


def test_a_secret_never_prints_its_value() -> None:
    for spelling in (str(KEY), repr(KEY), f"{KEY}", f"{KEY:>40}", format(KEY, "x"), str([KEY]), str({"k": KEY})):
        assert CANARY not in spelling
    assert str(KEY) == SECRET_MASK == "(secret)"
    assert repr(KEY) == "Secret('STRIPE_KEY')"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(KEY)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.deepcopy(KEY)
    with pytest.raises(TypeError, match="not JSON serializable"):
        json.dumps({"k": KEY})


def test_reveal_and_equality() -> None:
    assert KEY.reveal() == CANARY and KEY.available
    with pytest.raises(SecretUnavailable, match="'NOT_SET' is not set") as caught:
        UNSET.reveal()
    assert caught.value.name == "NOT_SET" and not UNSET.available
    assert Secret("STRIPE_KEY", CANARY) == KEY
    assert Secret("STRIPE_KEY", "other") != KEY and Secret("OTHER", CANARY) != KEY
    assert hash(Secret("STRIPE_KEY", "other")) == hash(KEY)  # hashed by name only: values never reach a hash


# ---- the walk -------------------------------------------------------------------------------------------


def test_walk_finds_every_secret_with_its_dotted_path_in_order() -> None:
    assert list(walk_secrets(CONFIG)) == [
        ("password", PASS),
        ("auth_method.stripe_secret_key", KEY),
        ("ssh_tunnel.auth.private_key", UNSET),
        ("tags.1", KEY),
    ]
    assert list(walk_secrets(CONFIG["auth_method"], "config.auth_method")) == [
        ("config.auth_method.stripe_secret_key", KEY)
    ]
    assert list(walk_secrets(KEY)) == [("", KEY)]
    assert list(walk_secrets({"a": 1, "b": [None, "x"], "c": {}})) == []


def test_collect_has_and_values_are_views_of_the_walk() -> None:
    assert collect_secrets(CONFIG) == {
        "password": PASS,
        "auth_method.stripe_secret_key": KEY,
        "ssh_tunnel.auth.private_key": UNSET,
        "tags.1": KEY,
    }
    assert has_secret(CONFIG) and has_secret([1, {"x": KEY}]) and has_secret(KEY)
    assert not has_secret({"host": "h", "port": 5432, "nested": {"list": [1, 2]}})
    # Only available values, once per occurrence: the unset private key contributes nothing.
    assert secret_values(CONFIG) == ["pg-pass-4410", CANARY, CANARY]


def test_reveal_all_and_without_secrets_copy_without_touching_the_input() -> None:
    body = {"job_inputs": {"password": PASS, "hosts": ("a", PASS)}, "n": 1}
    assert reveal_all(body) == {"job_inputs": {"password": "pg-pass-4410", "hosts": ["a", "pg-pass-4410"]}, "n": 1}
    assert body["job_inputs"]["password"] is PASS
    with pytest.raises(SecretUnavailable):
        reveal_all({"k": UNSET})
    assert without_secrets(CONFIG) == {
        "host": "db.example.com",
        "auth_method": {"selection": "api_key"},
        "ssh_tunnel": {"enabled": True, "auth": {"selection": "keypair", "passphrase": None}},
        "tags": ["a"],
    }


# ---- the redactor ---------------------------------------------------------------------------------------


def test_redact_known_values_longest_first_in_any_json_like_value() -> None:
    body = {"detail": f"bad key {CANARY}!", "items": [f"x{CANARY}x", 3, None], "attr": None}
    assert redact(body, [CANARY]) == {"detail": "bad key [redacted]!", "items": ["x[redacted]x", 3, None], "attr": None}
    # Overlapping values: the longer one is cut whole, so no tail of it is left behind.
    assert redact("pw=abcd1234", ["abcd", "abcd1234"]) == "pw=[redacted]"
    # Values under four characters would blank ordinary words: left alone.
    assert redact("the cat sat", ["cat", "sat", ""]) == "the cat sat"
    assert redact(None, [CANARY]) is None
    assert REDACTED == "[redacted]"


def test_redact_without_credential_shapes_keeps_ordinary_field_texts() -> None:
    text = "password: This field is required."
    assert redact(text, []) == text
    assert redact(text, [], credential_shapes=True) == "password: [redacted] field is required."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer phx_abcdefghijk rejected", "Bearer [redacted] rejected"),
        ("token=abc123; next", "token=[redacted]; next"),
        ("key rk_live_51Habc is invalid", "key [redacted] is invalid"),
        ("mysql://root:s3cret@host:3306/db", "mysql://root:[redacted]@host:3306/db"),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- tail", "[redacted] tail"),
        ('api_key = "quoted value" rest', "api_key = [redacted] rest"),
        ("plain failure", "plain failure"),
    ],
)
def test_redact_credential_shapes(text: str, expected: str) -> None:
    assert redact(text, credential_shapes=True) == expected


def test_redact_known_values_and_shapes_together() -> None:
    assert (
        redact("value TOPSECRETVALUE here, password=hunter22", ["TOPSECRETVALUE"], credential_shapes=True)
        == "value [redacted] here, password=[redacted]"
    )


# ---- every form an echoing server shows (issue 17, item 4) ------------------------------------------------

_PEM_BODY = "\n".join(f"MIIEv{i}QIBADANBgkqhkiG9w0BAQEFAASC{i}CANARYpem{i}line" for i in range(4))
#: Secrets that leaked whole through an echoing server before: PEM keys (newlines), quotes and backslashes.
HARD_SECRETS = {
    "ssh-key": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{_PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----\n",
    "snowflake-key": f"-----BEGIN PRIVATE KEY-----\r\n{_PEM_BODY}\r\n-----END PRIVATE KEY-----",
    "bigquery-key": f"-----BEGIN RSA PRIVATE KEY-----\\n{_PEM_BODY}\\n-----END RSA PRIVATE KEY-----\\n",
    "quotes": "pa\"ss'wo\\rd-CANARY-q",
    "unicode": "pässwörd-CANARY-ü\t€",
    "spaces": "correct horse CANARY battery staple",
    "url-ish": "a&b=c?d/e#f%20CANARY+g",
}


def _shown(value: str) -> dict[str, list[str]]:
    """What an echoing server may show of `value`, by form (the same forms tests/reliability/hostile_kit echoes)."""
    from urllib.parse import quote, quote_plus

    lines = [line for line in value.splitlines() if len(line.strip()) >= 8]
    return {
        "raw": [value],
        "json-escaped": [json.dumps(value), json.dumps(value, ensure_ascii=False), json.dumps(json.dumps(value))],
        "repr": [repr(value), repr(json.dumps(value))],
        "url-encoded": [quote(value, safe=""), quote_plus(value), quote(json.dumps(value), safe="")],
        "lines": lines + [json.dumps(line) for line in lines],
        "prefix": [value[:8], value[: max(8, len(value) // 2)], value[:-1], json.dumps(value)[:20]],
        "html": [f"<pre>{value.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</pre>"],
    }


@pytest.mark.parametrize("name", sorted(HARD_SECRETS))
@pytest.mark.parametrize("form", ["raw", "json-escaped", "repr", "url-encoded", "lines", "prefix", "html"])
def test_every_echoed_form_of_a_secret_is_cut_out(name: str, form: str) -> None:
    value = HARD_SECRETS[name]
    for shown in _shown(value)[form]:
        text = f"upstream said: cannot use {shown} (code 42)"
        cut = redact(text, [value])
        assert cut.startswith("upstream said: cannot use ") and cut.endswith(" (code 42)"), cut
        assert "CANARY" not in cut, (form, shown, cut)
        assert "[redacted]" in cut


def test_prefix_cutting_keeps_the_text_around_and_leaves_short_coincidences() -> None:
    value = "s3cr3t-value-that-is-long"
    assert redact(f"x {value[:12]}… y", [value]) == "x [redacted]… y"
    assert redact(f"x {value[:7]} y", [value]) == f"x {value[:7]} y"  # under 8 characters: could be anything
    assert redact("abcd and abcdefgh", ["abcdefghij", "abcd"]) == "[redacted] and [redacted]"
