"""A CloudFormation template (SAM's resources already expanded) as a Sluice config: each
``AWS::ApiGateway::RestApi`` an entry of ``apis`` (its ``id`` the logical id) with the stages of
its ``Stage`` resources and of ``Deployment.StageName``; ``UsagePlan``, ``ApiKey`` and
``UsagePlanKey`` as ``usagePlans`` and ``apiKeys``; ``AWS::Lambda::Function`` as ``functions``.

Also the names a resource's ``Ref`` and ``Fn::GetAtt`` give (``Names``): a RestApi's id is its
logical id, a stage's its ``StageName``, a function's its ``FunctionName`` or logical id, and
its ARN ``arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any

from proxy.config._check import Invalid, PathT, describe, show
from proxy.templates._context import Context, as_bool, as_number, as_text
from proxy.templates.functions import Function, function_entry, function_name
from proxy.templates.restapi import ROOT, api_document, members_of, rest_api_of

__all__ = ["HANDLED_TYPES", "Names", "generated_key_value", "translate_resources"]

HANDLED_TYPES = frozenset({
    "AWS::ApiGateway::RestApi", "AWS::ApiGateway::Resource", "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage", "AWS::ApiGateway::Authorizer",
    "AWS::ApiGateway::Model", "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::GatewayResponse", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::ApiKey",
    "AWS::ApiGateway::UsagePlanKey", "AWS::Lambda::Function", "AWS::Lambda::Alias",
})
# What a deployment needs in AWS and Sluice needs no equivalent of.
_NEEDLESS_TYPES = frozenset({
    "AWS::Lambda::Permission", "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy",
    "AWS::CDK::Metadata", "AWS::ApiGateway::Account", "AWS::Lambda::Version",
    "AWS::Logs::LogGroup",
})

_SETTINGS = {
    "ThrottlingRateLimit": ("throttlingRateLimit", as_number),
    "ThrottlingBurstLimit": ("throttlingBurstLimit", as_number),
    "CachingEnabled": ("cachingEnabled", as_bool),
    "CacheTtlInSeconds": ("cacheTtlInSeconds", as_number),
    "CacheDataEncrypted": ("cacheDataEncrypted", as_bool),
    "MetricsEnabled": ("metricsEnabled", as_bool),
    "LoggingLevel": ("loggingLevel", as_text),
    "DataTraceEnabled": ("dataTraceEnabled", as_bool),
}
_FUNCTION_ARN = re.compile(r":function:([A-Za-z0-9_-]+)")
_ABSENT: Any = object()


def generated_key_value(logical_id: str) -> str:
    """The value of an ``ApiKey`` that gives none: 40 characters (as AWS generates), the same
    for the same logical id on every start, so a client keeps working across restarts."""
    return hashlib.sha256(f"sluice api key {logical_id}".encode()).hexdigest()[:40]


class Names:
    """The ``Namer`` of the evaluator: what ``Ref`` and ``Fn::GetAtt`` give for a resource."""

    __slots__ = ("ctx", "extra_refs", "resolving")

    def __init__(self, ctx: Context | None, extra_refs: dict[str, str]) -> None:
        self.ctx = ctx  # set once the context (which holds the evaluator) exists
        self.extra_refs = extra_refs
        self.resolving: set[str] = set()

    def __call__(self, lid: str, attribute: str | None, path: PathT) -> Any:
        ctx = self.ctx
        assert ctx is not None
        if lid in self.extra_refs:
            lid = self.extra_refs[lid]
        if lid not in ctx.resources:
            ctx.ck.fail(path, f"no resource named {show(lid)} in this template")
        if lid in self.resolving:
            ctx.ck.fail(path, f"{lid} refers to itself")
        self.resolving.add(lid)
        try:
            return self._name(ctx, lid, ctx.type_of(lid), attribute, path)
        finally:
            self.resolving.discard(lid)

    def _name(self, ctx: Context, lid: str, kind: str, attribute: str | None,
              path: PathT) -> Any:
        pseudo = ctx.ev.scope.pseudo
        partition, region, account = (pseudo["AWS::Partition"], pseudo["AWS::Region"],
                                      pseudo["AWS::AccountId"])
        if kind == "AWS::Lambda::Function":
            arn = f"arn:{partition}:lambda:{region}:{account}:function:{function_name(ctx, lid)}"
            if attribute is None:
                return function_name(ctx, lid)
            if attribute == "Arn":
                return arn
        elif kind == "AWS::Lambda::Alias":
            target = ctx.prop(lid, "FunctionName")
            name = ctx.prop(lid, "Name")
            if not str(target).startswith("arn:"):
                target = f"arn:{partition}:lambda:{region}:{account}:function:{target}"
            if attribute in (None, "AliasArn"):
                return f"{target}:{name}"
        elif kind == "AWS::ApiGateway::RestApi":
            if attribute in (None, "RestApiId"):
                return lid
            if attribute == "RootResourceId":
                return ROOT + lid
        elif kind == "AWS::ApiGateway::Stage":
            if attribute is None:
                return ctx.prop(lid, "StageName")
        elif kind == "AWS::ApiGateway::Model":
            if attribute is None:
                return ctx.prop(lid, "Name", default=lid)
        elif kind.startswith("AWS::ApiGateway::"):
            ids = {"Deployment": "DeploymentId", "Authorizer": "AuthorizerId",
                   "Resource": "ResourceId", "ApiKey": "APIKeyId", "UsagePlan": "Id",
                   "RequestValidator": "RequestValidatorId"}
            if attribute is None or attribute == ids.get(kind.rsplit("::", 1)[1]):
                return lid
        elif attribute is None:
            return lid
        elif kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:{partition}:iam::{account}:role/{lid}"
        else:
            # A resource Sluice does not serve: a stand-in of the right shape, enough for an
            # environment variable that names a table or queue.
            service = kind.split("::")[1].lower() if kind.count("::") >= 2 else "unknown"
            if attribute.endswith("Arn"):
                return f"arn:{partition}:{service}:{region}:{account}:{lid}"
            return f"{lid}.{attribute}"
        ctx.ck.fail(path, f"{kind} {lid} has no attribute {show(attribute)} that Sluice knows")


def translate_resources(ctx: Context) -> dict[str, Any]:
    """The Sluice config document of the template's resources (see the module docstring)."""
    apis = list(ctx.of_type("AWS::ApiGateway::RestApi"))
    members = members_of(ctx, apis)
    config: dict[str, Any] = {}
    api_entries: list[dict[str, Any]] = []
    stages = _stages(ctx, apis)
    for api in apis:
        index = len(api_entries)
        doc = api_document(ctx, api, members[api], ("apis", index, "definition"))
        if doc is None:
            continue
        entry: dict[str, Any] = {"id": api, "definition": doc}
        ctx.origin(("apis", index), api)
        ctx.origin(("apis", index, "id"), api)
        api_stages: dict[str, Any] = {}
        for name, (stage_lid, base, stage) in stages.get(api, {}).items():
            api_stages[name] = stage
            _stage_origins(ctx, ("apis", index, "stages", name), stage_lid, base, stage)
        if api_stages:
            entry["stages"] = api_stages
        else:
            ctx.notes.append(f"API {api} has no stage (no AWS::ApiGateway::Stage or Deployment "
                             "StageName), so nothing can call it")
        api_entries.append(entry)
    if api_entries:
        config["apis"] = api_entries
    keys = _api_keys(ctx)
    plans = _usage_plans(ctx, apis, {k["id"] for k in keys})
    if plans:
        config["usagePlans"] = plans
    if keys:
        config["apiKeys"] = keys
    functions = _functions(ctx, api_entries)
    if functions:
        config["functions"] = functions
    _ignored(ctx)
    return config


