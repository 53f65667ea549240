"""The gateway errors a request validator raises (spec 9): each carries its gateway response
type, AWS's message and ``$context.error.validationErrorString``."""

from __future__ import annotations

from proxy.errors import GatewayError

__all__ = ["BadRequestBody", "BadRequestParameters", "RequestValidationError"]


class RequestValidationError(GatewayError):
    """A request its method's validator rejects: 400, answered with ``response_type``.

    ``validation_error_string`` is the value of ``$context.error.validationErrorString``,
    already JSON-escaped as AWS substitutes it (no surrounding quotes)."""

    def __init__(self, message: str, validation_error_string: str) -> None:
        super().__init__(message)
        self.validation_error_string = validation_error_string


class BadRequestParameters(RequestValidationError):
    """A required header, path or query string parameter is missing or blank."""

    response_type = "BAD_REQUEST_PARAMETERS"


class BadRequestBody(RequestValidationError):
    """The body does not satisfy the model chosen by its Content-Type."""

    response_type = "BAD_REQUEST_BODY"
