"""Cognito user pool tokens: real RSA keys and a JWKS file made in the test, time injected."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

import pytest
from cryptography.hazmat.primitives import serialization
from multidict import CIMultiDict

from proxy.auth.cognito import CognitoAuthorizer, Jwks, UserPool, stringify_claims
from proxy.errors import AuthorizerConfigurationError, Unauthorized
from tests.support.jwks import ISSUER, POOL_ARN, SigningKey, jwks_document

NOW = 1_700_000_000.0
KEY = SigningKey("key-1")
OTHER = SigningKey("key-2")  # not in the pool's JWKS


@pytest.fixture
def jwks_file(tmp_path):
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks_document(KEY))
    return path


@pytest.fixture
def clock():
    return [NOW]


async def make(jwks_file, clock, **kw):
    pool = UserPool.from_arn(POOL_ARN)
    authorizer = CognitoAuthorizer([(pool, Jwks(str(jwks_file)))], clock=lambda: clock[0], **kw)
    await authorizer.load()
    return authorizer


def auth(token):
    return CIMultiDict(Authorization=token)


def test_pool_from_arn():
    pool = UserPool.from_arn(POOL_ARN)
    assert (pool.region, pool.pool_id, pool.issuer) == ("us-east-1", "us-east-1_Example", ISSUER)
    with pytest.raises(ValueError, match="not a user pool ARN"):
        UserPool.from_arn("arn:aws:cognito-idp:us-east-1:123456789012:userpool/eu-west-1_X")


async def test_id_token_gives_stringified_claims(jwks_file, clock):
    authorizer = await make(jwks_file, clock)
    token = KEY.token(now=NOW, email="a@example.com", email_verified=True,
                      **{"cognito:groups": ["admin", "users"], "custom:n": 7})
    result = await authorizer.authenticate(auth(token))
    claims = result.claims
    assert claims["email"] == "a@example.com"
    assert claims["email_verified"] == "true"
    assert claims["cognito:groups"] == "[admin users]"
    assert claims["custom:n"] == "7"
    assert claims["auth_time"] == str(int(NOW))
    assert claims["iat"] == "Tue Nov 14 22:13:20 UTC 2023"
    assert claims["token_use"] == "id" and claims["iss"] == ISSUER


async def test_bearer_prefix_is_accepted(jwks_file, clock):
    authorizer = await make(jwks_file, clock)
    assert (await authorizer.authenticate(auth("Bearer " + KEY.token(now=NOW)))).token_use == "id"


@pytest.mark.parametrize("make_token", [
    lambda: KEY.token(now=NOW, lifetime=-1),  # expired
    lambda: KEY.token(now=NOW, lifetime=0),  # expires now
    lambda: OTHER.token(now=NOW),  # a key the pool does not have
    lambda: OTHER.token(now=NOW, kid="key-1"),  # signed by another key under the pool's kid
    lambda: KEY.token(now=NOW, issuer="https://cognito-idp.us-east-1.amazonaws.com/other"),
    lambda: KEY.token(now=NOW, token_use="access"),  # no scopes: ID tokens only
    lambda: KEY.token(now=NOW, alg="RS512"),
    lambda: KEY.token(now=NOW)[:-4] + "AAAA",  # a changed signature
    lambda: "not.a.jwt",
    lambda: "",
])
async def test_refused_tokens_are_401(jwks_file, clock, make_token):
    authorizer = await make(jwks_file, clock)
    with pytest.raises(Unauthorized) as info:
        await authorizer.authenticate(auth(make_token()))
    assert info.value.response_type == "UNAUTHORIZED"


async def test_no_header_is_401(jwks_file, clock):
    authorizer = await make(jwks_file, clock)
    with pytest.raises(Unauthorized):
        await authorizer.authenticate(CIMultiDict())


async def test_hmac_token_with_the_public_key_as_secret_is_refused(jwks_file, clock):
    # The classic alg confusion: an HS256 token keyed with the public key's PEM.
    authorizer = await make(jwks_file, clock)
    pem = KEY.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    signing_input = (part({"alg": "HS256", "typ": "JWT", "kid": "key-1"}) + b"." +
                     part({"iss": ISSUER, "token_use": "id", "exp": NOW + 60}))
    mac = base64.urlsafe_b64encode(hmac.new(pem, signing_input, hashlib.sha256).digest())
    forged = (signing_input + b"." + mac.rstrip(b"=")).decode()
    with pytest.raises(Unauthorized):
        await authorizer.authenticate(auth(forged))


async def test_scopes_need_an_access_token_with_one_of_them(jwks_file, clock):
    authorizer = await make(jwks_file, clock)
    access = KEY.token(now=NOW, token_use="access", scope="pets/read openid")
    scopes = frozenset({"pets/write", "pets/read"})
    assert (await authorizer.authenticate(auth(access), scopes)).scopes == {"pets/read", "openid"}
    with pytest.raises(Unauthorized):
        await authorizer.authenticate(auth(access), frozenset({"pets/write"}))
    with pytest.raises(Unauthorized):  # an ID token where scopes are required
        await authorizer.authenticate(auth(KEY.token(now=NOW)), scopes)


async def test_verify_takes_the_token_cached_missed_and_fills_the_cache(tmp_path, clock):
    # no load: the first token to be verified reads the key set
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks_document(KEY))
    authorizer = CognitoAuthorizer([(UserPool.from_arn(POOL_ARN), Jwks(str(path)))],
                                   clock=lambda: clock[0])
    access = "Bearer " + KEY.token(now=NOW, token_use="access", scope="pets/read")
    token = authorizer.token(auth(access))
    assert authorizer.cached(token) is None
    verified = await authorizer.verify(token, frozenset({"pets/read"}))
    assert verified.token_use == "access"
    assert authorizer.cached(token, frozenset({"pets/read"})) == verified
    with pytest.raises(Unauthorized):  # the method's scopes are checked on verification too
        await authorizer.verify(token, frozenset({"pets/write"}))


async def test_validation_expression_matches_the_audience(jwks_file, clock):
    authorizer = await make(jwks_file, clock, validation=re.compile(r"client-a.c"))
    await authorizer.authenticate(auth(KEY.token(now=NOW)))
    with pytest.raises(Unauthorized):
        await authorizer.authenticate(auth(KEY.token(now=NOW, aud="client-xyz")))


async def test_cached_until_expiry(jwks_file, clock):
    authorizer = await make(jwks_file, clock)
    token = KEY.token(now=NOW, lifetime=60)
    first = await authorizer.authenticate(auth(token))
    jwks_file.write_bytes(jwks_document(OTHER))  # a reload would no longer find key-1
    assert await authorizer.authenticate(auth(token)) is first  # the cache answered
    clock[0] = NOW + 60
    with pytest.raises(Unauthorized):
        await authorizer.authenticate(auth(token))


async def test_unknown_kid_reloads_the_file_at_most_once_per_interval(jwks_file, clock):
    ticks = [0.0]
    pool = UserPool.from_arn(POOL_ARN)
    jwks = Jwks(str(jwks_file), min_refresh_seconds=60, clock=lambda: ticks[0])
    authorizer = CognitoAuthorizer([(pool, jwks)], clock=lambda: clock[0])
    await authorizer.load()
    rotated = OTHER.token(now=NOW)
    jwks_file.write_bytes(jwks_document(KEY, OTHER))  # the pool rotates in a new key
    with pytest.raises(Unauthorized):  # too soon after the start to reload
        await authorizer.authenticate(auth(rotated))
    ticks[0] = 60.0
    assert (await authorizer.authenticate(auth(rotated))).token_use == "id"


async def test_unreadable_jwks_on_refresh_is_a_configuration_error(jwks_file, clock):
    ticks = [0.0]
    pool = UserPool.from_arn(POOL_ARN)
    jwks = Jwks(str(jwks_file), min_refresh_seconds=1, clock=lambda: ticks[0])
    authorizer = CognitoAuthorizer([(pool, jwks)], clock=lambda: clock[0])
    await authorizer.load()
    jwks_file.write_text("not json")
    ticks[0] = 5.0
    with pytest.raises(AuthorizerConfigurationError):
        await authorizer.authenticate(auth(OTHER.token(now=NOW)))


def test_stringify_claims():
    claims = stringify_claims({"exp": 1469814773, "n": 1.5, "b": False, "o": {"a": 1},
                               "l": [1, "x", True]})
    assert dict(claims) == {"exp": "Fri Jul 29 17:52:53 UTC 2016", "n": "1.5", "b": "false",
                            "o": '{"a":1}', "l": "[1 x true]"}
