"""Property test of the emulator's source endpoints: hypothesis drives random sequences of create / PATCH /
DELETE / refresh_schemas / list / retrieve over real HTTP and checks, after every step, that

* no two live warehouse sources share (source_type, prefix), with None and "" equal (§8.3 step 3);
* no response ever contains a secret (every secret sent is a unique `CANARY` value; §6 redaction);
* every response has its documented shape: the source object in §6 field order, the schema object of §7,
  the two error families of §3, 201 `{"id"}` only, 204 empty, the pagination envelope of §5;
* the server agrees with a small model kept here: each request's status and exact error body are predicted
  from §8.3/§8.4/§8.5/§8.7, deleted sources are 404 and absent from the list, stored secrets follow §8.4
  step 5 (omitted/null/"" keep the stored secret, a new value replaces it).

One in-process emulator per module (simulated Postgres/MySQL upstreams, `support.emulators.in_process`), a
fresh team per hypothesis example. The default run is small (CI); `pytest -m slow` runs a much longer one.
Boundary: black-box over HTTP, except two white-box reads: stored secrets from the emulator's store (never
printed) and the simulated upstreams' table lists (what refresh_schemas must find).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from support.emulators import in_process

from reconciler.catalog import Catalog, load_catalog
from reconciler.emulator.keys import ApiKey, keyring_from
from reconciler.emulator.testing import Emulator

__all__: list[str] = []

KEY = "phx_properties"
EMAIL = "props@example.com"
MAX_TEAM = 50_000
KEYS = keyring_from([ApiKey(KEY, frozenset(range(1, MAX_TEAM + 1)), frozenset({"*"}), email=EMAIL)])
_teams = itertools.count(1)
_canaries = itertools.count(1)

CANARY = "CANARY"


class _Missing:
    """Stands for "leave this key out of the request"; prints readably in falsifying examples."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# ---- documented shapes (§5, §6, §7) -------------------------------------------------------------

SOURCE_FIELDS = [
    "id", "created_at", "created_by", "created_via", "status", "source_type", "latest_error", "prefix",
    "description", "access_method", "engine", "last_run_at", "schemas", "job_inputs", "revenue_analytics_config",
    "user_access_level", "supports_webhooks", "supports_column_selection",
]  # fmt: skip
SCHEMA_FIELDS = [
    "id", "name", "label", "table", "should_sync", "last_synced_at", "latest_error", "incremental", "status",
    "sync_type", "incremental_field", "incremental_field_type", "sync_frequency", "sync_time_of_day",
    "description", "primary_key_columns", "cdc_table_mode", "enabled_columns", "available_columns", "source",
]  # fmt: skip
SOURCE_STATUSES = {"Running", "Paused", "Error", "Completed", "Cancelled", "Failed", "Billing limits",
                   "Billing limits too low"}  # fmt: skip
