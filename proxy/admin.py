"""The admin API: health, metrics, and the subset of Amazon API Gateway's control plane that
manages API keys, usage plans, usage data and stage caches (CONTRACT.md section 4).

Paths, status codes and JSON shapes are AWS's (botocore's ``apigateway`` model), so boto3 and
the AWS CLI work against it with ``endpoint_url``. Lists use the wire names (``item``,
``values``); dates are epoch seconds. Errors are ``{"message": ...}`` with the exception name in
``x-amzn-ErrorType``, which is where botocore looks for it. With ``adminToken`` set, every path
but ``/healthz`` needs ``Authorization: Bearer <token>``; without it the SigV4 header boto3
sends is accepted as is.
"""

from __future__ import annotations

import datetime
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import orjson
from aiohttp import web

from ratelimit import (
    BadRequest,
    KeyRecord,
    NotFound,
    PlanRecord,
    PlanStage,
    Registry,
    RegistryError,
    period_bounds,
    plan_stage,
)
from ratelimit.records import PlanQuota

log = logging.getLogger(__name__)

T = TypeVar("T")

_STATUS = {
    "BadRequestException": 400,
    "UnauthorizedException": 401,
    "NotFoundException": 404,
    "ConflictException": 409,
    "ServiceUnavailableException": 503,
}
DEFAULT_PAGE = 25  # AWS's default ``limit`` on list calls
MAX_PAGE = 500
MAX_USAGE_DAYS = 90  # bounds the store reads of one GetUsage call
_EPOCH = datetime.date(1970, 1, 1)


class UsageSource(Protocol):
    """Per-UTC-day request counts of a key in a plan (the Limiter implements it)."""

    async def daily_usage(
        self, plan_id: str, key_id: str, days: Sequence[datetime.date]
    ) -> list[int]: ...


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _error(error_type: str, message: str) -> web.Response:
    response = _json({"message": message}, _STATUS.get(error_type, 400))
    response.headers["x-amzn-ErrorType"] = error_type
    return response


# --- AWS shapes --------------------------------------------------------------------------


def _key_json(k: KeyRecord, *, include_value: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": k.id,
        "name": k.name,
        "enabled": k.enabled,
        "createdDate": k.created_date,
        "lastUpdatedDate": k.last_updated_date,
        "stageKeys": [],
    }
    if include_value:
        out["value"] = k.value
    if k.description is not None:
        out["description"] = k.description
    if k.customer_id is not None:
        out["customerId"] = k.customer_id
    return out


def _throttle_json(t: tuple[float, int]) -> dict[str, Any]:
    return {"rateLimit": t[0], "burstLimit": t[1]}


def _plan_json(p: PlanRecord) -> dict[str, Any]:
    stages = []
    for s in p.api_stages:
        stage: dict[str, Any] = {"apiId": s.api_id, "stage": s.stage}
        if s.throttle:
            stage["throttle"] = {path: _throttle_json(t) for path, t in s.throttle.items()}
        stages.append(stage)
    out: dict[str, Any] = {"id": p.id, "name": p.name, "apiStages": stages}
    if p.description is not None:
        out["description"] = p.description
    if p.throttle is not None:
        out["throttle"] = _throttle_json(p.throttle)
    if p.quota is not None:
        limit, period, offset = p.quota
        out["quota"] = {"limit": limit, "offset": offset, "period": period}
    return out


def _plan_key_json(k: KeyRecord) -> dict[str, Any]:
    return {"id": k.id, "type": "API_KEY", "value": k.value, "name": k.name}


# --- request parsing ---------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Invalid JSON body: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object")
    return data


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").lower() == "true"


def _opt_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value


def _number(d: Mapping[str, Any], name: str, where: str) -> float:
    value = d.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{where}.{name} must be a number")
    return value


def _throttle(d: Any, where: str) -> tuple[float, int]:
    if not isinstance(d, dict):
        raise BadRequest(f"{where} must be an object {{rateLimit, burstLimit}}")
    burst = _number(d, "burstLimit", where)
    if burst != int(burst):
        raise BadRequest(f"{where}.burstLimit must be an integer")
    return (float(_number(d, "rateLimit", where)), int(burst))


def _quota(d: Any) -> tuple[int, str, int]:
    if not isinstance(d, dict):
        raise BadRequest("quota must be an object {limit, period, offset?}")
    limit = _number(d, "limit", "quota")
    offset = d.get("offset", 0)
    if limit != int(limit) or not isinstance(offset, int) or isinstance(offset, bool):
        raise BadRequest("quota.limit and quota.offset must be integers")
    return (int(limit), str(d.get("period")), offset)


