"""`plan --preflight`: ask PostHog to check credentials and table names before merge (§8.9).

For every present source the plan changes and whose secret values are available, POST
`database_schema` (nothing is persisted) and compare the listed tables and incremental fields with what
the upstream offers. Failures become plan errors carrying the server's message.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence

from reconciler.errors import ApiStatusError
from reconciler.manifest.models import DesiredState
from reconciler.plan.model import Action, Plan, PlanError
from reconciler.posthog.client import PostHogClient

__all__ = ["run_preflight"]

_CHECKED = (Action.CREATE, Action.UPDATE, Action.REPLACE)


def run_preflight(plan: Plan, desired: DesiredState, client: PostHogClient) -> Plan:
    """The plan with preflight errors and warnings added."""
    errors: list[PlanError] = []
    warnings: list[str] = []
    for change in plan.changes:
        spec = desired.sources.get(change.address)
        if spec is None or spec.absent or change.action not in _CHECKED:
            continue
        missing = sorted({s.name for s in spec.secrets().values() if not s.available})
        if missing:
            warnings.append(f"{spec.address}: preflight skipped, secret values not set: {', '.join(missing)}")
            continue
        try:
            upstream = {t.table: t for t in client.database_schema(spec.type, spec.config)}
        except ApiStatusError as exc:
            errors.append(
                PlanError(f"preflight: PostHog refused the connection: {exc.detail}", spec.address, "preflight-failed")
            )
            continue
        for name, settings in sorted(spec.tables.items()):
            table = upstream.get(name)
            if table is None:
                close = difflib.get_close_matches(name, list(upstream), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                errors.append(
                    PlanError(
                        f"preflight: table {name!r} does not exist upstream{hint}", spec.address, "preflight-failed"
                    )
                )
                continue
            errors.extend(_column_errors(spec.address, name, settings.enabled_columns, table.available_columns))
            field = settings.incremental_field
            if field is not None and table.incremental_fields and field not in table.incremental_field_names():
                offered = ", ".join(sorted(table.incremental_field_names()))
                errors.append(
                    PlanError(
                        f"preflight: {name}.incremental_field {field!r} is not an "
                        f"incremental field upstream (offered: {offered})",
                        spec.address,
                        "preflight-failed",
                    )
                )
    return dataclasses.replace(plan, errors=(*plan.errors, *errors), warnings=(*plan.warnings, *warnings))


def _column_errors(address: str, table: str, wanted: Sequence[str] | None, available: Sequence[str]) -> list[PlanError]:
    """`enabled_columns` naming columns the upstream table does not have: PostHog would refuse the table
    update mid-apply ("Unknown columns in enabled_columns"). Skipped when PostHog lists no columns."""
    if not wanted or not available:
        return []
    unknown = [c for c in wanted if c not in available]
    if not unknown:
        return []
    guesses = [g for c in unknown for g in difflib.get_close_matches(c, list(available), n=1)]
    hint = f"; did you mean {', '.join(repr(g) for g in guesses)}?" if len(guesses) == len(unknown) else ""
    what = "a column" if len(unknown) == 1 else "columns"
    message = (
        f"preflight: {table}.enabled_columns names {what} the upstream table does not have: "
        f"{', '.join(repr(c) for c in unknown)}{hint} (columns: {', '.join(sorted(available))})"
    )
    return [PlanError(message, address, "preflight-failed")]
