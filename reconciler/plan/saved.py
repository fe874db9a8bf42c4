"""The plan's one versioned serial form: Plan <-> JSON and the saved plan file (stale detection: apply/stale.py).

This module owns `FORMAT_VERSION`, every field name and the enum-to-string mapping (`Action.value`,
never `.name`); `render_json` and the saved plan (`-o plan.json`) both come from `plan_to_dict`, so they
cannot drift apart. A `Secret` is written as `{"secret": "<ENV VAR NAME>"}` — never its value — and read
back as `Secret(NAME, env.get(NAME))`. Pure: no files, no clock, no environment (callers pass them in).
The schema is documented in docs/plan-format.md; change that file with this one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from reconciler.errors import ReconcilerError
from reconciler.plan.model import (
    Action,
    CreateSource,
    DeleteSource,
    FieldDiff,
    Impact,
    OrphanedSource,
    OwnedDescription,
    PatchRevenueConfig,
    PatchSchemas,
    PatchSource,
    Plan,
    PlanError,
    RefreshSchemas,
    ReloadSource,
    SchemaUpdate,
    SecretStatus,
    SourceChange,
    Step,
    UnmanagedSource,
)
from reconciler.secret import Secret

__all__ = [
    "FORMAT_VERSION",
    "STEP_KINDS",
    "PlanFormatError",
    "SavedPlan",
    "decode_value",
    "dumps",
    "encode_value",
    "load_plan",
    "plan_from_dict",
    "plan_to_dict",
    "save_plan",
    "step_kind",
]

#: Bump on any change a reader of version N could misread; readers refuse every other version.
FORMAT_VERSION = 1

#: Step class <-> the stable `kind` string in the serial form.
STEP_KINDS: Mapping[type[Step], str] = {
    CreateSource: "create_source",
    PatchSource: "patch_source",
    RefreshSchemas: "refresh_schemas",
    PatchSchemas: "patch_schemas",
    PatchRevenueConfig: "patch_revenue_config",
    DeleteSource: "delete_source",
    ReloadSource: "reload_source",
}
_KIND_TO_STEP = {kind: cls for cls, kind in STEP_KINDS.items()}

# A Secret is `{"secret": NAME}`. A plain mapping that would read back as something else — exactly one
# key, "secret" or the escape key itself — is wrapped as `{"$dict": {...}}` so decoding is unambiguous.
_SECRET_KEY = "secret"
_ESCAPE_KEY = "$dict"
_DESCRIPTION_KEYS = ("user_text", "address", "fingerprint")


class PlanFormatError(ReconcilerError):
    """A plan file that cannot be read: not JSON, wrong shape, or another format version."""

    reference = "plan-format"


def step_kind(step: Step) -> str:
    """The serial `kind` of a step; raises on a step class this format does not know (never guess)."""
    try:
        return STEP_KINDS[type(step)]
    except KeyError:
        raise TypeError(f"step type {type(step).__name__} has no serial form; add it to STEP_KINDS") from None


# ---- encoding -----------------------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A JSON-ready copy of a step payload value. Secrets become `{"secret": NAME}` (the value is never
    read), OwnedDescription an object, tuples lists. Anything else that JSON cannot hold is a bug: raise."""
    if isinstance(value, Secret):
        return {_SECRET_KEY: value.name}
    if isinstance(value, OwnedDescription):
        return _encode_description(value)
    if isinstance(value, Enum):
        return encode_value(value.value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"plan payload keys must be strings, got {key!r}")
            out[key] = encode_value(item)
        if len(out) == 1 and next(iter(out)) in (_SECRET_KEY, _ESCAPE_KEY):
            return {_ESCAPE_KEY: out}
        return out
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"plan payload value of type {type(value).__name__} has no JSON form")


def _encode_description(description: OwnedDescription) -> dict[str, Any]:
    return {"user_text": description.user_text, "address": description.address, "fingerprint": description.fingerprint}


