"""Connection settings: precedence, the key only from the environment, http:// only to loopback."""

from __future__ import annotations

import pytest

from reconciler.errors import ConfigError
from reconciler.loopback import is_loopback
from reconciler.settings import normalise_host, resolve_settings

KEY_ENV = {"POSTHOG_PERSONAL_API_KEY": "phx_canary_settings"}


def test_flags_beat_environment_which_beats_manifest() -> None:
    env = {**KEY_ENV, "POSTHOG_HOST": "https://eu.posthog.com", "POSTHOG_PROJECT_ID": "200"}
    s = resolve_settings(env, host="https://us.posthog.com", project="100")
    assert (s.host, s.project, s.project_origin) == ("https://us.posthog.com", "100", "--project")
    s = resolve_settings(env, project="300", manifest_project="300")
    assert (s.project, s.project_origin) == ("300", "--project")
    s = resolve_settings(env)
    assert (s.host, s.project, s.project_origin) == ("https://eu.posthog.com", "200", "POSTHOG_PROJECT_ID")
    s = resolve_settings({**KEY_ENV, "POSTHOG_HOST": "us.posthog.com"}, manifest_project=300)
    assert (s.host, s.project, s.project_origin) == ("https://us.posthog.com", "300", "manifest")
    assert s.api_path == "projects" and s.rate_limit == "480/minute,4800/hour" and s.base_url == s.host


def test_a_manifest_project_is_a_pin_that_flags_and_environment_may_not_contradict() -> None:
    env = {**KEY_ENV, "POSTHOG_HOST": "https://eu.posthog.com", "POSTHOG_PROJECT_ID": "200"}
    for kwargs, origin in (({"project": "100"}, "--project 100"), ({}, "POSTHOG_PROJECT_ID 200")):
        with pytest.raises(ConfigError) as caught:
            resolve_settings(env, manifest_project="300", manifest_where="m.yaml:2", **kwargs)
        assert caught.value.reference == "project-mismatch"
        name, number = origin.split()
        assert caught.value.message.startswith(
            f"the manifests pin project 300 (m.yaml:2), but {name} names project {number}"
        )
    # `@current` is the key's own project: nothing to compare offline.
    assert resolve_settings(env, project="@current", manifest_project="300").project == "@current"


def test_no_host_is_a_clear_error_never_a_silent_fake() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings(KEY_ENV, project="1")
    assert caught.value.reference == "no-host"
    assert str(caught.value) == (
        "no PostHog host configured\n  hint: pass --host https://us.posthog.com (or eu / your self-hosted URL), "
        "or set POSTHOG_HOST; use --host local to try the embedded emulator"
    )
    with pytest.raises(ConfigError, match="no PostHog host"):
        resolve_settings({**KEY_ENV, "POSTHOG_HOST": "  "}, project="1")


def test_key_only_from_the_environment() -> None:
    with pytest.raises(ConfigError, match="POSTHOG_PERSONAL_API_KEY is not set") as caught:
        resolve_settings({}, host="https://us.posthog.com", project="1")
    assert "never accepted as a flag" in str(caught.value)
    s = resolve_settings(KEY_ENV, host="https://us.posthog.com", project="1")
    assert s.api_key is not None and s.api_key.reveal() == "phx_canary_settings"
    assert "phx_canary_settings" not in repr(s) and "phx_canary_settings" not in str(s)
    assert resolve_settings({}, host="https://us.posthog.com", project="1", require_key=False).api_key is None


def test_missing_project() -> None:
    with pytest.raises(ConfigError, match="no PostHog project configured") as caught:
        resolve_settings(KEY_ENV, host="https://us.posthog.com")
    assert "POSTHOG_PROJECT_ID" in str(caught.value)


@pytest.mark.parametrize("project", ["abc", "12a", "-1", "1 2"])
def test_bad_project(project: str) -> None:
    with pytest.raises(ConfigError, match="is not a PostHog project id"):
        resolve_settings(KEY_ENV, host="https://us.posthog.com", project=project)


def test_current_project_alias() -> None:
    assert resolve_settings(KEY_ENV, host="https://us.posthog.com", project="@current").project == "@current"


