"""API key: a method with ``apiKeyRequired`` needs a known, enabled key in a usage plan of its
stage (403 INVALID_API_KEY otherwise); the key and the plan go on the request state for the
limits phase and ``$context.identity.apiKey*``."""

from __future__ import annotations

from proxy._types import Phase
from proxy.context import RequestContext
from proxy.errors import InvalidApiKey
from ratelimit import Registry


def phase(registry: Registry, api_id: str, stage: str) -> Phase:
    def check(ctx: RequestContext) -> None:
        request = ctx.request
        assert request is not None
        record = registry.authenticate(request.headers.get("x-api-key"))
        if record is None or not record.enabled:
            raise InvalidApiKey()
        plan = registry.plan_for(record.id, api_id, stage)
        if plan is None:
            raise InvalidApiKey()
        ctx.key = record
        ctx.plan = plan
        ctx.api_key = record.value
        ctx.api_key_id = record.id

    return check
