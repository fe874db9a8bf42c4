"""Value checks shared by `config` checking: scalars (text, number, bool, secret) and SSH tunnel values.

Pure: no files, environment or HTTP. The base of `config.ConfigChecker`, which walks a source type's form
and calls these for leaves; this module knows value shapes (reference/posthog-api.md §10), not forms.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.catalog import (
    SSH_TUNNEL_AUTH_KEYS,
    SSH_TUNNEL_AUTH_SECRET,
    SSH_TUNNEL_AUTH_SELECTIONS,
    SSH_TUNNEL_ENABLED_NEEDS,
    SSH_TUNNEL_KEYS,
    SSH_TUNNEL_SECRET_NAMES,
    SourceType,
)
from reconciler.manifest.document import NodePath
from reconciler.manifest.problems import Report, did_you_mean, dotted, kind_of
from reconciler.records import record
from reconciler.secret import Secret

__all__ = ["ValidateOptions", "ValueChecks"]

_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_BOOL_TEXT = {"true": True, "false": False}


@record
class ValidateOptions:
    """`allow_literal_secrets`: accept a literal value in a secret field (it is wrapped in a Secret).
    `environment`: the selected environment (None: none); `environments`: the names reconciler.yaml declares
    (None: no reconciler.yaml), named in messages as `config_file`. A source whose `environments:` leaves out
    the selected one is not part of the state."""

    allow_literal_secrets: bool = False
    environment: str | None = None
    environments: tuple[str, ...] | None = None
    config_file: str | None = None


class ValueChecks:
    """Leaf value checks; `ConfigChecker` (a dataclass) provides these attributes."""

    st: SourceType
    report: Report
    options: ValidateOptions
    absent: bool

    # --- scalars --------------------------------------------------------------------------------------
    def _no_secret(self, item: Any, path: NodePath) -> bool:
        if isinstance(item, Secret):
            self.report(
                path,
                f"'{path[-1]}' is not a secret field of {self.st.name}: its value is readable in PostHog and "
                "shown in plans, so secret() is refused",
                hint="use env('NAME') for a non-secret value from the environment",
                reference="secret-not-allowed",
            )
            return False
        return True

    def _bool(self, item: Any, path: NodePath) -> Any:
        if not self._no_secret(item, path):
            return None
        if isinstance(item, bool) or item is None:
            return item
        if isinstance(item, str) and item.lower() in _BOOL_TEXT:
            return _BOOL_TEXT[item.lower()]
        self.report(path, f"expected true or false, got {kind_of(item)}")
        return None

    def _number(self, item: Any, path: NodePath) -> Any:
        if not self._no_secret(item, path):
            return None
        if item is None or (isinstance(item, int) and not isinstance(item, bool)):
            return item
        if isinstance(item, str) and _INT_RE.match(item.strip()):
            return int(item)
        if isinstance(item, float) and item.is_integer():
            return int(item)
        self.report(path, f"expected a whole number, got {kind_of(item)}")
        return None

    def _text(self, item: Any, path: NodePath) -> Any:
        if not self._no_secret(item, path):
            return None
        if item is None or isinstance(item, str):
            return item
        if isinstance(item, int | float) and not isinstance(item, bool):
            return str(item)
        self.report(path, f"expected a string, got {kind_of(item)}" + (" (quote it)" if isinstance(item, bool) else ""))
        return None

    def _secret(self, item: Any, path: NodePath, label: str) -> Any:
        if isinstance(item, Secret) or item is None:
            return item
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            if self.options.allow_literal_secrets:
                return Secret(f"literal:{dotted(path[2:])}", str(item))
            self.report(
                path,
                f"'{label}' is a secret field: write \"{{{{ secret('NAME') }}}}\" instead of a literal value",
                hint="literal secrets end up in Git; pass --allow-literal-secrets to accept them anyway",
                reference="literal-secret",
            )
            return None
        self.report(path, f"expected a secret('NAME') value, got {kind_of(item)}")
        return None

    # --- SSH tunnel ----------------------------------------------------------------------------------------
    def _ssh_tunnel(self, item: Any, path: NodePath) -> Any:
        if item is None:
            return None
        if not isinstance(item, dict):
            self.report(path, "ssh_tunnel must be a mapping: {enabled, host, port, auth, require_tls}")
            return None
        out: dict[str, Any] = {}
        for key in item:
            if key not in SSH_TUNNEL_KEYS:
                self.report(
                    (*path, key),
                    f"unknown ssh_tunnel key '{key}'{did_you_mean(key, SSH_TUNNEL_KEYS)}",
                    key=True,
                    reference="unknown-field",
                )
        if "enabled" not in item:
            self.report(
                path, "ssh_tunnel needs 'enabled: true' or 'enabled: false'", key=True, reference="missing-field"
            )
        else:
            out["enabled"] = self._bool(item["enabled"], (*path, "enabled"))
        enabled = out.get("enabled") is True and not self.absent
        if "host" in item:
            out["host"] = self._text(item["host"], (*path, "host"))
        if "port" in item:
            port = self._number(item["port"], (*path, "port"))
            # reference/posthog-api.md §10: ports 80/443 and out-of-range ports are rejected.
            if isinstance(port, int) and (port in (80, 443) or not 1 <= port <= 65535):
                self.report((*path, "port"), f"ssh_tunnel port {port} is not allowed (1-65535, not 80 or 443)")
            out["port"] = port
        if "auth" in item:
            out["auth"] = self._ssh_auth(item["auth"], (*path, "auth"), enabled)
        if "require_tls" in item:
            tls = item["require_tls"]
            if isinstance(tls, dict) and set(tls) <= {"enabled"}:
                out["require_tls"] = {"enabled": self._bool(tls.get("enabled"), (*path, "require_tls", "enabled"))}
            else:
                self.report((*path, "require_tls"), "require_tls must be a mapping {enabled: true|false}")
        if enabled:
            for key in SSH_TUNNEL_ENABLED_NEEDS:
                if item.get(key) is None:
                    self.report(path, f"an enabled ssh_tunnel needs '{key}'", key=True, reference="missing-field")
        return out

    def _ssh_auth(self, auth: Any, path: NodePath, enabled: bool) -> Any:
        if auth is None:
            return None
        if not isinstance(auth, dict):
            self.report(path, "ssh_tunnel.auth must be a mapping {selection: password|keypair, username, ...}")
            return None
        out: dict[str, Any] = {}
        for key, value in auth.items():
            if key not in SSH_TUNNEL_AUTH_KEYS:
                self.report(
                    (*path, key),
                    f"unknown ssh_tunnel.auth key '{key}'{did_you_mean(key, SSH_TUNNEL_AUTH_KEYS)}",
                    key=True,
                    reference="unknown-field",
                )
            elif key == "selection":
                if value not in SSH_TUNNEL_AUTH_SELECTIONS:
                    self.report(
                        (*path, key),
                        f"invalid ssh_tunnel auth selection {value!r}; expected one of: "
                        + ", ".join(SSH_TUNNEL_AUTH_SELECTIONS),
                        reference="invalid-choice",
                    )
                out[key] = value
            elif key in SSH_TUNNEL_SECRET_NAMES:
                out[key] = self._secret(value, (*path, key), f"ssh_tunnel.auth.{key}")
            else:
                out[key] = self._text(value, (*path, key))
        if enabled:
            needed = ["selection", "username"]
            secret = SSH_TUNNEL_AUTH_SECRET.get(str(out.get("selection")))
            needed += [secret] if secret is not None else []
            for key in needed:
                if auth.get(key) is None:
                    self.report(path, f"ssh_tunnel.auth needs '{key}'", key=True, reference="missing-field")
        return out
