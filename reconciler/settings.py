"""Connection settings: host, project and API key from flags, the environment and the manifest.

Pure: the caller passes the environment mapping in (the CLI hands over `os.environ`), so this module reads
nothing itself. Rules (DESIGN.md "Connection settings"): the key comes only from POSTHOG_PERSONAL_API_KEY,
never a flag; with no host configured we stop with a clear message and never silently target a fake;
plain http:// is refused for non-loopback hosts (the key would travel in clear); `--host local` names
the embedded emulator (started elsewhere; see `Settings.is_local`). The key must look like a key (visible
ASCII): anything else is refused without showing it. The bounds on one request and on any wait are read here
too (RECONCILER_REQUEST_DEADLINE, RECONCILER_MAX_RESPONSE_MB, RECONCILER_MAX_WAIT).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from reconciler.credentials import API_KEY_ENV
from reconciler.errors import ConfigError
from reconciler.loopback import is_loopback
from reconciler.rate_spec import DEFAULT_RATE_LIMIT, parse_rate_limit
from reconciler.records import record
from reconciler.secret import Secret

__all__ = [
    "API_PATHS",
    "DEADLINE_ENV",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_WAIT",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_TIMEOUT",
    "HOST_ENV",
    "KEY_ENV",
    "LOCAL_DEFAULT_KEY",
    "LOCAL_DEFAULT_PROJECT",
    "LOCAL_HOST",
    "MAX_RESPONSE_ENV",
    "MAX_WAIT_ENV",
    "PROJECT_ENV",
    "RATE_LIMIT_ENV",
    "Pinned",
    "Settings",
    "normalise_host",
    "resolve_settings",
]

HOST_ENV = "POSTHOG_HOST"
PROJECT_ENV = "POSTHOG_PROJECT_ID"
KEY_ENV = API_KEY_ENV
RATE_LIMIT_ENV = "RECONCILER_RATE_LIMIT"
DEADLINE_ENV = "RECONCILER_REQUEST_DEADLINE"
MAX_RESPONSE_ENV = "RECONCILER_MAX_RESPONSE_MB"
MAX_WAIT_ENV = "RECONCILER_MAX_WAIT"
LOCAL_HOST = "local"
#: What `reconciler serve` accepts out of the box (see its --keys help): used for `--host local` only.
LOCAL_DEFAULT_KEY = "phx_local"
LOCAL_DEFAULT_PROJECT = "1"
API_PATHS = ("projects", "environments")
DEFAULT_TIMEOUT = 30.0
#: The longest single wait by default: above PostHog's minute window (a 429 there asks ≤ 60 s, §4), below the
#: hourly one, which would stall a CI job for up to an hour.
DEFAULT_MAX_WAIT = 120.0
#: Total seconds one request may take, however slowly the server answers (calls where PostHog checks the
#: upstream get 2.5 times as long); a per-read timeout alone lets a server that trickles a byte at a time
#: hold a run forever.
DEFAULT_DEADLINE = 120.0
#: Largest answer read (decoded). A list page of 1,000 sources × 50 tables is ~26 MB (docs/performance.md).
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
#: What an API key may hold: visible ASCII. A newline or a non-UTF-8 byte would break the Authorization header,
#: and httpx would then print the whole header in its error.
_KEY_CHARS = re.compile(r"[\x21-\x7e]+\Z")
_PROJECT = re.compile(r"^(\d+|@current)$")  # a team id, or PostHog's `@current` alias (§1)
_CURRENT = "@current"  # the key's own project: it cannot be compared with a pinned id offline
#: A page URL copied from the browser (`https://eu.posthog.com/project/123/data-warehouse`), not a host.
_PROJECT_PAGE = re.compile(r"^(?P<base>.*?)/(?:api/)?(?:projects?|environments)/(?P<id>\d+)(?:/.*)?$")
_NO_HOST_HINT = (
    f"pass --host https://us.posthog.com (or eu / your self-hosted URL), or set {HOST_ENV}; "
    "use --host local to try the embedded emulator"
)


@record
class Settings:
    """Where and as whom to talk to PostHog. Frozen; the key is a `Secret`, so repr never shows it."""

    host: str  # "https://us.posthog.com" (no trailing slash), or "local"
    project: str
    api_key: Secret | None
    api_path: str = "projects"
    rate_limit: str = DEFAULT_RATE_LIMIT
    timeout: float = DEFAULT_TIMEOUT
    project_origin: str = "--project"  # which setting supplied the project, for messages
    deadline: float = DEFAULT_DEADLINE
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_wait: float = DEFAULT_MAX_WAIT
    environment: str | None = None  # reconciler.yaml's environment, when one is selected

    @property
    def is_local(self) -> bool:
        """`--host local`: the embedded emulator, which the CLI starts and then passes as `base_url`."""
        return self.host == LOCAL_HOST

    @property
    def base_url(self) -> str | None:
        """The URL to send requests to; None for `--host local` until the emulator's address is known."""
        return None if self.is_local else self.host