def _api_stages(raw: Any) -> list[PlanStage]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadRequest("apiStages must be a list")
    stages = []
    for i, s in enumerate(raw):
        if (
            not isinstance(s, dict)
            or not isinstance(s.get("apiId"), str)
            or not isinstance(s.get("stage"), str)
        ):
            raise BadRequest(f"apiStages[{i}] needs apiId and stage strings")
        throttle = s.get("throttle") or {}
        if not isinstance(throttle, dict):
            raise BadRequest(f"apiStages[{i}].throttle must be an object")
        stages.append(
            plan_stage(
                s["apiId"],
                s["stage"],
                {
                    path: _throttle(t, f"apiStages[{i}].throttle.{path}")
                    for path, t in throttle.items()
                },
            )
        )
    return stages


def _page(
    request: web.Request, items: Sequence[T], ident: Callable[[T], str]
) -> tuple[Sequence[T], str | None]:
    """AWS paging: ``limit`` (25, at most 500) and ``position``, the id of the next item."""
    try:
        limit = int(request.query.get("limit", DEFAULT_PAGE))
    except ValueError as exc:
        raise BadRequest("limit must be an integer") from exc
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    start = 0
    position = request.query.get("position")
    if position:
        start = next((i for i, item in enumerate(items) if ident(item) >= position), len(items))
    page = items[start : start + limit]
    following = start + limit
    return page, (ident(items[following]) if following < len(items) else None)


def _listing(page: Sequence[Any], position: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"item": list(page)}
    if position is not None:
        out["position"] = position
    return out


def _date(request: web.Request, name: str) -> datetime.date:
    raw = request.query.get(name)
    if not raw:
        raise BadRequest(f"{name} is required (YYYY-MM-DD)")
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a date YYYY-MM-DD: {raw!r}") from exc


def _remaining(
    quota: PlanQuota | None, days: Sequence[datetime.date], used: Sequence[int]
) -> list[int | None]:
    """Quota left at the end of each day, counting from the start of that day's period.

    Without a quota AWS documents nothing; ``None`` (JSON null, parsed as None by botocore)
    says "no quota" rather than a number that could be read as exhausted or unlimited.
    """
    if quota is None:
        return [None] * len(days)
    limit, period, _ = quota
    out: list[int | None] = []
    since_period_start = 0
    current_period = None
    for day, count in zip(days, used, strict=True):
        period_start, _ = period_bounds(period, (day - _EPOCH).days)
        if period_start != current_period:
            current_period, since_period_start = period_start, 0
        since_period_start += count
        out.append(max(limit - since_period_start, 0))
    return out


# --- the application ---------------------------------------------------------------------


