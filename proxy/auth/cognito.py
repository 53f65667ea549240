"""Cognito user pool authorizers: JWTs verified against each pool's JWKS (CONTRACT section 8).

A token is checked as API Gateway does (DG ``apigateway-enable-cognito-user-pool.md``): RS256
with a key of the pool's JWKS, ``iss`` the pool's issuer
(``https://cognito-idp.{region}.amazonaws.com/{poolId}``), ``exp`` not passed (injected clock),
and ``token_use``: a method without ``authorizationScopes`` takes ID tokens; one with scopes
takes access tokens whose ``scope`` holds any of them. Anything else is 401 UNAUTHORIZED.
``identityValidationExpression`` is matched against the ``aud`` (or ``client_id``) claim.

The JWKS comes from a file or an http(s) URL: read when the first token is verified (or
earlier by ``load``), read again only when a token names a key id it lacks, and then at most
once per ``min_refresh_seconds``, never per request.
A verified token is remembered until it expires (bounded, per process), so a warm route pays a
dict lookup and a set test instead of an RSA verification.

Claims reach ``$context.authorizer.claims.*`` as strings, as AWS gives them (observed captures):
numbers as decimals (``auth_time: "1469814773"``), booleans as ``true``/``false``, ``exp`` and
``iat`` as Java dates (``Fri Jul 29 18:52:53 UTC 2016``), lists as ``[a b]``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import aiohttp
import jwt
import orjson
from multidict import MultiMapping

from proxy.errors import AuthorizerConfigurationError, Unauthorized

__all__ = [
    "CognitoAuthorizer",
    "CognitoClaims",
    "Jwks",
    "JwksError",
    "UserPool",
    "stringify_claims",
]

_POOL_ARN = re.compile(r"arn:aws[a-z-]*:cognito-idp:([a-z0-9-]+):([0-9]{12}):userpool/(\1_\w+)")


@dataclass(frozen=True, slots=True)
class UserPool:
    arn: str
    region: str
    pool_id: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @classmethod
    def from_arn(cls, arn: str) -> UserPool:
        """``arn:aws:cognito-idp:{region}:{account}:userpool/{region}_{id}``; ValueError else."""
        m = _POOL_ARN.fullmatch(arn)
        if m is None:
            raise ValueError(f"{arn!r} is not a user pool ARN "
                             "(arn:aws:cognito-idp:REGION:ACCOUNT:userpool/REGION_ID)")
        return cls(arn, m[1], m[3])


class JwksError(Exception):
    """The key set could not be read or is not a JWKS."""


Fetch = Callable[[str], Awaitable[bytes]]


async def _http_get(url: str) -> bytes:
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        if response.status != 200:
            raise JwksError(f"GET {url} answered {response.status}")
        return await response.read()


class Jwks:
    """The RSA signing keys of one pool, by key id."""

    __slots__ = ("_clock", "_failed", "_fetch", "_keys", "_last", "_min_refresh", "_refreshing",
                 "source")

    def __init__(self, source: str, *, min_refresh_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, fetch: Fetch | None = None) -> None:
        self.source = source  # a file path, or an http(s) URL
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._fetch = fetch or _http_get
        self._keys: dict[str, Any] = {}
        self._last: float | None = None
        self._failed: JwksError | None = None  # the last read's error, until one succeeds
        self._refreshing: asyncio.Future[None] | None = None

    async def load(self) -> None:
        """Read the key set now (``key`` calls it for the first token); raises ``JwksError``."""
        self._last = self._clock()
        try:
            self._keys = _parse_jwks(await self._read(), self.source)
        except JwksError as e:
            self._failed = e
            raise
        self._failed = None

    async def _read(self) -> bytes:
        if self.source.startswith(("http://", "https://")):
            try:
                return await self._fetch(self.source)
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                raise JwksError(f"GET {self.source}: {e}") from None
        try:
            return await asyncio.to_thread(Path(self.source).read_bytes)
        except OSError as e:
            raise JwksError(f"{self.source}: {e.strerror}") from None

    async def key(self, kid: str) -> Any | None:
        """The key with this id; an unknown id reloads the set, at most once per interval
        (concurrent requests share one reload). While the set cannot be read, the read's
        error is raised again (a 500, not a 401 for every token) until the next attempt."""
        found = self._keys.get(kid)
        if found is not None:
            return found
        if self._last is not None and self._clock() - self._last < self._min_refresh:
            if self._failed is not None and not self._keys:
                raise self._failed
            return None
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self.load())
            self._refreshing.add_done_callback(self._refreshed)
        await asyncio.shield(self._refreshing)
        return self._keys.get(kid)

    def _refreshed(self, future: asyncio.Future[None]) -> None:
        self._refreshing = None
        if not future.cancelled():
            future.exception()  # retrieved here; awaiting callers see it themselves


def _parse_jwks(raw: bytes, source: str) -> dict[str, Any]:
    try:
        keys = jwt.PyJWKSet.from_json(raw.decode()).keys
    except (jwt.PyJWKSetError, jwt.InvalidKeyError, ValueError, UnicodeDecodeError) as e:
        raise JwksError(f"{source} is not a JWKS: {e}") from None
    return {k.key_id: k.key for k in keys
            if k.key_id and k.key_type == "RSA" and k.public_key_use in (None, "sig")}


_JAVA_DATE = "%a %b %d %H:%M:%S UTC %Y"


def _claim_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in ("exp", "iat") and isinstance(value, int | float):
        return time.strftime(_JAVA_DATE, time.gmtime(value))
    if isinstance(value, int | float | str):
        return value if isinstance(value, str) else str(value)
    if isinstance(value, list):
        return "[" + " ".join(_claim_text("", v) for v in value) + "]"
    return orjson.dumps(value).decode()


def stringify_claims(payload: Mapping[str, Any]) -> Mapping[str, str]:
    return MappingProxyType({k: _claim_text(k, v) for k, v in payload.items()})


def _use(verified: CognitoClaims, scopes: frozenset[str]) -> CognitoClaims:
    """An ID token for a method without scopes, an access token holding one of them for a
    method with some; 401 otherwise."""
    if scopes:
        if verified.token_use != "access" or scopes.isdisjoint(verified.scopes):
            raise Unauthorized
    elif verified.token_use != "id":
        raise Unauthorized
    return verified


@dataclass(frozen=True, slots=True)
class CognitoClaims:
    """A verified token: its claims as ``$context.authorizer.claims`` shows them."""

    claims: Mapping[str, str]
    expires: float
    token_use: str
    scopes: frozenset[str]


class CognitoAuthorizer:
    """One COGNITO_USER_POOLS authorizer over its ``providerARNs`` pools, compiled at load."""

    __slots__ = ("_cache", "_clock", "_max", "_pools", "header", "validation")

    def __init__(self, pools: Sequence[tuple[UserPool, Jwks]], *, header: str = "Authorization",
                 validation: re.Pattern[str] | None = None,
                 clock: Callable[[], float] = time.time, max_entries: int = 10_000) -> None:
        self._pools = {pool.issuer: jwks for pool, jwks in pools}
        self.header = header
        self.validation = validation
        self._clock = clock  # epoch seconds: compared with exp
        self._max = max_entries
        self._cache: dict[str, CognitoClaims] = {}

    async def load(self) -> None:
        """Read every pool's key set before any token (tests); otherwise the first token to be
        verified reads it. Raises ``JwksError``."""
        for jwks in self._pools.values():
            await jwks.load()

    async def authenticate(self, headers: MultiMapping[str],
                           scopes: frozenset[str] = frozenset()) -> CognitoClaims:
        """The caller's claims, or raise 401 UNAUTHORIZED. ``scopes``: the method's
        ``authorizationScopes`` (empty: ID tokens only)."""
        token = self.token(headers)
        verified = self.cached(token, scopes)
        if verified is None:
            verified = await self.verify(token, scopes)
        return verified

    async def verify(self, token: str, scopes: frozenset[str] = frozenset()) -> CognitoClaims:
        """Verify a token that ``cached`` did not answer for (``token`` as it returned it);
        raise 401 UNAUTHORIZED, or 500 when the key set cannot be read."""
        return _use(await self._verify(token), scopes)

    def token(self, headers: MultiMapping[str]) -> str:
        """The token a request carries; 401 when it carries none."""
        token = headers.get(self.header)
        if not token:
            raise Unauthorized
        return token

    def cached(self, token: str, scopes: frozenset[str] = frozenset()) -> CognitoClaims | None:
        """The claims of a token verified before and not expired, checked against ``scopes``
        (401 when they do not fit); None when it must be verified (``authenticate``). A dict
        lookup and a set test (~0.3 us), no coroutine: the warm path of a request."""
        verified = self._cache.get(token)
        if verified is None or verified.expires <= self._clock():
            return None
        return _use(verified, scopes)

    async def _verify(self, token: str) -> CognitoClaims:
        self._cache.pop(token, None)
        raw = token[7:] if token[:7].lower() == "bearer " else token
        try:
            header = jwt.get_unverified_header(raw)
            issuer = jwt.decode(raw, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise Unauthorized from None
        jwks = self._pools.get(issuer) if isinstance(issuer, str) else None
        kid = header.get("kid")
        if jwks is None or header.get("alg") != "RS256" or not isinstance(kid, str):
            raise Unauthorized
        try:
            key = await jwks.key(kid)
        except JwksError:
            raise AuthorizerConfigurationError from None
        if key is None:
            raise Unauthorized
        try:
            # exp is checked against the injected clock below, not pyjwt's time.time().
            payload = jwt.decode(raw, key, algorithms=["RS256"], issuer=issuer, options={
                "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                "verify_aud": False, "require": ["exp", "iss", "token_use"]})
        except jwt.PyJWTError:
            raise Unauthorized from None
        expires = payload["exp"]
        if not isinstance(expires, int | float) or expires <= self._clock():
            raise Unauthorized
        if self.validation is not None:
            audience = payload.get("aud", payload.get("client_id"))
            if not isinstance(audience, str) or self.validation.fullmatch(audience) is None:
                raise Unauthorized
        scope = payload.get("scope")
        verified = CognitoClaims(
            stringify_claims(payload), float(expires), str(payload["token_use"]),
            frozenset(scope.split()) if isinstance(scope, str) else frozenset())
        if len(self._cache) >= self._max:
            del self._cache[next(iter(self._cache))]
        self._cache[token] = verified
        return verified
