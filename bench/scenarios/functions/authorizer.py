"""The auth-token scenario's Lambda TOKEN authorizer: allows every token for the whole API."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    api = event["methodArn"].split("/")[0]
    return {"principalId": event["authorizationToken"].removeprefix("Bearer "),
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{api}/*"}]},
            "context": {"plan": "bench"}}