SCHEMA_STATUSES = {None, "Running", "Paused", "Failed", "Completed", "Billing limits", "Billing limits too low"}
SYNC_TYPES = {None, "full_refresh", "incremental", "append", "webhook", "cdc"}
CURSOR_TYPES = {None, "integer", "numeric", "datetime", "date", "timestamp", "objectid", "xid"}
FREQUENCIES = {None, "1min", "5min", "15min", "30min", "1hour", "6hour", "12hour", "24hour", "7day", "30day"}
DRF_TYPES = {
    400: {"validation_error", "invalid_request"},
    401: {"authentication_error"},
    403: {"authentication_error"},
    404: {"invalid_request"},
    405: {"invalid_request"},
    429: {"throttled_error"},
    500: {"server_error"},
}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def _is_uuid(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _opt(value: Any, kind: type | tuple[type, ...]) -> bool:
    return value is None or isinstance(value, kind)


def check_schema(s: Any, *, embedded: bool = True) -> None:
    """The §7 schema object, keys in order, value types and enums."""
    assert isinstance(s, dict) and list(s) == SCHEMA_FIELDS, f"schema keys {list(s) if isinstance(s, dict) else s}"
    assert _is_uuid(s["id"]) and isinstance(s["name"], str) and s["name"]
    assert _opt(s["label"], str) and _opt(s["description"], str) and _opt(s["latest_error"], str)
    assert s["table"] is None or (
        isinstance(s["table"], dict) and {"id", "name", "columns", "row_count"} <= set(s["table"])
    )
    assert isinstance(s["should_sync"], bool) and isinstance(s["incremental"], bool)
    assert s["incremental"] == (s["sync_type"] == "incremental")
    assert s["last_synced_at"] is None or ISO_Z.match(s["last_synced_at"])
    assert s["status"] in SCHEMA_STATUSES and s["sync_type"] in SYNC_TYPES
    assert _opt(s["incremental_field"], str) and s["incremental_field_type"] in CURSOR_TYPES
    assert s["sync_frequency"] in FREQUENCIES  # "never" reads back as null (§7)
    assert s["sync_time_of_day"] is None or re.fullmatch(r"\d\d:\d\d:\d\d", s["sync_time_of_day"])
    for cols in (s["primary_key_columns"], s["enabled_columns"]):
        assert cols is None or (isinstance(cols, list) and all(isinstance(c, str) for c in cols))
    assert s["cdc_table_mode"] in {"consolidated", "cdc_only", "both"}
    assert isinstance(s["available_columns"], list)
    for c in s["available_columns"]:
        assert list(c) == ["name", "data_type", "is_nullable"] and isinstance(c["is_nullable"], bool)
    if embedded:
        assert s["source"] is None


def check_source(obj: Any) -> None:
    """The §6 source object, keys in the test-asserted order, with embedded §7 schemas ordered by name."""
    assert isinstance(obj, dict) and list(obj) == SOURCE_FIELDS, (
        f"source keys {list(obj) if isinstance(obj, dict) else obj}"
    )
    assert _is_uuid(obj["id"]) and ISO_Z.match(obj["created_at"])
    assert _opt(obj["created_by"], str) and obj["created_via"] in {"web", "api", "mcp", None}
    assert obj["status"] in SOURCE_STATUSES and isinstance(obj["source_type"], str)
    assert _opt(obj["latest_error"], str) and _opt(obj["prefix"], str) and _opt(obj["description"], str)
    assert obj["access_method"] in {"warehouse", "direct"}
    assert obj["engine"] in {None, "duckdb", "postgres", "mysql"}
    if obj["access_method"] == "warehouse":
        assert obj["engine"] is None
    assert obj["last_run_at"] is None or obj["last_run_at"].endswith("+00:00")  # isoformat(), not Z (§1)
    assert isinstance(obj["schemas"], list)
    for s in obj["schemas"]:
        check_schema(s)
    names = [s["name"] for s in obj["schemas"]]
    assert names == sorted(names), "embedded schemas must be ordered by name (§5)"
    assert isinstance(obj["job_inputs"], dict)
    rac = obj["revenue_analytics_config"]
    assert list(rac) == ["enabled", "include_invoiceless_charges"] and all(isinstance(v, bool) for v in rac.values())
    assert obj["user_access_level"] in {"none", "viewer", "editor", "manager"}
    assert isinstance(obj["supports_webhooks"], bool) and isinstance(obj["supports_column_selection"], bool)


def check_drf_error(status: int, body: Any) -> None:
    """§3 family A: exactly type, code, detail, attr; `type` fits the status; `invalid` is never a code."""
    assert isinstance(body, dict) and list(body) == ["type", "code", "detail", "attr"], f"DRF error body {body}"
    assert body["type"] in DRF_TYPES[status], body
    assert isinstance(body["code"], str) and body["code"] != "invalid" and isinstance(body["detail"], str)
    assert _opt(body["attr"], str)


def check_message_error(body: Any) -> None:
    """§3 family B as these endpoints use it: exactly `{"message": str}`."""
    assert isinstance(body, dict) and list(body) == ["message"] and isinstance(body["message"], str), body


def check_page(body: Any) -> None:
    """§5 LimitOffsetPagination envelope."""
    assert isinstance(body, dict) and list(body) == ["count", "next", "previous", "results"], body
    assert isinstance(body["count"], int) and isinstance(body["results"], list)
    assert _opt(body["next"], str) and _opt(body["previous"], str)


def drf(detail: str, attr: str | None = None, code: str = "invalid_input") -> dict[str, Any]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def message(text: str) -> dict[str, Any]:
    return {"message": text}


NOT_FOUND = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}

# ---- source types: payloads, secrets, credential messages (§10, the simulated upstreams) ----------


@dataclass(frozen=True)
class TypeSpec:
    """How this test builds a config for one catalogued type, where its secret lives, and what the
    simulated upstream answers to a bad credential."""

    required: tuple[str, ...]
    table: str  # a table the upstream exposes
    invalid_message: str
    secret_kind: str  # "stripe" | "top:<name>" | "snowflake" | "bigquery" | "oauth:<name>"


