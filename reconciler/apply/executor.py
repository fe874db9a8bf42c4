"""Run a Plan's steps against PostHog and report every step's outcome. Drives the client; never prints.

Order (DESIGN.md "Ordering"): every delete first (including the delete half of replaces), then the
source chains, concurrently up to `parallelism`, steps of one chain in order. Chains run in two waves
with one shared re-list between them: the *head* steps (create, source PATCH, refresh_schemas) make
schema rows whose ids the *tail* steps (table PATCHes, revenue config, reload) need. One list request
resolves those ids for every source at once, instead of one GET per created source.

A failed step ends its own chain (later steps are `skipped`, with the cause); other chains go on.
An ambiguous create (the request may have reached PostHog) is resolved by re-listing and matching
(type, prefix) before anything is sent again: never a duplicate source.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from reconciler.errors import AmbiguousCreate, ReconcilerError
from reconciler.ownership import FINGERPRINT_LENGTH, compose_description
from reconciler.plan.fingerprint import complete_fingerprint
from reconciler.plan.model import Plan
from reconciler.plan.steps import (
    CreateSource,
    DeleteSource,
    OwnedDescription,
    PatchRevenueConfig,
    PatchSchemas,
    PatchSource,
    RefreshSchemas,
    ReloadSource,
    SchemaUpdate,
    Step,
    step_kind,
)
from reconciler.posthog.client import PostHogClient
from reconciler.records import record
from reconciler.secret import Secret, collect_secrets

__all__ = [
    "ApplyReport",
    "Executor",
    "NullReporter",
    "Reporter",
    "StepResult",
    "StepStatus",
    "missing_secret_steps",
    "missing_secrets",
]

_CREATE_ATTEMPTS = 3
#: After an ambiguous create, look this many seconds later (then again) before sending it again: PostHog may
#: still be running the first request (its create probes the upstream), and its prefix check is not a
#: transaction — a second create racing the first could make a duplicate.
AMBIGUOUS_CREATE_CHECKS = (0.5, 2.0)
_HEAD = (CreateSource, PatchSource, RefreshSchemas)


class StepStatus(Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_STARTED = "not_started"


@record
class StepResult:
    step: Step
    status: StepStatus
    error: str | None = None
    attempts: int = 0
    duration: float = 0.0
    note: str | None = None  # e.g. "bulk_update_schemas refused: patched one table at a time"


@record
class ApplyReport:
    """Every step of the plan with its outcome, in plan order."""

    results: tuple[StepResult, ...]
    requests: int = 0

    @property
    def ok(self) -> bool:
        return all(r.status is StepStatus.SUCCEEDED for r in self.results)

    def by_address(self) -> dict[str, list[StepResult]]:
        grouped: dict[str, list[StepResult]] = {}
        for result in self.results:
            grouped.setdefault(result.step.address, []).append(result)
        return grouped

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in StepStatus}
        for result in self.results:
            counts[result.status.value] += 1
        return counts


class Reporter(Protocol):
    """How the executor tells the outside world what it is doing (text, progress bar, JSON)."""

    def run_started(self, plan: Plan) -> None: ...

    def run_finished(self) -> None: ...

    def step_started(self, step: Step) -> None: ...

    def step_finished(self, result: StepResult) -> None: ...


class NullReporter:
    def run_started(self, plan: Plan) -> None:
        pass

    def run_finished(self) -> None:
        pass

    def step_started(self, step: Step) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass


class _StepFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class _Chain:
    """One source's steps and what the executor learned while running them."""

    address: str
    steps: list[Step]
    source_id: str | None = None
    schema_ids: dict[str, str] = field(default_factory=dict)
    failed: str | None = None  # cause, once a step failed