# --- stages --------------------------------------------------------------------------------


def _stages(ctx: Context, apis: list[str]
            ) -> dict[str, dict[str, tuple[str, tuple[str, ...], dict[str, Any]]]]:
    """API -> stage name -> (the resource, where its settings are, the stage config)."""
    out: dict[str, dict[str, tuple[str, tuple[str, ...], dict[str, Any]]]] = {}
    for lid, resource in ctx.resources.items():
        kind = resource.get("Type")
        if kind == "AWS::ApiGateway::Stage":
            base: tuple[str, ...] = ()
        elif kind == "AWS::ApiGateway::Deployment" and "StageName" in ctx.raw(lid):
            base = ("StageDescription",)
        else:
            continue
        api = rest_api_of(ctx, lid, apis)
        name = ctx.attempt(lid, "StageName")
        if api is None or name is None:
            continue
        name = as_text(name)
        if not isinstance(name, str) or not name:
            ctx.report(lid, ("Properties", "StageName"), f"must be a stage name, got "
                       f"{describe(name)}")
            continue
        if name in out.setdefault(api, {}):
            other = out[api][name][0]
            ctx.report(lid, ("Properties", "StageName"), f"API {api} already has a stage "
                       f"{show(name)} (from {other})")
            continue
        stage = _stage(ctx, lid, base)
        if stage is not None:
            out[api][name] = (lid, base, stage)
    return out


