"""A pool's JWKS served over real HTTP (an aiohttp app on port 0): fetched once at start,
refetched only for an unknown key id and then at most once per interval, never per request."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from multidict import CIMultiDict

from proxy.auth.cognito import CognitoAuthorizer, Jwks, JwksError, UserPool
from proxy.errors import Unauthorized
from tests.support.gateway import serve_app
from tests.support.jwks import POOL_ARN, SigningKey, jwks_document

NOW = 1_700_000_000.0
KEY = SigningKey("k1")
ROTATED = SigningKey("k2")


class JwksServer:
    def __init__(self) -> None:
        self.document = jwks_document(KEY)
        self.fetches = 0
        self.status = 200
        self.app = web.Application()
        self.app.router.add_get("/us-east-1_Example/.well-known/jwks.json", self.get)

    async def get(self, request: web.Request) -> web.Response:
        self.fetches += 1
        await asyncio.sleep(0)  # let concurrent refreshes pile up if they were not shared
        return web.Response(status=self.status, body=self.document,
                            content_type="application/json")


def authorizer(url: str, ticks: list[float]) -> CognitoAuthorizer:
    jwks = Jwks(url, min_refresh_seconds=300, clock=lambda: ticks[0])
    return CognitoAuthorizer([(UserPool.from_arn(POOL_ARN), jwks)], clock=lambda: NOW)


async def test_fetched_once_then_on_unknown_kid_at_most_once_per_interval():
    server = JwksServer()
    ticks = [0.0]
    async with serve_app(server.app) as base:
        auth = authorizer(f"{base}/us-east-1_Example/.well-known/jwks.json", ticks)
        await auth.load()
        assert server.fetches == 1
        for i in range(50):  # many requests, many tokens: no fetch
            token = KEY.token(now=NOW, email=f"user{i}@example.com")
            await auth.authenticate(CIMultiDict(Authorization=token))
        assert server.fetches == 1

        server.document = jwks_document(KEY, ROTATED)
        rotated = [ROTATED.token(now=NOW, n=i) for i in range(20)]
        with pytest.raises(Unauthorized):  # unknown kid within the interval: no fetch
            await auth.authenticate(CIMultiDict(Authorization=rotated[0]))
        assert server.fetches == 1

        ticks[0] = 300.0  # the interval has passed: 20 concurrent requests share one fetch
        results = await asyncio.gather(*(auth.authenticate(CIMultiDict(Authorization=t))
                                         for t in rotated))
        assert all(r.token_use == "id" for r in results)
        assert server.fetches == 2

        forged = SigningKey("k3").token(now=NOW)
        for _ in range(10):  # an unknown kid again right after: refused, no fetch
            with pytest.raises(Unauthorized):
                await auth.authenticate(CIMultiDict(Authorization=forged))
        assert server.fetches == 2


async def test_unreachable_jwks_at_start_is_an_error():
    server = JwksServer()
    server.status = 503
    async with serve_app(server.app) as base:
        auth = authorizer(f"{base}/us-east-1_Example/.well-known/jwks.json", [0.0])
        with pytest.raises(JwksError, match="answered 503"):
            await auth.load()