@record
class Pinned:
    """The host and project an environment of reconciler.yaml pins, and where each is written (`file:line:col`).
    Flags and variables may repeat a pinned value, never contradict it."""

    environment: str
    host: str | None = None
    project: str | None = None
    host_at: str = ""
    project_at: str = ""

    def host_or(self, given: str | None, origin: str) -> str | None:
        """The host to use: the pinned one, unless `given` (from `origin`) names the same one."""
        if self.host is None:
            return given
        pinned = self._located(normalise_host, self.host, self.host_at)
        if given is not None and given.strip() and normalise_host(given) != pinned:
            raise self._contradiction(origin, "host", given, pinned, self.host_at)
        return pinned

    def project_or(self, given: str | None, origin: str) -> str | None:
        if self.project is None:
            return given
        origin_of_pin = f"environment '{self.environment}'"
        pinned = self._located(lambda p: _project(p, origin_of_pin), self.project, self.project_at)
        if given is not None and str(given).strip() and str(given).strip() != pinned:
            raise self._contradiction(origin, "project", given, pinned, self.project_at)
        return pinned

    def _contradiction(self, origin: str, what: str, given: str, pinned: str, at: str) -> ConfigError:
        return ConfigError(
            f"{origin} says {what} {given.strip()!r}, but environment '{self.environment}' pins {what} {pinned!r} "
            f"({at})",
            hint=f"drop {origin} (the environment sets the {what}), or choose another environment with --env",
            reference="environment-mismatch",
        )

    @staticmethod
    def _located(check: Callable[[str], str], value: str, at: str) -> str:
        try:
            return check(value)
        except ConfigError as exc:
            raise ConfigError(f"{at}: {exc.message}", hint=exc.hint, reference=exc.reference) from None


def normalise_host(raw: str) -> str:
    """Validate a host setting and return it as `scheme://host[:port][/path]`, or "local".

    A bare name gets `https://`. Refused: other schemes, credentials or a query in the URL (the host is
    printed in plans), and plain http:// to anything but loopback.
    """
    text = raw.strip()
    if text == LOCAL_HOST:
        return LOCAL_HOST
    if not text:
        raise ConfigError("no PostHog host configured", hint=_NO_HOST_HINT, reference="no-host")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"host {raw!r}: only https:// (or http:// to this machine) is supported", reference="bad-host"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "the host URL must not contain credentials",
            hint=f"put the API key in {KEY_ENV}",
            reference="bad-host",
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"host {raw!r} must not contain a query or fragment", reference="bad-host")
    if not parts.hostname:
        raise ConfigError(f"host {raw!r} has no host name", reference="bad-host")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"host {raw!r} has an invalid port", reference="bad-host") from None
    page = _PROJECT_PAGE.match(parts.path)
    if page:
        host = f"{scheme}://{parts.netloc.lower()}{page['base']}"
        raise ConfigError(
            f"host {raw!r} is a project page's URL: use the host only, the project id goes in --project",
            hint=f"--host {host} --project {page['id']}",
            reference="bad-host",
        )
    if scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// to {parts.hostname}: the API key would travel unencrypted",
            hint="use https://; http:// is only accepted for localhost / 127.0.0.1 / ::1 (not *.localhost)",
            reference="insecure-host",
        )
    return f"{scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _project(value: object, origin: str) -> str:
    text = str(value).strip()
    if not _PROJECT.match(text):
        raise ConfigError(
            f"project {text!r} (from {origin}) is not a PostHog project id",
            hint="use the numeric id from your project's URL, e.g. https://us.posthog.com/project/12345",
            reference="bad-project",
        )
    return text