def _encode_step(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": step_kind(step), "address": step.address, "source_id": step.source_id}
    if isinstance(step, CreateSource):
        out.update(
            source_type=step.source_type,
            prefix=step.prefix,
            description=_encode_description(step.description),
            payload=encode_value(step.payload),
            schemas=[encode_value(s) for s in step.schemas],
        )
    elif isinstance(step, PatchSource | PatchRevenueConfig):
        out["changes"] = encode_value(step.changes)
    elif isinstance(step, PatchSchemas):
        out["updates"] = [
            {"name": u.name, "schema_id": u.schema_id, "changes": encode_value(u.changes)} for u in step.updates
        ]
    return out


def _encode_diff(change: SourceChange) -> dict[str, Any]:
    diff: dict[str, Any] = {}
    for d in change.field_diffs:
        if d.secret:
            # Never a value, whatever the FieldDiff holds: only that it is secret and what happens to it.
            diff[d.path] = {"sensitive": True, "secrets": change.secret_status.value}
        else:
            diff[d.path] = {"old": encode_value(d.old), "new": encode_value(d.new)}
    return diff


def _encode_change(change: SourceChange) -> dict[str, Any]:
    return {
        "address": change.address,
        "type": change.source_type,
        "prefix": change.prefix,
        "action": change.action.value,
        "impact": [i.value for i in sorted(change.impacts, key=lambda i: i.rank)],
        "protected": change.protected,
        "secrets": change.secret_status.value,
        "live_id": change.live_id,
        "reasons": list(change.reasons),
        "diff": _encode_diff(change),
        "unlisted_tables": list(change.unlisted_tables),
        "steps": [_encode_step(s) for s in change.steps],
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The `--format json` document (format_version 1). Saved plans add their fields on top of it."""
    return {
        "format_version": FORMAT_VERSION,
        "target": {"host": plan.host, "project": plan.project},
        "changes": [_encode_change(c) for c in plan.changes],
        "summary": plan.summary(),
        "unmanaged": [{"source_id": u.source_id, "type": u.source_type, "prefix": u.prefix} for u in plan.unmanaged],
        "orphaned": [
            {"source_id": o.source_id, "address": o.address, "type": o.source_type, "prefix": o.prefix}
            for o in plan.orphaned
        ],
        "errors": [{"message": e.message, "address": e.address, "reference": e.reference} for e in plan.errors],
        "warnings": list(plan.warnings),
    }


def dumps(document: Mapping[str, Any]) -> str:
    """The one JSON spelling: two-space indent, UTF-8 text, no NaN, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# ---- saved plans -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedPlan:
    """A plan read back from `-o plan.json`, with what `apply` needs to refuse a stale or foreign plan.

    `live_fingerprints` maps each change's address to the fingerprint of the normalised live source the
    plan was made against, or None when there was none (a create)."""

    plan: Plan
    tool_version: str
    manifest_digest: str
    live_fingerprints: Mapping[str, str | None] = field(default_factory=dict)
    saved_at: datetime | None = None
    format_version: int = FORMAT_VERSION


def save_plan(
    plan: Plan,
    *,
    tool_version: str,
    manifest_digest: str,
    live_fingerprints: Mapping[str, str | None] | None = None,
    saved_at: datetime | None = None,
) -> str:
    """The saved plan file's text: the `--format json` document plus tool version, manifest digest,
    `saved_at` (when given: this module reads no clock) and per change `live_fingerprint`.

    `live_fingerprints` (address -> fingerprint) overrides `SourceChange.live_fingerprint`; an address
    that no change has is a caller bug and raises ValueError."""
    overrides = dict(live_fingerprints or {})
    addresses = {c.address for c in plan.changes}
    unknown = sorted(set(overrides) - addresses)
    if unknown:
        raise ValueError(f"live fingerprints for addresses not in the plan: {', '.join(unknown)}")
    document = plan_to_dict(plan)
    for encoded, change in zip(document["changes"], plan.changes, strict=True):
        encoded["live_fingerprint"] = overrides.get(change.address, change.live_fingerprint)
    head = {
        "format_version": FORMAT_VERSION,
        "tool_version": tool_version,
        "manifest_digest": manifest_digest,
        "saved_at": saved_at.isoformat() if saved_at is not None else None,
    }
    return dumps({**head, **document})


def load_plan(text: str, env: Mapping[str, str]) -> SavedPlan:
    """Read a saved plan. Every `{"secret": NAME}` becomes `Secret(NAME, env.get(NAME))`.

    Raises PlanFormatError (reference `plan-format`) for anything but a well-formed saved plan of
    FORMAT_VERSION: the message names the problem and where, never with a traceback's worth of detail."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFormatError(
            f"plan file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            hint="pass the file written by `reconciler plan -o FILE`",
        ) from None
    root = _Reader(document, "plan file", env)
    if not isinstance(document, dict):
        raise root.fail("expected a JSON object")
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise root.fail("missing or non-integer 'format_version'")
    if version != FORMAT_VERSION:
        newer = "a newer" if version > FORMAT_VERSION else "an older"
        raise PlanFormatError(
            f"plan file has format_version {version}; this reconciler reads format_version {FORMAT_VERSION}",
            hint=f"the plan was written by {newer} reconciler: run `reconciler plan` again with this version",
        )
    if "tool_version" not in document:
        raise PlanFormatError(
            "this is a `--format json` plan, not a saved plan (it has no tool_version or live fingerprints)",
            hint="save plans with `reconciler plan -o FILE`",
        )
    plan = plan_from_dict(document, env)
    fingerprints = {c.address: c.live_fingerprint for c in plan.changes}
    saved_at_text = root.opt_string("saved_at")
    saved_at = None
    if saved_at_text is not None:
        try:
            saved_at = datetime.fromisoformat(saved_at_text)
        except ValueError:
            raise root.child("saved_at").fail("not an ISO 8601 timestamp") from None
    return SavedPlan(
        plan=plan,
        tool_version=root.string("tool_version"),
        manifest_digest=root.string("manifest_digest"),
        live_fingerprints=fingerprints,
        saved_at=saved_at,
        format_version=version,
    )


# ---- decoding ----------------------------------------------------------------------------------------

_T = TypeVar("_T")


class _Reader:
    """A JSON node with its path, so every shape error says where it is (`changes[2].steps[0].kind`)."""

    def __init__(self, node: Any, where: str, env: Mapping[str, str]) -> None:
        self.node = node
        self.where = where
        self.env = env

    def fail(self, problem: str) -> PlanFormatError:
        return PlanFormatError(f"malformed plan file: {self.where}: {problem}")

    def child(self, key: str) -> _Reader:
        if not isinstance(self.node, dict):
            raise self.fail("expected an object")
        if key not in self.node:
            raise self.fail(f"missing key '{key}'")
        return _Reader(self.node[key], f"{self.where}.{key}", self.env)

    def string(self, key: str) -> str:
        node = self.child(key)
        if not isinstance(node.node, str):
            raise node.fail("expected a string")
        return node.node

    def opt_string(self, key: str) -> str | None:
        """A string or null; a missing key reads as null (fields later versions may add are optional)."""
        if isinstance(self.node, dict) and self.node.get(key) is None:
            return None
        return self.string(key)

    def boolean(self, key: str) -> bool:
        node = self.child(key)
        if not isinstance(node.node, bool):
            raise node.fail("expected true or false")
        return node.node

    def obj(self, key: str) -> _Reader:
        node = self.child(key)
        if not isinstance(node.node, dict):
            raise node.fail("expected an object")
        return node

    def items(self, key: str) -> list[_Reader]:
        node = self.child(key)
        if not isinstance(node.node, list):
            raise node.fail("expected a list")
        return [_Reader(item, f"{node.where}[{i}]", self.env) for i, item in enumerate(node.node)]

    def strings(self, key: str) -> tuple[str, ...]:
        items = self.items(key)
        for item in items:
            if not isinstance(item.node, str):
                raise item.fail("expected a string")
        return tuple(item.node for item in items)

    def enum(self, key: str, enum: Callable[[str], _T], allowed: Sequence[str]) -> _T:
        value = self.string(key)
        if value not in allowed:
            raise self.child(key).fail(f"unknown value {value!r} (expected one of: {', '.join(allowed)})")
        return enum(value)

    def value(self, key: str) -> Any:
        node = self.child(key)
        return decode_value(node.node, self.env, node.where)

    def mapping(self, key: str) -> dict[str, Any]:
        node = self.obj(key)
        decoded = decode_value(node.node, self.env, node.where)
        if not isinstance(decoded, dict):
            raise node.fail("expected an object")
        return decoded


def decode_value(node: Any, env: Mapping[str, str], where: str = "value") -> Any:
    """Inverse of `encode_value` for payload values: `{"secret": NAME}` -> Secret(NAME, env.get(NAME)),
    `{"$dict": {...}}` -> that mapping; JSON arrays come back as lists."""
    if isinstance(node, dict):
        if len(node) == 1:
            ((key, inner),) = node.items()
            if key == _SECRET_KEY:
                if not isinstance(inner, str) or not inner:
                    raise PlanFormatError(f"malformed plan file: {where}: a secret must name its variable")
                return Secret(inner, env.get(inner))
            if key == _ESCAPE_KEY:
                if not isinstance(inner, dict):
                    raise PlanFormatError(f"malformed plan file: {where}: '$dict' must hold an object")
                return {k: decode_value(v, env, f"{where}.{k}") for k, v in inner.items()}
        return {k: decode_value(v, env, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [decode_value(v, env, f"{where}[{i}]") for i, v in enumerate(node)]
    return node


def _decode_description(node: _Reader) -> OwnedDescription:
    if not isinstance(node.node, dict):
        raise node.fail("expected an object with user_text, address, fingerprint")
    return OwnedDescription(
        user_text=node.opt_string("user_text"),
        address=node.string("address"),
        fingerprint=node.string("fingerprint"),
    )


def _decode_changes_mapping(node: _Reader, key: str) -> dict[str, Any]:
    changes = node.mapping(key)
    # PatchSource.changes["description"] is an OwnedDescription, written as an object (see _encode_step).
    description = node.obj(key).node.get("description")
    if isinstance(description, dict):
        changes["description"] = _decode_description(node.obj(key).child("description"))
    return changes


def _decode_step(node: _Reader) -> Step:
    if not isinstance(node.node, dict):
        raise node.fail("expected a step object")
    kind = node.string("kind")
    cls = _KIND_TO_STEP.get(kind)
    if cls is None:
        raise node.child("kind").fail(f"unknown step kind {kind!r} (expected one of: {', '.join(_KIND_TO_STEP)})")
    address, source_id = node.string("address"), node.opt_string("source_id")
    if cls is CreateSource:
        schemas = []
        for item in node.items("schemas"):
            decoded = decode_value(item.node, node.env, item.where)
            if not isinstance(decoded, dict):
                raise item.fail("expected an object")
            schemas.append(decoded)
        return CreateSource(
            address=address,
            source_id=source_id,
            source_type=node.string("source_type"),
            prefix=node.opt_string("prefix"),
            description=_decode_description(node.obj("description")),
            payload=node.mapping("payload"),
            schemas=tuple(schemas),
        )
    if cls is PatchSource:
        return PatchSource(address=address, source_id=source_id, changes=_decode_changes_mapping(node, "changes"))
    if cls is PatchRevenueConfig:
        return PatchRevenueConfig(address=address, source_id=source_id, changes=node.mapping("changes"))
    if cls is PatchSchemas:
        updates = tuple(
            SchemaUpdate(name=u.string("name"), schema_id=u.opt_string("schema_id"), changes=u.mapping("changes"))
            for u in node.items("updates")
        )
        return PatchSchemas(address=address, source_id=source_id, updates=updates)
    return cls(address=address, source_id=source_id)


def _decode_diff(node: _Reader) -> tuple[FieldDiff, ...]:
    diffs = []
    for path, entry in node.node.items():
        item = _Reader(entry, f"{node.where}.{path}", node.env)
        if not isinstance(entry, dict):
            raise item.fail("expected an object")
        if entry.get("sensitive") is True:
            diffs.append(FieldDiff(path=path, secret=True))
        else:
            diffs.append(FieldDiff(path=path, old=item.value("old"), new=item.value("new")))
    return tuple(diffs)


_ACTIONS = [a.value for a in Action]
_IMPACTS = [i.value for i in Impact]
_SECRET_STATUSES = [s.value for s in SecretStatus]


def _decode_change(node: _Reader) -> SourceChange:
    if not isinstance(node.node, dict):
        raise node.fail("expected a change object")
    impacts = []
    for item in node.items("impact"):
        if not isinstance(item.node, str) or item.node not in _IMPACTS:
            raise item.fail(f"unknown impact {item.node!r} (expected one of: {', '.join(_IMPACTS)})")
        impacts.append(Impact(item.node))
    return SourceChange(
        address=node.string("address"),
        source_type=node.string("type"),
        prefix=node.opt_string("prefix"),
        action=node.enum("action", Action, _ACTIONS),
        steps=tuple(_decode_step(s) for s in node.items("steps")),
        impacts=frozenset(impacts),
        reasons=node.strings("reasons"),
        field_diffs=_decode_diff(node.obj("diff")),
        secret_status=node.enum("secrets", SecretStatus, _SECRET_STATUSES),
        protected=node.boolean("protected"),
        live_id=node.opt_string("live_id"),
        live_fingerprint=node.opt_string("live_fingerprint"),
        unlisted_tables=node.strings("unlisted_tables"),
    )


def plan_from_dict(document: Mapping[str, Any], env: Mapping[str, str]) -> Plan:
    """Rebuild a Plan from `plan_to_dict`'s shape (the version check is the caller's: see load_plan)."""
    root = _Reader(dict(document), "plan file", env)
    target = root.obj("target")
    return Plan(
        host=target.string("host"),
        project=target.string("project"),
        changes=tuple(_decode_change(c) for c in root.items("changes")),
        unmanaged=tuple(
            UnmanagedSource(
                source_id=u.string("source_id"), source_type=u.string("type"), prefix=u.opt_string("prefix")
            )
            for u in root.items("unmanaged")
        ),
        orphaned=tuple(
            OrphanedSource(
                source_id=o.string("source_id"),
                address=o.string("address"),
                source_type=o.string("type"),
                prefix=o.opt_string("prefix"),
            )
            for o in root.items("orphaned")
        ),
        errors=tuple(
            PlanError(message=e.string("message"), address=e.opt_string("address"), reference=e.string("reference"))
            for e in root.items("errors")
        ),
        warnings=root.strings("warnings"),
    )
