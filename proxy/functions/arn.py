"""Which configured function an integration or authorizer URI names (CONTRACT.md section 7).

AWS names a Lambda function in an API Gateway URI as
``arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function ARN}/invocations``
with ``{function ARN}`` = ``arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}]``;
``${stageVariables.x}`` may stand anywhere in it. Pure: the loader checks names at load time,
and a URI with stage variables is resolved per stage (or per request) by :func:`resolve`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["BadFunctionUri", "FunctionTarget", "is_lambda_uri", "resolve", "stage_variables_in"]

_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_INVOCATIONS = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):apigateway:(?P<region>[a-z0-9-]+):lambda:"
    r"path/2015-03-31/functions/(?P<function>.+)/invocations"
)
# Lambda's own rules: a name is 1-64 of [A-Za-z0-9_-], a qualifier $LATEST, a version number
# or an alias (1-128 of [A-Za-z0-9_-], not only digits when it is an alias).
_FUNCTION_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]{1,128}))?"
)
_SHAPE = (
    "must be arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
    "arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}]/invocations"
)


class BadFunctionUri(ValueError):
    """The URI names no function; ``str()`` says why, in words for a config error."""


class FunctionTarget(NamedTuple):
    name: str
    region: str
    account: str
    qualifier: str | None

    @property
    def arn(self) -> str:
        """The function ARN as Lambda reports it to the function (``invoked_function_arn``)."""
        base = f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"
        return f"{base}:{self.qualifier}" if self.qualifier else base


def is_lambda_uri(uri: str) -> bool:
    """Whether an AWS integration URI is a Lambda invocation (not another AWS service)."""
    return ":lambda:path/" in uri


def stage_variables_in(uri: str) -> tuple[str, ...]:
    """The stage variables a URI refers to, in order of appearance."""
    return tuple(m.group(1) for m in _STAGE_VARIABLE.finditer(uri))


def resolve(uri: str, stage_variables: Mapping[str, str] | None = None) -> FunctionTarget:
    """The function ``uri`` names, after putting in ``stage_variables``.

    Raises :class:`BadFunctionUri` when the URI is malformed or refers to a stage variable that
    ``stage_variables`` lacks (``None``: the URI must have none).
    """
    missing = [n for n in stage_variables_in(uri) if stage_variables is None
               or n not in stage_variables]
    if missing:
        raise BadFunctionUri(f"stage variable {missing[0]} is not set")
    if stage_variables is not None:
        uri = _STAGE_VARIABLE.sub(lambda m: stage_variables[m.group(1)], uri)
    outer = _INVOCATIONS.fullmatch(uri)
    if outer is None:
        raise BadFunctionUri(f"{_SHAPE}, got {uri!r}")
    inner = _FUNCTION_ARN.fullmatch(outer["function"])
    if inner is None:
        raise BadFunctionUri(
            f"{outer['function']!r} is not a function ARN "
            "(arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}], the name 1-64 "
            "of A-Z a-z 0-9 _ -)"
        )
    return FunctionTarget(inner["name"], inner["region"], inner["account"], inner["qualifier"])
