"""The method request as the non-proxy integrations' templates read it
(``proxy.integrations.request_mapping.MethodParams``): every ``$context`` variable read in
one call (``vtl_path``) exactly as the nested ``ContextView`` gives it, names that are not
variables walked as before, and the parameters made only when read."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from proxy.auth import IamIdentity
from proxy.context import VARIABLES, AuthState, ContextView, RequestContext
from proxy.integrations.request_mapping import MethodParams
from proxy.vtl import Overrides, compile_template, walk_context


def _ctx() -> RequestContext:
    ctx = RequestContext("rid-1", "ext-1", 0.0, 1_700_000_000_123, "Root=1-abc")
    ctx.api_id, ctx.account_id, ctx.stage = "api1", "123456789012", "prod"
    ctx.http_method, ctx.path, ctx.protocol = "POST", "/prod/orders/7", "HTTP/1.1"
    ctx.domain_name, ctx.source_ip, ctx.user_agent = "abc.execute-api.local", "1.2.3.4", "ua/1"
    ctx.resource_path, ctx.resource_id = "/orders/{id}", "r1"
    ctx.api_key, ctx.api_key_id = "", "kid"  # an empty text is unset
    ctx.status, ctx.response_length, ctx.integration_status = 0, 12, 200
    ctx.integration_latency_ms, ctx.response_latency_ms = 3.6, 9.2
    ctx.error_message = 'say "no"'
    auth = AuthState("arn:aws:execute-api:us-east-1:123456789012:api1/prod/POST/orders/7")
    auth.caller = IamIdentity(access_key="AKIA", account_id="123456789012", user_id="U1",
                              user_arn="arn:aws:iam::123456789012:user/u")
    auth.values = {"principalId": "me", "tier": "gold"}
    auth.claims = {"sub": "s-1"}
    auth.latency_ms, auth.status = 4.4, 200
    ctx.auth = auth
    ctx.path_params = {"id": "7"}
    ctx.query_string = "q=1&q=2&s=a%20b+c"
    ctx.request = make_mocked_request(
        "POST", "/prod/orders/7?q=1&q=2", headers=CIMultiDict(
            [("X-A", "1"), ("x-a", "2"), ("Content-Type", "application/json")]))
    return ctx


NAMES = [*VARIABLES, "identity", "authorizer", "error", "nope", "nope.deeper",
         "requestId.empty", "identity.sourceIp.empty", "authorizer.claims.sub",
         "authorizer.principalId", "authorizer.tier"]


def _outcome(read: Any, dotted: str) -> Any:
    try:
        value = read(dotted, tuple(dotted.split(".")))
    except Exception as err:  # what the view raises, the flat read raises too
        return type(err)
    if dotted == "responseLatency":  # elapsed time: the same kind of value, read twice
        return type(value)
    if type(value) in (str, int, float, bool, type(None)):
        return value
    return type(value)  # a nested object: printed as the empty string either way


@pytest.mark.parametrize("dotted", NAMES)
def test_vtl_path_reads_what_the_nested_view_gives(dotted: str) -> None:
    ctx = _ctx()
    view = ContextView(ctx)
    assert _outcome(MethodParams(ctx).vtl_path, dotted) == \
        _outcome(lambda d, names: walk_context(view, d, names), dotted)


def test_templates_print_the_same_through_either_view() -> None:
    ctx = _ctx()
    template = compile_template("|".join(
        f"$context.{name}" for name in NAMES if name != "responseLatency"))
    through_view = template.render_text("", MethodParams(ctx), ContextView(ctx), {},
                                        Overrides())
    through_params = template.render_text("", MethodParams(ctx), MethodParams(ctx), {},
                                          Overrides())
    assert through_params == through_view
    assert through_params.startswith("rid-1|ext-1|1.2.3.4|HTTP/1.1|")


def test_parameters_are_made_when_first_read() -> None:
    ctx = _ctx()
    params = MethodParams(ctx)
    assert params.path_params == {"id": "7"}
    # the last value wins, percent-decoded with "+" kept (AWS's $input.params())
    assert params.querystring == {"q": "2", "s": "a b+c"}
    assert params.querystring is params.querystring  # made once
    # headers by the name as sent: the last of each spelling
    assert params.headers == {"X-A": "1", "x-a": "2", "Content-Type": "application/json"}
    ctx.query_string = ""
    assert MethodParams(ctx).querystring == {}


def test_parameters_through_a_template() -> None:
    template = compile_template(
        "$input.params('q')|$input.params('X-A')|$input.params('x-a')|$input.params('id')|"
        "$input.params().querystring|$input.params().header.get('x-a')")
    text = template.render_text("{}", MethodParams(_ctx()), {}, {}, Overrides())
    assert text == "2|1|2|7|{q=2, s=a b+c}|2"


def test_a_request_that_reads_nothing_makes_nothing() -> None:
    ctx: Any = _ctx()
    ctx.request = None  # reading the headers would fail
    params = MethodParams(ctx)
    text = compile_template("$input.path('$.a')$context.stage").render_text(
        b'{"a": 1}', params, params, {}, Overrides())
    assert text == "1prod"


def test_the_authorizer_and_the_caller_reach_templates_through_either_view() -> None:
    """``$context.authorizer.KEY``, ``.claims.NAME`` and ``identity.*`` of a signer read the
    request's AuthState (they printed empty, or the AuthState itself, before)."""
    template = compile_template(
        "$context.authorizer.principalId|$context.authorizer.tier|"
        "$context.authorizer.claims.sub|$context.identity.caller|$context.identity.userArn|"
        "$context.authorizer.latency|$context.authorizer.status|$context.authorizer.nope")
    ctx = _ctx()
    expected = "me|gold|s-1|U1|arn:aws:iam::123456789012:user/u|4|200|"
    assert template.render_text("", MethodParams(ctx), MethodParams(ctx), {},
                                Overrides()) == expected
    assert template.render_text("", MethodParams(ctx), ContextView(ctx), {},
                                Overrides()) == expected
    ctx.auth = None
    assert template.render_text("", MethodParams(ctx), MethodParams(ctx), {},
                                Overrides()) == "|" * 7
