"""API keys the emulator accepts: the `--keys` YAML file, the built-in default, and scope arithmetic.

Pure data and loading; knows nothing of HTTP (see `api/auth.py` for the request side). Scope rules follow
reference/posthog-api.md §2: a `:write` scope satisfies `:read`, `*` satisfies everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.errors import ConfigError

__all__ = [
    "DEFAULT_KEY",
    "SCOPE_OBJECT",
    "ApiKey",
    "KeyRing",
    "default_keyring",
    "keyring_from",
    "load_keyring",
    "parse_keyring",
]

DEFAULT_KEY = "phx_local"
#: Both viewsets (sources and schemas) use this scope object (§2).
SCOPE_OBJECT = "external_data_source"


@dataclass(frozen=True)
class ApiKey:
    """One personal API key. `teams`: teams its user belongs to. `scoped_teams`: optional key restriction
    (PostHog's "API key does not have access to the requested project"); None = unrestricted."""

    key: str
    teams: frozenset[int]
    scopes: frozenset[str]
    email: str = "local@reconciler.invalid"
    scoped_teams: frozenset[int] | None = None

    def allows(self, scope: str) -> bool:
        """`scope` is e.g. "external_data_source:read"; write implies read; `*` implies all."""
        if "*" in self.scopes or scope in self.scopes:
            return True
        obj, _, level = scope.partition(":")
        return level == "read" and f"{obj}:write" in self.scopes


@dataclass(frozen=True)
class KeyRing:
    keys: Mapping[str, ApiKey] = field(default_factory=dict)

    def get(self, value: str) -> ApiKey | None:
        return self.keys.get(value)

    @property
    def teams(self) -> frozenset[int]:
        """Every team that exists: the union of all keys' teams (any other id is "Project not found.")."""
        out: set[int] = set()
        for k in self.keys.values():
            out |= k.teams
            out |= k.scoped_teams or frozenset()
        return frozenset(out)


def default_keyring() -> KeyRing:
    """No `--keys`: one key `phx_local`, all scopes, team 1."""
    return KeyRing({DEFAULT_KEY: ApiKey(DEFAULT_KEY, frozenset({1}), frozenset({"*"}))})


def _int_set(raw: Any, where: str, name: str) -> frozenset[int]:
    if not isinstance(raw, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in raw):
        raise ConfigError(f"{where}: '{name}' must be a list of integer team ids")
    return frozenset(raw)


def parse_keyring(data: Any, source: str = "<keys>") -> KeyRing:
    """Validate the keys-file structure: a list of `{key, teams, scopes, email?, scoped_teams?}`."""
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{source}: expected a non-empty YAML list of keys")
    keys: dict[str, ApiKey] = {}
    for i, entry in enumerate(data, start=1):
        where = f"{source}: entry {i}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping with key, teams, scopes")
        unknown = set(entry) - {"key", "teams", "scopes", "email", "scoped_teams"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        value = entry.get("key")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: 'key' must be a non-empty string")
        if value in keys:
            raise ConfigError(f"{where}: duplicate key")  # never echo the key itself
        scopes = entry.get("scopes", ["*"])
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ConfigError(f"{where}: 'scopes' must be a list of strings")
        scoped = entry.get("scoped_teams")
        keys[value] = ApiKey(
            key=value,
            teams=_int_set(entry.get("teams"), where, "teams"),
            scopes=frozenset(scopes),
            email=str(entry.get("email") or f"user{i}@reconciler.invalid"),
            scoped_teams=None if scoped is None else _int_set(scoped, where, "scoped_teams"),
        )
    return KeyRing(keys)


def load_keyring(path: Path | None) -> KeyRing:
    if path is None:
        return default_keyring()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read keys file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        # Only the position: the offending line may hold a key.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"keys file {path} is not valid YAML{where}") from None
    return parse_keyring(data, str(path))


def keyring_from(entries: Iterable[ApiKey]) -> KeyRing:
    return KeyRing({k.key: k for k in entries})
