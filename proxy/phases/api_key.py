"""API key: a method with ``apiKeyRequired`` needs a known, enabled key in a usage plan of its
stage (403 INVALID_API_KEY otherwise); the key and the plan go on the request state for the
limits phase and ``$context.identity.apiKey*``. The key is the ``x-api-key`` header, or, where
the API's ``apiKeySource`` is AUTHORIZER, the ``usageIdentifierKey`` its Lambda authorizer
returned (spec 2.2): so this phase comes after the authorizer."""

from __future__ import annotations

from proxy._types import Phase
from proxy.config.model import ApiKeySource
from proxy.context import RequestContext
from proxy.errors import InvalidApiKey
from ratelimit import Registry


def phase(registry: Registry, api_id: str, stage: str, source: ApiKeySource = "HEADER") -> Phase:
    def check(ctx: RequestContext) -> None:
        if source == "HEADER":
            request = ctx.request
            assert request is not None
            given = request.headers.get("x-api-key")
        else:
            auth = ctx.auth
            given = auth.usage_identifier_key if auth is not None else None
        record = registry.authenticate(given)
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