class _Admin:
    """The handlers, over the collaborators ``build_admin_app`` was given."""

    __slots__ = (
        "deployment_info",
        "flush_cache",
        "health",
        "metrics_render",
        "registry",
        "usage_source",
    )

    def __init__(
        self,
        registry: Registry,
        usage: UsageSource,
        deployment_info: Callable[[], list[dict[str, Any]]],
        flush_cache: Callable[[str, str], Awaitable[bool]],
        metrics_render: Callable[[], tuple[bytes, str]],
        health: Callable[[], Awaitable[bool]],
    ) -> None:
        self.registry = registry
        self.usage_source = usage
        self.deployment_info = deployment_info
        self.flush_cache = flush_cache
        self.metrics_render = metrics_render
        self.health = health

    # health, metrics, deployment

    async def healthz(self, request: web.Request) -> web.Response:
        try:
            ok = await self.health()
        except Exception:  # a failing probe is an unhealthy gateway, not a 500
            log.exception("health check failed")
            ok = False
        return _json({"status": "ok"} if ok else {"status": "unavailable"}, 200 if ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        body, content_type = self.metrics_render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    def _api(self, api_id: str) -> dict[str, Any]:
        for api in self.deployment_info():
            if api["id"] == api_id:
                return api
        raise NotFound(f"Invalid API identifier specified: {api_id}")

    async def restapis(self, request: web.Request) -> web.Response:
        apis = sorted(
            ({k: v for k, v in api.items() if k != "stages"} for api in self.deployment_info()),
            key=lambda a: str(a["id"]),
        )
        page, position = _page(request, apis, lambda a: str(a["id"]))
        return _json(_listing(page, position))

    async def stages(self, request: web.Request) -> web.Response:
        api = self._api(request.match_info["api_id"])
        return _json({"item": list(api.get("stages", []))})

    async def flush_stage_cache(self, request: web.Request) -> web.Response:
        api_id, stage = request.match_info["api_id"], request.match_info["stage"]
        if not await self.flush_cache(api_id, stage):
            raise NotFound(f"Invalid stage identifier specified: {api_id}/{stage}")
        log.info("stage cache flushed: %s/%s", api_id, stage)
        return web.Response(status=202)

    # API keys

    async def create_key(self, request: web.Request) -> web.Response:
        body = await _body(request)
        name = _opt_str(body, "name") or ""
        enabled = body.get("enabled", False)
        if not isinstance(enabled, bool):
            raise BadRequest("enabled must be a boolean")
        record = await self.registry.create_key(
            name,
            _opt_str(body, "value"),
            # AWS's CreateApiKey default: a key is disabled unless "enabled": true is sent.
            enabled=enabled,
            description=_opt_str(body, "description"),
            customer_id=_opt_str(body, "customerId"),
        )
        return _json(_key_json(record, include_value=True), 201)

    async def list_keys(self, request: web.Request) -> web.Response:
        keys = await self.registry.list_keys(
            name_query=request.query.get("name"), customer_id=request.query.get("customerId")
        )
        page, position = _page(request, keys, lambda k: k.id)
        include = _flag(request, "includeValues")
        return _json(_listing([_key_json(k, include_value=include) for k in page], position))

    async def get_key(self, request: web.Request) -> web.Response:
        record = await self.registry.get_key(request.match_info["key_id"])
        return _json(_key_json(record, include_value=_flag(request, "includeValue")))

    async def update_key(self, request: web.Request) -> web.Response:
        ops = (await _body(request)).get("patchOperations")
        if not isinstance(ops, list):
            raise BadRequest("patchOperations must be a list")
        record = await self.registry.update_key(request.match_info["key_id"], ops)
        return _json(_key_json(record, include_value=False))

    async def delete_key(self, request: web.Request) -> web.Response:
        await self.registry.delete_key(request.match_info["key_id"])
        return web.Response(status=202)

    # usage plans

    async def create_plan(self, request: web.Request) -> web.Response:
        body = await _body(request)
        name = _opt_str(body, "name")
        if not name:
            raise BadRequest("name is required")
        stages = _api_stages(body.get("apiStages"))
        for s in stages:
            api = self._api(s.api_id)
            if not any(st.get("stageName") == s.stage for st in api.get("stages", [])):
                raise NotFound(f"Invalid stage identifier specified: {s.api_id}/{s.stage}")
        throttle = body.get("throttle")
        quota = body.get("quota")
        record = await self.registry.create_plan(
            name,
            description=_opt_str(body, "description"),
            api_stages=stages,
            throttle=None if throttle is None else _throttle(throttle, "throttle"),
            quota=None if quota is None else _quota(quota),
        )
        return _json(_plan_json(record), 201)

    async def list_plans(self, request: web.Request) -> web.Response:
        plans = await self.registry.list_plans(key_id=request.query.get("keyId"))
        page, position = _page(request, plans, lambda p: p.id)
        return _json(_listing([_plan_json(p) for p in page], position))

    async def get_plan(self, request: web.Request) -> web.Response:
        return _json(_plan_json(await self.registry.get_plan(request.match_info["plan_id"])))

    async def add_plan_key(self, request: web.Request) -> web.Response:
        body = await _body(request)
        key_id, key_type = body.get("keyId"), body.get("keyType")
        if not isinstance(key_id, str) or not key_id:
            raise BadRequest("keyId is required")
        if key_type != "API_KEY":
            raise BadRequest("keyType must be API_KEY")
        record = await self.registry.add_plan_key(request.match_info["plan_id"], key_id)
        return _json(_plan_key_json(record), 201)

    async def list_plan_keys(self, request: web.Request) -> web.Response:
        keys = await self.registry.list_plan_keys(request.match_info["plan_id"])
        name_query = request.query.get("name")
        if name_query is not None:
            keys = [k for k in keys if k.name.startswith(name_query)]
        page, position = _page(request, keys, lambda k: k.id)
        return _json(_listing([_plan_key_json(k) for k in page], position))

    async def remove_plan_key(self, request: web.Request) -> web.Response:
        await self.registry.remove_plan_key(
            request.match_info["plan_id"], request.match_info["key_id"]
        )
        return web.Response(status=202)

    async def usage(self, request: web.Request) -> web.Response:
        plan = await self.registry.get_plan(request.match_info["plan_id"])
        start, end = _date(request, "startDate"), _date(request, "endDate")
        if end < start:
            raise BadRequest("endDate must not be before startDate")
        if (end - start).days >= MAX_USAGE_DAYS:
            raise BadRequest(f"the date range must be at most {MAX_USAGE_DAYS} days")
        key_id = request.query.get("keyId")
        if key_id is not None and key_id not in plan.key_ids:
            raise NotFound(f"Invalid API Key identifier specified: {key_id}")
        key_ids = [key_id] if key_id is not None else sorted(plan.key_ids)
        page, position = _page(request, key_ids, str)

        # Read from the start of startDate's quota period, so "remaining" on the first days
        # counts the requests made earlier in that period.
        first = start
        if plan.quota is not None:
            first_day, _ = period_bounds(plan.quota[1], (start - _EPOCH).days)
            first = _EPOCH + datetime.timedelta(days=first_day)
        days = [first + datetime.timedelta(days=i) for i in range((end - first).days + 1)]
        skip = (start - first).days
        values = {}
        for kid in page:
            used = await self.usage_source.daily_usage(plan.id, kid, days)
            remaining = _remaining(plan.quota, days, used)
            values[kid] = [[u, r] for u, r in zip(used, remaining, strict=True)][skip:]
        return _json(
            {
                "usagePlanId": plan.id,
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
                "position": position,
                "values": values,
            }
        )


def _errors_middleware() -> Any:
    @web.middleware
    async def errors(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except RegistryError as exc:
            return _error(exc.error_type, exc.message)
        except web.HTTPNotFound:
            return _error("NotFoundException", f"No such resource: {request.path}")
        except web.HTTPMethodNotAllowed:
            response = _error("BadRequestException", f"{request.method} is not allowed here")
            response.set_status(405)
            return response

    return errors


def _auth_middleware(token: str) -> Any:
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def auth(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path != "/healthz":
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return _error("UnauthorizedException", "Unauthorized")
        return await handler(request)

    return auth


def build_admin_app(
    *,
    registry: Registry,
    usage: UsageSource,
    deployment_info: Callable[[], list[dict[str, Any]]],
    flush_cache: Callable[[str, str], Awaitable[bool]],
    metrics_render: Callable[[], tuple[bytes, str]],
    health: Callable[[], Awaitable[bool]],
    admin_token: str | None,
) -> web.Application:
    """The admin application (the caller owns ``registry`` and ``usage``).

    ``deployment_info()`` lists the deployed APIs as AWS ``RestApi`` dicts (at least ``id`` and
    ``name``), each with ``stages``: AWS ``Stage`` dicts (at least ``stageName``).
    ``flush_cache(api_id, stage)`` returns False for an unknown stage (answered 404).
    ``metrics_render()`` returns the exposition body and its content type.
    """
    middlewares = [_errors_middleware()]
    if admin_token:
        middlewares.append(_auth_middleware(admin_token))
    app = web.Application(middlewares=middlewares)
    a = _Admin(registry, usage, deployment_info, flush_cache, metrics_render, health)
    app.router.add_routes(
        [
            web.get("/healthz", a.healthz),
            web.get("/metrics", a.metrics),
            web.get("/restapis", a.restapis),
            web.get("/restapis/{api_id}/stages", a.stages),
            web.delete("/restapis/{api_id}/stages/{stage}/cache/data", a.flush_stage_cache),
            web.post("/apikeys", a.create_key),
            web.get("/apikeys", a.list_keys),
            web.get("/apikeys/{key_id}", a.get_key),
            web.patch("/apikeys/{key_id}", a.update_key),
            web.delete("/apikeys/{key_id}", a.delete_key),
            web.post("/usageplans", a.create_plan),
            web.get("/usageplans", a.list_plans),
            web.get("/usageplans/{plan_id}", a.get_plan),
            web.post("/usageplans/{plan_id}/keys", a.add_plan_key),
            web.get("/usageplans/{plan_id}/keys", a.list_plan_keys),
            web.delete("/usageplans/{plan_id}/keys/{key_id}", a.remove_plan_key),
            web.get("/usageplans/{plan_id}/usage", a.usage),
        ]
    )
    return app