def test_local_is_the_emulator_with_its_defaults() -> None:
    s = resolve_settings({}, host="local")
    assert s.is_local and s.base_url is None and s.project == "1"
    assert s.api_key is not None and s.api_key.reveal() == "phx_local"
    assert resolve_settings(KEY_ENV, host="local", project="5").project == "5"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://us.posthog.com/", "https://us.posthog.com"),
        ("us.posthog.com", "https://us.posthog.com"),
        ("HTTPS://EU.PostHog.com", "https://eu.posthog.com"),
        ("https://posthog.internal:8443/ph/", "https://posthog.internal:8443/ph"),
        ("http://localhost:8010", "http://localhost:8010"),
        ("http://127.0.0.1:8010", "http://127.0.0.1:8010"),
        ("http://127.5.5.5", "http://127.5.5.5"),
        ("http://[::1]:8010", "http://[::1]:8010"),
        ("https://emulator.localhost", "https://emulator.localhost"),
        ("local", "local"),
    ],
)
def test_hosts_accepted(raw: str, expected: str) -> None:
    assert normalise_host(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reference", "text"),
    [
        ("http://us.posthog.com", "insecure-host", "refusing plain http:// to us.posthog.com"),
        ("http://10.0.0.5:8000", "insecure-host", "unencrypted"),
        ("http://0.0.0.0:8010", "insecure-host", "unencrypted"),
        ("http://localhost.example.com", "insecure-host", "unencrypted"),
        # *.localhost is loopback only if every resolver obeys RFC 6761; a search domain or hosts entry can
        # send it anywhere, with the key in clear (issue 17, item 10)
        ("http://emulator.localhost", "insecure-host", "not *.localhost"),
        ("http://a.b.localhost.:8010", "insecure-host", "unencrypted"),
        ("ftp://us.posthog.com", "bad-host", "only https://"),
        ("https://me:phx_secret@us.posthog.com", "bad-host", "must not contain credentials"),
        ("https://us.posthog.com/?x=1", "bad-host", "query"),
        ("https://us.posthog.com:99999", "bad-host", "invalid port"),
        ("https://", "bad-host", "no host name"),
    ],
)
def test_hosts_refused(raw: str, reference: str, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        normalise_host(raw)
    assert caught.value.reference == reference and text in str(caught.value)
    assert "phx_secret" not in str(caught.value)


def test_loopback_by_name_only() -> None:
    assert is_loopback("localhost") and is_loopback("127.0.0.1") and is_loopback("[::1]")
    assert not is_loopback("localhost.evil.com") and not is_loopback("192.168.1.1")
    assert not is_loopback("emulator.localhost") and not is_loopback("x.localhost.")


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("phx_abc\ndef", "a newline"),
        ("phx_abc\rdef", "a newline"),
        ("phx_abc def", "whitespace"),
        ("phx_abc\tdef", "whitespace"),
        ("phx_abc\x07def", "a control character"),
        ("phx_abc\x7fdef", "a control character"),
        ("phx_abcé", "non-ASCII"),
        ("phx_abc\udcff", "not UTF-8"),  # what os.environ holds for a byte that is not UTF-8 (surrogateescape)
    ],
)
def test_an_api_key_with_impossible_characters_is_refused_without_echoing_it(key: str, kind: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings({"POSTHOG_PERSONAL_API_KEY": key}, host="https://us.posthog.com", project="1")
    text = str(caught.value)
    assert caught.value.reference == "bad-api-key" and kind in text and "POSTHOG_PERSONAL_API_KEY" in text
    assert "abc" not in text and "def" not in text  # no part of the key is shown


def test_the_key_is_stripped_of_surrounding_whitespace_only() -> None:
    s = resolve_settings({"POSTHOG_PERSONAL_API_KEY": "  phx_abc-_.~!\n"}, host="https://h.example", project="1")
    assert s.api_key is not None and s.api_key.reveal() == "phx_abc-_.~!"


def test_request_bounds_from_the_environment() -> None:
    base = resolve_settings(KEY_ENV, host="https://h.example", project="1")
    assert (base.deadline, base.max_response_bytes, base.max_wait) == (120.0, 256 * 2**20, 120.0)
    env = {**KEY_ENV, "RECONCILER_REQUEST_DEADLINE": "5", "RECONCILER_MAX_RESPONSE_MB": "0.5",
           "RECONCILER_MAX_WAIT": "300"}  # fmt: skip
    s = resolve_settings(env, host="https://h.example", project="1")
    assert (s.deadline, s.max_response_bytes, s.max_wait) == (5.0, 2**19, 300.0)
    for name in ("RECONCILER_REQUEST_DEADLINE", "RECONCILER_MAX_RESPONSE_MB", "RECONCILER_MAX_WAIT"):
        for bad in ("0", "-1", "soon", "inf", "nan"):
            with pytest.raises(ConfigError, match=f"{name} must be a positive number"):
                resolve_settings({**KEY_ENV, name: bad}, host="https://h.example", project="1")


def test_api_path_and_rate_limit() -> None:
    s = resolve_settings(
        {**KEY_ENV, "RECONCILER_RATE_LIMIT": "100/minute"},
        host="https://us.posthog.com",
        project="1",
        api_path="environments",
    )
    assert (s.api_path, s.rate_limit) == ("environments", "100/minute")
    assert resolve_settings(KEY_ENV, host="https://h.example", project="1", rate_limit="off").rate_limit == "off"
    with pytest.raises(ConfigError, match="--api-path"):
        resolve_settings(KEY_ENV, host="https://us.posthog.com", project="1", api_path="teams")
    with pytest.raises(ConfigError, match="invalid rate limit"):
        resolve_settings(KEY_ENV, host="https://us.posthog.com", project="1", rate_limit="lots")
