"""Reading who-may-call settings: authorizers and resource policies from an OpenAPI definition,
and the ``cognito:`` and ``iam:`` sections of the Sluice file (CONTRACT section 8).

Functions for the readers to call, each reporting every bad field through the ``Checker``:

- ``read_security_schemes``: the ``securitySchemes`` (``securityDefinitions``) that are
  authorizers: ``x-amazon-apigateway-authorizer`` of type ``token``, ``request`` or
  ``cognito_user_pools``, and ``x-amazon-apigateway-authtype: awsSigv4`` (AWS_IAM);
- ``read_method_security``: an operation's ``security`` list as a ``MethodAuthorization``
  (its authorizer, ``apiKeyRequired``, ``authorizationScopes``);
- ``resource_policy``: the kind for ``x-amazon-apigateway-policy`` (object or JSON string, at
  most 8,192 characters); ``execute-api:/...`` is expanded when the deployment compiles it
  (``PolicyDocument.compile(api_arn(...))``), as AWS does on import;
- ``cognito_section`` and ``IAM_SECTION``: kinds for the two Sluice-file sections (the
  loader checks that each providerARN is in ``cognito.userPools``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Set
from types import MappingProxyType
from typing import Any

from proxy.auth.cognito import UserPool
from proxy.auth.lambda_authorizer import IdentitySource, parse_identity_sources
from proxy.auth.policy import PolicyDocument, PolicyError, parse_policy
from proxy.config._check import (
    INVALID,
    Checker,
    Field,
    Invalid,
    Kind,
    PathT,
    describe,
    integer,
    key_label,
    list_of,
    map_of,
    one_of,
    record,
    show,
    string,
)
from proxy.config.model import (
    DEFAULT_TTL_SECONDS,
    AuthorizationType,
    AuthorizerDef,
    AuthorizerType,
    CognitoSettings,
    IamCredential,
    IamSettings,
    MethodAuthorization,
    UserPoolConfig,
)

__all__ = [
    "IAM_SECTION",
    "AuthorizerDef",
    "CognitoSettings",
    "IamCredential",
    "IamSettings",
    "MethodAuthorization",
    "UserPoolConfig",
    "authorizer_schemes",
    "cognito_section",
    "read_method_security",
    "read_security_schemes",
    "resource_policy",
]

# --- OpenAPI: security schemes ------------------------------------------------------------

_TYPES: Mapping[str, AuthorizerType] = {
    "TOKEN": "TOKEN", "REQUEST": "REQUEST", "COGNITO_USER_POOLS": "COGNITO_USER_POOLS"}
_LAMBDA_URI = re.compile(
    r"arn:aws[a-z-]*:apigateway:[^:/]+:lambda:path/2015-03-31/functions/\S+/invocations")
_POOL_ARN = string(r"arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:[0-9]{12}:userpool/[\w-]+",
                   what="a user pool ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/ID)")


def _expression(ck: Checker, path: PathT, value: Any) -> str:
    text: str = string(min_len=1)(ck, path, value)
    try:
        re.compile(text)
    except (re.error, RecursionError, OverflowError) as e:
        ck.fail(path, f"must be a regular expression: {e}")
    return text


def _uri(ck: Checker, path: PathT, value: Any) -> str:
    text: str = string(min_len=1)(ck, path, value)
    if not _LAMBDA_URI.fullmatch(text):
        ck.fail(path, "must be a Lambda function's invocation URI: arn:aws:apigateway:REGION:"
                "lambda:path/2015-03-31/functions/arn:aws:lambda:REGION:ACCOUNT:function:NAME"
                f"/invocations, got {show(text)}")
    return text


_AUTHORIZER = record(
    {
        "type": Field(one_of("TOKEN", "REQUEST", "COGNITO_USER_POOLS", fold=True), True),
        "authorizerUri": Field(_uri),
        "authorizerCredentials": Field(string(min_len=1)),
        "identitySource": Field(string(min_len=1)),
        "identityValidationExpression": Field(_expression),
        "authorizerResultTtlInSeconds": Field(integer(0, 3600)),
        "providerARNs": Field(list_of(_POOL_ARN), to="provider_arns"),
    }
)


def read_security_schemes(ck: Checker, path: PathT,
                          schemes: Mapping[Any, Any]) -> Mapping[str, AuthorizerDef]:
    """The authorizers among ``schemes`` (found at ``path``), by scheme name. Schemes that are
    neither (the ``x-api-key`` scheme, say) are left to their own reader. Problems go to ``ck``;
    a bad authorizer is left out so that methods naming it are not reported again."""
    out: dict[str, AuthorizerDef] = {}
    for name in authorizer_schemes(schemes):
        where = (*path, name)
        definition = ck.attempt(_scheme(name), where, schemes[name])
        if definition is not INVALID:
            out[name] = definition
    return MappingProxyType(out)


def authorizer_schemes(schemes: Mapping[Any, Any]) -> list[str]:
    """The names of the schemes that are meant as authorizers (valid or not)."""
    out = []
    for name, scheme in schemes.items():
        if not isinstance(name, str) or not isinstance(scheme, dict):
            continue
        authtype = scheme.get("x-amazon-apigateway-authtype")
        if "x-amazon-apigateway-authorizer" in scheme or (
                isinstance(authtype, str) and authtype.lower() == "awssigv4"):
            out.append(name)
    return out


def _scheme(name: str) -> Kind:
    def kind(ck: Checker, path: PathT, scheme: dict[str, Any]) -> AuthorizerDef:
        before = len(ck.problems)
        if scheme.get("type") != "apiKey" or scheme.get("in") != "header":
            ck.report(path, "an authorizer's security scheme must be type: apiKey, in: header "
                      "(its name is the token header), as AWS imports it")
        header = scheme.get("name")
        if not isinstance(header, str) or not header:
            ck.report((*path, "name"), "is required: the header that carries the token")
            header = "Authorization"
        raw = scheme.get("x-amazon-apigateway-authorizer")
        if raw is None:  # x-amazon-apigateway-authtype: awsSigv4
            if len(ck.problems) > before:
                raise Invalid
            return AuthorizerDef(name, "AWS_IAM")
        values = _AUTHORIZER(ck, (*path, "x-amazon-apigateway-authorizer"), raw)
        if len(ck.problems) > before:
            raise Invalid
        return _authorizer(ck, (*path, "x-amazon-apigateway-authorizer"), name, header, values)

    return kind


def _authorizer(ck: Checker, path: PathT, name: str, header: str,
                values: dict[str, Any]) -> AuthorizerDef:
    kind = _TYPES[values["type"]]
    ttl = values.get("authorizer_result_ttl_in_seconds", DEFAULT_TTL_SECONDS)
    bad = False
    if kind == "COGNITO_USER_POOLS":
        if not values.get("provider_arns"):
            ck.report((*path, "providerARNs"), "is required for type cognito_user_pools: the "
                      "user pools whose tokens are accepted")
            bad = True
        if "authorizer_uri" in values:
            ck.report((*path, "authorizerUri"), "is for token and request authorizers only")
            bad = True
    else:
        if "authorizer_uri" not in values:
            ck.report((*path, "authorizerUri"), f"is required for type {kind.lower()}")
            bad = True
        if "provider_arns" in values:
            ck.report((*path, "providerARNs"), "is for cognito_user_pools authorizers only")
            bad = True
    text = values.get("identity_source")
    sources: tuple[IdentitySource, ...] = ()
    if text is None:
        if kind == "REQUEST" and ttl > 0:
            ck.report((*path, "identitySource"), "is required for a request authorizer whose "
                      "results are cached (authorizerResultTtlInSeconds > 0)")
            bad = True
        elif kind != "REQUEST":
            sources = (IdentitySource("header", header),)
    else:
        try:
            sources = parse_identity_sources(text)
        except ValueError as e:
            ck.report((*path, "identitySource"), str(e))
            bad = True
        else:
            if kind != "REQUEST" and (len(sources) != 1 or sources[0].kind != "header"):
                ck.report((*path, "identitySource"), f"a {kind.lower()} authorizer reads one "
                          "header: method.request.header.NAME")
                bad = True
    if "identity_validation_expression" in values and kind == "REQUEST":
        ck.report((*path, "identityValidationExpression"),
                  "is for token and cognito_user_pools authorizers only")
        bad = True
    if bad:
        raise Invalid
    return AuthorizerDef(
        name, kind, values.get("authorizer_uri"), values.get("authorizer_credentials"),
        sources, values.get("identity_validation_expression"), ttl,
        tuple(values.get("provider_arns", ())))


# --- OpenAPI: an operation's security -------------------------------------------------------

_AUTHORIZATION_TYPES: Mapping[AuthorizerType, AuthorizationType] = {
    "TOKEN": "CUSTOM", "REQUEST": "CUSTOM", "COGNITO_USER_POOLS": "COGNITO_USER_POOLS",
    "AWS_IAM": "AWS_IAM"}


def read_method_security(ck: Checker, path: PathT, value: Any, *,
                         authorizers: Mapping[str, AuthorizerDef], api_key_schemes: Set[str],
                         schemes: Set[str], schemes_at: str,
                         broken: Set[str] = frozenset()) -> MethodAuthorization:
    """An operation's ``security`` (at ``path``): ``[{api_key: []}, {MyAuthorizer: []}]``, with
    scopes for a Cognito authorizer (``{MyPool: [email, pets/read]}``). ``schemes``: every
    scheme name defined; ``api_key_schemes``: those meaning ``apiKeyRequired``; ``broken``:
    authorizer schemes already reported as bad, which a method names without a new message."""
    if not isinstance(value, list):
        ck.fail(path, f"must be a list of security requirements, got {describe(value)}")
    before = len(ck.problems)
    quiet_failure = False
    api_key = False
    chosen: tuple[str, AuthorizerDef] | None = None
    scopes: list[str] = []
    for i, requirement in enumerate(value):
        if not isinstance(requirement, dict):
            ck.report((*path, i), f"must be a mapping, got {describe(requirement)}")
            continue
        for name, wanted in requirement.items():
            where = (*path, i, key_label(name))
            if name in api_key_schemes:
                api_key = True
            elif name in authorizers:
                definition = authorizers[name]
                if chosen is not None and chosen[0] != name:
                    ck.report(where, f"a method has one authorizer: {chosen[0]} is already "
                              "named here")
                    continue
                chosen = (name, definition)
                if not isinstance(wanted, list) or not all(isinstance(s, str) for s in wanted):
                    ck.report(where, "must be a list of scopes (strings)")
                elif wanted and definition.type != "COGNITO_USER_POOLS":
                    ck.report(where, "scopes (authorizationScopes) apply to cognito_user_pools "
                              "authorizers only; use []")
                else:
                    scopes.extend(s for s in wanted if s not in scopes)
            elif name in broken:
                quiet_failure = True
            elif name not in schemes:
                ck.report(where, f"security scheme {show(name)} is not defined in {schemes_at}")
            else:
                ck.report(where, f"security scheme {show(name)} is neither the API key scheme "
                          "(type: apiKey, name: x-api-key, in: header) nor an authorizer "
                          "(x-amazon-apigateway-authorizer, or x-amazon-apigateway-authtype: "
                          "awsSigv4)")
    if len(ck.problems) > before or quiet_failure:
        raise Invalid
    if chosen is None:
        return MethodAuthorization(api_key_required=api_key)
    definition = chosen[1]
    return MethodAuthorization(_AUTHORIZATION_TYPES[definition.type], definition, api_key,
                               tuple(scopes))


# --- OpenAPI: the resource policy ------------------------------------------------------------


def resource_policy(ck: Checker, path: PathT, value: Any) -> PolicyDocument:
    """``x-amazon-apigateway-policy``: every problem named with its path inside the policy."""
    try:
        return parse_policy(value, resource_policy=True)
    except PolicyError as e:
        for inner, message in e.problems:
            ck.report((*path, *inner), message)
        raise Invalid from None


# --- the Sluice file ---------------------------------------------------------------------------


def cognito_section(base_fs: str, base_label: str) -> Kind:
    """``cognito: {userPools: {ARN: {jwks: FILE or URL}}}``; a file is relative to the config
    file and must exist."""

    def jwks(ck: Checker, path: PathT, value: Any) -> str:
        text: str = string(min_len=1)(ck, path, value)
        if re.match(r"https?://", text, re.IGNORECASE):
            return text
        if not os.path.isfile(os.path.join(base_fs, text)):
            label = os.path.normpath(os.path.join(base_label, text))
            ck.fail(path, f"no such file: {label} (a JWKS file relative to the config file, "
                    "or an http(s) URL)")
        return os.path.abspath(os.path.join(base_fs, text))

    def pool_key(ck: Checker, path: PathT, key: str) -> str:
        result: str = _POOL_ARN(ck, path, key)
        try:
            UserPool.from_arn(key)
        except ValueError as e:
            ck.fail(path, str(e))
        return result

    def build(user_pools: Mapping[str, dict[str, str]] | None = None) -> CognitoSettings:
        pools = {arn: UserPoolConfig(arn, entry["jwks"]) for arn, entry in
                 (user_pools or {}).items()}
        return CognitoSettings(MappingProxyType(pools))

    return record(
        {"userPools": Field(map_of(record({"jwks": Field(jwks, True)}), key=pool_key), True)},
        build,
    )


def _default_user_id(ck: Checker, path: PathT, values: dict[str, Any]) -> dict[str, Any]:
    values.setdefault("user_id", values["access_key_id"])
    return values


IAM_SECTION: Kind = record(
    {
        "credentials": Field(
            list_of(
                record(
                    {
                        "accessKeyId": Field(string(r"[A-Z0-9]{16,128}", what="an access key "
                                                    "id (16-128 of A-Z and 0-9)"), True),
                        # No pattern: a message must never repeat the value.
                        "secretAccessKey": Field(string(min_len=1), True),
                        "userArn": Field(string(r"arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:\S+",
                                                what="an IAM ARN such as arn:aws:iam::"
                                                "123456789012:user/alice"), True),
                        "userId": Field(string(min_len=1)),
                    },
                    IamCredential,
                    post=_default_user_id,
                ),
                unique={"accessKeyId": lambda c: c.access_key_id},
            ),
            True,
        ),
    },
    IamSettings,
)