SPECS: dict[str, TypeSpec] = {
    "Stripe": TypeSpec(("auth_method",), "Customer", "Invalid Stripe credentials", "stripe"),
    "Postgres": TypeSpec(("host", "port", "database", "user", "password"), "customers", "Invalid credentials",
                         "top:password"),
    "MySQL": TypeSpec(("host", "port", "database", "user", "password", "schema", "using_ssl"), "customers",
                      "Invalid credentials", "top:password"),
    "MSSQL": TypeSpec(("host", "port", "database", "user", "password", "schema"), "customers",
                      "Invalid credentials", "top:password"),
    "Zendesk": TypeSpec(("subdomain", "api_key", "email_address"), "tickets", "Invalid credentials", "top:api_key"),
    "Snowflake": TypeSpec(("account_id", "database", "warehouse", "auth_type", "schema"), "customers",
                          "Could not connect to Snowflake. Please check all connection details are valid.",
                          "snowflake"),
    "BigQuery": TypeSpec(("key_file", "dataset_id"), "customers", "Invalid BigQuery credentials", "bigquery"),
    "Hubspot": TypeSpec(("hubspot_integration_id",), "contacts", "Missing integration ID",
                        "oauth:hubspot_integration_id"),
    "Salesforce": TypeSpec(("salesforce_integration_id",), "Account", "Missing integration ID",
                           "oauth:salesforce_integration_id"),
}  # fmt: skip
SQL_TYPES = ("Postgres", "MySQL", "MSSQL")
DIRECT_TYPES = ("Postgres", "MySQL")
NOT_EMULATED = "Linear"  # a real PostHog source type, left out of the catalog this emulator serves
HOST = "db.example.com"


def new_secret(source_type: str, valid: bool) -> str:
    """A unique canary secret; an invalid one contains `invalid` (the simulated upstreams' failure rule)."""
    n = next(_canaries)
    bad = "" if valid else "invalid"
    return f"sk_test_{bad}{CANARY}{n}Z" if source_type == "Stripe" else f"pw-{bad}{CANARY}{n}Z"


