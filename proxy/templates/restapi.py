"""One ``AWS::ApiGateway::RestApi`` as the OpenAPI document API Gateway would export for it:
its ``Body`` (or, for SAM's local ``DefinitionUri``, the file), or a document built from the
``Resource`` and ``Method`` resources that point at it (as CDK synthesizes an API), with its
``Authorizer``, ``Model``, ``RequestValidator`` and ``GatewayResponse`` resources and the
RestApi's own properties (``Name``, ``BinaryMediaTypes``, ``MinimumCompressionSize``,
``ApiKeySourceType``, ``Policy``), which take precedence over the ``Body``'s extensions as
CloudFormation applies them after the import.

The built document has the shapes of an export with extensions (``openapi: 3.0.1``,
``x-amazon-apigateway-integration``, security schemes with ``x-amazon-apigateway-authorizer``,
``sigv4`` for ``AWS_IAM``, ``api_key`` for ``ApiKeyRequired``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from proxy.config._check import Invalid, PathT, describe, show
from proxy.config._source import MAX_DOCUMENT_BYTES
from proxy.config.openapi import resource_path_error
from proxy.errors import ConfigError
from proxy.templates._context import Context, as_bool, as_number, as_text
from proxy.templates.reading import read_template
from proxy.templates.sam import BODY_FILE

__all__ = ["ROOT", "ApiMembers", "api_document", "members_of"]

ROOT = "Sluice::RootResource::"  # + API logical id: what Fn::GetAtt Api.RootResourceId gives

_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "ANY")
_PARAMETER = re.compile(r"method\.request\.(path|querystring|header)\.(.+)")
_IN = {"path": "path", "querystring": "query", "header": "header"}
_INTEGRATION_KEYS = {
    "Type": "type", "IntegrationHttpMethod": "httpMethod", "Uri": "uri",
    "RequestParameters": "requestParameters", "RequestTemplates": "requestTemplates",
    "PassthroughBehavior": "passthroughBehavior", "ContentHandling": "contentHandling",
    "CacheNamespace": "cacheNamespace", "CacheKeyParameters": "cacheKeyParameters",
    "TimeoutInMillis": "timeoutInMillis", "ConnectionType": "connectionType",
    "ConnectionId": "connectionId", "Credentials": "credentials", "TlsConfig": "tlsConfig",
    "IntegrationResponses": "responses", "IntegrationTarget": None,
    "ResponseTransferMode": "responseTransferMode",
}
_RESPONSE_KEYS = {"StatusCode": "statusCode", "SelectionPattern": None,
                  "ResponseParameters": "responseParameters",
                  "ResponseTemplates": "responseTemplates", "ContentHandling": "contentHandling"}

_MEMBER_TYPES = {
    "AWS::ApiGateway::Resource": "resources",
    "AWS::ApiGateway::Method": "methods",
    "AWS::ApiGateway::Authorizer": "authorizers",
    "AWS::ApiGateway::Model": "models",
    "AWS::ApiGateway::RequestValidator": "validators",
    "AWS::ApiGateway::GatewayResponse": "gateway_responses",
}


@dataclass
class ApiMembers:
    """The resources of the template that belong to one RestApi (by their ``RestApiId``)."""

    resources: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    authorizers: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    validators: list[str] = field(default_factory=list)
    gateway_responses: list[str] = field(default_factory=list)


def members_of(ctx: Context, apis: list[str]) -> dict[str, ApiMembers]:
    """Each API's member resources; a member naming no RestApi of the template is reported."""
    out = {api: ApiMembers() for api in apis}
    for lid, resource in ctx.resources.items():
        group = _MEMBER_TYPES.get(resource.get("Type", ""))
        if group is None:
            continue
        owner = rest_api_of(ctx, lid, apis)
        if owner is not None:
            getattr(out[owner], group).append(lid)
    return out


def rest_api_of(ctx: Context, lid: str, apis: list[str], key: str = "RestApiId") -> str | None:
    try:
        value = ctx.prop(lid, key)
    except Invalid:
        return None
    if value not in apis:
        ctx.report(lid, ("Properties", key), "must refer to an AWS::ApiGateway::RestApi of this "
                   f"template (!Ref ApiLogicalId), got {show(value)}")
        return None
    return str(value)


