"""The plan's one versioned serial form: Plan <-> JSON document (`plan_to_dict` / `plan_from_dict`).

This module owns `FORMAT_VERSION`, the document's field names and the enum-to-string mapping
(`Action.value`, never `.name`); each step's own fields come from `plan/steps.py`. `render_json` and the
saved plan (`plan/saved.py`, which adds its envelope) both come from `plan_to_dict`, so they cannot drift
apart. A `Secret` is written as `{"secret": "<ENV VAR NAME>"}` — never its value — and read back as
`Secret(NAME, env.get(NAME))`. The schema is documented in docs/plan-format.md; change that file with this one.
Must not know: files, the clock, the environment (callers pass `env`), HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

from reconciler.errors import ReconcilerError
from reconciler.plan.model import (
    Action,
    FieldDiff,
    Impact,
    OrphanedSource,
    Plan,
    PlanError,
    SecretStatus,
    SourceChange,
    UnmanagedSource,
)
from reconciler.plan.steps import STEP_TYPES, OwnedDescription, Step, step_kind
from reconciler.secret import Secret

__all__ = [
    "FORMAT_VERSION",
    "PlanFormatError",
    "Reader",
    "decode_value",
    "dumps",
    "encode_error",
    "encode_value",
    "plan_from_dict",
    "plan_to_dict",
]

#: Bump on any change a reader of version N could misread; readers refuse every other version.
FORMAT_VERSION = 1

# A Secret is `{"secret": NAME}`. A plain mapping that would read back as something else — exactly one
# key, "secret" or the escape key itself — is wrapped as `{"$dict": {...}}` so decoding is unambiguous.
_SECRET_KEY = "secret"
_ESCAPE_KEY = "$dict"


class PlanFormatError(ReconcilerError):
    """A plan file that cannot be read: not JSON, wrong shape, or another format version."""

    reference = "plan-format"


# ---- encoding -----------------------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A JSON-ready copy of a step payload value. Secrets become `{"secret": NAME}` (the value is never
    read), OwnedDescription an object, tuples lists. Anything else that JSON cannot hold is a bug: raise."""
    if isinstance(value, Secret):
        return {_SECRET_KEY: value.name}
    if isinstance(value, OwnedDescription):
        return {"user_text": value.user_text, "address": value.address, "fingerprint": value.fingerprint}
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


def _encode_step(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": step_kind(step), "address": step.address, "source_id": step.source_id}
    out.update((key, encode_value(value)) for key, value in step.fields().items())
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


def encode_error(error: PlanError) -> dict[str, Any]:
    """The JSON diagnostics shape (docs/plan-format.md), the same as `validate --format json`'s errors."""
    return {
        "file": error.file,
        "line": error.line,
        "column": error.column,
        "address": error.address,
        "field": error.field,
        "message": error.message,
        "hint": error.hint,
        "reference": error.reference,
    }


def _target(plan: Plan) -> dict[str, str]:
    """Host and project; the environment of reconciler.yaml too when one was selected (a key added after
    0.1.0, so plans made without environments keep their exact shape)."""
    target = {"host": plan.host, "project": plan.project}
    return target if plan.environment is None else {**target, "environment": plan.environment}


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The `--format json` document (format_version 1). Saved plans add their fields on top of it."""
    return {
        "format_version": FORMAT_VERSION,
        "target": _target(plan),
        "changes": [_encode_change(c) for c in plan.changes],
        "summary": plan.summary(),
        "unmanaged": [{"source_id": u.source_id, "type": u.source_type, "prefix": u.prefix} for u in plan.unmanaged],
        "orphaned": [
            {"source_id": o.source_id, "address": o.address, "type": o.source_type, "prefix": o.prefix}
            for o in plan.orphaned
        ],
        "errors": [encode_error(e) for e in plan.errors],
        "warnings": list(plan.warnings),
    }


def dumps(document: Mapping[str, Any]) -> str:
    """The one JSON spelling: two-space indent, UTF-8 text, no NaN, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# ---- decoding ----------------------------------------------------------------------------------------

_T = TypeVar("_T")


class Reader:
    """A JSON node with its path, so every shape error says where it is (`changes[2].steps[0].kind`).
    Steps read their own fields through it (`plan/steps.py` `FieldReader`)."""

    def __init__(self, node: Any, where: str, env: Mapping[str, str]) -> None:
        self.node = node
        self.where = where
        self.env = env

    def fail(self, problem: str) -> PlanFormatError:
        return PlanFormatError(f"malformed plan file: {self.where}: {problem}")

    def child(self, key: str) -> Reader:
        if not isinstance(self.node, dict):
            raise self.fail("expected an object")
        if key not in self.node:
            raise self.fail(f"missing key '{key}'")
        return Reader(self.node[key], f"{self.where}.{key}", self.env)

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

    def obj(self, key: str) -> Reader:
        node = self.child(key)
        if not isinstance(node.node, dict):
            raise node.fail("expected an object")
        return node

    def has_object(self, key: str) -> bool:
        return isinstance(self.node, dict) and isinstance(self.node.get(key), dict)

    def items(self, key: str) -> list[Reader]:
        node = self.child(key)
        if not isinstance(node.node, list):
            raise node.fail("expected a list")
        return [Reader(item, f"{node.where}[{i}]", self.env) for i, item in enumerate(node.node)]

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

    def mappings(self, key: str) -> list[dict[str, Any]]:
        out = []
        for item in self.items(key):
            decoded = decode_value(item.node, self.env, item.where)
            if not isinstance(decoded, dict):
                raise item.fail("expected an object")
            out.append(decoded)
        return out

    def description(self, key: str) -> OwnedDescription:
        node = self.obj(key)
        return OwnedDescription(
            user_text=node.opt_string("user_text"),
            address=node.string("address"),
            fingerprint=node.string("fingerprint"),
        )


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


def _decode_step(node: Reader) -> Step:
    if not isinstance(node.node, dict):
        raise node.fail("expected a step object")
    kind = node.string("kind")
    cls = STEP_TYPES.get(kind)
    if cls is None:
        raise node.child("kind").fail(f"unknown step kind {kind!r} (expected one of: {', '.join(STEP_TYPES)})")
    return cls.from_fields(node.string("address"), node.opt_string("source_id"), node)


def _decode_diff(node: Reader) -> tuple[FieldDiff, ...]:
    diffs = []
    for path, entry in node.node.items():
        item = Reader(entry, f"{node.where}.{path}", node.env)
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


def _decode_change(node: Reader) -> SourceChange:
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


def _decode_error(node: Reader) -> PlanError:
    def number(key: str) -> int | None:
        value = node.node.get(key) if isinstance(node.node, dict) else None
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise node.child(key).fail("expected an integer or null")
        return value

    return PlanError(
        message=node.string("message"),
        address=node.opt_string("address"),
        reference=node.string("reference"),
        file=node.opt_string("file"),
        line=number("line"),
        column=number("column"),
        field=node.opt_string("field"),
        hint=node.opt_string("hint"),
    )


def plan_from_dict(document: Mapping[str, Any], env: Mapping[str, str]) -> Plan:
    """Rebuild a Plan from `plan_to_dict`'s shape (the version check is the caller's: see saved.load_plan)."""
    root = Reader(dict(document), "plan file", env)
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
        errors=tuple(_decode_error(e) for e in root.items("errors")),
        warnings=root.strings("warnings"),
        environment=target.opt_string("environment"),
    )
