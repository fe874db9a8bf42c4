"""The emulator's control API under `/_emulator/` (never under `/api/`): request statistics, fault rules and
the rate-limit buckets. Mounted only when the server runs with `--control`.

Routes (each with or without a trailing slash):
- `GET /_emulator/stats` → `{"total", "by_route", "throttled", "faulted", "settings"}`;
  `POST /_emulator/stats/reset` → the zeroed stats.
- `GET /_emulator/faults` → `{"rules": [...]}`; `POST /_emulator/faults` `{"rules": [...]}` appends rules and
  returns them all; `DELETE /_emulator/faults` clears them.
- `POST /_emulator/rate-limit/reset` forgets every key's request history.

Works on a `TrafficControl` only, so it needs no store; endpoints that do (schema health, upstream tables)
are passed in as `more` routes and may use `read_json` / `control_error` for the same body conventions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from reconciler.emulator.api.guard import decode_json
from reconciler.emulator.problems import ApiProblem
from reconciler.emulator.traffic.faults import FaultRuleError, parse_fault_rules
from reconciler.emulator.traffic.middleware import TrafficControl

__all__ = ["CONTROL_PREFIX", "ControlApi", "ControlError", "control_error", "control_routes", "read_json"]

CONTROL_PREFIX = "/_emulator"


class ControlError(Exception):
    """A refused control request; rendered by `control_error`."""

    def __init__(self, detail: str, attr: str | None = None, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attr = attr
        self.status = status


def control_error(exc: ControlError) -> JSONResponse:
    """Errors in the API's own drf-exceptions-hog shape, so one client-side parser reads both."""
    body = {"type": "validation_error", "code": "invalid_input", "detail": exc.detail, "attr": exc.attr}
    return JSONResponse(body, status_code=exc.status)


async def read_json(request: Request) -> Any:
    """The request body as JSON (`None` when empty), or ControlError: `decode_json`'s rules, as for the API."""
    raw = await request.body()
    try:
        return decode_json(raw, request.headers.get("content-type", "")) if raw else None
    except ApiProblem as problem:
        raise ControlError(str(problem.body["detail"]), status=problem.status) from None


class ControlApi:
    """Endpoints over one `TrafficControl`, the same object the middleware uses."""

    def __init__(self, traffic: TrafficControl) -> None:
        self.traffic = traffic

    def _stats(self) -> dict[str, Any]:
        return {**self.traffic.stats.snapshot(), "settings": self.traffic.settings()}

    async def get_stats(self, request: Request) -> JSONResponse:
        return JSONResponse(self._stats())

    async def reset_stats(self, request: Request) -> JSONResponse:
        self.traffic.stats.reset()
        return JSONResponse(self._stats())

    async def get_faults(self, request: Request) -> JSONResponse:
        return JSONResponse({"rules": self.traffic.faults.snapshot()})

    async def add_faults(self, request: Request) -> JSONResponse:
        try:
            rules = parse_fault_rules(await read_json(request))
        except FaultRuleError as exc:
            return control_error(ControlError(str(exc), exc.attr))
        except ControlError as exc:
            return control_error(exc)
        self.traffic.faults.add(rules)
        return JSONResponse({"rules": self.traffic.faults.snapshot()})

    async def clear_faults(self, request: Request) -> JSONResponse:
        self.traffic.faults.clear()
        return JSONResponse({"rules": []})

    async def reset_rate_limit(self, request: Request) -> JSONResponse:
        if self.traffic.limiter is not None:
            self.traffic.limiter.reset()
        return JSONResponse({"rate_limit": self.traffic.settings()["rate_limit"]})

    def routes(self) -> list[BaseRoute]:
        table = [
            ("/stats", self.get_stats, ["GET"]),
            ("/stats/reset", self.reset_stats, ["POST"]),
            ("/faults", self.get_faults, ["GET"]),
            ("/faults", self.add_faults, ["POST"]),
            ("/faults", self.clear_faults, ["DELETE"]),
            ("/rate-limit/reset", self.reset_rate_limit, ["POST"]),
        ]
        out: list[BaseRoute] = []
        for path, endpoint, methods in table:
            out += [Route(path, endpoint, methods=methods), Route(path + "/", endpoint, methods=methods)]
        return out


def control_routes(traffic: TrafficControl, *, enabled: bool, more: Iterable[BaseRoute] = ()) -> list[BaseRoute]:
    """What to pass as `create_app(extra_routes=...)`: one `/_emulator` mount, or nothing when `--control` is
    off (then `/_emulator/...` is the app's ordinary 404). `more`: further control routes, relative to
    `/_emulator` (e.g. `Route("/schemas/{schema_id}", ..., methods=["PATCH"])`)."""
    if not enabled:
        return []
    return [Mount(CONTROL_PREFIX, routes=[*ControlApi(traffic).routes(), *more])]
