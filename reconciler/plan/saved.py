"""The saved plan file (`plan -o FILE`): the `--format json` document of `plan/codec.py` plus its envelope
(tool version, manifest digest, `saved_at`, the delete opt-in, each change's live fingerprint), and reading it
back with the version check. Whether a saved plan still fits PostHog is `apply/stale.py`'s question.
Must not know: files, the clock, the environment (callers pass text, `saved_at` and `env`), HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from typing import Any

from reconciler.plan.codec import FORMAT_VERSION, PlanFormatError, Reader, dumps, plan_from_dict, plan_to_dict
from reconciler.plan.model import Plan
from reconciler.records import record

__all__ = ["SavedPlan", "load_plan", "save_plan"]


@record
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
    allow_delete: bool = False  # the reviewer's opt-in for the plan's deletes and replaces (`plan --allow-delete`)
    #: The `--allow-env` / `--allow-secret` patterns the plan was made under (None: not restricted), which
    #: `apply` enforces on the plan's secret references.
    allow_env: tuple[str, ...] | None = None
    allow_secret: tuple[str, ...] | None = None
    #: The `--catalog` the plan was made with (`bundled`, `live` or a file), which `apply` validates it against.
    catalog: str | None = None


def save_plan(
    plan: Plan,
    *,
    tool_version: str,
    manifest_digest: str,
    live_fingerprints: Mapping[str, str | None] | None = None,
    saved_at: datetime | None = None,
    allow_delete: bool = False,
    allow_env: tuple[str, ...] | None = None,
    allow_secret: tuple[str, ...] | None = None,
    catalog: str | None = None,
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
        "allow_delete": allow_delete,
        "allow_env": list(allow_env) if allow_env is not None else None,
        "allow_secret": list(allow_secret) if allow_secret is not None else None,
        "catalog": catalog,
    }
    return dumps({**head, **document})


def load_plan(text: str, env: Mapping[str, str]) -> SavedPlan:
    """Read a saved plan. Every `{"secret": NAME}` becomes `Secret(NAME, env.get(NAME))`.

    Raises PlanFormatError (reference `plan-format`) for anything but a well-formed saved plan of
    FORMAT_VERSION: the message names the problem and where, never with a traceback's worth of detail."""
    try:
        return _load_plan(text, env)
    except RecursionError:
        raise PlanFormatError(
            "plan file is nested too deeply to be a saved plan",
            hint="pass the file written by `reconciler plan -o FILE`",
        ) from None


def _load_plan(text: str, env: Mapping[str, str]) -> SavedPlan:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFormatError(
            f"plan file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            hint="pass the file written by `reconciler plan -o FILE`",
        ) from None
    root = Reader(document, "plan file", env)
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
        allow_delete=_opt_bool(document, "allow_delete", root),
        allow_env=_opt_patterns(document, "allow_env", root),
        allow_secret=_opt_patterns(document, "allow_secret", root),
        catalog=root.opt_string("catalog"),
    )


def _opt_patterns(document: Mapping[str, Any], key: str, root: Reader) -> tuple[str, ...] | None:
    """An optional list of patterns (absent or null: not restricted)."""
    if document.get(key) is None:
        return None
    return root.strings(key)


def _opt_bool(document: Mapping[str, Any], key: str, root: Reader) -> bool:
    """An optional true/false (absent in files written before the field existed: false)."""
    if document.get(key) is None:
        return False
    return root.boolean(key)
