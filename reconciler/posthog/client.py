"""The PostHog API client: every call the planner and applier make, returning LiveState models.

Knows PostHog's endpoints and wire format (paths, paging, response shapes, wire quirks such as the bulk schema
update's per-table fallback); knows nothing of manifests or plans. Sending is `session.py`'s job (pacing,
retries, deadlines, error translation; the one place secrets are revealed); `transport.py` bounds one request.
Those three are the only modules that import httpx: its exceptions are translated in one place
(`transport.translate_transport_errors`) into `ApiUnavailable`/`RequestNotSent`/`DeadlineExceeded`, so nothing
above them needs httpx.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from reconciler.catalog import BULK_SCHEMA_FIELDS, Catalog, load_catalog
from reconciler.errors import AmbiguousCreate, ApiError, ConfigError, PersonalKeyNotAllowed
from reconciler.posthog.ratelimit import RateLimiter
from reconciler.posthog.retry import Replay, RetryPolicy
from reconciler.posthog.session import USER_AGENT, BearerAuth, Call, RequestStats, Session, build_http_client
from reconciler.posthog.shape import ShapeError
from reconciler.settings import DEFAULT_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, Settings

if TYPE_CHECKING:
    # Imported where a response is turned into models, not here: a command sends its first request before
    # they are loaded (docs/performance.md, "Start-up").
    from reconciler.posthog.models import LiveJob, LiveSchema, LiveSource, LiveState, PreflightTable, RefreshResult

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "USER_AGENT",
    "BearerAuth",
    "PostHogClient",
    "RequestStats",
    "build_client",
    "build_http_client",
]

log = logging.getLogger("reconciler.posthog")
_M = TypeVar("_M")

#: PostHog's list pagination has no max page size (§5), so one request can bring back hundreds of sources.
#: 1000 keeps a 300-source project at one list request (the target is ceil(N/100); fewer is better) while
#: bounding a single response. Lower it (`page_size=`) if a huge project makes the response too slow.
DEFAULT_PAGE_SIZE = 1000
_MAX_PAGES = 100_000
_BULK_KEYS = frozenset(BULK_SCHEMA_FIELDS)
_LIST_RESTARTS = 2


def build_client(
    settings: Settings,
    *,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    limiter: RateLimiter | None = None,
    retry: RetryPolicy | None = None,
) -> PostHogClient:
    """The client for `settings`. `base_url` overrides the host (how `--host local` is wired to the
    embedded emulator once it is running); `transport` is for tests. The settings' wait cap applies to `retry`
    and the limiter whoever built them: it is the user's bound on any single wait."""
    url = base_url or settings.base_url
    if url is None:
        raise ConfigError(
            "--host local needs the embedded emulator, which is not running",
            hint="start it with `reconciler serve` and pass --host http://127.0.0.1:8010",
        )
    http = build_http_client(
        url, settings.api_key, timeout=httpx.Timeout(settings.timeout, connect=10.0), transport=transport
    )
    return PostHogClient(
        http,
        limiter if limiter is not None else RateLimiter(settings.rate_limit, max_wait=settings.max_wait),
        replace(retry if retry is not None else RetryPolicy(), max_wait=settings.max_wait),
        project=settings.project,
        api_path=settings.api_path,
        owns_http=True,
        deadline=settings.deadline,
        max_response_bytes=settings.max_response_bytes,
    )


