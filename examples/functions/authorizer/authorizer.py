"""The example's Lambda TOKEN authorizer (a Python function run as a local process, as Lambda
would run it): "Bearer allow-NAME" is allowed as NAME, "Bearer deny" is denied, anything else
is answered 401. API Gateway caches its answer per token for authorizerResultTtlInSeconds."""
from __future__ import annotations


def handler(event, context):
    token = event["authorizationToken"]  # the header's value, after the gateway checked it
    api = event["methodArn"].split("/")[0]  # arn:aws:execute-api:REGION:ACCOUNT:API
    if token == "Bearer deny":
        effect, principal = "Deny", "nobody"
    elif token.startswith("Bearer allow-"):
        effect, principal = "Allow", token[len("Bearer allow-"):]
    else:
        raise Exception("Unauthorized")  # exactly this message: API Gateway answers 401
    return {
        "principalId": principal,
        # one policy for the whole API, since the answer is cached and reused for every method
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": f"{api}/*"}]},
        # strings, numbers and booleans: $context.authorizer.plan, and the Lambda event's
        # requestContext.authorizer.plan
        "context": {"plan": "gold", "admin": principal == "alice"},
    }
