"""Loading the Sluice YAML file (CONTRACT.md section 2) and the definitions it names.

``load_config`` returns a ``Config`` or raises ``ConfigError`` listing every problem found, in
every file, each with the file, the path to the field and what is allowed. It raises nothing
else, whatever the input.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from proxy.config._check import (
    INVALID,
    Checker,
    Field,
    Invalid,
    PathT,
    boolean,
    describe,
    format_path,
    ignored,
    integer,
    list_of,
    map_of,
    nullable,
    number,
    one_of,
    record,
    show,
    string,
    then,
)
from proxy.config._source import read_document
from proxy.config.authorizers import IAM_SECTION, cognito_section
from proxy.config.model import (
    DEFAULT_REGION,
    HTTP_METHODS,
    REGION_PATTERN,
    AccessLogSettings,
    AccountSettings,
    ApiConfig,
    ApiDefinition,
    ApiKey,
    AwsSettings,
    Config,
    FunctionConfig,
    HostPort,
    MethodSettings,
    QuotaSettings,
    ServerSettings,
    StageConfig,
    StorageSettings,
    ThrottleSettings,
    UsagePlan,
    UsagePlanStage,
)
from proxy.config.openapi import load_definition, read_definition, resource_path_error
from proxy.errors import ConfigError, Problem
from proxy.functions.arn import BadFunctionUri, is_lambda_uri, resolve, stage_variables_in

__all__ = ["format_problems", "load_config"]

ENV_STORAGE_URL = "SLUICE_STORAGE_URL"
ENV_LISTEN = "SLUICE_LISTEN"

_DEFAULT_SERVER = ServerSettings()
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})")
_METHODS = ", ".join(HTTP_METHODS)


def _host_port(ck: Checker, path: PathT, value: Any) -> HostPort:
    allowed = "must be HOST:PORT such as 127.0.0.1:8080 (port 0 to 65535)"
    if not isinstance(value, str):
        ck.fail(path, f"{allowed}, got {describe(value)}")
    m = _HOST_PORT.fullmatch(value)
    if m is None or int(m[2]) > 65535:
        ck.fail(path, f"{allowed}, got {show(value)}")
    return HostPort(m[1].strip("[]"), int(m[2]))


def _storage_url(ck: Checker, path: PathT, value: Any) -> str:
    allowed = (
        "must be memory://, redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB] "
        "or redis+cluster://HOST[:PORT]"
    )
    if not isinstance(value, str):
        ck.fail(path, f"{allowed}, got {describe(value)}")
    if value == "memory://":
        return value
    try:
        url = urlsplit(value)
        _ = url.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        ck.fail(path, f"{allowed}, got {show(value)}")
    if url.scheme in ("redis", "rediss"):
        ok = bool(url.hostname) and re.fullmatch(r"/?([0-9]+)?", url.path) is not None
    else:
        ok = url.scheme == "redis+cluster" and bool(url.hostname) and url.path in ("", "/")
    if not ok:
        ck.fail(path, f"{allowed}, got {show(value)}")
    return value


def _distinct_listeners(ck: Checker, path: PathT, values: dict[str, Any]) -> dict[str, Any]:
    listen = values.get("listen", _DEFAULT_SERVER.listen)
    admin = values.get("admin_listen", _DEFAULT_SERVER.admin_listen)
    if listen == admin and listen.port != 0:
        ck.fail((*path, "adminListen"), f"must differ from server.listen ({listen})")
    return values


_CACHE_SIZES = ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")


def _cache_cluster_size(ck: Checker, path: PathT, value: Any) -> str:
    text = value
    if isinstance(value, float) or (
        isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**6
    ):
        text = f"{value:g}"
    result: str = one_of(*_CACHE_SIZES)(ck, path, text)
    return result


def _method_settings_key(ck: Checker, path: PathT, key: str) -> str:
    resource, slash, method = key.rpartition("/")
    if key == "*/*" or (
        slash
        and (method in HTTP_METHODS or method == "*")
        and resource_path_error("/" + resource) is None
    ):
        return key
    ck.fail(
        path,
        'must be "*/*" or "{resource path without the leading /}/{METHOD}" such as "pets/GET" '
        f'or "pets/{{petId}}/*" (the root is "/GET"; METHOD: {_METHODS} or *)',
    )


def _plan_throttle_key(ck: Checker, path: PathT, key: str) -> str:
    resource, slash, method = key.rpartition("/")
    if slash and method in HTTP_METHODS and resource_path_error(resource or "/x") is None:
        return key
    ck.fail(
        path,
        'must be "/{resource path}/{METHOD}" such as "/pets/GET" (the root is "//GET"; '
        f"METHOD: {_METHODS})",
    )


def _default_name(ck: Checker, path: PathT, values: dict[str, Any]) -> dict[str, Any]:
    values.setdefault("name", values["id"])
    return values


_ID = string(r"[A-Za-z0-9_-]+")

_THROTTLE = record(
    {"rateLimit": Field(number(0), True), "burstLimit": Field(integer(0), True)},
    ThrottleSettings,
)

_SERVER = record(
    {
        "listen": Field(_host_port),
        "adminListen": Field(_host_port),
        "workers": Field(integer(1)),
        "adminToken": Field(nullable(string(min_len=1))),
        "shutdownTimeoutSeconds": Field(number(0), to="shutdown_timeout_s"),
        "clientHeaderTimeoutSeconds": Field(number(0.001, 3600), to="client_header_timeout_s"),
        "clientBodyTimeoutSeconds": Field(number(0.001, 3600), to="client_body_timeout_s"),
        "allowOpenAdmin": Field(boolean, to="allow_open_admin"),
    },
    ServerSettings,
    post=_distinct_listeners,
)

_STORAGE = record(
    {
        "url": Field(_storage_url),
        "onError": Field(one_of("allow", "deny")),
        "timeoutMs": Field(integer(1)),
        "nearCacheMb": Field(integer(0, 65536)),
    },
    StorageSettings,
)

_ACCOUNT = record(
    {
        "throttle": Field(
            record(
                {"rateLimit": Field(number(0)), "burstLimit": Field(integer(0))},
                lambda **kw: replace(AccountSettings().throttle, **kw),
            )
        ),
        "maxConcurrency": Field(integer(1)),
    },
    AccountSettings,
)

_METHOD_SETTINGS = record(
    {
        "throttlingRateLimit": Field(number(0)),
        "throttlingBurstLimit": Field(integer(0)),
        "cachingEnabled": Field(boolean),
        "cacheTtlInSeconds": Field(integer(0, 3600)),
        "cacheDataEncrypted": ignored(boolean),
        "requireAuthorizationForCacheControl": Field(boolean),
        "unauthorizedCacheControlHeaderStrategy": Field(
            one_of(
                "FAIL_WITH_403", "SUCCEED_WITH_RESPONSE_HEADER", "SUCCEED_WITHOUT_RESPONSE_HEADER"
            )
        ),
        "metricsEnabled": Field(boolean),
        "loggingLevel": ignored(one_of("OFF", "ERROR", "INFO")),
        "dataTraceEnabled": ignored(boolean),
    },
    MethodSettings,
)

_STAGE = record(
    {
        "variables": Field(
            map_of(
                string(r"[A-Za-z0-9\-._~:/?#&=,]+", max_len=512),
                key=string(r"[A-Za-z0-9_]+", max_len=64),
            )
        ),
        "cacheClusterEnabled": Field(boolean),
        "cacheClusterSize": ignored(_cache_cluster_size),
        "methodSettings": Field(map_of(_METHOD_SETTINGS, key=_method_settings_key)),
        "accessLogSettings": Field(
            record(
                {
                    "format": Field(string(min_len=1), True),
                    "destination": Field(string(min_len=1)),
                },
                AccessLogSettings,
            ),
            to="access_log",
        ),
    }
)

_QUOTA = record(
    {
        "limit": Field(integer(1), True),
        "period": Field(one_of("DAY", "WEEK", "MONTH"), True),
        "offset": Field(integer(0)),
    },
    QuotaSettings,
)

_AWS = record(
    {
        "region": Field(string(REGION_PATTERN, what="a region such as eu-west-1")),
        "accountId": Field(string(r"[0-9]{12}", what="12 digits")),
    },
    AwsSettings,
)

_API_KEY = record(
    {
        "id": Field(_ID, True),
        "name": Field(string()),
        "value": Field(string(min_len=20, max_len=128), True),
        "enabled": Field(boolean),
        "invalidateCache": Field(boolean),
        "description": Field(nullable(string())),
    },
    ApiKey,
    post=_default_name,
)


def _route_problem(definition: ApiDefinition, resource_path: str, method: str) -> str | None:
    for resource in definition.resources:
        if resource.path == resource_path:
            if method == "*" or method in resource.methods or "ANY" in resource.methods:
                return None
            return f"resource {resource_path} has no {method} method"
    return f"no resource {resource_path}"


class _Reader:
    """Reads one config file; holds what later sections check against earlier ones."""

    __slots__ = (
        "api_definitions",
        "base_fs",
        "base_label",
        "checked",
        "definitions",
        "function_names",
        "key_ids",
        "key_plan",
        "stages",
        "user_pools",
    )

    def __init__(self, fs_path: str, label: str, doc: dict[Any, Any]) -> None:
        self.base_fs = os.path.dirname(fs_path)
        self.base_label = os.path.dirname(label)
        self.definitions: dict[str, tuple[str, ApiDefinition] | None] = {}
        self.checked: dict[str, bool] = {}  # definition label: check_definition() found a problem
        # Collected leniently from the raw document, so that an API or key with a bad field
        # elsewhere does not also make every reference to it an error.
        self.stages: dict[str, set[str]] = {}
        for api in _dicts(doc.get("apis")):
            if isinstance(api.get("id"), str):
                stages = api.get("stages")
                names = (
                    {k for k in stages if isinstance(k, str)} if isinstance(stages, dict) else set()
                )
                self.stages.setdefault(api["id"], set()).update(names)
        self.key_ids = {k["id"] for k in _dicts(doc.get("apiKeys")) if isinstance(k.get("id"), str)}
        functions = doc.get("functions")
        self.function_names = (
            {k for k in functions if isinstance(k, str)} if isinstance(functions, dict) else set()
        )
        self.key_plan: dict[tuple[str, str, str], str] = {}
        self.api_definitions: dict[str, tuple[str, ApiDefinition]] = {}
        # cognito.userPools keys, read leniently: a bad pool entry is reported once, there
        pools = doc.get("cognito")
        pools = pools.get("userPools") if isinstance(pools, dict) else None
        self.user_pools = {k for k in pools if isinstance(k, str)} if isinstance(pools, dict) \
            else set()

    def document(self) -> Any:
        return record(
            {
                "server": Field(_SERVER),
                "storage": Field(_STORAGE),
                "account": Field(_ACCOUNT),
                "apis": Field(then(list_of(self.api(), unique={"id": lambda a: a.id}),
                                   _some_apis), required=True),
                "apiKeys": Field(
                    list_of(_API_KEY, unique={"id": lambda k: k.id, "value": lambda k: k.value})
                ),
                "usagePlans": Field(list_of(self.plan(), unique={"id": lambda p: p.id})),
                "functions": Field(map_of(self.function(), key=_FUNCTION_NAME)),
                "aws": Field(_AWS),
                "cognito": Field(cognito_section(self.base_fs, self.base_label)),
                "iam": Field(IAM_SECTION),
            },
        )

    # --- apis ----------------------------------------------------------------------------

    def api(self) -> Any:
        return record(
            {
                "id": Field(_ID, True),
                "definition": Field(self.definition, True),
                "stages": Field(map_of(_STAGE, key=string(r"[A-Za-z0-9_-]+", max_len=128))),
            },
            post=self.api_post,
        )

    def definition(self, ck: Checker, path: PathT, value: Any) -> tuple[str, ApiDefinition]:
        if isinstance(value, dict):
            return self.document_definition(ck, path, value)
        relative: str = string(min_len=1)(ck, path, value)
        label = os.path.normpath(os.path.join(self.base_label, relative))
        if label in self.definitions:
            known = self.definitions[label]
            if known is None:
                raise Invalid  # its problems are already listed
            return known
        self.definitions[label] = None
        fs_path = os.path.join(self.base_fs, relative)
        if not os.path.isfile(fs_path):
            ck.fail(path, f"no such file: {label} (paths are relative to the config file)")
        try:
            loaded = (label, load_definition(fs_path, file_label=label))
        except ConfigError as e:
            ck.problems.extend(e.problems)
            raise Invalid from None
        self.definitions[label] = loaded
        return loaded

    @staticmethod
    def document_definition(ck: Checker, path: PathT, doc: dict[Any, Any]
                            ) -> tuple[str, ApiDefinition]:
        """An OpenAPI document given in place of a file name (a template's API, translated
        by ``proxy.templates``); its problems name it ``CONFIG#apis[i].definition``."""
        label = f"{ck.file}#{format_path(path)}"
        inner = Checker(label)
        try:
            return label, read_definition(inner, doc)
        except Invalid:
            ck.problems.extend(inner.problems)
            raise

    def api_post(self, ck: Checker, path: PathT, values: dict[str, Any]) -> ApiConfig:
        label, definition = values["definition"]
        self.api_definitions.setdefault(values["id"], values["definition"])
        stages: dict[str, StageConfig] = {}
        bad = False
        for name, stage in values.get("stages", {}).items():
            for key in stage.get("method_settings", {}):
                if key == "*/*":
                    continue
                resource, _, method = key.rpartition("/")
                problem = _route_problem(definition, "/" + resource, method)
                if problem:
                    where = (*path, "stages", name, "methodSettings", key)
                    ck.report(where, f"{problem} in {label}")
                    bad = True
            stages[name] = StageConfig(name, **stage)
        bad = self.check_definition(ck, label, definition) or bad
        if bad:
            raise Invalid
        return ApiConfig(values["id"], label, definition, MappingProxyType(stages))

    def check_definition(self, ck: Checker, label: str, definition: ApiDefinition) -> bool:
        """The definition's references to ``functions`` and ``cognito.userPools``, checked
        once per definition (as it is loaded once): APIs sharing a file get its problems
        once. True if any."""
        if label not in self.checked:
            self.checked[label] = (self.check_function_uris(ck, label, definition)
                                   | self.check_authorizers(ck, label, definition))
        return self.checked[label]

    def function_problem(self, uri: str) -> str | None:
        """Why a Lambda URI without stage variables names no configured function, or None."""
        try:
            name = resolve(uri).name
        except BadFunctionUri as e:
            return str(e)
        if name in self.function_names:
            return None
        known = ", ".join(sorted(self.function_names)) or "none"
        return f"names function {show(name)}, which is not in functions (names: {known})"

    def check_function_uris(self, ck: Checker, label: str, definition: ApiDefinition) -> bool:
        """Report Lambda integration URIs that name no configured function; True if any.
        A name that comes from a stage variable is looked up per request instead (a 500 when
        unknown, as AWS answers a missing function)."""
        bad = False
        for resource in definition.resources:
            for method in resource.methods.values():
                integration = method.integration
                uri = integration.uri or ""
                if integration.type not in ("AWS", "AWS_PROXY"):
                    continue
                if integration.type == "AWS" and not is_lambda_uri(uri):
                    continue  # another AWS service
                key = ("x-amazon-apigateway-any-method" if method.http_method == "ANY"
                       else method.http_method.lower())
                where = format_path(("paths", resource.path, key,
                                     "x-amazon-apigateway-integration", "uri"))
                problem = None
                if stage_variables_in(uri):
                    # whatever the variables hold, the rest must be a Lambda invocation (no
                    # variable can make or break ":lambda:path/": test the URI as written)
                    if not is_lambda_uri(uri) and uri[:2] != "${":
                        problem = (f"{integration.type} integrations invoke a Lambda function: "
                                   "uri must be arn:aws:apigateway:{region}:lambda:path/...")
                else:
                    problem = self.function_problem(uri)
                if problem is not None:
                    ck.problems.append(Problem(label, where, problem))
                    bad = True
        return bad

    def check_authorizers(self, ck: Checker, label: str, definition: ApiDefinition) -> bool:
        """Report Lambda authorizers naming no configured function and Cognito authorizers
        naming a user pool that ``cognito.userPools`` lacks (CONTRACT 8); True if any."""
        bad = False
        for authorizer in definition.authorizers.values():
            at: PathT = (*definition.security_schemes_at, authorizer.name,
                         "x-amazon-apigateway-authorizer")
            uri = authorizer.authorizer_uri
            if uri is None or stage_variables_in(uri):
                continue  # a name from a stage variable is looked up per request (500)
            problem = self.function_problem(uri)
            if problem is not None:
                ck.problems.append(Problem(label, format_path((*at, "authorizerUri")), problem))
                bad = True
        known_pools = ", ".join(sorted(self.user_pools)) or "none"
        for authorizer in definition.authorizers.values():
            for i, arn in enumerate(authorizer.provider_arns):
                if arn in self.user_pools:
                    continue
                at = (*definition.security_schemes_at, authorizer.name,
                      "x-amazon-apigateway-authorizer", "providerARNs", i)
                ck.problems.append(Problem(label, format_path(at), (
                    f"user pool {arn} is not in cognito.userPools of {ck.file}, which gives "
                    f"each pool its JWKS (pools: {known_pools})")))
                bad = True
        return bad

    # --- functions -----------------------------------------------------------------------

    def function(self) -> Any:
        return record(
            {
                "handler": Field(string(_HANDLER, what="module.function such as app.handler")),
                "command": Field(list_of(string(min_len=1)), to="command"),
                "endpoint": Field(_endpoint),
                "codeUri": Field(string(min_len=1), to="code_uri"),
                "runtime": Field(nullable(string(r"[a-z][a-z0-9.]*",
                                                 what="a Lambda runtime such as python3.11"))),
                "interpreter": Field(nullable(string(min_len=1))),
                "environment": Field(map_of(_env_value, key=_env_key)),
                "timeout": Field(integer(1, 900), to="timeout_s"),
                "memorySize": Field(integer(128, 10240)),
                "reservedConcurrency": Field(nullable(integer(0))),
            },
            post=self.function_post,
        )

    def function_post(self, ck: Checker, path: PathT, values: dict[str, Any]) -> FunctionConfig:
        name = path[-1]
        kinds = [k for k in ("handler", "command", "endpoint") if values.get(k)]
        if len(kinds) != 1:
            got = " and ".join(kinds) if kinds else "none"
            ck.fail(path, f"needs exactly one of handler, command or endpoint, got {got}")
        if "command" in values and not values["command"]:
            ck.fail((*path, "command"), "must not be empty")
        if kinds == ["endpoint"]:
            extra = [f for f in ("codeUri", "runtime", "interpreter", "environment")
                     if {"codeUri": "code_uri"}.get(f, f) in values]
            if extra:
                ck.fail((*path, extra[0]), "does not apply to an endpoint function")
            return FunctionConfig(str(name), **values)
        relative = values.get("code_uri", ".")
        code_fs = os.path.normpath(os.path.join(self.base_fs, relative))
        code_label = os.path.normpath(os.path.join(self.base_label, relative))
        if not os.path.isdir(code_fs):
            ck.fail((*path, "codeUri"),
                    f"no such directory: {code_label} (paths are relative to the config file)")
        values["code_uri"] = os.path.abspath(code_fs)
        runtime = values.get("runtime")
        if kinds == ["handler"]:
            if runtime is not None and not _PYTHON_RUNTIME.fullmatch(runtime):
                ck.fail((*path, "runtime"),
                        f"handler functions run Python: must be python3.x, got {show(runtime)} "
                        "(other runtimes: use command with the runtime's bootstrap)")
            module = values["handler"].rsplit(".", 1)[0].replace(".", "/")
            if not any(os.path.isfile(os.path.join(code_fs, module + tail))
                       for tail in (".py", "/__init__.py")):
                ck.fail((*path, "handler"),
                        f"no module {show(module.replace('/', '.'))} in {code_label} "
                        f"(looked for {module}.py and {module}/__init__.py)")
            interpreter = values.get("interpreter")
            if interpreter is not None:
                values["interpreter"] = self.executable(ck, (*path, "interpreter"), interpreter,
                                                        self.base_fs)
        else:
            if "interpreter" in values:
                ck.fail((*path, "interpreter"), "applies to handler functions only")
            command = list(values["command"])
            command[0] = self.executable(ck, (*path, "command", 0), command[0], code_fs)
            values["command"] = tuple(command)
        return FunctionConfig(str(name), **values)

    @staticmethod
    def executable(ck: Checker, path: PathT, program: str, base: str) -> str:
        """A program's absolute path: relative to ``base`` when it has a slash, else on PATH."""
        found = (os.path.abspath(os.path.join(base, program)) if "/" in program
                 else shutil.which(program))
        if found is None or not os.path.isfile(found):
            ck.fail(path, f"no such program: {program}" + (
                "" if "/" in program else " on PATH"))
        if not os.access(found, os.X_OK):
            ck.fail(path, f"not executable: {program}")
        return found

    # --- usage plans ---------------------------------------------------------------------

    def plan(self) -> Any:
        api_stage = record(
            {
                "apiId": Field(_ID, True),
                "stage": Field(string(min_len=1), True),
                "throttle": Field(map_of(_THROTTLE, key=_plan_throttle_key)),
            },
            UsagePlanStage,
            post=self.api_stage_post,
        )
        return record(
            {
                "id": Field(_ID, True),
                "name": Field(string()),
                "description": Field(nullable(string())),
                "apiStages": Field(
                    list_of(api_stage, unique={"": lambda s: f"{s.api_id}/{s.stage}"})
                ),
                "throttle": Field(_THROTTLE),
                "quota": Field(_QUOTA),
                "apiKeys": Field(list_of(self.key_ref, unique={"": lambda k: k})),
            },
            UsagePlan,
            post=self.plan_post,
        )

    def api_stage_post(self, ck: Checker, path: PathT, values: dict[str, Any]) -> dict[str, Any]:
        api_id, stage = values["api_id"], values["stage"]
        if api_id not in self.stages:
            known = ", ".join(sorted(self.stages)) or "none"
            ck.fail((*path, "apiId"), f"no API with id {show(api_id)} in apis (ids: {known})")
        if stage not in self.stages[api_id]:
            known = ", ".join(sorted(self.stages[api_id])) or "none"
            ck.fail((*path, "stage"), f"API {api_id} has no stage {show(stage)} (stages: {known})")
        bad = False
        for key in values.get("throttle", {}) if api_id in self.api_definitions else ():
            label, api = self.api_definitions[api_id]
            resource, _, method = key.rpartition("/")
            problem = _route_problem(api, resource or "/", method)
            if problem:
                ck.report((*path, "throttle", key), f"{problem} in {label}")
                bad = True
        if bad:
            raise Invalid
        return values

    def key_ref(self, ck: Checker, path: PathT, value: Any) -> str:
        key: str = _ID(ck, path, value)
        if key not in self.key_ids:
            known = ", ".join(sorted(self.key_ids)) or "none"
            ck.fail(path, f"no API key with id {show(key)} in apiKeys (ids: {known})")
        return key

    def plan_post(self, ck: Checker, path: PathT, values: dict[str, Any]) -> dict[str, Any]:
        values = _default_name(ck, path, values)
        plan = values["id"]
        bad = False
        for stage in values.get("api_stages", ()):
            for j, key in enumerate(values.get("api_keys", ())):
                owner = self.key_plan.setdefault((stage.api_id, stage.stage, key), plan)
                if owner != plan:
                    ck.report(
                        (*path, "apiKeys", j),
                        f"API key {key} is already in usage plan {owner} for "
                        f"{stage.api_id}/{stage.stage}; AWS allows one usage plan per key "
                        "per API stage",
                    )
                    bad = True
        if bad:
            raise Invalid
        return values


