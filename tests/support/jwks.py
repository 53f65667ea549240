"""Real RSA keys, JWKS documents and Cognito-shaped JWTs made in the test."""

from __future__ import annotations

import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

REGION = "us-east-1"
POOL_ID = "us-east-1_Example"
POOL_ARN = f"arn:aws:cognito-idp:{REGION}:123456789012:userpool/{POOL_ID}"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"


class SigningKey:
    """An RSA key pair with a key id, as a Cognito pool publishes one."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        # 2048 bits as Cognito uses; made once per test module (about 50 ms each).
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        assert isinstance(public, dict)
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def token(self, *, now: float, token_use: str = "id", lifetime: float = 3600,
              issuer: str = ISSUER, kid: str | None = None, alg: str = "RS256",
              **claims: Any) -> str:
        payload = {"sub": "5f6b6ef2-1111-4b5e-9c1c-000000000001", "iss": issuer,
                   "token_use": token_use, "auth_time": int(now), "iat": int(now),
                   "exp": int(now + lifetime), **claims}
        if token_use == "id":
            payload.setdefault("aud", "client-abc")
        else:
            payload.setdefault("client_id", "client-abc")
        return jwt.encode(payload, self.private, algorithm=alg,
                          headers={"kid": kid or self.kid})


def jwks_document(*keys: SigningKey) -> bytes:
    return json.dumps({"keys": [k.jwk() for k in keys]}).encode()
