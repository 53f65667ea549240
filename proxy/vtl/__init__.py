"""Velocity Template Language for API Gateway mapping templates, compiled to Python.

A template is parsed once (``compile_template``) into a syntax tree, turned into the source of
one Python function, and compiled; each request calls that function. The engine follows
Velocity 1.7 as API Gateway runs it (null renders as nothing, Java-style printing of maps,
JSON printing of what $input.path returns) with the API Gateway variables $input, $util,
$context and $stageVariables. Nothing here does I/O.
"""

from __future__ import annotations

from proxy.vtl._apigw import Params, walk_context
from proxy.vtl._jsonpath import JsonPath, compile_path
from proxy.vtl.errors import (
    API_CONFIGURATION_ERROR,
    BAD_REQUEST_BODY,
    TemplateError,
    TemplateRuntimeError,
)
from proxy.vtl.template import (
    Inputs,
    Overrides,
    RenderResult,
    Template,
    compile_template,
    request_overrides,
    response_overrides,
)

__all__ = [
    "API_CONFIGURATION_ERROR",
    "BAD_REQUEST_BODY",
    "Inputs",
    "JsonPath",
    "Overrides",
    "Params",
    "RenderResult",
    "Template",
    "TemplateError",
    "TemplateRuntimeError",
    "compile_path",
    "compile_template",
    "request_overrides",
    "response_overrides",
    "walk_context",
]