class _Builder:
    __slots__ = ("api", "cpath", "ctx", "doc", "members", "paths_of", "schemes_of", "swagger",
                 "visiting")

    def __init__(self, ctx: Context, api: str, members: ApiMembers, cpath: PathT) -> None:
        self.ctx = ctx
        self.api = api
        self.members = members
        self.cpath = cpath  # the config path of the document: ("apis", i, "definition")
        self.doc: dict[str, Any] = {}
        self.swagger = False
        # Resource logical id -> its path; None while it is being worked out, or if it failed
        self.paths_of: dict[str, str | None] = {}
        self.schemes_of: dict[str, tuple[str, str]] = {}  # Authorizer lid -> (scheme, type)
        self.visiting: set[str] = set()

    # --- the document ------------------------------------------------------------------

    def build(self) -> dict[str, Any] | None:
        ctx, api = self.ctx, self.api
        raw = ctx.raw(api)
        if "Body" in raw:
            body = ctx.attempt(api, "Body")
            if body is None:
                return None
            if not isinstance(body, dict):
                ctx.report(api, ("Properties", "Body"), "must be an OpenAPI document (a mapping), "
                           f"got {describe(body)}")
                return None
            self.doc = body
            ctx.origin(self.cpath, api, "Properties", "Body",
                       exact=ctx.sources.copied(api, "Body"))
            for (owner, route, key), event in ctx.sources.methods.items():
                if owner == api:  # a method a SAM event added: its problems are the event's
                    ctx.origins.add((*self.cpath, "paths", route, key), ctx.file, event)
        elif BODY_FILE in raw:
            doc = self.body_file(raw[BODY_FILE])
            if doc is None:
                return None
            self.doc = doc
            ctx.origin(self.cpath, api, "Properties", BODY_FILE)
        elif "BodyS3Location" in raw:
            ctx.report(api, ("Properties", "BodyS3Location"), "Sluice cannot read the OpenAPI file "
                       "from S3: put it beside the template and give it as Body (with "
                       "Fn::Transform AWS::Include) or, in SAM, as a local DefinitionUri")
            return None
        elif "CloneFrom" in raw:
            ctx.report(api, ("Properties", "CloneFrom"), "cloning an API that is not in this "
                       "template is not supported")
            return None
        else:
            self.doc = {"openapi": "3.0.1", "info": {"version": "1.0"}, "paths": {}}
            ctx.origin(self.cpath, api, "Properties")
        if not isinstance(self.doc.get("paths"), dict):
            if "paths" in self.doc:
                return self.doc  # the loader names what is wrong with it
            self.doc["paths"] = {}
        self.swagger = "swagger" in self.doc
        name = ctx.attempt(api, "Name")
        info = self.doc.setdefault("info", {})
        if isinstance(info, dict):
            if name is not None:
                info["title"] = as_text(name)
                ctx.origin((*self.cpath, "info", "title"), api, "Properties", "Name")
            elif not info.get("title"):
                info["title"] = api
        self.properties()
        for lid in self.members.authorizers:
            self.authorizer(lid)
        for lid in self.members.models:
            self.model(lid)
        for lid in self.members.validators:
            self.validator(lid)
        for lid in self.members.gateway_responses:
            self.gateway_response(lid)
        for lid in self.members.methods:
            self.method(lid)
        return self.doc

    def body_file(self, relative: Any) -> dict[str, Any] | None:
        ctx, api = self.ctx, self.api
        where = ("Properties", BODY_FILE)
        file = os.path.join(ctx.template_dir, str(relative))
        label = os.path.normpath(os.path.join(os.path.dirname(ctx.file), str(relative)))
        if not os.path.isfile(file):
            ctx.report(api, where, f"no such file: {label} (paths are relative to the template)")
            return None
        try:
            doc = read_template(file, label)
        except ConfigError as e:
            ctx.ck.problems.extend(e.problems)
            return None
        if not isinstance(doc, dict):
            ctx.report(api, where, f"{label} must be an OpenAPI document, got {describe(doc)}")
            return None
        return doc

    def properties(self) -> None:
        ctx, api, doc = self.ctx, self.api, self.doc
        media = ctx.attempt(api, "BinaryMediaTypes")
        if isinstance(media, list):
            # "~1" stands for "/" in SAM's BinaryMediaTypes (a JSON-patch path escape).
            doc["x-amazon-apigateway-binary-media-types"] = [
                m.replace("~1", "/") if isinstance(m, str) else m for m in media]
            ctx.origin((*self.cpath, "x-amazon-apigateway-binary-media-types"), api,
                       "Properties", "BinaryMediaTypes", exact=True)
        for key, extension, convert in (
            ("MinimumCompressionSize", "x-amazon-apigateway-minimum-compression-size", as_number),
            ("ApiKeySourceType", "x-amazon-apigateway-api-key-source", as_text),
        ):
            value = ctx.attempt(api, key)
            if value is not None:
                doc[extension] = convert(value)
                ctx.origin((*self.cpath, extension), api, "Properties", key)
        # a JSON string as it is: the loader's policy check reads it and names what is wrong
        policy = ctx.attempt(api, "Policy")
        if policy is not None:
            doc["x-amazon-apigateway-policy"] = policy
            ctx.origin((*self.cpath, "x-amazon-apigateway-policy"), api, "Properties", "Policy",
                       exact=True)

    # --- security, models, validators, gateway responses -------------------------------

    def schemes(self) -> dict[str, Any]:
        if self.swagger:
            holder = self.doc
            key = "securityDefinitions"
        else:
            holder = self.doc.setdefault("components", {})
            if not isinstance(holder, dict):
                holder = self.doc["components"] = {}
            key = "securitySchemes"
        schemes = holder.setdefault(key, {})
        if not isinstance(schemes, dict):
            schemes = holder[key] = {}
        return schemes

    def authorizer(self, lid: str) -> None:
        ctx = self.ctx
        try:
            kind = ctx.prop(lid, "Type")
            name = ctx.prop(lid, "Name", default=lid)
        except Invalid:
            return
        kind = str(kind).upper() if isinstance(kind, str) else kind
        if kind not in ("TOKEN", "REQUEST", "COGNITO_USER_POOLS"):
            ctx.report(lid, ("Properties", "Type"), "must be one of TOKEN, REQUEST, "
                       f"COGNITO_USER_POOLS, got {show(kind)}")
            return
        source = ctx.attempt(lid, "IdentitySource")
        header = "Authorization"
        if kind == "REQUEST":
            header = "Unused"
        elif isinstance(source, str) and source.startswith("method.request.header."):
            header = source[len("method.request.header."):]
        elif kind == "TOKEN":
            ctx.report(lid, ("Properties", "IdentitySource"), "is required for a TOKEN "
                       "authorizer: method.request.header.NAME")
            return
        extension: dict[str, Any] = {"type": kind.lower()}
        if kind == "COGNITO_USER_POOLS":
            arns = ctx.attempt(lid, "ProviderARNs")
            if not isinstance(arns, list) or not arns:
                ctx.report(lid, ("Properties", "ProviderARNs"), "is required for a "
                           "COGNITO_USER_POOLS authorizer: a list of user pool ARNs")
                return
            extension["providerARNs"] = arns
        else:
            uri = ctx.attempt(lid, "AuthorizerUri")
            if uri is None:
                ctx.report(lid, ("Properties", "AuthorizerUri"), f"is required for a {kind} "
                           "authorizer")
                return
            extension["authorizerUri"] = uri
        for key, out, convert in (
            ("IdentitySource", "identitySource", as_text),
            ("IdentityValidationExpression", "identityValidationExpression", as_text),
            ("AuthorizerResultTtlInSeconds", "authorizerResultTtlInSeconds", as_number),
            ("AuthorizerCredentials", "authorizerCredentials", as_text),
        ):
            value = ctx.attempt(lid, key)
            if value is not None:
                extension[out] = convert(value)
        schemes = self.schemes()
        scheme_name = str(name)
        if scheme_name in schemes:
            ctx.report(lid, ("Properties", "Name"), f"another authorizer of API {self.api} is "
                       f"also named {show(scheme_name)}")
            return
        schemes[scheme_name] = {
            "type": "apiKey", "name": header, "in": "header",
            "x-amazon-apigateway-authtype": "cognito_user_pools" if kind == "COGNITO_USER_POOLS"
            else "custom",
            "x-amazon-apigateway-authorizer": extension,
        }
        self.schemes_of[lid] = (scheme_name, kind)
        where = "securityDefinitions" if self.swagger else "components.securitySchemes"
        ctx.origin((*self.cpath, *where.split("."), scheme_name), lid, "Properties")

    def model(self, lid: str) -> None:
        ctx = self.ctx
        name = ctx.attempt(lid, "Name", default=lid)
        schema = ctx.attempt(lid, "Schema", default={})
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except (ValueError, RecursionError):
                ctx.report(lid, ("Properties", "Schema"), "must be a JSON schema (JSON text or a "
                           "mapping)")
                return
        if self.swagger:
            self.doc.setdefault("definitions", {})[str(name)] = schema
        else:
            components = self.doc.setdefault("components", {})
            components.setdefault("schemas", {})[str(name)] = schema

    def validator(self, lid: str) -> None:
        ctx = self.ctx
        name = str(ctx.attempt(lid, "Name", default=lid))
        validators = self.doc.setdefault("x-amazon-apigateway-request-validators", {})
        validators[name] = {
            "validateRequestBody": as_bool(ctx.attempt(lid, "ValidateRequestBody",
                                                       default=False)),
            "validateRequestParameters": as_bool(ctx.attempt(lid, "ValidateRequestParameters",
                                                             default=False)),
        }
        ctx.origin((*self.cpath, "x-amazon-apigateway-request-validators", name), lid,
                   "Properties")

    def gateway_response(self, lid: str) -> None:
        ctx = self.ctx
        kind = ctx.attempt(lid, "ResponseType")
        if not isinstance(kind, str):
            if kind is not None:
                ctx.report(lid, ("Properties", "ResponseType"), "must be a gateway response type "
                           "such as DEFAULT_4XX")
            return
        entry: dict[str, Any] = {}
        for key, out, convert in (("StatusCode", "statusCode", as_text),
                                  ("ResponseParameters", "responseParameters", None),
                                  ("ResponseTemplates", "responseTemplates", None)):
            value = ctx.attempt(lid, key)
            if value is not None:
                entry[out] = convert(value) if convert else value
        responses = self.doc.setdefault("x-amazon-apigateway-gateway-responses", {})
        if not isinstance(responses, dict):
            responses = self.doc["x-amazon-apigateway-gateway-responses"] = {}
        responses[kind] = entry
        where = (*self.cpath, "x-amazon-apigateway-gateway-responses", kind)
        ctx.origin(where, lid, "Properties")
        ctx.origin((*where, "responseParameters"), lid, "Properties", "ResponseParameters",
                   exact=True)

    # --- the resource tree -------------------------------------------------------------

    def resource_path(self, ref: Any, lid: str, key: str) -> str | None:
        """The path of the resource that ``ref`` (a ResourceId or ParentId) names."""
        ctx = self.ctx
        if ref == ROOT + self.api:
            return "/"
        if not isinstance(ref, str) or ref not in self.members.resources:
            ctx.report(lid, ("Properties", key), "must refer to an AWS::ApiGateway::Resource of "
                       f"API {self.api} (!Ref) or its root (!GetAtt {self.api}.RootResourceId)")
            return None
        if ref in self.paths_of:
            path = self.paths_of[ref]
            if path is None and ref in self.visiting:
                ctx.report(ref, ("Properties", "ParentId"), "resources are each other's parents "
                           "(a loop)")
            return path  # None: it failed, and was reported then
        self.paths_of[ref] = None
        self.visiting.add(ref)
        try:
            parent = ctx.prop(ref, "ParentId")
            part = ctx.prop(ref, "PathPart")
        except Invalid:
            self.visiting.discard(ref)
            return None
        try:
            base = self.resource_path(parent, ref, "ParentId")
        finally:
            self.visiting.discard(ref)
        if base is None:
            return None
        if not isinstance(part, str) or not part or "/" in part:
            ctx.report(ref, ("Properties", "PathPart"), "must be one path segment (no /), got "
                       f"{show(part)}")
            return None
        problem = resource_path_error("/" + part)  # the loader's check of each segment
        if problem is not None:
            ctx.report(ref, ("Properties", "PathPart"), problem)
            return None
        path = base.rstrip("/") + "/" + part
        self.paths_of[ref] = path
        return path

    def method(self, lid: str) -> None:
        ctx = self.ctx
        try:
            verb = ctx.prop(lid, "HttpMethod")
            resource = ctx.prop(lid, "ResourceId")
        except Invalid:
            return
        verb = verb.upper() if isinstance(verb, str) else verb
        if verb not in _METHODS:
            ctx.report(lid, ("Properties", "HttpMethod"), f"must be one of {', '.join(_METHODS)}, "
                       f"got {show(verb)}")
            return
        path = self.resource_path(resource, lid, "ResourceId")
        if path is None:
            return
        key = "x-amazon-apigateway-any-method" if verb == "ANY" else verb.lower()
        paths = self.doc["paths"]
        item = paths.setdefault(path, {})
        if not isinstance(item, dict) or key in item:
            ctx.report(lid, ("Properties", "HttpMethod"), f"{verb} {path} is already defined in "
                       f"API {self.api}")
            return
        op_path = (*self.cpath, "paths", path, key)
        operation = self.operation(lid, path, op_path)
        if operation is not None:
            item[key] = operation
            ctx.origin(op_path, lid, "Properties")

    def operation(self, lid: str, path: str, op_path: PathT) -> dict[str, Any] | None:
        ctx = self.ctx
        op: dict[str, Any] = {}
        name = ctx.attempt(lid, "OperationName")
        if name is not None:
            op["operationId"] = as_text(name)
        parameters = self.parameters(lid, path, op_path)
        if parameters:
            op["parameters"] = parameters
        models = ctx.attempt(lid, "RequestModels")
        if isinstance(models, dict) and models:
            ref = "#/definitions/" if self.swagger else "#/components/schemas/"
            if self.swagger:
                op.setdefault("parameters", []).append(
                    {"in": "body", "name": "body", "required": True,
                     "schema": {"$ref": ref + str(next(iter(models.values())))}})
            else:
                op["requestBody"] = {"content": {
                    str(ct): {"schema": {"$ref": ref + str(m)}} for ct, m in models.items()}}
        op["responses"] = self.method_responses(lid)
        security = self.security(lid, op_path)
        if security is None:
            return None
        if security:
            op["security"] = security
        validator = ctx.attempt(lid, "RequestValidatorId")
        if validator is not None:
            if not isinstance(validator, str) or validator not in self.members.validators:
                ctx.report(lid, ("Properties", "RequestValidatorId"), "must refer to an "
                           f"AWS::ApiGateway::RequestValidator of API {self.api} (!Ref)")
            else:
                op["x-amazon-apigateway-request-validator"] = str(
                    ctx.attempt(validator, "Name", default=validator))
        integration = self.integration(lid, (*op_path, "x-amazon-apigateway-integration"))
        if integration is None:
            return None
        op["x-amazon-apigateway-integration"] = integration
        return op

    def parameters(self, lid: str, path: str, op_path: PathT) -> list[dict[str, Any]]:
        ctx = self.ctx
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for m in re.finditer(r"\{([^}+]+)\+?\}", path):
            out[("path", m[1])] = self.parameter(m[1], "path", True)
        given = ctx.attempt(lid, "RequestParameters", default={})
        if not isinstance(given, dict):
            ctx.report(lid, ("Properties", "RequestParameters"), "must be a mapping of "
                       f"method.request.* names to true (required) or false, got {describe(given)}")
            return list(out.values())
        for name, required in given.items():
            found = _PARAMETER.fullmatch(str(name))
            if found is None:
                ctx.report(lid, ("Properties", "RequestParameters", str(name)), "must be "
                           "method.request.{path|querystring|header}.NAME")
                continue
            required = as_bool(required)
            if not isinstance(required, bool):
                ctx.report(lid, ("Properties", "RequestParameters", str(name)), "must be true "
                           f"(required) or false, got {describe(required)}")
                continue
            out[(_IN[found[1]], found[2])] = self.parameter(
                found[2], _IN[found[1]], required or found[1] == "path")
        if out:
            ctx.origin((*op_path, "parameters"), lid, "Properties", "RequestParameters")
        return list(out.values())

    def parameter(self, name: str, where: str, required: bool) -> dict[str, Any]:
        if self.swagger:
            return {"name": name, "in": where, "required": required, "type": "string"}
        return {"name": name, "in": where, "required": required, "schema": {"type": "string"}}

    def method_responses(self, lid: str) -> dict[str, Any]:
        responses = self.ctx.attempt(lid, "MethodResponses", default=[])
        out: dict[str, Any] = {}
        for item in responses if isinstance(responses, list) else ():
            if not isinstance(item, dict) or "StatusCode" not in item:
                continue
            code = str(as_text(item["StatusCode"]))
            entry: dict[str, Any] = {"description": f"{code} response"}
            headers = item.get("ResponseParameters")
            if isinstance(headers, dict):
                prefix = "method.response.header."
                found = {str(k)[len(prefix):]: ({"type": "string"} if self.swagger
                                               else {"schema": {"type": "string"}})
                         for k in headers if str(k).startswith(prefix)}
                if found:
                    entry["headers"] = found
            out[code] = entry
        return out

    def security(self, lid: str, op_path: PathT) -> list[dict[str, Any]] | None:
        ctx = self.ctx
        kind = ctx.attempt(lid, "AuthorizationType", default="NONE")
        kind = kind.upper() if isinstance(kind, str) else kind
        required = as_bool(ctx.attempt(lid, "ApiKeyRequired", default=False))
        scopes = ctx.attempt(lid, "AuthorizationScopes", default=[])
        security: list[dict[str, Any]] = []
        if kind in ("CUSTOM", "COGNITO_USER_POOLS"):
            authorizer = ctx.attempt(lid, "AuthorizerId")
            if not isinstance(authorizer, str) or authorizer not in self.schemes_of:
                if authorizer not in self.members.authorizers:
                    ctx.report(lid, ("Properties", "AuthorizerId"), f"AuthorizationType {kind} "
                               "needs an AWS::ApiGateway::Authorizer of API "
                               f"{self.api} (!Ref)")
                return None
            scheme, scheme_kind = self.schemes_of[authorizer]
            if (kind == "COGNITO_USER_POOLS") != (scheme_kind == "COGNITO_USER_POOLS"):
                ctx.report(lid, ("Properties", "AuthorizationType"), f"is {kind} but authorizer "
                           f"{scheme} is of type {scheme_kind}")
                return None
            security.append({scheme: list(scopes) if isinstance(scopes, list) else []})
        elif kind == "AWS_IAM":
            self.schemes().setdefault("sigv4", {
                "type": "apiKey", "name": "Authorization", "in": "header",
                "x-amazon-apigateway-authtype": "awsSigv4"})
            security.append({"sigv4": []})
        elif kind != "NONE":
            ctx.report(lid, ("Properties", "AuthorizationType"), "must be one of NONE, AWS_IAM, "
                       f"CUSTOM, COGNITO_USER_POOLS, got "
                       f"{show(kind)}")
            return None
        if required is True:
            self.schemes().setdefault("api_key", {"type": "apiKey", "name": "x-api-key",
                                                  "in": "header"})
            security.append({"api_key": []})
        elif required is not False:
            ctx.report(lid, ("Properties", "ApiKeyRequired"), "must be true or false")
        if security:
            ctx.origin((*op_path, "security"), lid, "Properties", "AuthorizationType")
        return security

    def integration(self, lid: str, where: PathT) -> dict[str, Any] | None:
        ctx = self.ctx
        spec = ctx.attempt(lid, "Integration")
        if not isinstance(spec, dict):
            if spec is None and "Integration" not in ctx.raw(lid):
                ctx.report(lid, ("Properties",), "has no Integration: API Gateway refuses to "
                           "deploy a method without one (No integration defined for method)")
            elif spec is not None:
                ctx.report(lid, ("Properties", "Integration"), "must be a mapping, got "
                           f"{describe(spec)}")
            return None
        out: dict[str, Any] = {}
        ok = True
        for key, value in spec.items():
            if key not in _INTEGRATION_KEYS:
                ctx.report(lid, ("Properties", "Integration", str(key)), f"unknown property "
                           f"{show(key)} (allowed: {', '.join(_INTEGRATION_KEYS)})")
                ok = False
                continue
            name = _INTEGRATION_KEYS[key]
            if name is None:
                continue
            if key == "IntegrationResponses":
                responses = self.integration_responses(lid, value, (*where, "responses"))
                if responses is None:
                    ok = False
                    continue
                value = responses
            elif key == "TlsConfig" and isinstance(value, dict):
                value = {"insecureSkipVerification": as_bool(value.get(
                    "InsecureSkipVerification", False))}
            elif key == "TimeoutInMillis":
                value = as_number(value)
            elif key in ("Type", "PassthroughBehavior", "ContentHandling", "ConnectionType") and \
                    isinstance(value, str):
                value = value.lower() if key in ("Type", "PassthroughBehavior") else value
            ctx.origin((*where, name), lid, "Properties", "Integration", key,
                       exact=key in ("RequestParameters", "RequestTemplates",
                                     "CacheKeyParameters"))
            out[name] = value
        ctx.origin(where, lid, "Properties", "Integration")
        return out if ok else None

    def integration_responses(self, lid: str, given: Any, where: PathT
                              ) -> dict[str, Any] | None:
        ctx = self.ctx
        at = ("Properties", "Integration", "IntegrationResponses")
        if not isinstance(given, list):
            ctx.report(lid, at, f"must be a list, got {describe(given)}")
            return None
        out: dict[str, Any] = {}
        for i, item in enumerate(given):
            if not isinstance(item, dict):
                ctx.report(lid, (*at, i), f"must be a mapping, got {describe(item)}")
                return None
            pattern = item.get("SelectionPattern")
            key = "default" if pattern in (None, "") else str(as_text(pattern))
            if key in out:
                ctx.report(lid, (*at, i, "SelectionPattern"), f"another integration response "
                           f"has the selection pattern {show(key)}")
                return None
            entry: dict[str, Any] = {}
            for name, value in item.items():
                if name not in _RESPONSE_KEYS:
                    ctx.report(lid, (*at, i, str(name)), f"unknown property {show(name)} "
                               f"(allowed: {', '.join(_RESPONSE_KEYS)})")
                    return None
                out_name = _RESPONSE_KEYS[name]
                if out_name:
                    entry[out_name] = as_text(value) if name == "StatusCode" else value
            out[key] = entry
            ctx.origin((*where, key), lid, *at, i)
            ctx.origin((*where, key, "responseParameters"), lid, *at, i, "ResponseParameters",
                       exact=True)
            ctx.origin((*where, key, "responseTemplates"), lid, *at, i, "ResponseTemplates",
                       exact=True)
        return out


def api_document(ctx: Context, api: str, members: ApiMembers, cpath: PathT
                 ) -> dict[str, Any] | None:
    """The OpenAPI document of RestApi ``api`` (see the module docstring), or None after
    reporting why there is none. ``cpath`` is its place in the generated config."""
    doc = _Builder(ctx, api, members, cpath).build()
    if doc is not None and len(json.dumps(doc, default=str)) > MAX_DOCUMENT_BYTES:
        ctx.report(api, ("Properties",), "the API's OpenAPI document is larger than 6 MB "
                   "(AWS's import limit)")
        return None
    return doc

