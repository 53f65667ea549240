"""The SAM transform, for what Sluice serves: ``AWS::Serverless::Function`` and
``AWS::Serverless::Api`` (with ``Globals`` and the implicit ``ServerlessRestApi``) expanded into
the CloudFormation resources the transform generates: ``AWS::Lambda::Function``,
``AWS::ApiGateway::RestApi`` with its OpenAPI ``Body``, ``Deployment``, ``Stage``, and the
``UsagePlan``, ``ApiKey`` and ``UsagePlanKey`` of ``Auth.UsagePlan``.

It follows ``samtranslator`` (``plugins/api/implicit_rest_api_plugin.py``,
``plugins/globals/globals.py``, ``model/eventsources/push.py`` ``Api``,
``model/api/api_generator.py``) in order and in its messages, with two differences that do not
change what CloudFormation deploys: parameters, conditions and mappings are evaluated first (so
``Path: !Sub ...`` works and a resource whose ``Condition`` is false is gone), and Lambda
permissions and deployment hashes are not generated (a function's role is a bare stand-in, so
that references to it resolve). The result is checked like any CloudFormation template by
``proxy.templates.cloudformation``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from proxy.config._check import Checker, Invalid, PathT, describe
from proxy.templates import sam_openapi as oas
from proxy.templates.intrinsics import NO_VALUE, Evaluator, is_intrinsic
from proxy.templates.origins import Source, Sources
from proxy.templates.sam_openapi import SamError

__all__ = ["BODY_FILE", "LOCAL_CODE", "SAM_API", "SAM_FUNCTION", "Expanded", "expand_sam"]

SAM_FUNCTION = "AWS::Serverless::Function"
SAM_API = "AWS::Serverless::Api"
IMPLICIT_API = "ServerlessRestApi"
# In the generated AWS::Lambda::Function's Code: a folder on this machine (SAM's local CodeUri),
# which CloudFormation would have uploaded (`sam package`).
LOCAL_CODE = "Sluice::LocalPath"
# In the generated AWS::ApiGateway::RestApi: a local DefinitionUri, read as BodyS3Location's
# file would be (verbatim: CloudFormation evaluates no intrinsic functions in it).
BODY_FILE = "Sluice::BodyFile"

_GLOBAL_FUNCTION = (
    "Handler", "Runtime", "CodeUri", "DeadLetterQueue", "Description", "MemorySize", "Timeout",
    "VpcConfig", "Environment", "Tags", "PropagateTags", "Tracing", "KmsKeyArn",
    "AutoPublishAlias", "AutoPublishAliasAllProperties", "Layers", "DeploymentPreference",
    "RolePath", "PermissionsBoundary", "ReservedConcurrentExecutions",
    "ProvisionedConcurrencyConfig", "AssumeRolePolicyDocument", "EventInvokeConfig",
    "FileSystemConfigs", "CodeSigningConfigArn", "Architectures", "SnapStart", "EphemeralStorage",
    "FunctionUrlConfig", "RuntimeManagementConfig", "LoggingConfig", "RecursiveLoop",
    "SourceKMSKeyArn", "TenancyConfig", "DurableConfig", "CapacityProviderConfig",
    "FunctionScalingConfig", "PublishToLatestPublished", "VersionDeletionPolicy",
)
_GLOBAL_API = (
    "Auth", "Name", "DefinitionUri", "CacheClusterEnabled", "CacheClusterSize",
    "MergeDefinitions", "Variables", "EndpointConfiguration", "MethodSettings",
    "BinaryMediaTypes", "MinimumCompressionSize", "Cors", "GatewayResponses", "AccessLogSetting",
    "CanarySetting", "TracingEnabled", "OpenApiVersion", "Domain", "AlwaysDeploy",
    "PropagateTags", "SecurityPolicy", "EndpointAccessMode",
)
# Globals sections SAM knows; only Function and Api concern a REST API.
_GLOBAL_SECTIONS = ("Api", "CapacityProvider", "Function", "HttpApi", "LayerVersion",
                    "SimpleTable", "StateMachine", "WebSocketApi")

_API_EVENT_PROPERTIES = ("Path", "Method", "RestApiId", "Stage", "Auth", "RequestModel",
                         "RequestParameters", "TimeoutInMillis", "ResponseTransferMode")
_AUTH_PROPERTIES = ("Authorizers", "DefaultAuthorizer", "InvokeRole",
                    "AddDefaultAuthorizerToCorsPreflight", "AddApiKeyRequiredToCorsPreflight",
                    "ApiKeyRequired", "ResourcePolicy", "UsagePlan")
_USAGE_PLAN_PROPERTIES = ("CreateUsagePlan", "Description", "Quota", "Tags", "Throttle",
                          "UsagePlanName")
_CORS_PROPERTIES = ("AllowMethods", "AllowHeaders", "AllowOrigin", "MaxAge", "AllowCredentials")
_GATEWAY_RESPONSE_PROPERTIES = ("ResponseParameters", "ResponseTemplates", "StatusCode")
_REQUEST_PARAMETER = re.compile(r"method\.request\.(querystring|path|header)\.")
_S3_URI = re.compile(r"s3://([^/]+)/(.+)")


@dataclass
class Expanded:
    """The template's resources with every SAM resource replaced by what it generates."""

    resources: dict[str, dict[str, Any]]
    sources: Sources
    # SAM's references to generated resources: "MyApi.Stage" -> "MyApiProdStage"
    extra_refs: dict[str, str] = field(default_factory=dict)
    # "Fn.Events.Upload (S3)": event sources Sluice does not run
    ignored_events: list[str] = field(default_factory=list)