class PostHogClient:
    """Typed calls against one project's external data sources and schemas (reference/posthog-api.md §8, §9).

    Thread-safe: share one instance (and so one limiter) between all workers. `http` carries the base URL,
    auth and timeouts (see `build_http_client`); any httpx.Client works, including Starlette's TestClient.
    """

    def __init__(
        self,
        http: httpx.Client,
        limiter: RateLimiter,
        retry_policy: RetryPolicy,
        *,
        project: str,
        api_path: str = "projects",
        catalog: Catalog | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        owns_http: bool = False,
        deadline: float = DEFAULT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if api_path not in ("projects", "environments"):
            raise ConfigError(f"--api-path must be 'projects' or 'environments', not {api_path!r}")
        self._http = http
        self._catalog = catalog if catalog is not None else load_catalog()
        self._page_size = page_size
        self._owns_http = owns_http
        self.project = project
        self.api_path = api_path
        # Both families reach the same viewset; the id is the team/environment id in both (§1).
        self.base_path = f"/api/{api_path}/{project}/"
        self._session = Session(
            http, limiter, retry_policy,
            base_path=self.base_path, deadline=deadline, max_response_bytes=max_response_bytes,
        )  # fmt: skip
        self.stats: RequestStats = self._session.stats
        self._bulk_refused = threading.Event()  # learned once (403 to personal keys), then per table

    def __repr__(self) -> str:
        return f"PostHogClient({str(self._http.base_url)!r}, {self.base_path!r})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> PostHogClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- sources -------------------------------------------------------------------------------------

    def list_sources(self) -> list[LiveSource]:
        """Every source with its embedded schemas, in one paging pass that follows `next` to the end.

        One request per `page_size` sources (default 1000: PostHog has no max page size, §5). Offset
        paging can skip or repeat a row when sources are created or deleted mid-listing; repeats are
        dropped by id, and if the final page's `count` disagrees with what was collected the listing
        starts over (twice at most) rather than hand the planner a list with a hole in it.
        """
        for _ in range(_LIST_RESTARTS + 1):
            rows, count = self._list_once()
            if count is None or count == len(rows):
                # Build models while dropping each wire row: the decoded JSON of a large project (26 MB of
                # text at 1,000 sources × 50 tables) and its models need not be in memory at the same time.
                rows.reverse()
                sources = []
                while rows:
                    sources.append(self._source(rows.pop()))
                return sources
            log.info("source list changed while paging (count %s, got %d); listing again", count, len(rows))
        raise ApiError(
            "the source list kept changing while it was being read",
            hint="someone is creating or deleting sources right now; run again in a moment",
        )

    def fetch_live_state(self) -> LiveState:
        """`list_sources()` as a LiveState, for the planner and drift."""
        from reconciler.posthog.models import LiveState

        return LiveState(sources=tuple(self.list_sources()))

    def find_source(self, source_type: str, prefix: str | None) -> LiveSource | None:
        """Re-list and match (type, prefix): what an executor does after `AmbiguousCreate`."""
        return self.fetch_live_state().find(source_type, prefix)

    def get_source(self, source_id: str) -> LiveSource:
        return self._source(self._session.json(Call("get_source", "GET", f"external_data_sources/{source_id}/")))

    def create_source(
        self,
        source_type: str,
        payload: Mapping[str, Any],
        *,
        prefix: str | None = None,
        description: str | None = None,
        access_method: str | None = None,
    ) -> str:
        """POST a new source; returns its id (the 201 body is only `{"id"}`, §8.3).

        `payload` holds the config fields plus `schemas`. Never replayed once the request may have reached
        the server: a timeout, dropped connection or 5xx raises `AmbiguousCreate` instead.
        """
        body: dict[str, Any] = {"source_type": source_type, "payload": dict(payload)}
        if prefix is not None:
            body["prefix"] = prefix
        if description is not None:
            body["description"] = description
        if access_method is not None:
            body["access_method"] = access_method

        def ambiguous(error: ApiError) -> ApiError:
            return AmbiguousCreate(
                f"creating {source_type} source with prefix {prefix!r} may or may not have succeeded ({error})",
                source_type=source_type,
                prefix=prefix,
                hint="re-list the sources and look for this (type, prefix) before creating it again",
            )

        call = Call(
            "create_source", "POST", "external_data_sources/", body=body,
            replay=Replay.IF_NOT_SENT, slow=True, on_ambiguous=ambiguous,
        )  # fmt: skip
        data = self._session.json(call)
        if not isinstance(data, Mapping) or "id" not in data:
            raise ApiError(f"create_source: expected {{'id': ...}}, got {type(data).__name__}")
        return str(data["id"])

    def patch_source(self, source_id: str, changes: Mapping[str, Any]) -> LiveSource:
        """PATCH `description`, `job_inputs` (shallow-merged by PostHog, secrets kept when omitted, §8.4)…

        Returns the full source object PostHog answers with (typed values; normalised like a GET).
        """
        call = Call(
            "patch_source", "PATCH", f"external_data_sources/{source_id}/", body=dict(changes),
            slow="job_inputs" in changes,  # sending job_inputs makes PostHog re-probe the upstream (§8.4 step 9)
        )  # fmt: skip
        return self._source(self._session.json(call))

    def delete_source(self, source_id: str) -> None:
        """Soft delete (204, §8.5). A retry that finds the source already gone counts as done."""
        self._session.request(
            Call("delete_source", "DELETE", f"external_data_sources/{source_id}/", gone_ok_on_retry=True)
        )

    def reload_source(self, source_id: str) -> None:
        """Trigger a sync now (§8.6). Not replayed once it may have arrived: each call starts a sync."""
        self._session.request(
            Call("reload_source", "POST", f"external_data_sources/{source_id}/reload/", replay=Replay.IF_NOT_SENT)
        )

    def refresh_schemas(self, source_id: str) -> RefreshResult:
        """Re-discover upstream tables; new ones get schema rows with `should_sync=false` (§8.7). Idempotent."""
        call = Call("refresh_schemas", "POST", f"external_data_sources/{source_id}/refresh_schemas/", slow=True)
        from reconciler.posthog.models import RefreshResult

        return self._model(RefreshResult.from_wire, self._session.json(call))

    def patch_revenue_config(
        self,
        source_id: str,
        *,
        enabled: bool | None = None,
        include_invoiceless_charges: bool | None = None,
    ) -> LiveSource:
        """Partial revenue-analytics config (§8.12); only the keys given are sent. Returns the source."""
        body = {
            k: v for k, v in (("enabled", enabled), ("include_invoiceless_charges", include_invoiceless_charges))
            if v is not None
        }  # fmt: skip
        call = Call(
            "patch_revenue_config", "PATCH", f"external_data_sources/{source_id}/revenue_analytics_config/", body=body
        )
        return self._source(self._session.json(call))

    def jobs(
        self,
        source_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        schemas: Iterable[str] = (),
    ) -> list[LiveJob]:
        """Recent sync jobs, newest first, at most 50 (§8.8; not paginated)."""
        params: dict[str, Any] = {}
        if after is not None:
            params["after"] = after
        if before is not None:
            params["before"] = before
        names = list(schemas)
        if names:
            params["schemas"] = names
        data = self._session.json(
            Call("jobs", "GET", f"external_data_sources/{source_id}/jobs/", params=params or None)
        )
        from reconciler.posthog.models import LiveJob

        return [self._model(LiveJob.from_wire, row) for row in self._list_body(data, "jobs")]

    def wizard(self) -> dict[str, Any]:
        """Every source type's form definition (§8.11); `Catalog.from_wizard` turns it into a catalog."""
        data = self._session.json(Call("wizard", "GET", "external_data_sources/wizard/"))
        if not isinstance(data, dict):
            raise ApiError(f"wizard: expected an object, got {type(data).__name__}")
        return data

    # ---- checks that persist nothing ----------------------------------------------------------------

    def database_schema(
        self, source_type: str, config: Mapping[str, Any], *, access_method: str | None = None
    ) -> list[PreflightTable]:
        """Check credentials and list the upstream's tables without creating anything (§8.9).

        The body is flat: `source_type` beside the config fields, no `schemas`. PostHog answers 400
        `{"message": ...}` on bad credentials: that arrives here as `Rejected` with the server's text.
        """
        body: dict[str, Any] = {**config, "source_type": source_type}
        body.pop("schemas", None)
        if access_method is not None:
            body["access_method"] = access_method
        call = Call("database_schema", "POST", "external_data_sources/database_schema/", body=body, slow=True)
        data = self._session.json(call)
        from reconciler.posthog.models import PreflightTable

        return [self._model(PreflightTable.from_wire, row) for row in self._list_body(data, "database_schema")]

    def source_prefix(self, source_type: str, prefix: str | None, *, access_method: str | None = None) -> None:
        """Ask whether (type, prefix) is free (§8.10). Returns when it is; `Rejected` with PostHog's message
        ("Prefix already exists", "Source type already exists. Prefix is required") when not. It does not
        apply the prefix character rules."""
        body: dict[str, Any] = {"source_type": source_type}
        if prefix is not None:  # absent and null are both "no prefix" to this check (§8.10)
            body["prefix"] = prefix
        if access_method is not None:
            body["access_method"] = access_method
        self._session.request(Call("source_prefix", "POST", "external_data_sources/source_prefix/", body=body))

    # ---- schemas -------------------------------------------------------------------------------------

    def patch_schema(self, schema_id: str, changes: Mapping[str, Any]) -> LiveSchema:
        """PATCH one table's settings (§9.3); returns the schema object."""
        call = Call("patch_schema", "PATCH", f"external_data_schemas/{schema_id}/", body=dict(changes))
        from reconciler.posthog.models import LiveSchema

        return self._model(LiveSchema.from_wire, self._session.json(call))

    def bulk_update_schemas(self, source_id: str, updates: Sequence[Mapping[str, Any]]) -> list[LiveSchema]:
        """PATCH many schemas of one source in one transaction (§8.13); each item carries its `id`.

        Raises `PersonalKeyNotAllowed` where PostHog refuses this action to personal API keys (§2: at the
        reference commit it is mapped to no scope); callers then fall back to `patch_schema` per table.
        """
        if not updates:
            return []
        call = Call(
            "bulk_update_schemas", "PATCH", f"external_data_sources/{source_id}/bulk_update_schemas/",
            body={"schemas": [dict(u) for u in updates]},
        )  # fmt: skip
        data = self._session.json(call)
        from reconciler.posthog.models import LiveSchema

        return [self._model(LiveSchema.from_wire, row) for row in self._list_body(data, "bulk_update_schemas")]

    def update_schemas(self, source_id: str, updates: Sequence[Mapping[str, Any]]) -> bool:
        """Write many tables' settings of one source (each update carries its schema `id`); returns whether
        any went one PATCH per table because `bulk_update_schemas` is refused to personal keys here.

        Wire quirks, kept here: an update holding a key `bulk_update_schemas` drops silently
        (`primary_key_columns`, §8.13) always goes through `patch_schema`, which honours every writable
        field (§9.3); the bulk call's 403 to personal keys (§2) is learned once per client, so later calls
        (from every worker) go per table straight away."""
        single = [u for u in updates if set(u) - {"id"} - _BULK_KEYS]
        bulk = [u for u in updates if u not in single]
        if bulk and not self._bulk_refused.is_set():
            try:
                self.bulk_update_schemas(source_id, bulk)
                bulk = []
            except PersonalKeyNotAllowed:
                self._bulk_refused.set()
        for update in [*single, *bulk]:
            self.patch_schema(str(update["id"]), {k: v for k, v in update.items() if k != "id"})
        return bool(bulk)

    # ---- plumbing --------------------------------------------------------------------------------------

    def _list_once(self) -> tuple[list[Mapping[str, Any]], int | None]:
        rows: dict[str, Mapping[str, Any]] = {}
        count: int | None = None
        url: str | None = "external_data_sources/"
        params: dict[str, Any] | None = {"limit": self._page_size}
        seen_urls: set[str] = set()
        for _ in range(_MAX_PAGES):
            if url is None:
                return list(rows.values()), count
            page = self._session.json(Call("list_sources", "GET", url, params=params))
            if not isinstance(page, Mapping) or not isinstance(page.get("results"), list):
                raise ApiError("list_sources: expected a paginated object with 'results' (§5)")
            for row in page["results"]:
                if isinstance(row, Mapping) and "id" in row:
                    rows.setdefault(str(row["id"]), row)
            count = page["count"] if isinstance(page.get("count"), int) else None
            url, params = self._session.next_url(page.get("next")), None
            if url is not None:
                if url in seen_urls:
                    raise ApiError(f"list_sources: the server's `next` link loops back to {url}")
                seen_urls.add(url)
        raise ApiError("list_sources: too many pages")

    @staticmethod
    def _list_body(data: Any, operation: str) -> list[Mapping[str, Any]]:
        if not isinstance(data, list):
            raise ApiError(f"{operation}: expected a JSON array, got {type(data).__name__}")
        return [row for row in data if isinstance(row, Mapping)]

    @staticmethod
    def _model(factory: Callable[[Any], _M], data: Any) -> _M:
        """Build a model from response data; a shape we do not understand is an ApiError, not a crash.
        The message names the field and the problem only, never the value (`ShapeError`)."""
        try:
            return factory(data)
        except ShapeError as exc:
            raise ApiError(f"unexpected response shape from PostHog: {exc.field}: {exc.problem}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ApiError(f"unexpected response shape from PostHog: {type(exc).__name__} {exc}") from None
        except RecursionError:
            raise ApiError("unexpected response shape from PostHog: values nested too deeply") from None

    def _source(self, data: Any) -> LiveSource:
        from reconciler.posthog.models import LiveSource

        return self._model(lambda d: LiveSource.from_wire(d, self._catalog), data)
