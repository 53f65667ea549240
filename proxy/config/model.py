"""The configuration, as frozen slotted dataclasses.

Two sources feed it: the Sluice YAML file (``Config`` and below) and each API's OpenAPI or
Swagger definition (``ApiDefinition`` and below). Field names are the snake_case forms of the
AWS camelCase names, so ``throttlingRateLimit`` is ``throttling_rate_limit``. Everything here is
validated by ``proxy.config.loader``; these classes only hold values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from cache.policy import CacheControlStrategy
from proxy.auth.lambda_authorizer import IdentitySource
from proxy.auth.policy import AuthKind, PolicyDocument
from proxy.config.validators import MethodValidation
from ratelimit.limiter import OnError
from ratelimit.quota import QuotaPeriod

IntegrationType = Literal["HTTP_PROXY", "HTTP", "MOCK", "AWS_PROXY", "AWS"]
PassthroughBehavior = Literal["WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"]
# declared once where they are decided: the limiter's and the cache's own modules
OnStoreError = OnError
ApiKeySource = Literal["HEADER", "AUTHORIZER"]

HTTP_METHODS: tuple[str, ...] = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

EMPTY: Mapping[str, str] = MappingProxyType({})
# A mappingproxy is unhashable, so dataclasses refuse it as a plain default (ValueError
# "mutable default"); the read-only mapping fields use ``field(default_factory=lambda: EMPTY)``.

DEFAULT_TIMEOUT_MS = 29_000
MIN_TIMEOUT_MS = 50
MAX_TIMEOUT_MS = 29_000


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # IPv6
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    rate_limit: float
    burst_limit: int


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    limit: int
    period: QuotaPeriod
    offset: int = 0


# --- the Sluice file ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerSettings:
    listen: HostPort = HostPort("127.0.0.1", 8080)
    admin_listen: HostPort = HostPort("127.0.0.1", 8081)
    workers: int = 1
    admin_token: str | None = None
    # SIGTERM: how long in-flight requests may run before they are cancelled.
    shutdown_timeout_s: float = 30.0
    # A connection must deliver a whole request head within this long of opening or of its
    # previous response (so it is also the idle keep-alive timeout); nginx's
    # client_header_timeout is 60 s. AWS documents none for REST APIs.
    client_header_timeout_s: float = 60.0
    # A request body read whole before the integration (up to 256 KiB) must arrive within this
    # long, else 408 and the connection is closed (nginx's client_body_timeout is 60 s, between
    # reads; a whole-body bound also stops a client that trickles a byte a second).
    client_body_timeout_s: float = 60.0
    # The admin API on a non-loopback address without adminToken is refused unless this is set.
    allow_open_admin: bool = False


@dataclass(frozen=True, slots=True)
class StorageSettings:
    url: str = "memory://"
    on_error: OnStoreError = "allow"
    # Every store call is bounded by this, so a dead store never hangs a request.
    timeout_ms: int = 250
    # Per process: cache entries read from Redis kept in memory, coherent through Redis
    # invalidation messages (cache/storage/tracking.py); 0 turns it off. Not on a cluster.
    near_cache_mb: int = 32


@dataclass(frozen=True, slots=True)
class AccountSettings:
    throttle: ThrottleSettings = ThrottleSettings(10_000.0, 5_000)
    max_concurrency: int = 5_000


@dataclass(frozen=True, slots=True)
class MethodSettings:
    """One ``methodSettings`` entry; ``None`` means "not set here" (inherit)."""

    throttling_rate_limit: float | None = None
    throttling_burst_limit: int | None = None
    caching_enabled: bool | None = None
    cache_ttl_in_seconds: int | None = None
    require_authorization_for_cache_control: bool | None = None
    unauthorized_cache_control_header_strategy: CacheControlStrategy | None = None
    metrics_enabled: bool | None = None


DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # the account a config or template names by default
REGION_PATTERN = r"[a-z]{2}(-[a-z]+)+-[0-9]+"  # a region name such as eu-west-1


@dataclass(frozen=True, slots=True)
class AwsSettings:
    """``aws:``: the region and account the gateway stands for, in every ARN it makes or checks
    (method ARNs for authorizers and resource policies, ``$context.accountId``, the Lambda
    context, the SigV4 credential scope)."""

    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID


@dataclass(frozen=True, slots=True)
class AccessLogSettings:
    format: str
    destination: str = "stdout"


@dataclass(frozen=True, slots=True)
class StageConfig:
    name: str
    variables: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    cache_cluster_enabled: bool = False
    method_settings: Mapping[str, MethodSettings] = field(default_factory=dict)
    access_log: AccessLogSettings | None = None


@dataclass(frozen=True, slots=True)
class UsagePlanStage:
    api_id: str
    stage: str
    # keys "/{resourcePath}/{METHOD}", e.g. "/pets/GET"; the root is "//GET"
    throttle: Mapping[str, ThrottleSettings] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UsagePlan:
    id: str
    name: str
    api_stages: tuple[UsagePlanStage, ...] = ()
    throttle: ThrottleSettings | None = None
    quota: QuotaSettings | None = None
    api_keys: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    value: str
    name: str = ""
    enabled: bool = True
    invalidate_cache: bool = False
    description: str | None = None


# --- who may call (CONTRACT section 8; read by proxy.config.authorizers) -------------------

AuthorizerType = Literal["TOKEN", "REQUEST", "COGNITO_USER_POOLS", "AWS_IAM"]
AuthorizationType = AuthKind  # a method's authorizationType, as the decision tables read it

DEFAULT_TTL_SECONDS = 300  # authorizerResultTtlInSeconds when unset (spec 11.1)


@dataclass(frozen=True, slots=True)
class AuthorizerDef:
    """One authorizer, named by its security scheme (AWS's ``Authorizer`` resource)."""

    name: str
    type: AuthorizerType
    authorizer_uri: str | None = None
    authorizer_credentials: str | None = None
    identity_source: tuple[IdentitySource, ...] = ()
    identity_validation_expression: str | None = None
    result_ttl_seconds: int = DEFAULT_TTL_SECONDS  # 0: results are not cached
    provider_arns: tuple[str, ...] = ()

    @property
    def validation(self) -> re.Pattern[str] | None:
        expression = self.identity_validation_expression
        return None if expression is None else re.compile(expression)


@dataclass(frozen=True, slots=True)
class MethodAuthorization:
    """A method's ``authorizationType``, authorizer, ``apiKeyRequired`` and scopes."""

    authorization_type: AuthorizationType = "NONE"
    authorizer: AuthorizerDef | None = None
    api_key_required: bool = False
    authorization_scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UserPoolConfig:
    arn: str
    jwks: str  # an http(s) URL, or a file path made absolute at load


@dataclass(frozen=True, slots=True)
class CognitoSettings:
    user_pools: Mapping[str, UserPoolConfig] = field(
        default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class IamCredential:
    access_key_id: str
    secret_access_key: str = field(repr=False)  # never in a repr, a log or a message
    user_arn: str = ""
    user_id: str = ""  # $context.identity.user; the access key id when not given


@dataclass(frozen=True, slots=True)
class IamSettings:
    credentials: tuple[IamCredential, ...] = ()


# --- an OpenAPI definition ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntegrationResponse:
    selection_pattern: str | None  # None for the "default" entry
    status_code: int
    response_parameters: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    response_templates: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    content_handling: str | None = None  # CONVERT_TO_BINARY | CONVERT_TO_TEXT


@dataclass(frozen=True, slots=True)
class Integration:
    type: IntegrationType
    uri: str | None = None
    http_method: str | None = None
    request_parameters: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    request_templates: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    responses: tuple[IntegrationResponse, ...] = ()
    passthrough_behavior: PassthroughBehavior = "WHEN_NO_MATCH"
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    cache_namespace: str | None = None
    cache_key_parameters: tuple[str, ...] = ()
    content_handling: str | None = None
    tls_insecure_skip_verification: bool = False


@dataclass(frozen=True, slots=True)
class Method:
    http_method: str  # one of HTTP_METHODS or "ANY"
    integration: Integration
    # AWS's authorizationType, authorizer and apiKeyRequired
    authorization: MethodAuthorization = MethodAuthorization()
    # "method.request.querystring.type" -> required
    request_parameters: Mapping[str, bool] = field(default_factory=dict)
    operation_id: str | None = None
    # its request validator and request models (None: not validated)
    validation: MethodValidation | None = None

    @property
    def api_key_required(self) -> bool:
        return self.authorization.api_key_required


@dataclass(frozen=True, slots=True)
class Resource:
    path: str  # "/", "/pets", "/pets/{petId}", "/{proxy+}"
    methods: Mapping[str, Method] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GatewayResponseDef:
    response_type: str
    status_code: int | None = None
    response_parameters: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    response_templates: Mapping[str, str] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class ApiDefinition:
    title: str
    resources: tuple[Resource, ...] = ()
    gateway_responses: Mapping[str, GatewayResponseDef] = field(default_factory=dict)
    api_key_source: ApiKeySource = "HEADER"
    binary_media_types: tuple[str, ...] = ()
    minimum_compression_size: int | None = None
    # the securitySchemes that are authorizers, by name; x-amazon-apigateway-policy
    authorizers: Mapping[str, AuthorizerDef] = field(default_factory=lambda: MappingProxyType({}))
    policy: PolicyDocument | None = None
    # where the schemes are in the document, for messages about them
    security_schemes_at: tuple[str, ...] = field(
        default=("components", "securitySchemes"), compare=False)


# --- functions (CONTRACT.md section 7) ---------------------------------------------------

DEFAULT_FUNCTION_TIMEOUT_S = 3  # AWS's default
DEFAULT_MEMORY_SIZE_MB = 128


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    """One ``functions:`` entry. Exactly one of ``handler`` (a Python ``module.function`` run
    under awslambdaric), ``command`` (any Runtime API bootstrap) or ``endpoint`` (a server of
    the Lambda Invoke API) is set. Paths are absolute, resolved against the config file."""

    name: str
    handler: str | None = None
    command: tuple[str, ...] = ()
    endpoint: str | None = None
    code_uri: str = "."  # the working directory and LAMBDA_TASK_ROOT
    runtime: str | None = None  # "python3.11"; None: the gateway's own Python version
    interpreter: str | None = None  # None: the gateway's own Python
    environment: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    timeout_s: int = DEFAULT_FUNCTION_TIMEOUT_S
    memory_size: int = DEFAULT_MEMORY_SIZE_MB
    reserved_concurrency: int | None = None  # None: unreserved


# --- the whole file ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiConfig:
    id: str
    definition_path: str
    definition: ApiDefinition
    stages: Mapping[str, StageConfig]


@dataclass(frozen=True, slots=True)
class Config:
    source: str  # the file it was read from
    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    account: AccountSettings = AccountSettings()
    apis: tuple[ApiConfig, ...] = ()
    usage_plans: tuple[UsagePlan, ...] = ()
    api_keys: tuple[ApiKey, ...] = ()
    functions: Mapping[str, FunctionConfig] = field(default_factory=dict)
    aws: AwsSettings = AwsSettings()
    cognito: CognitoSettings = CognitoSettings()
    iam: IamSettings = IamSettings()