def _stage(ctx: Context, lid: str, base: tuple[str, ...]) -> dict[str, Any] | None:
    try:
        if base:
            props = ctx.prop(lid, *base, default={})
        else:
            given = {k: ctx.prop(lid, k, default=_ABSENT) for k in ctx.raw(lid)}
            props = {k: v for k, v in given.items() if v is not _ABSENT}
    except Invalid:
        return None
    if not isinstance(props, dict):
        ctx.report(lid, ("Properties", *base), f"must be a mapping, got {describe(props)}")
        return None
    stage: dict[str, Any] = {}
    if "Variables" in props:
        variables = props["Variables"]
        stage["variables"] = {str(k): as_text(v) for k, v in variables.items()} if \
            isinstance(variables, dict) else variables
    if "CacheClusterEnabled" in props:
        stage["cacheClusterEnabled"] = as_bool(props["CacheClusterEnabled"])
    if "CacheClusterSize" in props:
        stage["cacheClusterSize"] = as_text(props["CacheClusterSize"])
    settings: dict[str, Any] = {}
    overall = {_SETTINGS[k][0]: _SETTINGS[k][1](v) for k, v in props.items() if k in _SETTINGS}
    if overall:
        settings["*/*"] = overall
    given = props.get("MethodSettings", [])
    if not isinstance(given, list):
        ctx.report(lid, ("Properties", *base, "MethodSettings"), f"must be a list, got "
                   f"{describe(given)}")
        return None
    for i, item in enumerate(given):
        at: tuple[str | int, ...] = ("Properties", *base, "MethodSettings", i)
        if not isinstance(item, dict):
            ctx.report(lid, at, f"must be a mapping, got {describe(item)}")
            return None
        key = _method_settings_key(item)
        if key is None:
            ctx.report(lid, at, "needs ResourcePath (/* for all, / for the root, /~1pets for "
                       "/pets) and HttpMethod (* for all, or GET, POST, ...)")
            return None
        if key in settings and key != "*/*":
            ctx.report(lid, at, f"another entry is also for {show(key)}")
            return None
        entry = settings.setdefault(key, {})
        for name, value in item.items():
            if name in ("ResourcePath", "HttpMethod"):
                continue
            if name not in _SETTINGS:
                ctx.report(lid, (*at, str(name)), f"unknown property {show(name)} (allowed: "
                           f"ResourcePath, HttpMethod, {', '.join(_SETTINGS)})")
                return None
            field_name, convert = _SETTINGS[name]
            entry[field_name] = convert(value)
    if settings:
        stage["methodSettings"] = settings
    log = props.get("AccessLogSetting")
    if isinstance(log, dict) and log.get("Format"):
        stage["accessLogSettings"] = {"format": as_text(log["Format"]), "destination": "stdout"}
        ctx.notes.append(f"{lid}: the access log goes to stdout (AccessLogSetting.DestinationArn "
                         "names a CloudWatch Logs group)")
    elif log is not None and not isinstance(log, dict):
        ctx.report(lid, ("Properties", *base, "AccessLogSetting"), f"must be a mapping, got "
                   f"{describe(log)}")
        return None
    return stage


def _method_settings_key(item: dict[str, Any]) -> str | None:
    resource, method = item.get("ResourcePath"), item.get("HttpMethod")
    if not isinstance(resource, str) or not isinstance(method, str) or \
            not resource.startswith("/"):
        return None
    # "/~1pets~1{id}" (encoded, as the reference asks) or "/pets/{id}"; "/" is the root
    path = resource[1:].replace("~1", "/").lstrip("/")
    return f"{path}/{method.upper() if method != '*' else '*'}"


