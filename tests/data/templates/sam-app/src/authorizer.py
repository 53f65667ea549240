"""A TOKEN authorizer for the test SAM app: "Bearer allow-<name>" is allowed as <name>,
"Bearer deny" is denied, anything else is Unauthorized."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = event.get("authorizationToken", "")
    if token == "Bearer deny":
        effect, principal = "Deny", "nobody"
    elif token.startswith("Bearer allow-"):
        effect, principal = "Allow", token[len("Bearer allow-"):]
    else:
        raise Exception("Unauthorized")  # API Gateway answers 401
    arn = event["methodArn"].split("/")[0] + "/*"
    return {
        "principalId": principal,
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}]},
        "context": {"tier": "gold"},
    }