def resolve_settings(
    env: Mapping[str, str],
    *,
    host: str | None = None,
    project: str | None = None,
    manifest_project: str | int | None = None,
    manifest_where: str | None = None,
    api_path: str | None = None,
    rate_limit: str | None = None,
    timeout: float | None = None,
    require_key: bool = True,
    pinned: Pinned | None = None,
) -> Settings:
    """Settings from flags (keyword arguments), then `env`, then the manifest's `project:`.

    Precedence: `--host` > POSTHOG_HOST; `--project` > POSTHOG_PROJECT_ID > manifest; the key only from
    POSTHOG_PERSONAL_API_KEY. `--host local` needs no key or project (the emulator's defaults apply). A manifest's
    `project:` is a pin, not a default: a flag or variable naming another project is an error
    (`project-mismatch`; `manifest_where` says where the pin is, for the message). An environment of
    reconciler.yaml (`pinned`) sets host and project: a flag, variable or manifest naming another is an error.
    """
    raw_host = host if host is not None else env.get(HOST_ENV)
    if pinned is not None:
        raw_host = pinned.host_or(raw_host, "--host" if host is not None else HOST_ENV)
    if raw_host is None or not raw_host.strip():
        raise ConfigError("no PostHog host configured", hint=_NO_HOST_HINT, reference="no-host")
    resolved_host = normalise_host(raw_host)
    local = resolved_host == LOCAL_HOST

    path = api_path or "projects"
    if path not in API_PATHS:
        raise ConfigError(f"--api-path must be one of {', '.join(API_PATHS)}, not {path!r}", reference="bad-config")

    resolved_project, origin = _resolve_project(
        env, project, manifest_project, manifest_where, local=local, environment=pinned
    )

    key_value = env.get(KEY_ENV, "").strip()
    if key_value:
        key: Secret | None = Secret(KEY_ENV, _checked_key(key_value))
    elif local:
        key = Secret(KEY_ENV, LOCAL_DEFAULT_KEY)
    elif require_key:
        raise ConfigError(
            f"{KEY_ENV} is not set",
            hint="create a personal API key with the external_data_source scopes in PostHog (Settings → "
            "Personal API keys) and export it; it is never accepted as a flag",
            reference="no-api-key",
        )
    else:
        key = None

    spec = rate_limit if rate_limit is not None else env.get(RATE_LIMIT_ENV) or DEFAULT_RATE_LIMIT
    parse_rate_limit(spec)  # a typo fails now, before any request
    max_response_mb = _positive(env, MAX_RESPONSE_ENV, DEFAULT_MAX_RESPONSE_BYTES / 2**20)
    return Settings(
        host=resolved_host,
        project=resolved_project,
        api_key=key,
        api_path=path,
        rate_limit=spec,
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
        project_origin=origin,
        deadline=_positive(env, DEADLINE_ENV, DEFAULT_DEADLINE),
        max_response_bytes=int(max_response_mb * 2**20),
        max_wait=_positive(env, MAX_WAIT_ENV, DEFAULT_MAX_WAIT),
        environment=pinned.environment if pinned is not None else None,
    )


def _resolve_project(
    env: Mapping[str, str],
    flag: str | None,
    manifest: str | int | None,
    manifest_where: str | None,
    *,
    local: bool,
    environment: Pinned | None = None,
) -> tuple[str, str]:
    """The project and which setting named it. The one place a project is chosen (and a pin checked): an
    environment's project first, which nothing may contradict; else the manifests' `project:`."""
    if environment is not None and environment.project is not None:
        chosen = environment.project_or(flag, "--project") or ""
        environment.project_or(env.get(PROJECT_ENV), PROJECT_ENV)
        where = f"the manifests' project: ({manifest_where})" if manifest_where else "the manifests' project:"
        environment.project_or(None if manifest is None else str(manifest), where)
        return chosen, f"environment '{environment.environment}'"
    origin_of_pin = f"the manifest's project: at {manifest_where}" if manifest_where else "the manifest's project:"
    pinned = _project(manifest, origin_of_pin) if manifest is not None and str(manifest).strip() else None
    if flag is not None and str(flag).strip():
        named: tuple[str, str] | None = (_project(flag, "--project"), "--project")
    elif env.get(PROJECT_ENV, "").strip():
        named = (_project(env[PROJECT_ENV], PROJECT_ENV), PROJECT_ENV)
    else:
        named = None
    if named is not None and pinned is not None and _CURRENT not in (named[0], pinned) and named[0] != pinned:
        where = f" ({manifest_where})" if manifest_where else ""
        raise ConfigError(
            f"the manifests pin project {pinned}{where}, but {named[1]} names project {named[0]}: "
            "refusing to plan or apply against another project",
            hint=f"drop {named[1]} (the manifests' project: is used), or change `project:` in the manifests "
            "if they really belong to the other project",
            reference="project-mismatch",
        )
    if named is not None:
        return named
    if pinned is not None:
        return pinned, "manifest"
    if local:
        return LOCAL_DEFAULT_PROJECT, "--host local default"
    raise ConfigError(
        "no PostHog project configured",
        hint=f"pass --project ID, set {PROJECT_ENV}, or add `project:` to the manifest",
        reference="no-project",
    )


def _checked_key(value: str) -> str:
    """The key, if every character may travel in an Authorization header; never echoes what it found."""
    if _KEY_CHARS.match(value):
        return value
    bad = next(c for c in value if not _KEY_CHARS.match(c))
    if bad in "\r\n":
        kind = "a newline"
    elif bad.isspace():
        kind = "whitespace"
    elif ord(bad) < 0x20 or ord(bad) == 0x7F:
        kind = "a control character"
    else:
        kind = "a non-ASCII character (or bytes that are not UTF-8)"
    raise ConfigError(
        f"{KEY_ENV} contains {kind} (at character {value.index(bad) + 1}); an API key is visible ASCII only",
        hint="copy the key again from PostHog (Settings → Personal API keys); the value is not shown here",
        reference="bad-api-key",
    )


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds (or MB) from `env[name]`, or `default` when unset."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number, not {raw!r}", reference="bad-config")
    return value
