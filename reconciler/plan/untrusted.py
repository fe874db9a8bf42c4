"""A saved plan is untrusted input: check every field of a plan read from a file against the catalog before
`apply` sends anything. Pure.

Whoever can write the file (a pull request's job uploads it; an artifact can be replaced) chooses every value in
it. What a hand-edited plan must not be able to do, and what this module refuses:

- read a variable as a secret from a field the catalog does not mark secret (`{"secret": "GH_TOKEN"}` as a
  Postgres `user` or `schema`, which PostHog returns on every read), or anywhere but a create's payload or a
  patch's `job_inputs` (tables, revenue settings, the description, the diff);
- write config keys the source type does not have, table settings PostHog's schema PATCH does not take,
  revenue keys that do not exist, or values that are not plain JSON scalars where a scalar belongs;
- point a step at another source: every step's address is its change's, every step's `source_id` is the
  change's `live_id` (which `apply/stale.py` ties to the source identity matches now), a create's type and
  prefix are the change's, and its ownership trailer names the change's address.

The variable *names* the plan reads with `secret()` are returned, located, for the caller to check against the
allow-list the plan was made under (`commands/apply.py`); no value is read here (the plan comes in with unbound
secrets). Must not know: files, the environment, HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.catalog import Catalog, SourceType
from reconciler.catalog.schema_options import SCHEMA_WRITABLE_FIELDS
from reconciler.ownership import ADDRESS_PATTERN
from reconciler.plan.codec import PlanFormatError
from reconciler.plan.diff import CREATE_SCHEMA_KEYS
from reconciler.plan.model import Plan, SourceChange
from reconciler.plan.steps import (
    CreateSource,
    OwnedDescription,
    PatchRevenueConfig,
    PatchSchemas,
    PatchSource,
    Step,
)
from reconciler.records import record
from reconciler.secret import Secret

__all__ = ["SecretReference", "check_untrusted_plan"]

_ADDRESS = re.compile(ADDRESS_PATTERN + r"\Z")
_FINGERPRINT = re.compile(r"[0-9a-f]{6}(?:[0-9a-f]{6})?\Z")
_REVENUE_KEYS = frozenset({"enabled", "include_invoiceless_charges"})
_PATCH_KEYS = frozenset({"description", "job_inputs"})
_SCALARS = (str, int, float, bool, type(None))
#: Deeper than any value plan writes (an auth container inside a switch group inside a form is 3 or 4).
_MAX_DEPTH = 16


@record
class SecretReference:
    """A `{"secret": NAME}` of the plan and where it is (`changes[0].steps[0].payload.password`)."""

    name: str
    where: str


def check_untrusted_plan(plan: Plan, catalog: Catalog) -> list[SecretReference]:
    """Raise PlanFormatError (`plan-format`) naming the first field of `plan` that the catalog or the plan's
    own structure does not allow; return every secret reference, in plan order."""
    refs: list[SecretReference] = []
    for i, change in enumerate(plan.changes):
        where = f"plan file.changes[{i}]"
        source_type = catalog.get(change.source_type)
        if source_type is None:
            raise _fail(where + ".type", f"source type {change.source_type!r} is not in the catalog")
        if not _ADDRESS.match(change.address):
            raise _fail(where + ".address", f"{change.address!r} is not a source address")
        for diff in change.field_diffs:
            _no_secrets(diff.old, f"{where}.diff.{diff.path}.old")
            _no_secrets(diff.new, f"{where}.diff.{diff.path}.new")
        for j, step in enumerate(change.steps):
            refs += _check_step(step, change, source_type, f"{where}.steps[{j}]")
    return refs


def _fail(where: str, problem: str) -> PlanFormatError:
    return PlanFormatError(
        f"untrusted plan file: {where}: {problem}",
        hint="nothing was sent. A saved plan is applied only as `reconciler plan -o FILE` wrote it; plan again",
    )


def _check_step(step: Step, change: SourceChange, source_type: SourceType, where: str) -> list[SecretReference]:
    if step.address != change.address:
        raise _fail(where + ".address", f"{step.address!r} is not the change's address {change.address!r}")
    if step.source_id is not None and step.source_id != change.live_id:
        raise _fail(where + ".source_id", f"{step.source_id!r} is not the change's live_id {change.live_id!r}")
    if isinstance(step, CreateSource):
        if (step.source_type, step.prefix) != (change.source_type, change.prefix):
            raise _fail(where, "a create of another type or prefix than its change's")
        _check_description(step.description, change, where + ".description")
        for k, schema in enumerate(step.schemas):
            _check_settings(schema, {"name", *CREATE_SCHEMA_KEYS, *SCHEMA_WRITABLE_FIELDS}, f"{where}.schemas[{k}]")
        return list(_config_refs(step.payload, source_type, where + ".payload", under_file=False))
    if isinstance(step, PatchSource):
        unknown = sorted(set(step.changes) - _PATCH_KEYS)
        if unknown:
            raise _fail(f"{where}.changes.{unknown[0]}", "not a field a source PATCH of reconciler's sends")
        description = step.changes.get("description")
        if "description" in step.changes and not isinstance(description, OwnedDescription):
            raise _fail(where + ".changes.description", "expected the description object plan writes")
        if isinstance(description, OwnedDescription):
            _check_description(description, change, where + ".changes.description")
        job_inputs = step.changes.get("job_inputs", {})
        if not isinstance(job_inputs, Mapping):
            raise _fail(where + ".changes.job_inputs", "expected an object")
        return list(_config_refs(job_inputs, source_type, where + ".changes.job_inputs", under_file=False))
    if isinstance(step, PatchSchemas):
        for k, update in enumerate(step.updates):
            _check_settings(update.changes, set(SCHEMA_WRITABLE_FIELDS), f"{where}.updates[{k}].changes")
    if isinstance(step, PatchRevenueConfig):
        _check_settings(step.changes, set(_REVENUE_KEYS), where + ".changes")
    return []


def _check_description(description: OwnedDescription, change: SourceChange, where: str) -> None:
    if description.address != change.address:
        raise _fail(where + ".address", f"the trailer would name {description.address!r}, not {change.address!r}")
    if not _FINGERPRINT.match(description.fingerprint):
        raise _fail(where + ".fingerprint", "not a secrets fingerprint (6 or 12 lowercase hex characters)")


def _check_settings(values: Mapping[str, Any], allowed: set[str], where: str) -> None:
    """Table or revenue settings: known keys, values JSON scalars or lists of them, never a secret."""
    for key, value in values.items():
        if key not in allowed:
            raise _fail(f"{where}.{key}", "not a setting PostHog takes here")
        _no_secrets(value, f"{where}.{key}")
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, _SCALARS) for item in items):
            raise _fail(f"{where}.{key}", "expected a scalar or a list of scalars")


def _config_refs(
    values: Mapping[str, Any], source_type: SourceType, where: str, *, under_file: bool
) -> Iterator[SecretReference]:
    """Walk config values: every key one the type has (any key inside a file upload), a secret only in a
    field the catalog marks secret (or inside a file upload), other leaves plain scalars."""
    fields = list(source_type.all_fields())
    # Keys are sent as declared (`temporary-dataset`) or as stored (`temporary_dataset`, §6): both are the field.
    declared = {f.name: f.stored_name for f in fields}
    secret_names = source_type.sensitive_names | {
        n for n, stored in declared.items() if stored in source_type.sensitive_names
    }
    known = secret_names | source_type.readable_names | set(declared)
    uploads = {name for f in fields if f.kind == "file-upload" for name in (f.name, f.stored_name)}
    if where.count(".") > _MAX_DEPTH:
        raise _fail(where, "nested deeper than any source's form")
    for key, value in values.items():
        path = f"{where}.{key}"
        if not under_file and key not in known:
            raise _fail(path, f"{source_type.name} has no field {key!r}")
        if isinstance(value, Secret):
            if not (under_file or key in secret_names):
                raise _fail(path, f"a secret reference in {key!r}, which {source_type.name} does not mark secret")
            yield SecretReference(value.name, path)
        elif isinstance(value, Mapping):
            yield from _config_refs(value, source_type, path, under_file=under_file or key in uploads)
        else:
            _no_secrets(value, path)
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(item, _SCALARS) for item in items):
                raise _fail(path, "expected a scalar or a list of scalars")


def _no_secrets(value: Any, where: str) -> None:
    """No `{"secret": …}` anywhere in `value` (diffs, tables, revenue settings, lists)."""
    if where.count(".") + where.count("[") > 2 * _MAX_DEPTH:
        raise _fail(where, "nested deeper than any value plan writes")
    if isinstance(value, Secret):
        raise _fail(where, "a secret reference where no secret belongs")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _no_secrets(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _no_secrets(item, f"{where}[{index}]")