class Executor:
    """Runs plans against one client (whose rate limiter all workers share)."""

    def __init__(
        self,
        client: PostHogClient,
        *,
        parallelism: int = 4,
        reporter: Reporter | None = None,
        fingerprint_key: bytes | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        ambiguous_create_checks: Sequence[float] = AMBIGUOUS_CREATE_CHECKS,
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self.client = client
        self.parallelism = parallelism
        self.reporter: Reporter = reporter or NullReporter()
        self.fingerprint_key = fingerprint_key
        self.clock = clock
        self.sleep = sleep
        self.ambiguous_create_checks = tuple(ambiguous_create_checks)
        self._results: dict[int, StepResult] = {}
        self._lock = threading.Lock()

    # ---- public ---------------------------------------------------------------------------------------

    def run(self, plan: Plan) -> ApplyReport:
        requests_before = self.client.stats.total
        self.reporter.run_started(plan)
        try:
            return self._run(plan, requests_before)
        finally:
            self.reporter.run_finished()

    def _run(self, plan: Plan, requests_before: int) -> ApplyReport:
        chains = {c.address: _Chain(c.address, list(c.steps), c.live_id) for c in plan.changes if c.steps}
        for chain in chains.values():
            if any(isinstance(s, DeleteSource) for s in chain.steps):
                chain.source_id = None  # a replace creates a new source: the old id dies with the delete

        deletes = [(chains[s.address], s) for s in plan.delete_steps()]
        self._parallel(deletes, lambda item: self._run_step(*item))

        heads = [c for c in chains.values() if c.failed is None]
        self._parallel(heads, lambda chain: self._run_chain(chain, _HEAD))
        if any(self._needs_ids(c) for c in chains.values()):
            self._resolve_schema_ids([c for c in chains.values() if self._needs_ids(c)])
        self._parallel(list(chains.values()), lambda chain: self._run_chain(chain, None))

        ordered = [
            self._results.get(id(step)) or StepResult(step, StepStatus.NOT_STARTED)
            for change in plan.changes
            for step in change.steps
        ]
        return ApplyReport(tuple(ordered), requests=self.client.stats.total - requests_before)

    # ---- scheduling -------------------------------------------------------------------------------------

    def _parallel(self, items: Sequence[Any], work: Callable[[Any], None]) -> None:
        if self.parallelism == 1 or len(items) <= 1:
            for item in items:
                work(item)
            return
        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="apply") as pool:
            for future in [pool.submit(work, item) for item in items]:
                future.result()

    def _run_chain(self, chain: _Chain, kinds: tuple[type[Step], ...] | None) -> None:
        """Run the chain's not-yet-run steps (only `kinds` in the head wave); stop at the first failure."""
        for step in chain.steps:
            if id(step) in self._results:
                continue
            if kinds is not None and not isinstance(step, kinds):
                return
            if chain.failed is not None:
                self._record(StepResult(step, StepStatus.SKIPPED, error=f"skipped: {chain.failed}"))
                continue
            self._run_step(chain, step)

    def _needs_ids(self, chain: _Chain) -> bool:
        if chain.failed is not None:
            return False
        return any(
            isinstance(s, PatchSchemas) and id(s) not in self._results and any(u.schema_id is None for u in s.updates)
            for s in chain.steps
        )

    def _resolve_schema_ids(self, chains: Iterable[_Chain]) -> None:
        """One list pass gives every new schema row's id, for all sources at once."""
        try:
            live = {s.id: s for s in self.client.list_sources()}
        except ReconcilerError as exc:
            for chain in chains:
                chain.failed = f"could not list sources to find new table ids: {exc}"
            return
        for chain in chains:
            source = live.get(chain.source_id or "")
            if source is not None:
                chain.schema_ids = {s.name: s.id for s in source.schemas}

    # ---- one step -------------------------------------------------------------------------------------

    def _record(self, result: StepResult) -> None:
        with self._lock:
            self._results[id(result.step)] = result
        self.reporter.step_finished(result)

    def _run_step(self, chain: _Chain, step: Step) -> None:
        self.reporter.step_started(step)
        started = self.clock()
        before = self.client.stats.this_thread
        note: str | None = None
        try:
            note = self._dispatch(chain, step)
        except (ReconcilerError, _StepFailed) as exc:
            chain.failed = f"{step_kind(step)} failed"
            message = exc.message if isinstance(exc, _StepFailed) else str(exc)
            self._record(
                StepResult(
                    step,
                    StepStatus.FAILED,
                    error=message,
                    attempts=self.client.stats.this_thread - before,
                    duration=self.clock() - started,
                )
            )
            return
        self._record(
            StepResult(
                step,
                StepStatus.SUCCEEDED,
                attempts=self.client.stats.this_thread - before,
                duration=self.clock() - started,
                note=note,
            )
        )

    def _dispatch(self, chain: _Chain, step: Step) -> str | None:
        handler = _HANDLERS.get(type(step))
        if handler is None:
            raise TypeError(f"the executor has no handler for {type(step).__name__}")
        return handler(self, chain, step)

    def _source_id(self, chain: _Chain, step: Step) -> str:
        source_id = chain.source_id or step.source_id
        if source_id is None:
            raise _StepFailed("the source's id is unknown (its create did not run)")
        return source_id

    def _description(self, owned: OwnedDescription, sent: Mapping[str, Any]) -> str:
        fingerprint = owned.fingerprint
        if len(fingerprint) < FINGERPRINT_LENGTH:  # only the version half: add the values half of what we send
            fingerprint = complete_fingerprint(fingerprint, collect_secrets(sent), self.fingerprint_key)
        return compose_description(owned.user_text, owned.address, fingerprint)

    # ---- handlers (one per step type; see _HANDLERS) ------------------------------------------------

    def _delete(self, chain: _Chain, step: DeleteSource) -> None:
        self.client.delete_source(self._source_id(chain, step))

    def _create(self, chain: _Chain, step: CreateSource) -> str | None:
        payload = {**step.payload, "schemas": [dict(s) for s in step.schemas]}
        description = self._description(step.description, step.payload)
        last: AmbiguousCreate | None = None
        for _attempt in range(_CREATE_ATTEMPTS):
            try:
                chain.source_id = self.client.create_source(
                    step.source_type, payload, prefix=step.prefix, description=description
                )
                return None
            except AmbiguousCreate as exc:
                last = exc
                # The create may have committed, or still be running. Look (twice, waiting first) before
                # sending it again (DESIGN.md "Retries").
                for wait in self.ambiguous_create_checks:
                    self.sleep(wait)
                    found = self.client.find_source(step.source_type, step.prefix)
                    if found is not None:
                        chain.source_id = found.id
                        return "the create's response was lost; found the new source by (type, prefix)"
        # Say what the server last answered (502, timeout, dropped connection): the report must name the cause.
        cause = last.message if last is not None else "no answer"
        raise _StepFailed(
            f"create of {step.source_type} source {step.prefix!r} failed {_CREATE_ATTEMPTS} times "
            f"without a clear answer; nothing was found by re-listing. Last attempt: {cause}"
        )

    def _patch_source(self, chain: _Chain, step: PatchSource) -> None:
        changes = dict(step.changes)
        owned = changes.get("description")
        if isinstance(owned, OwnedDescription):
            changes["description"] = self._description(owned, changes.get("job_inputs") or {})
        self.client.patch_source(self._source_id(chain, step), changes)

    def _refresh(self, chain: _Chain, step: RefreshSchemas) -> str:
        result = self.client.refresh_schemas(self._source_id(chain, step))
        return f"{result.added} table(s) added, {result.total_tables_seen} seen upstream"

    def _patch_schemas(self, chain: _Chain, step: PatchSchemas) -> str | None:
        items = [self._schema_item(chain, update) for update in step.updates]
        if self.client.update_schemas(self._source_id(chain, step), items):
            return "bulk_update_schemas is refused to personal API keys here: patched one table at a time"
        return None

    def _schema_item(self, chain: _Chain, update: SchemaUpdate) -> dict[str, Any]:
        schema_id = update.schema_id or chain.schema_ids.get(update.name)
        if schema_id is None:
            raise _StepFailed(
                f"table {update.name!r} does not exist in PostHog even after refresh_schemas; "
                "check the name against the upstream (plan --preflight lists them)"
            )
        return {"id": schema_id, **update.changes}

    def _revenue(self, chain: _Chain, step: PatchRevenueConfig) -> None:
        self.client.patch_revenue_config(self._source_id(chain, step), **dict(step.changes))

    def _reload(self, chain: _Chain, step: ReloadSource) -> None:
        self.client.reload_source(self._source_id(chain, step))


_HANDLERS: dict[type[Step], Callable[[Executor, _Chain, Any], str | None]] = {
    DeleteSource: Executor._delete,
    CreateSource: Executor._create,
    PatchSource: Executor._patch_source,
    RefreshSchemas: Executor._refresh,
    PatchSchemas: Executor._patch_schemas,
    PatchRevenueConfig: Executor._revenue,
    ReloadSource: Executor._reload,
}


def missing_secret_steps(plan: Plan) -> list[Step]:
    """Steps that would send a secret whose value is not available."""
    return [s for c in plan.changes for s in c.steps if any(not x.available for x in s.secrets())]


def missing_secrets(plan: Plan) -> list[Secret]:
    """Secrets the plan's steps would send whose values are not available (checked before any write)."""
    found = {x.name: x for s in missing_secret_steps(plan) for x in s.secrets() if not x.available}
    return list(found.values())