def _stage_origins(ctx: Context, cpath: PathT, lid: str, base: tuple[str, ...],
                   stage: dict[str, Any]) -> None:
    ctx.origin(cpath, lid, "Properties", *base)
    for key, prop in (("variables", "Variables"), ("cacheClusterEnabled", "CacheClusterEnabled"),
                      ("accessLogSettings", "AccessLogSetting"),
                      ("methodSettings", "MethodSettings")):
        if key in stage:
            ctx.origin((*cpath, key), lid, "Properties", *base, prop, exact=key == "variables")
    given: Any = ctx.raw(lid)
    for part in base:
        given = given.get(part, {}) if isinstance(given, dict) else {}
    settings = given.get("MethodSettings") if isinstance(given, dict) else None
    for i, item in enumerate(settings if isinstance(settings, list) else ()):
        setting_key = _method_settings_key(item) if isinstance(item, dict) else None
        if setting_key is not None:
            key = setting_key
            ctx.origin((*cpath, "methodSettings", key), lid, "Properties", *base,
                       "MethodSettings", i)
            for name, (field_name, _) in _SETTINGS.items():
                if name in item:
                    ctx.origin((*cpath, "methodSettings", key, field_name), lid, "Properties",
                               *base, "MethodSettings", i, name)
    for name, (field_name, _) in _SETTINGS.items():
        if isinstance(given, dict) and name in given:
            ctx.origin((*cpath, "methodSettings", "*/*", field_name), lid, "Properties", *base,
                       name)


# --- usage plans and keys ------------------------------------------------------------------


def _api_keys(ctx: Context) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = []
    for lid in ctx.of_type("AWS::ApiGateway::ApiKey"):
        index = len(keys)
        key: dict[str, Any] = {"id": lid, "name": as_text(ctx.attempt(lid, "Name", default=lid))}
        value = ctx.attempt(lid, "Value")
        if value is None and "Value" not in ctx.raw(lid):
            value = generated_key_value(lid)
            ctx.notes.append(f"API key {lid} has no Value in the template: Sluice uses {value}")
        key["value"] = as_text(value)
        # AWS creates a key disabled unless Enabled is true (CreateApiKey's default).
        key["enabled"] = as_bool(ctx.attempt(lid, "Enabled", default=False))
        description = ctx.attempt(lid, "Description")
        if description is not None:
            key["description"] = as_text(description)
        keys.append(key)
        ctx.origin(("apiKeys", index), lid, "Properties")
        for field_name, prop in (("value", "Value"), ("enabled", "Enabled"), ("name", "Name")):
            ctx.origin(("apiKeys", index, field_name), lid, "Properties", prop)
    return keys


def _usage_plans(ctx: Context, apis: list[str], key_ids: set[str]) -> list[dict[str, Any]]:
    plans: list[dict[str, Any]] = []
    index_of: dict[str, int] = {}
    for lid in ctx.of_type("AWS::ApiGateway::UsagePlan"):
        index = len(plans)
        cpath: PathT = ("usagePlans", index)
        plan: dict[str, Any] = {"id": lid, "name": as_text(ctx.attempt(lid, "UsagePlanName",
                                                                      default=lid))}
        description = ctx.attempt(lid, "Description")
        if description is not None:
            plan["description"] = as_text(description)
        stages = ctx.attempt(lid, "ApiStages", default=[])
        if isinstance(stages, list) and stages:
            plan["apiStages"] = [_plan_stage(ctx, lid, i, s, apis) for i, s in enumerate(stages)]
            for i in range(len(stages)):
                ctx.origin((*cpath, "apiStages", i), lid, "Properties", "ApiStages", i)
        throttle = ctx.attempt(lid, "Throttle")
        if throttle is not None:
            plan["throttle"] = _throttle(throttle)
            ctx.origin((*cpath, "throttle"), lid, "Properties", "Throttle")
        quota = ctx.attempt(lid, "Quota")
        if quota is not None:
            plan["quota"] = {k[0].lower() + k[1:]: (as_number(v) if k != "Period" else v)
                             for k, v in quota.items()} if isinstance(quota, dict) else quota
            ctx.origin((*cpath, "quota"), lid, "Properties", "Quota")
        plans.append(plan)
        index_of[lid] = index
        ctx.origin(cpath, lid, "Properties")
    for lid in ctx.of_type("AWS::ApiGateway::UsagePlanKey"):
        plan_id = ctx.attempt(lid, "UsagePlanId")
        key_id = ctx.attempt(lid, "KeyId")
        kind = ctx.attempt(lid, "KeyType", default="API_KEY")
        if kind != "API_KEY":
            ctx.report(lid, ("Properties", "KeyType"), f"must be API_KEY, got {show(kind)}")
            continue
        if not isinstance(plan_id, str) or plan_id not in index_of:
            ctx.report(lid, ("Properties", "UsagePlanId"), "must refer to an "
                       "AWS::ApiGateway::UsagePlan of this template (!Ref)")
            continue
        if not isinstance(key_id, str) or key_id not in key_ids:
            ctx.report(lid, ("Properties", "KeyId"), "must refer to an AWS::ApiGateway::ApiKey of "
                       "this template (!Ref): Sluice knows only the keys a template or config "
                       "creates")
            continue
        plan = plans[index_of[plan_id]]
        keys = plan.setdefault("apiKeys", [])
        ctx.origin(("usagePlans", index_of[plan_id], "apiKeys", len(keys)), lid, "Properties",
                   "KeyId")
        keys.append(key_id)
    return plans


