"""Which environment variables a manifest's templates may read, and how (`LoadOptions`); and the selected
environment's `variables` from reconciler.yaml, which `var()` reads (`EnvironmentVariables`).

A manifest is input from whoever opened the pull request, and `env()` values are printed (in plans, the PR
comment, PostHog's own fields), while `secret()` values never are. So:

* reconciler's own credentials (`credentials.OWN_CREDENTIALS`) are readable by neither, whatever the patterns;
* `secret()` reads what `--allow-secret` names (any other variable when it is not given);
* `env()` reads what `--allow-env` names (any variable when it is not given) — but never a variable whose name
  marks a secret (`…_KEY`, `…TOKEN`, `…PASSWORD`, …), one `--allow-secret` names, or one the manifests read
  with `secret()` anywhere (the loader checks that last rule once every file is read).

Must not know: jinja2, files, YAML, source types.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from typing import Any

from reconciler.credentials import OWN_CREDENTIALS
from reconciler.records import record

__all__ = ["EnvironmentVariables", "LoadOptions", "looks_secret"]

#: Words that make a variable name a secret's (matched inside the upper-cased name) ...
_SECRET_WORDS = re.compile(r"KEY|SECRET|TOKEN|PASSW|PASSPHRASE|CREDENTIAL|PRIVATE|COOKIE|SESSION|CERT|SIGNATURE")
#: ... and words that do so only as a whole `_`-separated part (`PASS`, not `PASSENGER`).
_SECRET_PARTS = frozenset({"PWD", "PASS", "AUTH", "DSN", "SALT", "PAT", "CREDS", "JWT"})


def looks_secret(name: str) -> bool:
    """Whether a variable's name marks it as holding a secret (so `env()`, which prints, may not read it)."""
    upper = name.upper()
    return bool(_SECRET_WORDS.search(upper)) or not _SECRET_PARTS.isdisjoint(upper.split("_"))


@record
class EnvironmentVariables:
    """What `var('name')` reads: the selected environment of reconciler.yaml, its `variables`, and where they
    are declared (`file:line:column`, for the hint of an undefined one)."""

    environment: str
    values: Mapping[str, Any]
    declared_at: str


@record
class LoadOptions:
    """What templates may read: `allow_env` / `allow_secret` are fnmatch patterns (None: not restricted);
    `variables` is what `var()` reads (None: no environment selected)."""

    allow_env: tuple[str, ...] | None = None
    allow_secret: tuple[str, ...] | None = None
    environ: Mapping[str, str] | None = None
    variables: EnvironmentVariables | None = None

    @classmethod
    def from_flags(
        cls,
        allow_env: tuple[str, ...],
        allow_secret: tuple[str, ...],
        environ: Mapping[str, str] | None = None,
        variables: EnvironmentVariables | None = None,
    ) -> LoadOptions:
        """From `--allow-env` / `--allow-secret` as given on the command line (none given: not restricted)."""
        return cls(allow_env or None, allow_secret or None, environ, variables)

    def lookup(self, name: str) -> str | None:
        env = os.environ if self.environ is None else self.environ
        return env.get(name)

    def secret_refusal(self, name: str) -> tuple[str, str] | None:
        """Why `secret(name)` may not read the variable, as (message, hint); None when it may."""
        if name in OWN_CREDENTIALS:
            return _OWN.format(fn="secret", name=name), _OWN_HINT
        if self.allow_secret is not None and not _matches(name, self.allow_secret):
            return (
                f"secret('{name}') is not allowed: the variable does not match any --allow-secret pattern",
                "allowed patterns: " + ", ".join(self.allow_secret),
            )
        return None

    def env_refusal(self, name: str) -> tuple[str, str] | None:
        """Why `env(name)` may not read the variable, as (message, hint); None when it may (the rule about
        variables read with `secret()` elsewhere is checked once every file is read)."""
        if name in OWN_CREDENTIALS:
            return _OWN.format(fn="env", name=name), _OWN_HINT
        if self.allow_secret is not None and _matches(name, self.allow_secret):
            return f"env('{name}') is not allowed: --allow-secret names it a secret variable", _USE_SECRET.format(name)
        if looks_secret(name):
            return (
                f"env('{name}') is not allowed: the name marks a secret, and env() values are printed",
                _USE_SECRET.format(name) + ", or rename the variable if it holds nothing secret",
            )
        if self.allow_env is not None and not _matches(name, self.allow_env):
            return (
                f"env('{name}') is not allowed: the variable does not match any --allow-env pattern",
                "allowed patterns: " + ", ".join(self.allow_env),
            )
        return None


_OWN = "{fn}('{name}') is not allowed: it is reconciler's own credential, which manifests can never read"
_OWN_HINT = "reconciler reads it itself; a manifest has no use for it"
_USE_SECRET = "read it with secret('{0}'): its value is then never printed"


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)