@dataclass
class _Api:
    logical_id: str
    properties: dict[str, Any]
    path: PathT  # the user's path of the resource
    managed: bool  # SAM writes its DefinitionBody (no DefinitionBody or DefinitionUri given)
    implicit: bool = False
    globals_keys: set[str] = field(default_factory=set)

    def where(self, key: str) -> PathT:
        """Where the user wrote property ``key`` (the implicit API has only Globals)."""
        if self.implicit and key not in self.globals_keys:
            return self.path
        return _written_at(self.path, "Api", self.globals_keys, key)

    def copy(self, keys: tuple[str, ...], out: dict[str, Any], renames: dict[str, PathT]
             ) -> None:
        """The properties among ``keys`` into a generated resource's ``out``, each renamed to
        where the user wrote it."""
        for key in keys:
            if key in self.properties:
                out[key] = self.properties[key]
                renames[key] = self.where(key)


def _written_at(path: PathT, section: str, from_globals: set[str], key: str) -> PathT:
    """Where the user wrote property ``key`` of the resource at ``path``: in its Properties, or
    in ``Globals.section`` when the merge brought it from there."""
    return ("Globals", section, key) if key in from_globals else (*path, "Properties", key)


class _Route(NamedTuple):
    """A function's Api event, its properties checked (``event_properties``)."""

    path: PathT  # the user's path of the event
    properties: dict[str, Any]
    api_id: str
    route: str
    method: str


