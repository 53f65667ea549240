"""Request validation (spec 9): required parameters and JSON Schema draft 4 body models,
compiled once per method, with AWS's messages and ``$context.error.validationErrorString``."""

from __future__ import annotations

from proxy.validation.body import PARSE_ERROR, BodyModel
from proxy.validation.errors import BadRequestBody, BadRequestParameters, RequestValidationError
from proxy.validation.explain import Explainer, error_string
from proxy.validation.validator import (
    CompiledModels,
    RequestValidator,
    compile_request_validator,
)

__all__ = [
    "PARSE_ERROR",
    "BadRequestBody",
    "BadRequestParameters",
    "BodyModel",
    "CompiledModels",
    "Explainer",
    "RequestValidationError",
    "RequestValidator",
    "compile_request_validator",
    "error_string",
]