def _plan_stage(ctx: Context, lid: str, i: int, given: Any, apis: list[str]) -> Any:
    if not isinstance(given, dict):
        return given
    out: dict[str, Any] = {}
    if "ApiId" in given:
        out["apiId"] = given["ApiId"]
        if given["ApiId"] not in apis:
            ctx.report(lid, ("Properties", "ApiStages", i, "ApiId"), "must refer to an "
                       "AWS::ApiGateway::RestApi of this template (!Ref)")
    if "Stage" in given:
        out["stage"] = as_text(given["Stage"])
    throttle = given.get("Throttle")
    if isinstance(throttle, dict):
        out["throttle"] = {str(k): _throttle(v) for k, v in throttle.items()}
    elif throttle is not None:
        out["throttle"] = throttle
    return out


def _throttle(given: Any) -> Any:
    if not isinstance(given, dict):
        return given
    return {k[0].lower() + k[1:]: as_number(v) for k, v in given.items()
            if k in ("RateLimit", "BurstLimit")} | {
        k: v for k, v in given.items() if k not in ("RateLimit", "BurstLimit")}


# --- functions -----------------------------------------------------------------------------


def _functions(ctx: Context, api_entries: list[dict[str, Any]]) -> dict[str, Any]:
    called = _called_functions(api_entries)
    out: dict[str, Any] = {}
    translated: list[Function] = [
        function_entry(ctx, lid, ("functions", function_name(ctx, lid)))
        for lid in ctx.of_type("AWS::Lambda::Function")
    ]
    counts = Counter(f.name for f in translated)
    for function in translated:
        if counts[function.name] > 1:
            ctx.report(function.logical_id, ("Properties", "FunctionName"), "another function of "
                       f"this template is also named {show(function.name)}")
            continue
        if function.unrunnable is not None:
            where, why = function.unrunnable
            if function.name in called:
                ctx.ck.report(where, f"an API calls function {function.name}, but {why}")
            else:
                ctx.ignored.append(f"{function.logical_id} (AWS::Lambda::Function: {why})")
            continue
        if function.entry is not None:
            out[function.name] = function.entry
    return out


def _called_functions(api_entries: list[dict[str, Any]]) -> set[str]:
    """Function names in the Lambda ARNs of the APIs' documents and stage variables."""
    names: set[str] = set()
    stack: list[Any] = list(api_entries)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and ":function:" in node:
            names.update(_FUNCTION_ARN.findall(node))
    return names


def _ignored(ctx: Context) -> None:
    needless: Counter[str] = Counter()
    for lid, resource in ctx.resources.items():
        kind = resource.get("Type")
        if kind in HANDLED_TYPES:
            continue
        if kind in _NEEDLESS_TYPES:
            needless[str(kind)] += 1
        else:
            ctx.ignored.append(f"{lid} ({kind})")
    if needless:
        counted = ", ".join(f"{n} {kind}" for kind, n in sorted(needless.items()))
        ctx.ignored.append(f"{counted} (nothing to do locally)")