class _Sam:
    __slots__ = ("apis", "ck", "ev", "events", "functions", "globals", "out", "routes",
                 "shared_plan")

    def __init__(self, ck: Checker, ev: Evaluator) -> None:
        self.ck = ck
        self.ev = ev
        self.apis: dict[str, _Api] = {}
        self.functions: dict[str, tuple[dict[str, Any], set[str]]] = {}
        # Each function's Api events, read once (``api_events``) and, once every API is
        # known, checked once (``add_event_paths``): each problem is reported once.
        self.events: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.routes: dict[str, list[_Route]] = {}
        self.globals: dict[str, dict[str, Any]] = {}
        self.out = Expanded({}, Sources())
        self.shared_plan: dict[str, Any] | None = None

    # --- reading -----------------------------------------------------------------------

    def static(self, node: Any, path: PathT) -> Any:
        """``node`` with parameters, conditions and mappings evaluated; as written where that
        failed (the problem is reported)."""
        try:
            return self.ev.value(node, path)
        except Invalid:
            return node

    @staticmethod
    def raw_properties(resource: dict[str, Any]) -> dict[str, Any]:
        props = resource.get("Properties")
        return dict(props) if isinstance(props, dict) else {}  # the caller checked the type

    def evaluate(self, props: dict[str, Any], path: PathT, from_globals: set[str],
                 section: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """Properties merged with Globals, evaluated statically, each reported where it was
        written."""
        out = {}
        for key, value in props.items():
            if key in skip:
                out[key] = value
                continue
            got = self.static(value, _written_at(path, section, from_globals, key))
            if got is not NO_VALUE:
                out[key] = got
        return out

    def read_globals(self, section: Any) -> None:
        if section is None:
            return
        if not isinstance(section, dict):
            self.ck.report(("Globals",), "'Globals' section is invalid. It must be a non-empty "
                           "dictionary")
            return
        for name, props in section.items():
            path: PathT = ("Globals", str(name))
            if name not in _GLOBAL_SECTIONS:
                self.ck.report(path, f"'{name}' is not supported. Must be one of the following "
                               f"values - {list(_GLOBAL_SECTIONS)}")
                continue
            if not isinstance(props, dict):
                self.ck.report(path, f"Value of {name} must be a dictionary")
                continue
            allowed = {"Function": _GLOBAL_FUNCTION, "Api": _GLOBAL_API}.get(name)
            if allowed is not None:
                for key in props:
                    if key not in allowed:
                        self.ck.report((*path, str(key)), f"'{key}' is not a supported property "
                                       f"of '{name}'. Must be one of the following values - "
                                       f"{list(allowed)}")
                # evaluated after the merge, as SAM merges before CloudFormation evaluates
                self.globals[name] = {k: v for k, v in props.items() if k in allowed}

    def merge_globals(self, section: str, props: dict[str, Any], resource: dict[str, Any],
                      path: PathT) -> tuple[dict[str, Any], set[str]]:
        """SAM's merge (``GlobalProperties``): local wins for scalars, dicts merge, lists
        concatenate; ``IgnoreGlobals`` drops some or all."""
        # a deep copy: the editing of one resource's document must not reach another's
        glob = copy.deepcopy(self.globals.get(section, {}))
        ignore = resource.get("IgnoreGlobals")
        if ignore == "*":
            glob = {}
        elif isinstance(ignore, list):
            for key in ignore:
                if key not in glob:
                    self.ck.report((*path, "IgnoreGlobals"), f"Resource {path[-1]} has invalid "
                                   f"resource attribute 'IgnoreGlobals' on item '{key}'.")
                glob.pop(key, None)
        elif ignore is not None:
            self.ck.report((*path, "IgnoreGlobals"), f"Resource {path[-1]} has invalid resource "
                           "attribute 'IgnoreGlobals'.")
        from_globals = {k for k in glob if k not in props}
        merged = _merge(glob, props)
        return merged, from_globals

    # --- the transform -----------------------------------------------------------------

    def run(self, resources: dict[str, dict[str, Any]]) -> Expanded:
        for lid, resource in resources.items():
            path: PathT = ("Resources", lid)
            kind = resource.get("Type")
            if kind == SAM_API:
                props = self.raw_properties(resource)
                managed = "DefinitionBody" not in props and "DefinitionUri" not in props
                if managed:
                    props["DefinitionBody"] = oas.skeleton()
                self.apis[lid] = _Api(lid, props, path, managed)
            elif kind == SAM_FUNCTION:
                props = self.raw_properties(resource)
                if "Events" in props:  # read before the Globals merge, by the implicit API
                    props["Events"] = self.static(props["Events"], (*path, "Properties", "Events"))
                self.functions[lid] = (props, set())
        self.events = {lid: self.api_events(lid, props)
                       for lid, (props, _) in self.functions.items()}
        implicit_events = self.collect_events()
        if implicit_events and IMPLICIT_API not in self.apis:
            first = implicit_events[0]
            self.apis[IMPLICIT_API] = _Api(
                IMPLICIT_API, {"StageName": "Prod", "DefinitionBody": oas.skeleton()},
                first, True, implicit=True)
        self.add_event_paths()
        for lid, api in self.apis.items():
            resource = resources.get(lid, {})
            stage = api.properties.get("StageName")
            merged, api.globals_keys = self.merge_globals("Api", api.properties, resource, api.path)
            api.properties = self.evaluate(merged, api.path, api.globals_keys, "Api")
            if api.implicit:
                api.properties["StageName"] = stage
            version = api.properties.get("OpenApiVersion")
            if api.managed and isinstance(version, str | float) and \
                    oas.is_openapi3_version(version):
                body = api.properties["DefinitionBody"]
                body["openapi"] = str(version)
                body.pop("swagger", None)
        for lid, (props, _) in list(self.functions.items()):
            merged, from_globals = self.merge_globals("Function", props, resources[lid],
                                                      ("Resources", lid))
            self.functions[lid] = (self.evaluate(merged, ("Resources", lid), from_globals,
                                                 "Function", skip=("Events",)), from_globals)
        for lid, resource in resources.items():
            kind = resource.get("Type")
            if kind == SAM_FUNCTION:
                self.function(lid, resource)
            elif kind == SAM_API or (lid == IMPLICIT_API and lid in self.apis):
                continue
            else:
                if kind == "AWS::Serverless::StateMachine":
                    self.refuse_state_machine_events(lid, resource)
                self.out.resources[lid] = resource
        for api in self.apis.values():
            self.api(api)
        return self.out

    def collect_events(self) -> list[PathT]:
        """Paths of the Api events that name no RestApiId (the implicit API's)."""
        found: list[PathT] = []
        for lid, events in self.events.items():
            for name, event in events:
                if isinstance(event.get("Properties"), dict) and \
                        "RestApiId" not in event["Properties"]:
                    found.append(("Resources", lid, "Properties", "Events", name))
        return found

    def api_events(self, lid: str, props: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        events = props.get("Events")
        if events is None:
            return []
        path: PathT = ("Resources", lid, "Properties", "Events")
        if not isinstance(events, dict):
            self.ck.report(path, f"must be a mapping of events, got {describe(events)}")
            return []
        out = []
        for name, event in events.items():
            if not isinstance(event, dict):
                self.ck.report((*path, str(name)), f"must be a mapping, got {describe(event)}")
                continue
            if event.get("Type") == "Api":
                out.append((str(name), event))
            else:
                self.out.ignored_events.append(f"{lid}.Events.{name} ({event.get('Type')})")
        return out

    def add_event_paths(self) -> None:
        """The implicit plugin's pass: each event's path and method in its API's document;
        the events whose properties pass are kept in ``routes`` for ``function``."""
        for lid, events in self.events.items():
            routes = self.routes[lid] = []
            for name, event in events:
                path: PathT = ("Resources", lid, "Properties", "Events", name)
                spec = self.event_properties(event, path)
                if spec is None:
                    continue
                api_id, route, method = spec
                routes.append(_Route(path, event["Properties"], api_id, route, method))
                api = self.apis[api_id]
                if api.managed:
                    try:
                        oas.add_path(api.properties["DefinitionBody"], route, method)
                    except SamError as e:
                        self.ck.report(path, str(e))

    def event_properties(self, event: dict[str, Any], path: PathT
                         ) -> tuple[str, str, str] | None:
        props = event.get("Properties")
        if not isinstance(props, dict):
            self.ck.report((*path, "Properties"), f"must be a mapping, got {describe(props)}")
            return None
        bad = False
        for key in props:
            if key not in _API_EVENT_PROPERTIES:
                allowed = ", ".join(_API_EVENT_PROPERTIES)
                self.ck.report((*path, "Properties", str(key)), f"property {key} not defined for "
                               f"resource of type Api (allowed: {allowed})")
                bad = True
        for key in ("Path", "Method"):
            if not isinstance(props.get(key), str) or not props[key]:
                self.ck.report((*path, "Properties", key), "is required and must be a string, "
                               f"got {describe(props.get(key))}")
                bad = True
        api_id = props.get("RestApiId", {"Ref": IMPLICIT_API})
        if isinstance(api_id, dict) and list(api_id) == ["Ref"]:
            api_id = api_id["Ref"]
        if not isinstance(api_id, str) or api_id not in self.apis:
            self.ck.report((*path, "Properties", "RestApiId"), "RestApiId must be a valid "
                           "reference to an 'AWS::Serverless::Api' resource in same template.")
            bad = True
        if bad:
            return None
        return api_id, props["Path"], props["Method"]

    def refuse_state_machine_events(self, lid: str, resource: dict[str, Any]) -> None:
        props = resource.get("Properties")
        events = props.get("Events") if isinstance(props, dict) else None
        for name, event in (events or {}).items() if isinstance(events, dict) else ():
            if isinstance(event, dict) and event.get("Type") == "Api":
                self.ck.report(("Resources", lid, "Properties", "Events", str(name)),
                               "an Api event of a Step Functions state machine: Sluice cannot "
                               "serve Step Functions integrations")

    # --- functions ---------------------------------------------------------------------

    def function(self, lid: str, resource: dict[str, Any]) -> None:
        props, from_globals = self.functions[lid]
        path: PathT = ("Resources", lid)
        code, code_from = self.code(props, path, from_globals)
        out: dict[str, Any] = {"Code": code}
        renames: dict[str, PathT] = {"Code": code_from}
        for key in ("FunctionName", "Handler", "Runtime", "Environment", "Timeout", "MemorySize",
                    "ReservedConcurrentExecutions", "Description", "Layers", "Architectures",
                    "PackageType", "ImageConfig"):
            if key in props:
                out[key] = props[key]
        renames.update({key: ("Globals", "Function", key) for key in from_globals})
        generated: dict[str, Any] = {"Type": "AWS::Lambda::Function", "Properties": out}
        if "Metadata" in resource:
            generated["Metadata"] = resource["Metadata"]
        self.out.resources[lid] = generated
        self.out.sources.resources[lid] = Source(path, renames)
        if "Role" not in props:  # SAM makes one; templates refer to it (!GetAtt FnRole.Arn)
            self.out.resources[f"{lid}Role"] = {"Type": "AWS::IAM::Role", "Properties": {}}
            self.out.sources.resources[f"{lid}Role"] = Source(path, identity=False)
        target = f"${{{lid}.Arn}}"
        alias = props.get("AutoPublishAlias")
        if isinstance(alias, str) and alias:
            alias_id = f"{lid}Alias{alias}"
            self.out.resources[alias_id] = {"Type": "AWS::Lambda::Alias", "Properties": {
                "Name": alias, "FunctionName": {"Ref": lid}, "FunctionVersion": "$LATEST"}}
            self.out.sources.resources[alias_id] = Source(
                (*path, "Properties", "AutoPublishAlias"), identity=False)
            self.out.extra_refs[f"{lid}.Alias"] = alias_id
            target = f"${{{alias_id}}}"
        for event in self.routes.get(lid, ()):
            try:
                self.api_event(event, target)
            except SamError as e:
                self.ck.report(event.path, str(e))

    def code(self, props: dict[str, Any], path: PathT, from_globals: set[str]
             ) -> tuple[dict[str, Any], PathT]:
        def where(key: str) -> PathT:
            return _written_at(path, "Function", from_globals, key)

        if "InlineCode" in props:  # it wins over CodeUri, as in SAM's _construct_code_dict
            return {"ZipFile": props["InlineCode"]}, where("InlineCode")
        if props.get("PackageType") == "Image" or "ImageUri" in props:
            return {"ImageUri": props.get("ImageUri")}, where("ImageUri")
        uri = props.get("CodeUri", ".")  # sam local's default: the template's folder
        if isinstance(uri, dict):
            return {"S3Bucket": uri.get("Bucket"), "S3Key": uri.get("Key")}, where("CodeUri")
        if isinstance(uri, str):
            m = _S3_URI.fullmatch(uri)
            if m:
                return {"S3Bucket": m[1], "S3Key": m[2]}, where("CodeUri")
            return {LOCAL_CODE: uri}, where("CodeUri")
        self.ck.report(where("CodeUri"), f"must be a folder, an s3:// URI or a mapping with "
                       f"Bucket and Key, got {describe(uri)}")
        return {LOCAL_CODE: "."}, where("CodeUri")

    def api_event(self, event: _Route, target: str) -> None:
        path, props, api_id, route, method = event
        api = self.apis[api_id]
        # SAM's _build_apigw_integration_uri; streaming has its own API version and path
        stream = props.get("ResponseTransferMode") == "RESPONSE_STREAM"
        version, tail = ("2021-11-15", "response-streaming-invocations") if stream else \
            ("2015-03-31", "invocations")
        uri = {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/"
                          f"{version}/functions/{target}/{tail}"}
        body = api.properties.get("DefinitionBody")
        auth = props.get("Auth")
        if auth is not None and not isinstance(auth, dict):
            raise SamError("Auth must be a mapping")
        if not api.managed:
            if isinstance(body, dict) and auth and auth.get("OverrideApiAuth"):
                self.event_auth(api, auth, route, method, body, path)
            return
        assert isinstance(body, dict)
        if oas.has_integration(body, route, method):
            raise SamError(f'API method "{method.lower()}" defined multiple times for path '
                           f'"{route}".')
        api_auth = api.properties.get("Auth") or {}
        if not isinstance(api_auth, dict):
            raise SamError("Auth of the API must be a mapping")
        oas.add_lambda_integration(body, route, method, uri, auth or {}, api_auth, stream)
        self.out.sources.methods[(api_id, route, oas.normalize_method(method))] = path
        if auth:
            self.event_auth(api, auth, route, method, body, path)
        timeout = props.get("TimeoutInMillis")
        if timeout:
            oas.set_timeout(body, route, method, timeout)
        if props.get("RequestModel"):
            self.request_model(api, props["RequestModel"], route, method, body)
        if props.get("RequestParameters"):
            self.request_parameters(props["RequestParameters"], route, method, body)

    def event_auth(self, api: _Api, auth: dict[str, Any], route: str, method: str,
                   body: dict[str, Any], path: PathT) -> None:
        """``Api.add_auth_to_swagger``, with its checks."""
        api_auth = api.properties.get("Auth") or {}
        authorizers = api_auth.get("Authorizers") if isinstance(api_auth, dict) else None
        name = auth.get("Authorizer")
        where = f"on API method [{method.lower()}] for path [{route}]"
        if name and name != "AWS_IAM":
            if name != "NONE":
                if not authorizers:
                    raise SamError(f"Unable to set Authorizer [{name}] {where} because the "
                                   "related API does not define any Authorizers.")
                if not isinstance(authorizers, dict) or not authorizers.get(name):
                    raise SamError(f"Unable to set Authorizer [{name}] {where} because it wasn't "
                                   "defined in the API's Authorizers.")
            elif not api_auth.get("DefaultAuthorizer"):
                raise SamError(f"Unable to set Authorizer {where} because 'NONE' is only a valid "
                               "value when a DefaultAuthorizer on the API is specified.")
        if auth.get("AuthorizationScopes"):
            if not isinstance(auth["AuthorizationScopes"], list):
                raise SamError("Auth.AuthorizationScopes must be a list")
            if not name:
                raise SamError("AuthorizationScopes works only when Authorizer is set")
        required = auth.get("ApiKeyRequired")
        if required is not None and not required and not api_auth.get("ApiKeyRequired"):
            raise SamError(f"Unable to set ApiKeyRequired [False] {where} because the related "
                           "API does not specify any ApiKeyRequired.")
        if name or required is not None:
            oas.add_auth_to_method(body, route, method, auth,
                                   authorizers if isinstance(authorizers, dict) else None)
        policy = auth.get("ResourcePolicy")
        if policy:
            if not isinstance(policy, dict):
                raise SamError("Auth.ResourcePolicy must be a mapping")
            stage = api.properties.get("StageName")
            oas.add_resource_policy(body, policy, route, stage if isinstance(stage, str)
                                    else "Stage")
            if policy.get("CustomStatements"):
                oas.add_custom_statements(body, policy["CustomStatements"])

    def request_model(self, api: _Api, model: Any, route: str, method: str,
                      body: dict[str, Any]) -> None:
        if not isinstance(model, dict):
            raise SamError("RequestModel must be a mapping")
        name = model.get("Model")
        if not name:
            return
        where = f"on API method [{method.lower()}] for path [{route}]"
        models = api.properties.get("Models")
        if not models:
            raise SamError(f"Unable to set RequestModel [{name}] {where} because the related API "
                           "does not define any Models.")
        if not isinstance(name, str) or not isinstance(models, dict) or not models.get(name):
            raise SamError(f"Unable to set RequestModel [{name}] {where} because it wasn't "
                           "defined in the API's Models.")
        oas.add_request_model(body, route, method, model)
        validate_body, validate_params = model.get("ValidateBody"), model.get("ValidateParameters")
        if validate_body is not None or validate_params is not None:
            validate_body = bool(validate_body) if validate_body is not None else False
            validate_params = bool(validate_params) if validate_params is not None else False
            oas.add_request_validator(body, route, method, validate_body, validate_params)

    def request_parameters(self, given: Any, route: str, method: str,
                           body: dict[str, Any]) -> None:
        if not isinstance(given, list):
            raise SamError("RequestParameters must be a list")
        parameters = []
        for item in given:
            settings = {"Required": False, "Caching": False}
            if isinstance(item, dict) and len(item) == 1:
                name, value = next(iter(item.items()))
                if not isinstance(value, dict) or not all(
                        k in ("Required", "Caching") for k in value):
                    raise SamError("Invalid value for 'RequestParameters' property. Values must "
                                   "be an object, e.g { Required: true, Caching: false }")
                settings.update(value)
            elif isinstance(item, str):
                name = item
            else:
                raise SamError("Invalid value for 'RequestParameters' property. Property must be "
                               "either a string or an object")
            if not isinstance(name, str) or not _REQUEST_PARAMETER.match(name):
                raise SamError("Invalid value for 'RequestParameters' property. Keys must be in "
                               "the format 'method.request.[querystring|path|header].{value}', "
                               "e.g 'method.request.header.Authorization'.")
            parameters.append({**settings, "Name": name})
        oas.add_request_parameters(body, route, method, parameters)

    # --- APIs --------------------------------------------------------------------------

    def api(self, api: _Api) -> None:
        props = api.properties
        path = api.path
        lid = api.logical_id
        where = api.where
        try:
            self.api_definition(api)
        except SamError as e:
            self.ck.report(path, str(e))
        stage_name = props.get("StageName")
        if stage_name is None or stage_name == "":
            self.ck.report(where("StageName"), "StageName is required (and cannot be empty)")
            stage_name = "Prod"
        rest: dict[str, Any] = {}
        renames: dict[str, PathT] = {}
        if "DefinitionUri" in props:
            uri = props["DefinitionUri"]
            m = _S3_URI.fullmatch(uri) if isinstance(uri, str) else None
            if m:
                rest["BodyS3Location"] = {"Bucket": m[1], "Key": m[2]}
            elif isinstance(uri, str):
                rest[BODY_FILE] = uri  # sam local reads a local DefinitionUri itself
            else:
                rest["BodyS3Location"] = uri
            renames["BodyS3Location"] = renames[BODY_FILE] = where("DefinitionUri")
        else:
            rest["Body"] = props["DefinitionBody"]
            renames["Body"] = path if api.managed else where("DefinitionBody")
        api.copy(("BinaryMediaTypes", "MinimumCompressionSize", "Name", "Description",
                  "ApiKeySourceType", "Policy", "Mode"), rest, renames)
        self.out.resources[lid] = {"Type": "AWS::ApiGateway::RestApi", "Properties": rest}
        self.out.sources.resources[lid] = Source(
            path, renames, identity=not api.implicit,
            generated=frozenset({"Body"}) if api.managed else frozenset())

        deployment_id = f"{lid}Deployment"
        prefix = stage_name if isinstance(stage_name, str) else ""
        stage_id = lid + (prefix if prefix.isalnum() else re.sub(r"[^A-Za-z0-9]", "", prefix)) + \
            "Stage"
        stage: dict[str, Any] = {"RestApiId": {"Ref": lid}, "DeploymentId": {"Ref": deployment_id},
                                 "StageName": stage_name}
        stage_renames: dict[str, PathT] = {"StageName": where("StageName")}
        api.copy(("CacheClusterEnabled", "CacheClusterSize", "Variables", "MethodSettings",
                  "AccessLogSetting", "CanarySetting", "TracingEnabled"), stage, stage_renames)
        self.out.resources[stage_id] = {"Type": "AWS::ApiGateway::Stage", "Properties": stage}
        self.out.sources.resources[stage_id] = Source(path, stage_renames, identity=False)
        self.out.extra_refs[f"{lid}.Stage"] = stage_id
        deployment: dict[str, Any] = {"RestApiId": {"Ref": lid}}
        if not props.get("OpenApiVersion"):
            deployment["StageName"] = "Stage"  # SAM's extra stage, gone with OpenApiVersion
        self.out.resources[deployment_id] = {"Type": "AWS::ApiGateway::Deployment",
                                             "Properties": deployment}
        self.out.sources.resources[deployment_id] = Source(path, identity=False)
        self.out.extra_refs[f"{lid}.Deployment"] = deployment_id

        try:
            self.usage_plan(api, stage_id)
        except SamError as e:
            self.ck.report(where("Auth"), str(e))

    def api_definition(self, api: _Api) -> None:
        """``ApiGenerator._construct_rest_api``: CORS, auth, gateway responses, binary media
        types and models written into the DefinitionBody."""
        props = api.properties
        if "DefinitionBody" in props and "DefinitionUri" in props:
            raise SamError("Specify either 'DefinitionUri' or 'DefinitionBody' property and not "
                           "both.")
        if props.get("MergeDefinitions"):
            raise SamError("MergeDefinitions is not supported by Sluice: write the methods into "
                           "DefinitionBody, or leave DefinitionBody out for the events to add "
                           "them")
        body = props.get("DefinitionBody")
        features = [k for k in ("Cors", "Auth", "GatewayResponses", "Models") if props.get(k)]
        for key in features:
            if not isinstance(body, dict):
                raise SamError(f"{key} works only with inline Swagger specified in "
                               "'DefinitionBody' property.")
        if not isinstance(body, dict) or not isinstance(body.get("paths"), dict):
            if features:
                raise SamError("Invalid Swagger document or the Swagger document is not "
                               "explicitly defined in 'DefinitionBody'.")
            return  # the loader says what is wrong with it
        if props.get("Cors"):
            self.cors(props["Cors"], body)
        if props.get("Auth"):
            self.auth(props["Auth"], body, props.get("StageName"))
        if props.get("GatewayResponses"):
            self.gateway_responses(props["GatewayResponses"], body)
        media = props.get("BinaryMediaTypes")
        if media and isinstance(media, list):
            body["x-amazon-apigateway-binary-media-types"] = [
                m.replace("~1", "/") if isinstance(m, str) else m for m in media]
        if props.get("Models"):
            models = props["Models"]
            if not isinstance(models, dict) or not all(isinstance(m, dict)
                                                       for m in models.values()):
                raise SamError("Invalid value for 'Models' property")
            definitions = body.get("definitions") or {}
            for name, schema in models.items():
                if not schema.get("type"):
                    raise SamError("'Models' schema is missing 'type'.")
                definitions[str(name).lower()] = schema
            body["definitions"] = definitions
        # What the SAM transform leaves for CloudFormation to drop: "NONE" names no scheme,
        # and API Gateway's importer leaves such a method without an authorizer.
        for item in body["paths"].values():
            for method in item.values() if isinstance(item, dict) else ():
                security = method.get("security") if isinstance(method, dict) else None
                if isinstance(security, list):
                    method["security"] = [s for s in security
                                          if not (isinstance(s, dict) and list(s) == ["NONE"])]
        if oas.is_openapi3(body):
            oas.openapi3_postprocess(body)

    def cors(self, cors: Any, body: dict[str, Any]) -> None:
        if isinstance(cors, str) or is_intrinsic(cors):
            spec = {"AllowOrigin": cors}
        elif isinstance(cors, dict):
            for key in cors:
                if key not in _CORS_PROPERTIES:
                    raise SamError(f"Invalid key '{key}' for 'Cors' property.")
            spec = cors
        else:
            raise SamError("Invalid value for 'Cors' property")
        origin = spec.get("AllowOrigin", "'*'")
        if spec.get("AllowCredentials") is True and origin == "'*'":
            raise SamError("Unable to add Cors configuration because 'AllowCredentials' can not "
                           "be true when 'AllowOrigin' is \"'*'\" or not set")
        done: set[str] = set()
        for route in list(body["paths"]):
            normalized = route.rstrip("/") if route != "/" else route
            if normalized in done:
                continue
            done.add(normalized)
            oas.add_cors(body, route, origin, spec.get("AllowHeaders"), spec.get("AllowMethods"),
                         spec.get("MaxAge"), spec.get("AllowCredentials"))

    def auth(self, auth: Any, body: dict[str, Any], stage: Any) -> None:
        if not isinstance(auth, dict) or not all(k in _AUTH_PROPERTIES for k in auth):
            raise SamError("Invalid value for 'Auth' property")
        default = auth.get("DefaultAuthorizer")
        given = auth.get("Authorizers")
        authorizers: dict[str, Any] = {}
        if given:
            if not isinstance(given, dict):
                raise SamError("Property 'Auth.Authorizers' should be a map.")
            schemes = oas.security_schemes(body)
            for name, authorizer in given.items():
                if not isinstance(authorizer, dict):
                    raise SamError(f"Property 'Auth.Authorizers.{name}' should be a map.")
                self.check_authorizer(str(name), authorizer)
                authorizers[name] = authorizer
                uri = {"Fn::Sub": ["arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/"
                                   "2015-03-31/functions/${__FunctionArn__}/invocations",
                                   {"__FunctionArn__": authorizer.get("FunctionArn")}]}
                schemes[name] = oas.authorizer_security_scheme(authorizer, uri)
        if default:
            if not isinstance(default, str):
                raise SamError("DefaultAuthorizer is not a string.")
            if default not in authorizers and default != "AWS_IAM":
                raise SamError(f"Unable to set DefaultAuthorizer because '{default}' was not "
                               "defined in 'Authorizers'.")
            scopes = authorizers.get(default, {}).get("AuthorizationScopes") or []
            preflight = auth.get("AddDefaultAuthorizerToCorsPreflight", True)
            for route in list(body["paths"]):
                oas.set_default_authorizer(body, route, default, authorizers, scopes,
                                           preflight is not False)
        if auth.get("ApiKeyRequired"):
            oas.add_apikey_security_definition(body)
            preflight = auth.get("AddApiKeyRequiredToCorsPreflight", True)
            for route in list(body["paths"]):
                oas.set_default_apikey_required(body, route, preflight is not False)
        policy = auth.get("ResourcePolicy")
        if policy:
            if not isinstance(policy, dict):
                raise SamError("ResourcePolicy must be a map (ResourcePolicyStatement).")
            for route in list(body["paths"]):
                oas.add_resource_policy(body, policy, route, stage)
            if policy.get("CustomStatements"):
                oas.add_custom_statements(body, policy["CustomStatements"])

    @staticmethod
    def check_authorizer(name: str, authorizer: dict[str, Any]) -> None:
        payload = authorizer.get("FunctionPayloadType")
        if payload not in (None, "TOKEN", "REQUEST"):
            raise SamError(f"{name} Authorizer has invalid 'FunctionPayloadType': {payload}.")
        identity = authorizer.get("Identity")
        if identity is not None and not isinstance(identity, dict):
            raise SamError("Auth.Authorizers.<Authorizer>.Identity must be a dict "
                           "(LambdaTokenAuthorizationIdentity, LambdaRequestAuthorizationIdentity "
                           "or CognitoAuthorizationIdentity).")
        if payload == "REQUEST" and not authorizer.get("UserPoolArn"):
            identity = identity or {}
            sources = any(identity.get(k) for k in ("Headers", "QueryStrings", "StageVariables",
                                                    "Context"))
            ttl = identity.get("ReauthorizeEvery")
            if not sources and not (ttl is not None and str(ttl) == "0"):
                raise SamError(f"{name} Authorizer must specify Identity with at least one of "
                               "Headers, QueryStrings, StageVariables, or Context.")
            for key in ("Headers", "QueryStrings", "StageVariables", "Context"):
                items = identity.get(key)
                if items is not None and not (isinstance(items, list) and
                                              all(isinstance(i, str) for i in items)):
                    raise SamError(f"Property 'Auth.Authorizers.{name}.Identity.{key}' should be "
                                   "a list of strings.")
        if not authorizer.get("UserPoolArn") and not authorizer.get("FunctionArn"):
            raise SamError(f"{name} Authorizer needs FunctionArn (a Lambda authorizer) or "
                           "UserPoolArn (Cognito)")
        scopes = authorizer.get("AuthorizationScopes")
        if scopes is not None and not isinstance(scopes, list):
            raise SamError(f"Property 'Authorizers.{name}.AuthorizationScopes' should be a list.")

    def gateway_responses(self, responses: Any, body: dict[str, Any]) -> None:
        if not isinstance(responses, dict):
            raise SamError("GatewayResponses must be a mapping")
        out = body.get("x-amazon-apigateway-gateway-responses") or {}
        for kind, response in responses.items():
            if not isinstance(response, dict):
                raise SamError(f"Invalid property type '{describe(response)}' for "
                               "GatewayResponses. Expected an object of type 'GatewayResponse'.")
            for key in response:
                if key not in _GATEWAY_RESPONSE_PROPERTIES:
                    raise SamError(f"Invalid property '{key}' in 'GatewayResponses' property "
                                   f"'{kind}'.")
            parameters = response.get("ResponseParameters") or {}
            if not isinstance(parameters, dict):
                raise SamError(f"Property 'GatewayResponses.{kind}.ResponseParameters' should be "
                               "a map.")
            prefixed: dict[str, Any] = {}
            for group, prefix in (("Headers", "header."), ("Paths", "path."),
                                  ("QueryStrings", "querystring.")):
                values = parameters.get(group) or {}
                if not isinstance(values, dict):
                    raise SamError(f"Property 'ResponseParameters.{group}' should be a map.")
                for key, value in values.items():
                    prefixed[f"gatewayresponse.{prefix}{key}"] = value
            entry: dict[str, Any] = {"responseParameters": prefixed,
                                     "responseTemplates": response.get("ResponseTemplates") or {}}
            if response.get("StatusCode"):
                entry["statusCode"] = str(response["StatusCode"])
            out[kind] = entry
        body["x-amazon-apigateway-gateway-responses"] = out

    def usage_plan(self, api: _Api, stage_id: str) -> None:
        """``ApiGenerator._construct_usage_plan``: PER_API, SHARED or NONE."""
        auth = api.properties.get("Auth")
        if not isinstance(auth, dict) or auth.get("UsagePlan") is None:
            return
        spec = auth["UsagePlan"]
        if not isinstance(spec, dict):
            raise SamError("'UsagePlan' must be a dictionary")
        if not all(k in _USAGE_PLAN_PROPERTIES for k in spec):
            raise SamError("Invalid property for 'UsagePlan'")
        create = spec.get("CreateUsagePlan")
        if create is None:
            raise SamError("'CreateUsagePlan' is a required field for UsagePlan.")
        if create not in ("SHARED", "PER_API", "NONE"):
            raise SamError("'CreateUsagePlan' accepts one of ['SHARED', 'PER_API', 'NONE'].")
        if create == "NONE":
            return
        lid = api.logical_id
        api_stage = {"ApiId": {"Ref": lid}, "Stage": {"Ref": stage_id}}
        auth_at = api.where("Auth")
        # Auth.UsagePlan where the user wrote Auth (the implicit API's path stands for itself)
        where = auth_at if auth_at == api.path else (*auth_at, "UsagePlan")
        if create == "PER_API":
            plan_id, key_id, link_id = f"{lid}UsagePlan", f"{lid}ApiKey", f"{lid}UsagePlanKey"
            plan: dict[str, Any] = {"ApiStages": [api_stage]}
        else:
            plan_id, key_id, link_id = "ServerlessUsagePlan", "ServerlessApiKey", \
                "ServerlessUsagePlanKey"
            if self.shared_plan is None:
                self.shared_plan = {"ApiStages": []}
            plan = self.shared_plan
            if api_stage not in plan["ApiStages"]:
                plan["ApiStages"].append(api_stage)
        for key in ("UsagePlanName", "Description", "Quota", "Throttle"):
            if spec.get(key):
                plan[key] = spec[key]
        renames = {key: (*where, key) for key in ("UsagePlanName", "Description", "Quota",
                                                  "Throttle")}
        self.out.resources[plan_id] = {"Type": "AWS::ApiGateway::UsagePlan", "Properties": plan}
        self.out.sources.resources[plan_id] = Source(where, renames, identity=False)
        self.out.resources[key_id] = {"Type": "AWS::ApiGateway::ApiKey",
                                      "Properties": {"Enabled": True}}
        self.out.sources.resources[key_id] = Source(where, identity=False)
        self.out.resources[link_id] = {"Type": "AWS::ApiGateway::UsagePlanKey", "Properties": {
            "KeyId": {"Ref": key_id}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan_id}}}
        self.out.sources.resources[link_id] = Source(where, identity=False)


def _merge(global_value: Any, local_value: Any) -> Any:
    def token(v: Any) -> str:
        if isinstance(v, dict):
            return "primitive" if is_intrinsic(v) else "dict"
        return "list" if isinstance(v, list) else "primitive"

    kind_global, kind_local = token(global_value), token(local_value)
    if kind_global != kind_local or kind_global == "primitive":
        return local_value
    if kind_global == "list":
        return global_value + local_value
    merged = dict(global_value)
    for key, value in local_value.items():
        merged[key] = _merge(merged[key], value) if key in merged else value
    return merged


def expand_sam(ck: Checker, ev: Evaluator, resources: dict[str, dict[str, Any]],
               globals_section: Any) -> Expanded:
    """The resources with SAM's expanded (see the module docstring). ``ev`` is a static
    evaluator; problems go to ``ck`` with the user's paths."""
    sam = _Sam(ck, ev)
    sam.read_globals(globals_section)
    return sam.run(resources)


def has_sam(resources: dict[str, Any]) -> bool:
    return any(isinstance(r, dict) and str(r.get("Type", "")).startswith("AWS::Serverless::")
               for r in resources.values())
