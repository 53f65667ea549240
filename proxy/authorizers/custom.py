"""Lambda authorizers (AWS's ``CUSTOM`` authorization, types TOKEN and REQUEST) on the
function runtime (``proxy.functions``).

Per request: the identity (the token header, or every identity source) is checked before any
call (401 without a call, ``proxy.auth.lambda_authorizer``); a result cached for that identity
answers at once; otherwise the function is called with AWS's event, concurrent requests with
the same identity sharing one call, and its answer is cached for
``authorizerResultTtlInSeconds``. The whole answer is cached, and its policy evaluated for each
request's own method ARN, as AWS does (so a policy naming one method denies the others).

What AWS answers when the call fails (spec 11.1, observed): the function's error ``Unauthorized``
is 401; any other error, a crash, a timeout, no instance in time, a function that cannot run
or a malformed answer is 500 AUTHORIZER_CONFIGURATION_ERROR (``{"message": null}``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Hashable, Mapping
from typing import Any, Literal

import orjson

from proxy.auth import (
    AuthorizerResult,
    Decision,
    IdentitySource,
    LambdaAuthorizer,
    ResultCache,
    function_error,
    parse_output,
    request_event,
    token_event,
)
from proxy.authorizers.base import Authorizer, AuthorizerScope, Verdict
from proxy.bounded_log import BoundedLog
from proxy.config.model import AuthorizerDef
from proxy.context import AuthState, RequestContext, getter
from proxy.errors import AuthError, AuthorizerConfigurationError
from proxy.functions.base import FunctionUnavailable, NoInstance
from proxy.integrations.aws_proxy import request_context
from proxy.integrations.function_binding import bind_function
from proxy.integrations.lambda_proxy import request_maps
from proxy.integrations.params import Getter, compile_source

__all__ = ["AUTHORIZER_TIMEOUT_S", "CustomAuthorizer"]

log = BoundedLog(logging.getLogger("sluice.authorizers"))

# How long API Gateway waits for an authorizer function; AWS documents 10 s for HTTP APIs and
# nothing for REST APIs, which answer a timeout with 500 {"message": null} (observed).
AUTHORIZER_TIMEOUT_S = 10.0


class CustomAuthorizer(Authorizer):
    """A TOKEN or REQUEST authorizer of one stage: its function, its identity rules, its
    result cache (per process: no store round trip)."""

    __slots__ = ("_arn", "_binding", "_cache", "_calls", "_function", "_identity", "_sources",
                 "_stage_variables")

    def __init__(self, definition: AuthorizerDef, scope: AuthorizerScope) -> None:
        super().__init__(definition)
        kind: Literal["TOKEN", "REQUEST"] = "REQUEST" if definition.type == "REQUEST" \
            else "TOKEN"
        ttl = definition.result_ttl_seconds
        self._identity = LambdaAuthorizer(kind, definition.identity_source,
                                          validation=definition.validation, ttl_seconds=ttl)
        self._sources = tuple(_source_getter(source, scope.stage_variables)
                              for source in definition.identity_source)
        self._cache = ResultCache(ttl, clock=scope.shared.monotonic)
        self._calls: dict[Hashable, asyncio.Future[_Answer | AuthError]] = {}
        self._stage_variables = scope.stage_variables
        self._binding = binding = bind_function(definition.authorizer_uri, scope.stage_variables,
                                                scope.services.functions)
        self._function = binding.function if binding.callable else None  # None: answer 500
        self._arn = binding.arn

    def describe(self) -> str:
        target = self._binding.target
        name = target.name if target is not None else "?"
        missing = "" if self._binding.function is not None else \
            " (not in functions: answers 500)"
        return f"{self.definition.type} {self.definition.name} -> {name}{missing}"

    def check(self, ctx: RequestContext, state: AuthState, scopes: frozenset[str]) -> Verdict:
        request = ctx.request
        assert request is not None
        headers = request.headers
        key: Hashable | None
        if self._identity.type == "TOKEN":
            key = token = self._identity.token(headers)  # 401 without a call
        else:  # every identity source, or None without a cache (401 without a call)
            key = self._identity.request_identity(get(ctx) for get in self._sources)
        if key is not None:
            cached = self._cache.get(key)
            if cached is not None:
                return _apply(state, cached)
            waiting = self._calls.get(key)
            if waiting is not None:  # the same identity is being authorized: share the call
                return _after(waiting, state, shared=True)
        if self._identity.type == "TOKEN":
            event = token_event(token, state.method_arn)
        else:
            event = request_event(
                method_arn=state.method_arn, resource=ctx.resource_path or "/",
                path=ctx.rest_path, http_method=request.method,
                maps=request_maps(request.raw_headers, ctx.query_string, ctx.path_params),
                stage_variables=self._stage_variables, request_context=request_context(ctx))
        return self._call(ctx, state, key, orjson.dumps(event))

    def _call(self, ctx: RequestContext, state: AuthState, key: Hashable | None,
              event: bytes) -> Awaitable[Decision]:
        call = asyncio.ensure_future(self._invoke(event, ctx.trace_id, state.method_arn))
        if key is not None:
            # the call belongs to no one request: a requester that leaves does not cancel it
            # for the others waiting on it, and its answer is cached whoever is still there
            self._calls[key] = call
            call.add_done_callback(lambda done: self._settle(key, done))
        return _after(call, state)

    def _settle(self, key: Hashable, done: asyncio.Future[_Answer | AuthError]) -> None:
        del self._calls[key]
        if not done.cancelled() and done.exception() is None:
            answer = done.result()
            if isinstance(answer, _Answer):
                self._cache.put(key, answer.result)

    async def _invoke(self, event: bytes, trace_id: str, method_arn: str) -> _Answer | AuthError:
        """The function's answer, or the error the requests get (not raised: every waiter
        raises its own copy)."""
        function = self._function
        if function is None:
            return self._failed(method_arn, "its function is not in the config's functions")
        deadline = asyncio.get_running_loop().time() + AUTHORIZER_TIMEOUT_S
        start = time.perf_counter()
        try:
            result = await function.invoke(event, deadline=deadline, trace_id=trace_id,
                                           function_arn=self._arn)
        except (NoInstance, FunctionUnavailable) as exc:
            return self._failed(method_arn, f"not called: {exc}")
        latency = (time.perf_counter() - start) * 1000.0
        if result.function_error is not None:
            error = _error_document(result.payload)
            answer = function_error(error)
            if not isinstance(answer, AuthorizerConfigurationError):
                return answer  # "Unauthorized": 401, as the function asked
            kind = error.get("errorType") if isinstance(error, dict) else None
            return self._failed(method_arn,
                                f"the function failed ({kind or result.function_error})")
        try:
            parsed = parse_output(result.payload)
        except AuthError:
            return self._failed(method_arn, "its answer is not an authorizer output (principalId,"
                                " policyDocument, context of strings, numbers and booleans)")
        return _Answer(parsed, latency, result.request_id)

    def _failed(self, method_arn: str, why: str) -> AuthError:
        # Why, for the operator (AWS writes "Execution failed due to configuration error:
        # Authorizer error" to the execution log); never the token or the event.
        log.warning("authorizer %s (%s): %s", self.definition.name, method_arn, why)
        return AuthorizerConfigurationError()


def _source_getter(source: IdentitySource, stage_variables: Mapping[str, str]) -> Getter:
    """One identity source read as parameter mappings read it, compiled once per stage."""
    if source.kind == "context":
        return getter(source.name)  # an unknown variable reads as unset: 401 with caching
    found = compile_source(str(source), stage_variables)
    assert found is not None  # a header, a query string or a stage variable always compiles
    return found


class _Answer:
    """A function's valid answer and the call's facts for ``$context.authorizer.*``."""

    __slots__ = ("latency_ms", "request_id", "result")

    def __init__(self, result: AuthorizerResult, latency_ms: float, request_id: str) -> None:
        self.result = result
        self.latency_ms = latency_ms
        self.request_id = request_id


def _error_document(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None


def _apply(state: AuthState, result: AuthorizerResult) -> Decision:
    """The result on the request state, and its policy's decision for this request's ARN."""
    state.values = result.values
    state.usage_identifier_key = result.usage_identifier_key
    return result.policy.evaluate(state.method_arn)


async def _after(call: asyncio.Future[_Answer | AuthError], state: AuthState, *,
                 shared: bool = False) -> Decision:
    answer = await asyncio.shield(call)
    if isinstance(answer, AuthError):
        if isinstance(answer, AuthorizerConfigurationError):
            state.error = "Authorizer error"
        raise type(answer)(answer.message, error_type=answer.error_type)
    if not shared:  # a request that joined another's call made none itself
        state.integration_latency_ms = answer.latency_ms
        state.request_id = answer.request_id
    return _apply(state, answer.result)
