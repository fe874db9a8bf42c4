"""Shared pieces of the reliability suite: a fast client (short timeouts, no retry sleeps) wired into the CLI,
direct HTTP helpers for the emulator (sources, control API), the small manifests the fault matrix uses, and
the checks every scenario ends with (converged, no duplicates, unmanaged source untouched).

Test-only; imported by `tests/reliability/*` and by `bench/` scripts (which put this directory on sys.path).
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

__all__ = [
    "API_KEY",
    "BASE",
    "FAST_RETRY",
    "KINDS",
    "RETRY_PAUSE",
    "STRIPE_CANARY",
    "ZENDESK_CANARY",
    "Kind",
    "ProjectApi",
    "duplicates",
    "fast_cli_client",
    "manifest_text",
    "source_yaml",
]

API_KEY = "phx_rel"
STRIPE_CANARY = "sk_test_CANARYrel5150stripe"
ZENDESK_CANARY = "zd-CANARYrel5150zendesk"


#: Seconds a retry waits, whatever the policy computed (tests set it; 0 = retry at once).
RETRY_PAUSE = [0.0]


def _pause(seconds: float) -> None:
    if RETRY_PAUSE[0]:
        time.sleep(RETRY_PAUSE[0])


def _fast_retry() -> Any:
    from reconciler.posthog.retry import RetryPolicy

    # Three attempts, no waiting: a fault with `times: 1` is survived by a retry, `times: 99` exhausts them.
    return RetryPolicy(max_attempts=3, backoff_base=0.0, backoff_cap=0.0, sleep=_pause, jitter=lambda: 0.0)


FAST_RETRY = _fast_retry()


@contextmanager
def fast_cli_client(timeout: float = 0.6) -> Iterator[None]:
    """Make every client the CLI builds use FAST_RETRY and a short read timeout (slow calls included), so a
    `delay_ms` fault beyond it is a client-side timeout. Patches module attributes only; restores them.
    (`commands.common.connect` imports `build_client` from the client module when it is called, so patching it
    there reaches every command.)"""
    from reconciler.posthog import client as client_module
    from reconciler.posthog import session as session_module

    original_build = client_module.build_client
    original_slow = session_module.SLOW_READ_TIMEOUT

    @functools.wraps(original_build)
    def build(settings: Any, **kw: Any) -> Any:
        return original_build(replace(settings, timeout=timeout), retry=kw.pop("retry", FAST_RETRY), **kw)

    client_module.build_client = build  # type: ignore[assignment]
    session_module.SLOW_READ_TIMEOUT = timeout  # type: ignore[misc]
    try:
        yield
    finally:
        client_module.build_client = original_build  # type: ignore[assignment]
        session_module.SLOW_READ_TIMEOUT = original_slow  # type: ignore[misc]


# ---- the emulator, directly over HTTP ---------------------------------------------------------------------


@dataclass
class ProjectApi:
    """Direct HTTP access to one project of an emulator (and to its control API)."""

    base_url: str
    project: int | str
    key: str = API_KEY
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api/projects/{self.project}",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=15,
        )

    def close(self) -> None:
        self._http.close()

    def sources(self) -> list[dict[str, Any]]:
        response = self._http.get("/external_data_sources/", params={"limit": 1000})
        response.raise_for_status()
        return list(response.json()["results"])

    def source(self, source_id: str) -> dict[str, Any]:
        response = self._http.get(f"/external_data_sources/{source_id}/")
        response.raise_for_status()
        return dict(response.json())

    def create_unmanaged(self, prefix: str = "ui_made") -> str:
        """A source made "in the UI": no ownership trailer, and no manifest names it."""
        body = {
            "source_type": "Zendesk",
            "prefix": prefix,
            "description": "made by hand",
            "payload": {
                "subdomain": "handmade",
                "api_key": "zd-hand-made",
                "email_address": "h@example.com",
                "schemas": [{"name": "tickets", "should_sync": True, "sync_type": "full_refresh"}],
            },
        }
        response = self._http.post("/external_data_sources/", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    def jobs(self, source_id: str) -> list[dict[str, Any]]:
        response = self._http.get(f"/external_data_sources/{source_id}/jobs/")
        response.raise_for_status()
        return list(response.json())

    # control API (the server must run with control=True)
    def control(self, method: str, path: str, body: Any = None) -> Any:
        with httpx.Client(base_url=f"{self.base_url}/_emulator", timeout=10) as control:
            response = control.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def add_fault(self, **rule: Any) -> None:
        self.control("POST", "/faults", {"rules": [rule]})

    def clear_faults(self) -> None:
        self.control("DELETE", "/faults")

    def writes(self) -> dict[str, int]:
        """POST/PATCH/PUT/DELETE requests the emulator has seen (by route), since the last stats reset."""
        stats = self.control("GET", "/stats")
        return {k: v for k, v in stats["by_route"].items() if k.split()[0] in {"POST", "PATCH", "PUT", "DELETE"}}


def duplicates(sources: list[Mapping[str, Any]]) -> dict[tuple[str, str | None], int]:
    """(type, prefix) pairs held by more than one live source (PostHog's identity of a source, §11)."""
    counts = Counter((str(s["source_type"]), s.get("prefix")) for s in sources)
    return {k: n for k, n in counts.items() if n > 1}


# ---- manifests ----------------------------------------------------------------------------------------------


def source_yaml(
    address: str,
    *,
    prefix: str,
    description: str = "managed",
    customer_frequency: str = "24hour",
    extra_table: bool = False,
    primary_key: bool = False,
    revenue_invoiceless: bool | None = None,
    absent: bool = False,
) -> str:
    """One Stripe source of the small manifests (two or three tables)."""
    if absent:
        return f"  {address}:\n    type: Stripe\n    prefix: {prefix}\n    state: absent\n"
    charge = "{sync: true, sync_type: append, incremental_field: created, incremental_field_type: integer"
    charge += ", primary_key_columns: [id, created]}" if primary_key else "}"
    lines = [
        f"  {address}:",
        "    type: Stripe",
        f"    prefix: {prefix}",
        f"    description: {description}",
        "    config:",
        "      auth_method:",
        "        selection: api_key",
        "        stripe_secret_key: \"{{ secret('STRIPE_SECRET_KEY') }}\"",
        "    tables:",
        f"      Customer: {{sync: true, sync_type: full_refresh, frequency: {customer_frequency}}}",
        f"      Charge: {charge}",
    ]
    if extra_table:
        lines.append("      Invoice: {sync: true, sync_type: full_refresh, frequency: 12hour}")
    if revenue_invoiceless is not None:
        lines.append(f"    revenue_analytics: {{include_invoiceless_charges: {str(revenue_invoiceless).lower()}}}")
    return "\n".join(lines) + "\n"


def manifest_text(*sources: str) -> str:
    return "version: 1\nsources:\n" + "".join(sources)


BASE = source_yaml("stripe_a", prefix="sa")
OLD = source_yaml("stripe_old", prefix="so")


@dataclass(frozen=True)
class Kind:
    """One request kind apply sends: how to seed the project, the manifest that makes apply send it, the
    fault rule's (method, path regex), the JSON report's step kind, and extra apply flags."""

    name: str
    seed: str | None
    target: str
    method: str
    path: str  # regex, searched in the URL path; `{team}` is filled in
    step_kind: str
    flags: tuple[str, ...] = ()


KINDS: tuple[Kind, ...] = (
    Kind(
        "create", None, manifest_text(BASE), "POST", r"^/api/projects/{team}/external_data_sources/?$", "create_source"
    ),
    Kind(
        "PATCH source",
        manifest_text(BASE),
        manifest_text(source_yaml("stripe_a", prefix="sa", description="v2")),
        "PATCH",
        r"^/api/projects/{team}/external_data_sources/[^/]+/?$",
        "patch_source",
    ),
    Kind(
        "refresh_schemas",
        manifest_text(BASE),
        manifest_text(source_yaml("stripe_a", prefix="sa", extra_table=True)),
        "POST",
        r"^/api/projects/{team}/external_data_sources/[^/]+/refresh_schemas/?$",
        "refresh_schemas",
    ),
    Kind(
        "bulk schema PATCH",
        manifest_text(BASE),
        manifest_text(source_yaml("stripe_a", prefix="sa", customer_frequency="12hour")),
        "PATCH",
        r"^/api/projects/{team}/external_data_sources/[^/]+/bulk_update_schemas/?$",
        "patch_schemas",
    ),
    Kind(
        "per-schema PATCH",
        manifest_text(BASE),
        manifest_text(source_yaml("stripe_a", prefix="sa", primary_key=True)),
        "PATCH",
        r"^/api/projects/{team}/external_data_schemas/[^/]+/?$",
        "patch_schemas",
    ),
    Kind(
        "revenue config",
        manifest_text(BASE),
        manifest_text(source_yaml("stripe_a", prefix="sa", revenue_invoiceless=False)),
        "PATCH",
        r"^/api/projects/{team}/external_data_sources/[^/]+/revenue_analytics_config/?$",
        "patch_revenue_config",
    ),
    Kind(
        "DELETE",
        manifest_text(BASE, OLD),
        manifest_text(BASE, source_yaml("stripe_old", prefix="so", absent=True)),
        "DELETE",
        r"^/api/projects/{team}/external_data_sources/[^/]+/?$",
        "delete_source",
        ("--allow-delete",),
    ),
    Kind(
        "reload (--sync)",
        manifest_text(BASE),
        manifest_text(source_yaml("stripe_a", prefix="sa", description="v2")),
        "POST",
        r"^/api/projects/{team}/external_data_sources/[^/]+/reload/?$",
        "reload_source",
        ("--sync",),
    ),
)
