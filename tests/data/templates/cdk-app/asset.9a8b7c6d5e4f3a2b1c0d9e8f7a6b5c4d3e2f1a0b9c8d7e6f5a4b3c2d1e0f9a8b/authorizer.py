"""The token authorizer of the test CDK app: the token "allow" is let through."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    effect = "Allow" if event.get("authorizationToken") == "allow" else "Deny"
    return {"principalId": "user", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