def _some_apis(ck: Checker, path: PathT, apis: tuple[ApiConfig, ...]) -> tuple[ApiConfig, ...]:
    # with no API every request would be a 403: say so at load instead
    if not apis:
        ck.fail(path, "must list at least one API (id, definition, stages)")
    return apis


_FUNCTION_NAME = string(r"[A-Za-z0-9_-]{1,64}", what="a function name of 1-64 A-Z a-z 0-9 _ -")
_HANDLER = r"[A-Za-z_][A-Za-z0-9_]*(?:[./][A-Za-z_][A-Za-z0-9_]*)*\.[A-Za-z_][A-Za-z0-9_]*"
_PYTHON_RUNTIME = re.compile(r"python3\.[0-9]{1,2}")
# Lambda refuses these in Environment.Variables ("reserved keys"): it sets them itself.
_RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})


def _env_key(ck: Checker, path: PathT, key: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]+", key):
        ck.fail(path, "must be a variable name: a letter, then letters, digits or _ "
                      "(at least 2 characters)")
    if key in _RESERVED_ENV:
        ck.fail(path, "is reserved: Lambda sets it for the function")
    return key


def _env_value(ck: Checker, path: PathT, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    ck.fail(path, f"must be a string, got {describe(value)}")


def _endpoint(ck: Checker, path: PathT, value: Any) -> str:
    allowed = ("must be http://HOST:PORT of a Lambda Invoke API server (optionally with the "
               "full /2015-03-31/functions/NAME/invocations path)")
    if not isinstance(value, str):
        ck.fail(path, f"{allowed}, got {describe(value)}")
    try:
        url = urlsplit(value)
        _ = url.port
    except ValueError:
        ck.fail(path, f"{allowed}, got {show(value)}")
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        ck.fail(path, f"{allowed}, got {show(value)}")
    return value


def _dicts(value: Any) -> list[dict[Any, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read and check the Sluice config file at ``path`` and every definition it names.

    ``env`` (default ``os.environ``) may override ``storage.url`` (``SLUICE_STORAGE_URL``)
    and ``server.listen`` (``SLUICE_LISTEN``). Raises ``ConfigError`` with every problem.
    """
    # Imported here: proxy.templates reads with proxy.config's own modules, so importing it
    # while proxy.config initialises would be circular.
    from proxy.templates import TemplateLoader, prepare_document

    label = os.fspath(path)
    env = os.environ if env is None else env
    problems: list[Problem] = []
    overrides = _env_overrides(env, problems)
    region = _env_region(env)
    config: Config | None = None
    try:
        # a template (CONTRACT 9), or a config naming templates, becomes a config document;
        # its AWS::Region defaults to the region a plain config would have
        doc, origins = prepare_document(read_document(path, label, TemplateLoader), label, env,
                                        region=region)
    except ConfigError as e:
        problems[:0] = e.problems
        raise ConfigError(problems) from None
    ck = Checker(label)
    if doc is None:
        ck.report((), "is empty: expected a mapping with apis (and server, storage, ...)")
    else:
        reader = _Reader(label, label, doc if isinstance(doc, dict) else {})
        values = ck.attempt(reader.document(), (), doc)
        if values is not INVALID:
            values["aws"] = _default_region(values.get("aws", AwsSettings()), doc, region)
            config = Config(label, **values)
    if ck.problems or problems or config is None:
        found = ck.problems + problems
        raise ConfigError(found if origins is None else origins.rewrite(found, label))
    if "url" in overrides:
        config = replace(config, storage=replace(config.storage, url=overrides["url"]))
    if "listen" in overrides:
        config = replace(config, server=replace(config.server, listen=overrides["listen"]))
    return config


def _env_region(env: Mapping[str, str]) -> str:
    """The region when no file names one: the environment's AWS_REGION or AWS_DEFAULT_REGION
    (as the AWS CLI and SDKs read them), else us-east-1."""
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    return region if re.fullmatch(REGION_PATTERN, region) else DEFAULT_REGION  # not a region


def _default_region(aws: AwsSettings, doc: dict[str, Any], region: str) -> AwsSettings:
    """``aws.region`` when the file sets it, else ``region`` (``_env_region``)."""
    section = doc.get("aws")
    if isinstance(section, dict) and "region" in section:
        return aws
    return replace(aws, region=region)


def _env_overrides(env: Mapping[str, str], problems: list[Problem]) -> dict[str, Any]:
    ck = Checker("environment")
    out: dict[str, Any] = {}
    for var, attr, kind in (
        (ENV_STORAGE_URL, "url", _storage_url),
        (ENV_LISTEN, "listen", _host_port),
    ):
        raw = env.get(var)
        if raw:  # an empty variable counts as unset, as in most shells' idiom
            value = ck.attempt(kind, (var,), raw)
            if value is not INVALID:
                out[attr] = value
    problems.extend(ck.problems)
    return out


def format_problems(err: ConfigError) -> str:
    """One line per problem: ``FILE: PATH: what is allowed`` (for ``sluice validate``)."""
    return "\n".join(str(p) for p in err.problems)
