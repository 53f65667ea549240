"""Sluice's exception tree, mapped to responses at one boundary (``proxy.handler``).

    SluiceError
    ├── ConfigError                  a bad config file or definition; carries every Problem
    ├── GatewayError                 answered with a gateway response (proxy.gateway_responses)
    │   ├── StageNotFound            403 {"message":"Forbidden"} (not customisable)
    │   ├── BadRequest               400: HTTP/0.9, or a path that would leave its backend prefix
    │   ├── RequestTimeout           408: the body did not arrive in time; the connection closes
    │   ├── RequestTooLarge          413 plain text (not customisable)
    │   ├── AuthError                who may call (proxy.auth); str() never holds the message,
    │   │   │                        which may echo the caller's credentials back to them
    │   │   ├── MissingAuthenticationToken   MISSING_AUTHENTICATION_TOKEN (no route, or an
    │   │   │                        unsigned call to an AWS_IAM method)
    │   │   ├── Unauthorized         UNAUTHORIZED (401)
    │   │   ├── AccessDenied         ACCESS_DENIED (403, capital-M "Message" body)
    │   │   ├── InvalidSignature     INVALID_SIGNATURE (403; ``error_type`` as AWS names it)
    │   │   ├── ExpiredToken         EXPIRED_TOKEN
    │   │   ├── AuthorizerConfigurationError   AUTHORIZER_CONFIGURATION_ERROR (500)
    │   │   └── AuthorizerFailure    AUTHORIZER_FAILURE
    │   ├── InvalidApiKey            INVALID_API_KEY
    │   ├── Throttled                THROTTLED (``level`` says which bucket)
    │   ├── QuotaExceeded            QUOTA_EXCEEDED
    │   ├── CacheControlForbidden    a 403 for an unauthorised Cache-Control: max-age=0
    │   ├── UnsupportedMediaType     UNSUPPORTED_MEDIA_TYPE: no request template by passthrough
    │   ├── UnparsableBody           BAD_REQUEST_BODY: a request template could not read the body
    │   ├── IntegrationTimeout       INTEGRATION_TIMEOUT
    │   ├── IntegrationFailure       INTEGRATION_FAILURE (502 as AWS answers in practice)
    │   ├── ApiConfigurationError    API_CONFIGURATION_ERROR
    │   └── StoreUnavailable         500, storage.onError: deny
    └── UpstreamError                raised by proxy.upstream; the handler maps it
        ├── UpstreamConnectError     refused, reset before a response, DNS
        ├── UpstreamTimeout          the integration deadline passed
        └── UpstreamProtocolError    the backend spoke broken HTTP

Upstream and store errors are translated where they enter (``proxy.upstream`` raises only
``UpstreamError``; ``ratelimit`` and ``cache`` raise their own ``StorageError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class SluiceError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    path: str  # e.g. apis[0].stages.prod.methodSettings."*/*".throttlingRateLimit
    message: str  # says what is allowed

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class ConfigError(SluiceError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class GatewayError(SluiceError):
    response_type: str = "DEFAULT_5XX"
    # None: the gateway response's own default message
    message: str | None = None
    # None: the type's own x-amzn-ErrorType; set where AWS names the cause more finely
    # (IncompleteSignatureException under INVALID_SIGNATURE or MISSING_AUTHENTICATION_TOKEN)
    error_type: str | None = None
    # True: the connection is closed after the answer (what is left of the request is unread)
    close_connection: bool = False

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message or self.response_type)


class StageNotFound(GatewayError):
    response_type = "STAGE_NOT_FOUND"


class BadRequest(GatewayError):
    response_type = "BAD_REQUEST"
    close_connection = True


class RequestTimeout(GatewayError):
    response_type = "REQUEST_TIMEOUT"
    close_connection = True


class RequestTooLarge(GatewayError):
    response_type = "REQUEST_TOO_LARGE"


class AuthError(GatewayError):
    """An authorizer's answer, ``error_type`` given where AWS names the cause more finely."""

    def __init__(self, message: str | None = None, *, error_type: str | None = None) -> None:
        super().__init__(message)
        if error_type is not None:
            self.error_type = error_type
        # The message may hold the caller's Authorization header or canonical request (AWS
        # sends both back to the caller); exception text, and so logs, name only the type.
        self.args = (f"{self.response_type} {self.error_type or ''}".rstrip(),)


class MissingAuthenticationToken(AuthError):
    response_type = "MISSING_AUTHENTICATION_TOKEN"


class Unauthorized(AuthError):
    response_type = "UNAUTHORIZED"


class AccessDenied(AuthError):
    response_type = "ACCESS_DENIED"


class InvalidSignature(AuthError):
    response_type = "INVALID_SIGNATURE"


class ExpiredToken(AuthError):
    response_type = "EXPIRED_TOKEN"


class AuthorizerConfigurationError(AuthError):
    response_type = "AUTHORIZER_CONFIGURATION_ERROR"


class AuthorizerFailure(AuthError):
    response_type = "AUTHORIZER_FAILURE"


class InvalidApiKey(GatewayError):
    response_type = "INVALID_API_KEY"


ThrottleLevel = Literal["account", "concurrency", "stage", "usage_plan"]


class Throttled(GatewayError):
    response_type = "THROTTLED"

    def __init__(self, level: ThrottleLevel) -> None:
        self.level: ThrottleLevel = level  # the bucket (or the in-flight count) that refused
        super().__init__()


class QuotaExceeded(GatewayError):
    response_type = "QUOTA_EXCEEDED"


class CacheControlForbidden(GatewayError):
    response_type = "CACHE_CONTROL_FORBIDDEN"


class UnsupportedMediaType(GatewayError):
    response_type = "UNSUPPORTED_MEDIA_TYPE"


class UnparsableBody(GatewayError):
    """A request template read a body that is not JSON with $input.path or $input.json; the
    message is AWS's ("Could not parse request body into json: ...")."""

    response_type = "BAD_REQUEST_BODY"


class IntegrationTimeout(GatewayError):
    response_type = "INTEGRATION_TIMEOUT"


class IntegrationFailure(GatewayError):
    response_type = "INTEGRATION_FAILURE"


class ApiConfigurationError(GatewayError):
    response_type = "API_CONFIGURATION_ERROR"


class StoreUnavailable(GatewayError):
    response_type = "DEFAULT_5XX"


class UpstreamError(SluiceError):
    pass


class UpstreamConnectError(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamProtocolError(UpstreamError):
    pass