def key_file(private_key: str) -> dict[str, str]:
    return {
        "project_id": "proj",
        "private_key": private_key,
        "private_key_id": "kid-1",
        "client_email": "svc@proj.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def base_config(source_type: str, secret: str, valid: bool) -> dict[str, Any]:
    """A complete flat config (§10) carrying `secret` where the type keeps its credential."""
    if source_type == "Stripe":
        return {"auth_method": {"selection": "api_key", "stripe_secret_key": secret}}
    if source_type in SQL_TYPES:
        cfg: dict[str, Any] = {"host": HOST, "port": 5432, "database": "app", "user": "reader", "password": secret}
        cfg["schema"] = {"Postgres": "public", "MySQL": "app", "MSSQL": "dbo"}[source_type]
        if source_type == "MySQL":
            cfg["using_ssl"] = "true"
        return cfg
    if source_type == "Zendesk":
        return {"subdomain": "acme", "api_key": secret, "email_address": "ops@example.com"}
    if source_type == "Snowflake":
        auth = {"selection": "password", "user": "loader", "password": secret}
        return {"account_id": "acct", "database": "db", "warehouse": "wh", "schema": "public", "auth_type": auth}
    if source_type == "BigQuery":
        return {"key_file": key_file(secret), "dataset_id": "analytics"}
    name = SPECS[source_type].secret_kind.split(":", 1)[1]
    return {name: 12 if valid else 0}


#: Every secret name the types used here have (§10): none may appear anywhere in a read `job_inputs`.
SECRET_NAMES = {"stripe_secret_key", "password", "api_key", "key_file", "connection_string", "private_key",
                "passphrase"}  # fmt: skip


def _all_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _all_keys(v)


def stored_secret(source_type: str, job_inputs: Mapping[str, Any]) -> Any:
    kind = SPECS[source_type].secret_kind
    if kind == "stripe":
        return (job_inputs.get("auth_method") or {}).get("stripe_secret_key")
    if kind == "snowflake":
        return (job_inputs.get("auth_type") or {}).get("password")
    if kind == "bigquery":
        return (job_inputs.get("key_file") or {}).get("private_key")
    if kind.startswith("top:"):
        return job_inputs.get(kind[4:])
    return None


# ---- request strategies ---------------------------------------------------------------------------

CREATE_DEFECTS = ("ok", "ok", "ok", "ok", "ok", "missing_required", "invalid_secret", "schemas_missing",
                  "schemas_empty", "schemas_unknown", "incremental_no_field", "payload_not_object")  # fmt: skip
PREFIXES = (MISSING, None, "", "   ", "shop", "shop", " shop ", "eu", "_x", "test_", "CamelCase", "bad-prefix",
            "123_start", "___", "_1abc", "a" * 101, 7, True)  # fmt: skip


@dataclass
class CreateReq:
    source_type: Any
    defect: str
    prefix: Any
    description: Any
    access_method: Any
    created_via: Any


#: Mostly well-formed creates (so sources exist and prefixes collide), sometimes anything goes.
valid_creates = st.builds(
    CreateReq,
    source_type=st.sampled_from([*SPECS, "Stripe", "Stripe", "Postgres", "Postgres"]),
    defect=st.sampled_from(("ok",) * 12 + CREATE_DEFECTS),
    prefix=st.sampled_from((MISSING, None, "", "   ", "shop", "shop", " shop ", "eu", "_x", "test_", "CamelCase")),
    description=st.sampled_from((MISSING, MISSING, None, "", "  billing data  ")),
    access_method=st.sampled_from((MISSING, MISSING, MISSING, MISSING, "warehouse", "direct")),
    created_via=st.sampled_from((MISSING, MISSING, "web", "mcp", "api")),
)
wild_creates = st.builds(
    CreateReq,
    source_type=st.sampled_from([*SPECS, NOT_EMULATED, "InvalidType", MISSING]),
    defect=st.sampled_from(CREATE_DEFECTS),
    prefix=st.sampled_from(PREFIXES),
    description=st.sampled_from((MISSING, None, "", "  billing data  ", "x" * 401)),
    access_method=st.sampled_from((MISSING, "warehouse", "direct", "bogus", None)),
    created_via=st.sampled_from((MISSING, "web", "mcp", "bogus", None)),
)
#: Well-formed creates squeezed onto two types and a few prefixes, so (type, prefix) collisions are common.
colliding_creates = st.builds(
    CreateReq,
    source_type=st.sampled_from(("Stripe", "Postgres")),
    defect=st.just("ok"),
    prefix=st.sampled_from((MISSING, None, "", "  ", "shop", " shop ")),
    description=st.just(MISSING),
    access_method=st.sampled_from((MISSING, MISSING, MISSING, "warehouse", "direct")),
    created_via=st.just(MISSING),
)
create_requests = st.one_of(colliding_creates, colliding_creates, valid_creates, valid_creates, wild_creates)


@dataclass
class PatchReq:
    created_via: Any
    description: Any
    access_method: Any
    prefix: Any
    job_inputs: str  # what to do with job_inputs: "none" | "not_object" | secret action
    host_change: bool
    extra: str  # Stripe: "auth_not_object" | "oauth" | ""


SECRET_ACTIONS = ("none", "none", "omit", "null", "empty", "new", "new", "new_invalid", "not_object")

SAME: Any = "<same access_method>"  # resolved to the source's own access_method at run time

valid_patches = st.builds(
    PatchReq,
    created_via=st.sampled_from((MISSING, MISSING, MISSING, "web", None)),
    description=st.sampled_from((MISSING, MISSING, None, "", "  rotated  ", 42)),
    access_method=st.sampled_from((MISSING, MISSING, MISSING, SAME)),
    prefix=st.sampled_from((MISSING, MISSING, "renamed", "bad-prefix")),
    job_inputs=st.sampled_from(SECRET_ACTIONS[:-1]),
    host_change=st.booleans(),
    extra=st.sampled_from(("",) * 6 + ("oauth",)),
)
wild_patches = st.builds(
    PatchReq,
    created_via=st.sampled_from((MISSING, "web", None, "bogus")),
    description=st.sampled_from((MISSING, None, "", "x" * 401, True, 42)),
    access_method=st.sampled_from((MISSING, SAME, "warehouse", "direct", "bogus")),
    prefix=st.sampled_from((MISSING, "renamed", "", "  ", "bad-prefix")),
    job_inputs=st.sampled_from(SECRET_ACTIONS),
    host_change=st.booleans(),
    extra=st.sampled_from(("", "", "auth_not_object", "oauth")),
)
patch_requests = st.one_of(valid_patches, valid_patches, wild_patches)


# ---- the model --------------------------------------------------------------------------------------


@dataclass
class Live:
    """What this test believes the server holds for one live source."""

    id: str
    source_type: str
    prefix: str | None
    description: str | None
    access_method: str
    created_via: str
    secret: str | None
    host: str | None
    stripe_selection: str = "api_key"
    schemas: dict[str, bool] = field(default_factory=dict)  # name → should_sync


def _trim(value: Any) -> Any:
    """DRF CharField(trim_whitespace=True) on a valid value: numbers become strings."""
    return None if value is None else str(value).strip()


def _char_problem(value: Any, attr: str, max_length: int) -> dict[str, Any] | None:
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return drf("Not a valid string.", attr)
    if len(str(value).strip()) > max_length:
        return drf(f"Ensure this field has no more than {max_length} characters.", attr, code="max_length")
    return None


def _choice_problem(value: Any, attr: str, choices: tuple[str, ...]) -> dict[str, Any] | None:
    if value is MISSING:
        return None
    if value is None:
        return drf("This field may not be null.", attr, code="null")
    if value not in choices:
        return drf(f'"{value}" is not a valid choice.', attr, code="invalid_choice")
    return None


def prefix_rule(prefix: str | None) -> str | None:
    """§8.3 warehouse prefix character rules, written from the reference (strip underscores, then check)."""
    if not prefix:
        return None
    rest = prefix.strip("_")
    if not rest:
        return "Prefix cannot consist of only underscores"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rest):
        return "Prefix must contain only letters, numbers, and underscores, and start with a letter or underscore"
    return None


