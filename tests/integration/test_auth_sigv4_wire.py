"""SigV4 verification of requests that crossed a real socket: botocore signs, aiohttp's client
sends the bytes as signed, an aiohttp server hands the verifier ``request.raw_path`` (the
request target as received), its headers and body -- the inputs the AWS_IAM phase passes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp
import pytest
import yarl
from aiohttp import web
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from proxy.auth.sigv4 import SigV4Verifier
from proxy.errors import AuthError, MissingAuthenticationToken
from tests.support.gateway import serve_app


@dataclass(frozen=True)
class Cred:
    access_key_id: str
    secret_access_key: str
    user_arn: str
    user_id: str


ALICE = Cred("AKIAALICE000000001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
             "arn:aws:iam::123456789012:user/alice", "AIDAALICE")


def make_app(verifier: SigV4Verifier) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        path, _, query = request.raw_path.partition("?")
        try:
            identity = verifier.verify(request.method, path, query, request.headers,
                                       await request.read())
        except MissingAuthenticationToken:
            return web.Response(status=403, text="Missing Authentication Token")
        except AuthError as e:
            return web.Response(status=403, text=f"{e.error_type}: {e.message}")
        return web.Response(text=identity.user_arn)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def signed(base: str, method: str, target: str, body: bytes | None = None,
           headers: dict[str, str] | None = None, presign: int | None = None) -> AWSRequest:
    request = AWSRequest(method=method, url=base + target, data=body, headers=headers or {})
    credentials = Credentials(ALICE.access_key_id, ALICE.secret_access_key)
    if presign is None:
        SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    else:
        SigV4QueryAuth(credentials, "execute-api", "us-east-1", expires=presign).add_auth(request)
    return request


@pytest.mark.parametrize(("method", "target", "body", "headers"), [
    ("GET", "/prod/pets", None, None),
    ("GET", "/prod/pets/a%20b/%C3%A9?tag=x&tag=a&q=a%2Bb%26c&empty=", None, None),
    ("GET", "/prod/pets/a%2Fb/@:,;=", None, None),
    ("POST", "/prod/pets", b'{"name":"rex"}', {"Content-Type": "application/json",
                                               "X-Note": "  spaced    out  "}),
    ("DELETE", "/prod/", None, None),
])
async def test_signed_requests_verify_after_the_wire(method, target, body, headers):
    clock = [time.time()]
    async with serve_app(make_app(SigV4Verifier([ALICE], clock=lambda: clock[0]))) as base, \
            aiohttp.ClientSession() as session:
        request = signed(base, method, target, body, headers)
        send_headers = {k: v for k, v in request.headers.items()}
        async with session.request(method, yarl.URL(request.url, encoded=True),
                                   headers=send_headers, data=body) as response:
            assert (response.status, await response.text()) == (200, ALICE.user_arn)
        clock[0] += 301  # the same request five minutes later
        async with session.request(method, yarl.URL(request.url, encoded=True),
                                   headers=send_headers, data=body) as response:
            text = await response.text()
            assert response.status == 403 and text.startswith(
                "InvalidSignatureException: Signature expired: ")


async def test_presigned_url_after_the_wire():
    async with serve_app(make_app(SigV4Verifier([ALICE]))) as base, \
            aiohttp.ClientSession() as session:
        request = signed(base, "GET", "/prod/pets?color=brown%20ish", presign=60)
        async with session.get(yarl.URL(request.url, encoded=True)) as response:
            assert (response.status, await response.text()) == (200, ALICE.user_arn)
        tampered = request.url.replace("color=brown", "color=black")
        async with session.get(yarl.URL(tampered, encoded=True)) as response:
            text = await response.text()
            assert response.status == 403
            assert text.startswith("InvalidSignatureException: The request signature we "
                                   "calculated does not match")
            assert "color=black%20ish" in text


async def test_unsigned_request_is_a_missing_token():
    async with serve_app(make_app(SigV4Verifier([ALICE]))) as base, \
            aiohttp.ClientSession() as session, session.get(base + "/prod/pets") as response:
        assert (response.status, await response.text()) == (
            403, "Missing Authentication Token")