class EmulatorMachine(RuleBasedStateMachine):
    """Random request sequences against one team of the shared emulator; the model lives in `self.live`."""

    sources = Bundle("sources")
    emu: Emulator  # set on the subclass `_run` makes for one server

    def __init__(self) -> None:
        super().__init__()
        emu = self.emu
        self.team = next(_teams)
        assert self.team <= MAX_TEAM, "raise MAX_TEAM for longer runs"
        self.http = httpx.Client(
            base_url=f"{emu.origin}/api/projects/{self.team}/external_data_sources",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=10,
            transport=emu.transport,
        )
        self.live: dict[str, Live] = {}  # insertion order = creation order
        self.dead: set[str] = set()
        state = emu.app.state.emulator
        self.tables = {t: sorted(x.name for x in state.upstreams.get(t).tables) for t in SPECS}

    def teardown(self) -> None:
        self.http.close()

    # -- transport: every response passes the canary check ----------------------------------------

    def call(self, method: str, path: str, body: Any = MISSING, **params: Any) -> httpx.Response:
        kwargs: dict[str, Any] = {"params": params} if params else {}
        if body is not MISSING:
            kwargs["json"] = body
        r = self.http.request(method, path, **kwargs)
        # Plain booleans, so a failure report names the request but never echoes the leaked value.
        leaked_in_body = CANARY in r.text
        leaked_in_headers = any(CANARY in v for v in r.headers.values())
        assert not leaked_in_body, f"{method} {path} returned a secret (status {r.status_code})"
        assert not leaked_in_headers, f"{method} {path} returned a secret in a header"
        return r

    def expect(self, r: httpx.Response, status: int, body: Any) -> None:
        got = r.json() if r.content else None
        # Safe to show: `call` has already checked that the body holds no secret.
        assert (r.status_code, got) == (status, body), (
            f"{r.request.method} {r.request.url.path}: expected {status} {body}, got {r.status_code} {got}"
        )

    def expect_not_found(self, r: httpx.Response) -> None:
        check_drf_error(r.status_code, r.json())
        self.expect(r, 404, NOT_FOUND)

    @initialize()
    def empty_team(self) -> None:
        r = self.call("GET", "/")
        check_page(r.json())
        assert r.json() == {"count": 0, "next": None, "previous": None, "results": []}

    # -- create -------------------------------------------------------------------------------------

    def _create_body(self, req: CreateReq) -> tuple[dict[str, Any], str | None, bool]:
        """The request body, the secret it carries, and whether that secret is valid."""
        body: dict[str, Any] = {}
        if req.source_type is not MISSING:
            body["source_type"] = req.source_type
        cfg_type = req.source_type if req.source_type in SPECS else "Stripe"
        valid = req.defect != "invalid_secret"
        sent = new_secret(cfg_type, valid)
        cfg = base_config(cfg_type, sent, valid)
        holds_secret = not SPECS[cfg_type].secret_kind.startswith("oauth:")
        secret = sent if holds_secret else None
        if req.defect == "missing_required":
            dropped = SPECS[cfg_type].required[0]
            cfg.pop(dropped)
        table = SPECS[cfg_type].table
        schemas: Any = [{"name": table, "should_sync": True, "sync_type": "full_refresh"}]
        if req.defect == "schemas_empty":
            schemas = []
        elif req.defect == "schemas_unknown":
            schemas = [{"name": "no_such_table", "should_sync": True, "sync_type": "full_refresh"}]
        elif req.defect == "incremental_no_field":
            schemas = [{"name": table, "should_sync": True, "sync_type": "incremental"}]
        if req.defect != "schemas_missing":
            cfg["schemas"] = schemas
        body["payload"] = [cfg] if req.defect == "payload_not_object" else cfg
        for key in ("prefix", "description", "access_method", "created_via"):
            value = getattr(req, key)
            if value is not MISSING:
                body[key] = value
        return body, secret, valid

    def predict_create(self, req: CreateReq) -> dict[str, Any] | None:
        """The expected 400 body for this request, or None for a 201 (§8.3's processing order)."""
        if req.source_type is MISSING:
            return drf("This field is required.", "source_type", code="required")
        if req.source_type == "InvalidType":
            return drf('"InvalidType" is not a valid choice.', "source_type", code="invalid_choice")
        if req.defect == "payload_not_object":
            return drf('Expected a dictionary of items but got type "list".', "payload", code="not_a_dict")
        problem = (
            _char_problem(req.prefix, "prefix", 100)
            or _char_problem(req.description, "description", 400)
            or _choice_problem(req.access_method, "access_method", ("warehouse", "direct"))
            or _choice_problem(req.created_via, "created_via", ("web", "api", "mcp"))
        )
        if problem:
            return problem
        prefix = None if req.prefix is MISSING else _trim(req.prefix)
        if req.access_method == "direct":
            if req.source_type not in DIRECT_TYPES:
                return message("Direct query mode is currently supported only for Postgres and MySQL sources.")
            if not prefix:
                return message("Name is required for direct query sources")
        else:
            rule_problem = prefix_rule(prefix)
            if rule_problem:
                return drf(rule_problem)
            # PostHog's prefix_required/prefix_exists filter on team, type and deleted only — not on
            # access_method — so a direct source's name (stored as its prefix) blocks a warehouse prefix too.
            taken = [s.prefix or "" for s in self.live.values() if s.source_type == req.source_type]
            if not prefix and "" in taken:
                return message("Source type already exists. Prefix is required")
            if prefix and prefix in taken:
                return message("Prefix already exists")
        if req.source_type == NOT_EMULATED:
            return message(f"Source type '{NOT_EMULATED}' is not supported by the local emulator.")
        spec = SPECS[req.source_type]
        if req.defect == "missing_required":
            return message(f"Invalid source config: Required field '{spec.required[0]}' is missing")
        if req.defect == "invalid_secret":
            return message(spec.invalid_message)
        if req.defect in ("schemas_missing", "schemas_empty"):
            return message("Schemas not given")
        if req.defect == "schemas_unknown":
            return message("Schemas given do not exist in source")
        if req.defect == "incremental_no_field":
            return message("Incremental schemas given do not have an incremental field set")
        return None

    @rule(target=sources, req=create_requests)
    def create(self, req: CreateReq) -> Any:
        body, secret, _ = self._create_body(req)
        expected = self.predict_create(req)
        r = self.call("POST", "/", body)
        if expected is not None:
            assert r.status_code == 400, f"create should fail with {expected}, got {r.status_code}"
            payload = r.json()
            if "message" in payload:
                check_message_error(payload)
            else:
                check_drf_error(r.status_code, payload)
            self.expect(r, 400, expected)
            return multiple()
        assert r.status_code == 201, r.text
        created = r.json()
        assert list(created) == ["id"] and _is_uuid(created["id"]), "201 body must be exactly {id} (§8.3)"
        sid = created["id"]
        self.live[sid] = Live(
            id=sid,
            source_type=req.source_type,
            prefix=None if req.prefix is MISSING else _trim(req.prefix),
            description=None if req.description is MISSING else _trim(req.description),
            access_method="warehouse" if req.access_method is MISSING else req.access_method,
            created_via="api" if req.created_via is MISSING else req.created_via,
            secret=secret,
            host=HOST if req.source_type in SQL_TYPES else None,
            schemas={SPECS[req.source_type].table: True},
        )
        return sid

    # -- PATCH ---------------------------------------------------------------------------------------

    def _job_inputs(self, src: Live, req: PatchReq) -> tuple[Any, str | None, str | None]:
        """(job_inputs to send or MISSING, the expected DRF detail if it must fail, the new model secret)."""
        action, t = req.job_inputs, src.source_type
        if action == "none":
            return MISSING, None, src.secret
        if action == "not_object":
            return "not-an-object", "job_inputs", src.secret
        spec = SPECS[t]
        fresh = new_secret(t, action != "new_invalid") if action in ("new", "new_invalid") else None
        value: Any = {"omit": MISSING, "null": None, "empty": ""}.get(action, fresh)
        ji: dict[str, Any] = {}
        effective = fresh if fresh is not None else src.secret  # §8.4 step 5: blank keeps the stored secret
        if t == "Stripe":
            if req.extra == "auth_not_object":
                return {"auth_method": "invalid"}, "job_inputs__auth_method", src.secret
            if req.extra == "oauth":
                ji["auth_method"] = {"selection": "oauth", "stripe_integration_id": 7}
                return ji, None, None  # a different selection replaces the container: the key is gone
            auth: dict[str, Any] = {"selection": "api_key"}
            if value is not MISSING:
                auth["stripe_secret_key"] = value
            ji["auth_method"] = auth
            if src.stripe_selection == "oauth":  # replaced wholesale: only what was sent counts
                effective = value if isinstance(value, str) else None
        elif spec.secret_kind.startswith("top:"):
            name = spec.secret_kind[4:]
            if value is not MISSING:
                ji[name] = value
            if t in SQL_TYPES and req.host_change:
                ji["host"] = "db2.example.com" if src.host == HOST else HOST
                if fresh is None:  # §8.4 step 4: the stored password would be carried over
                    return ji, "Changing the connection host requires re-entering your credentials.", src.secret
        elif t == "Snowflake":
            auth = {"selection": "password", "user": "loader"}
            if value is not MISSING:
                auth["password"] = value
            ji["auth_type"] = auth
        elif t == "BigQuery":
            if value is not MISSING:
                ji["key_file"] = key_file(fresh) if fresh is not None else value
        else:  # OAuth-only types hold no secret; the integration id is what is checked
            name = spec.secret_kind.split(":", 1)[1]
            if action in ("new", "new_invalid"):
                ji[name] = 99 if action == "new" else 0
            valid = action != "new_invalid"
            return ji, None if valid else spec.invalid_message, None
        if (
            effective is None
            or not effective
            or "invalid" in effective
            or (t == "Stripe" and not re.match(r"^(sk|rk)_(test|live)_\S", effective))
        ):
            return ji, spec.invalid_message, src.secret
        return ji, None, effective

    @rule(sid=sources, req=patch_requests)
    def patch(self, sid: str, req: PatchReq) -> None:
        src = self.live.get(sid)
        body: dict[str, Any] = {}
        if req.access_method is SAME:  # a copy: drawn examples are never mutated
            req = dataclasses.replace(req, access_method=src.access_method if src is not None else "warehouse")
        for key in ("created_via", "description", "access_method", "prefix"):
            value = getattr(req, key)
            if value is not MISSING:
                body[key] = value
        if src is None:
            self.expect_not_found(self.call("PATCH", f"/{sid}/", body))
            return
        job_inputs, ji_problem, new_secret_value = self._job_inputs(src, req)
        if job_inputs is not MISSING:
            body["job_inputs"] = job_inputs
        # §8.4, in the emulator's documented order: serializer fields, access_method, prefix, job_inputs.
        expected = None  # created_via: validated (null allowed), then ignored
        if req.created_via is not MISSING and req.created_via is not None:
            expected = _choice_problem(req.created_via, "created_via", ("web", "api", "mcp"))
        expected = expected or _char_problem(req.description, "description", 400)
        if expected is None and req.access_method is not MISSING and req.access_method != src.access_method:
            expected = drf("Access method cannot be changed. Create a new source instead.")
        new_prefix = src.prefix
        if expected is None and req.prefix is not MISSING and src.access_method == "direct":
            new_prefix = _trim(req.prefix)
            if not new_prefix:
                expected = drf("Name is required for direct query sources")
        if expected is None and ji_problem is not None:
            if ji_problem in ("job_inputs", "job_inputs__auth_method"):
                expected = drf("Must be an object.", ji_problem)
            else:
                expected = drf(ji_problem)
        r = self.call("PATCH", f"/{sid}/", body)
        if expected is not None:
            assert r.status_code == 400, f"PATCH should fail with {expected}, got {r.status_code}"
            check_drf_error(r.status_code, r.json())  # PATCH failures are all DRF-shaped (§8.4)
            self.expect(r, 400, expected)
            return
        assert r.status_code == 200, r.text
        if req.description is not MISSING:
            src.description = _trim(req.description)
        src.prefix = new_prefix
        if job_inputs is not MISSING:
            src.secret = new_secret_value
            if src.source_type == "Stripe":
                src.stripe_selection = "oauth" if req.extra == "oauth" else "api_key"
            if isinstance(job_inputs, dict) and "host" in job_inputs:
                src.host = job_inputs["host"]
            if src.access_method == "direct":
                # §8.4 step 10: a direct source's schema list may be re-discovered by the PATCH; enabled
                # rows stay, anything new must be an upstream table. The model follows the server.
                after = {s["name"]: s["should_sync"] for s in r.json()["schemas"]}
                assert set(after) <= set(self.tables[src.source_type]) | set(src.schemas)
                assert all(after.get(n) for n, on in src.schemas.items() if on)
                src.schemas = after
        self.check_against_model(r.json(), src)

    @rule(sid=sources, req=valid_patches)
    def patch_well_formed(self, sid: str, req: PatchReq) -> None:
        """Twice the weight for mostly-accepted PATCHes, so rotations and host changes get exercised."""
        self.patch(sid, req)

    # -- DELETE, refresh, retrieve, list -----------------------------------------------------------

    @rule(sid=consumes(sources))
    def delete(self, sid: str) -> None:
        r = self.call("DELETE", f"/{sid}/")
        if sid not in self.live:
            self.expect_not_found(r)
            return
        assert (r.status_code, r.content) == (204, b""), "DELETE answers 204 with an empty body (§8.5)"
        del self.live[sid]
        self.dead.add(sid)

    @rule(sid=sources)
    def refresh_schemas(self, sid: str) -> None:
        r = self.call("POST", f"/{sid}/refresh_schemas/")
        src = self.live.get(sid)
        if src is None:
            self.expect_not_found(r)
            return
        tables = self.tables[src.source_type]
        added = [t for t in tables if t not in src.schemas]
        body = r.json()
        assert list(body) == ["added", "deleted", "total_tables_seen"], body
        self.expect(r, 200, {"added": len(added), "deleted": 0, "total_tables_seen": len(tables)})
        for name in added:
            src.schemas[name] = False  # §8.7: new rows arrive disabled

    @rule(sid=sources)
    def retrieve(self, sid: str) -> None:
        r = self.call("GET", f"/{sid}/")
        src = self.live.get(sid)
        if src is None:
            self.expect_not_found(r)
            return
        assert r.status_code == 200
        self.check_against_model(r.json(), src)

    @rule(limit=st.integers(1, 4), offset=st.integers(0, 5))
    def list_page(self, limit: int, offset: int) -> None:
        r = self.call("GET", "/", limit=limit, offset=offset)
        assert r.status_code == 200
        body = r.json()
        check_page(body)
        newest_first = list(reversed(self.live))
        assert body["count"] == len(newest_first)
        assert [s["id"] for s in body["results"]] == newest_first[offset : offset + limit]
        assert (body["next"] is not None) == (offset + limit < len(newest_first))
        assert (body["previous"] is not None) == (offset > 0)

    @rule(
        action=st.sampled_from(("GET", "PATCH", "DELETE", "refresh")),
        kind=st.sampled_from(("deleted", "deleted", "uuid", "junk")),
        data=st.data(),
    )
    def gone_or_unknown_id(self, action: str, kind: str, data: st.DataObject) -> None:
        """§8.2/§8.5: deleted, never-created and malformed ids are all 404 "Not found." on every verb."""
        if kind == "deleted" and self.dead:
            sid = data.draw(st.sampled_from(sorted(self.dead)))
        else:
            sid = "not-a-uuid" if kind == "junk" else str(uuid.uuid4())
        if action == "refresh":
            r = self.call("POST", f"/{sid}/refresh_schemas/")
        else:
            r = self.call(action, f"/{sid}/", {} if action == "PATCH" else MISSING)
        self.expect_not_found(r)

    # -- invariants ---------------------------------------------------------------------------------

    def check_against_model(self, obj: Any, src: Live) -> None:
        check_source(obj)
        got = {k: obj[k] for k in ("id", "source_type", "prefix", "description", "access_method", "created_via")}
        want = {"id": src.id, "source_type": src.source_type, "prefix": src.prefix, "description": src.description,
                "access_method": src.access_method, "created_via": src.created_via}  # fmt: skip
        assert got == want
        assert obj["created_by"] == EMAIL and obj["status"] == "Running"
        assert obj["engine"] == ({"Postgres": "postgres", "MySQL": "mysql"}[src.source_type]
                                 if src.access_method == "direct" else None)  # fmt: skip
        assert {s["name"]: s["should_sync"] for s in obj["schemas"]} == src.schemas
        # §6: secrets are omitted entirely (never masked, never null); readable fields come back.
        assert not set(_all_keys(obj["job_inputs"])) & SECRET_NAMES, "a secret key is present in job_inputs"
        if src.source_type in SQL_TYPES:
            assert obj["job_inputs"]["host"] == src.host

    @invariant()
    def server_agrees_with_model(self) -> None:
        r = self.call("GET", "/")
        assert r.status_code == 200
        body = r.json()
        check_page(body)
        results = body["results"]
        assert (body["count"], body["next"], body["previous"]) == (len(self.live), None, None)
        assert [s["id"] for s in results] == list(reversed(self.live)), "newest first; deleted sources absent"
        assert not self.dead & {s["id"] for s in results}
        keys = [(s["source_type"], s["prefix"] or "") for s in results if s["access_method"] == "warehouse"]
        assert len(keys) == len(set(keys)), "two live sources share (source_type, prefix)"
        for obj in results:
            self.check_against_model(obj, self.live[obj["id"]])
        for src in self.live.values():  # §8.4 step 5, checked in the store (the API never shows secrets)
            row = self.emu.store.get_source(self.team, src.id)
            assert row is not None
            assert stored_secret(src.source_type, row.job_inputs) == src.secret, "stored secret not as expected"


# ---- the tests --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prop_emulator() -> Iterator[Emulator]:
    catalog = Catalog({name: st for name, st in load_catalog().items() if name != NOT_EMULATED})
    with in_process(keys=KEYS, catalog=catalog) as emu:
        emu.default_key = KEY
        yield emu


def _run(emu: Emulator, examples: int, steps: int) -> None:
    machine = type("EmulatorMachineOnServer", (EmulatorMachine,), {"emu": emu})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        ),
    )


def test_random_request_sequences_keep_invariants(prop_emulator: Emulator) -> None:
    _run(prop_emulator, examples=50, steps=20)


@pytest.mark.slow
def test_random_request_sequences_keep_invariants_long(prop_emulator: Emulator) -> None:
    """The long run (deselected by default through addopts `-m 'not slow'`): `pytest -m slow`."""
    _run(prop_emulator, examples=600, steps=50)
