"""The Sluice config file: values, defaults, env overrides and every rejection message."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.config import (
    AccountSettings,
    HostPort,
    ServerSettings,
    StorageSettings,
    format_problems,
    load_config,
)
from proxy.config._source import MAX_DOCUMENT_BYTES
from proxy.config.model import Config, MethodSettings, ThrottleSettings
from proxy.errors import ConfigError

DATA = Path(__file__).parent.parent / "data"
EXAMPLE = yaml.safe_load((DATA / "sluice.yaml").read_text())
MS = ("apis", 0, "stages", "prod", "methodSettings")
PLAN = ("usagePlans", 0)


def example() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE)


def put(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


def write(tmp_path: Path, doc: Any) -> Path:
    shutil.copy(DATA / "petstore.yaml", tmp_path / "petstore.yaml")
    file = tmp_path / "sluice.yaml"
    file.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return file


def load(tmp_path: Path, doc: Any, env: dict[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, doc), env={} if env is None else env)


def problems(tmp_path: Path, doc: Any, env: dict[str, str] | None = None) -> list[str]:
    file = write(tmp_path, doc)
    with pytest.raises(ConfigError) as info:
        load_config(file, env={} if env is None else env)
    assert info.value.problems
    assert all(p.file and p.message for p in info.value.problems)
    return [str(p) for p in info.value.problems]


def expect(tmp_path: Path, doc: Any, path: str, message: str) -> None:
    """Exactly one problem names ``path`` in the config file and says ``message``."""
    file = str(tmp_path / "sluice.yaml")
    found = problems(tmp_path, doc)
    hits = [p for p in found if p.startswith(f"{file}: {path}: ")]
    assert len(hits) == 1 and message in hits[0], found


# --- the CONTRACT.md section 2 example ---------------------------------------------------


def test_contract_example_loads_with_its_values() -> None:
    c = load_config(DATA / "sluice.yaml", env={})
    assert c.source == str(DATA / "sluice.yaml")
    assert c.server == ServerSettings(HostPort("127.0.0.1", 8080), HostPort("127.0.0.1", 8081), 1)
    assert c.storage == StorageSettings("memory://", "allow")
    assert c.account == AccountSettings(ThrottleSettings(10_000.0, 5_000), 5_000)
    (api,) = c.apis
    assert api.id == "petstore" and api.definition.title == "Simple PetStore"
    assert api.definition_path == str(DATA / "petstore.yaml")
    prod = api.stages["prod"]
    assert prod.name == "prod" and prod.cache_cluster_enabled
    assert dict(prod.variables) == {"backend": "127.0.0.1:9001"}
    assert prod.method_settings["*/*"] == MethodSettings(
        throttling_rate_limit=1000.0,
        throttling_burst_limit=2000,
        caching_enabled=False,
        cache_ttl_in_seconds=300,
        require_authorization_for_cache_control=True,
        unauthorized_cache_control_header_strategy="SUCCEED_WITH_RESPONSE_HEADER",
        metrics_enabled=True,
    )
    assert prod.method_settings["pets/GET"] == MethodSettings(
        caching_enabled=True, cache_ttl_in_seconds=60
    )
    assert prod.access_log is not None and prod.access_log.destination == "stdout"
    assert prod.access_log.format.startswith('{"requestId":"$context.requestId"')
    (plan,) = c.usage_plans
    assert (plan.id, plan.name, plan.api_keys) == ("basic", "basic", ("alice",))
    assert plan.throttle == ThrottleSettings(100.0, 200)
    assert plan.quota is not None and (plan.quota.limit, plan.quota.period) == (10_000, "DAY")
    assert plan.quota.offset == 0
    (stage,) = plan.api_stages
    assert (stage.api_id, stage.stage) == ("petstore", "prod")
    assert dict(stage.throttle) == {"/pets/GET": ThrottleSettings(5.0, 10)}
    (key,) = c.api_keys
    assert (key.id, key.name, key.value, key.enabled, key.invalidate_cache) == (
        "alice",
        "alice",
        "alice-0123456789abcdefghij",
        True,
        False,
    )


def test_minimal_file_gets_the_model_defaults(tmp_path: Path) -> None:
    c = load(tmp_path, {"apis": [{"id": "a", "definition": "petstore.yaml"}]})
    assert (c.server, c.storage, c.account) == (
        ServerSettings(),
        StorageSettings(),
        AccountSettings(),
    )
    assert dict(c.apis[0].stages) == {}
    assert (c.usage_plans, c.api_keys) == ((), ())


def test_partial_account_throttle_keeps_the_other_default(tmp_path: Path) -> None:
    c = load(tmp_path, {"apis": [{"id": "a", "definition": "petstore.yaml"}],
                        "account": {"throttle": {"rateLimit": 0.5}}})
    assert c.account.throttle == ThrottleSettings(0.5, 5_000)


def test_optional_values(tmp_path: Path) -> None:
    doc = example()
    doc["server"].update(
        adminToken="s3cret", workers=4, shutdownTimeoutSeconds=2.5, listen="[::1]:0"
    )
    doc["storage"] = {"url": "redis+cluster://10.0.0.1:7000", "onError": "deny", "timeoutMs": 50}
    put(doc, (*PLAN, "throttle"), {"rateLimit": 0.1, "burstLimit": 0})
    put(doc, (*PLAN, "quota"), {"limit": 5, "period": "MONTH", "offset": 2})
    put(doc, (*PLAN, "description"), "tier")
    put(
        doc,
        (*MS, "{proxy+}/DELETE"),
        {"cacheDataEncrypted": True, "loggingLevel": "INFO", "dataTraceEnabled": False},
    )
    put(doc, (*MS, "pets/{petId}/*"), {"throttlingRateLimit": 0})
    put(doc, (*MS, "/GET"), {"metricsEnabled": False})
    put(doc, ("apis", 0, "stages", "prod", "cacheClusterSize"), 0.5)
    doc["apiKeys"][0].update(name="Alice", enabled=False, invalidateCache=True, description=None)
    c = load(tmp_path, doc)
    assert c.server.admin_token == "s3cret" and c.server.workers == 4
    assert c.server.shutdown_timeout_s == 2.5
    assert c.server.listen == HostPort("::1", 0) and str(c.server.listen) == "[::1]:0"
    assert c.storage == StorageSettings("redis+cluster://10.0.0.1:7000", "deny", 50)
    plan = c.usage_plans[0]
    assert plan.throttle == ThrottleSettings(0.1, 0) and plan.description == "tier"
    assert plan.quota is not None and (plan.quota.period, plan.quota.offset) == ("MONTH", 2)
    ms = c.apis[0].stages["prod"].method_settings
    assert ms["{proxy+}/DELETE"] == MethodSettings()  # accepted, ignored
    assert ms["pets/{petId}/*"].throttling_rate_limit == 0.0
    assert ms["/GET"].metrics_enabled is False
    key = c.api_keys[0]
    assert (key.name, key.enabled, key.invalidate_cache) == ("Alice", False, True)


@pytest.mark.parametrize(
    "url",
    [
        "memory://",
        "redis://localhost",
        "redis://h:6380/2",
        "rediss://:pw@h:6380/0",
        "redis+cluster://h:7000",
    ],
)
def test_storage_urls_accepted(tmp_path: Path, url: str) -> None:
    doc = {"apis": [{"id": "a", "definition": "petstore.yaml"}], "storage": {"url": url}}
    assert load(tmp_path, doc).storage.url == url


# --- environment -------------------------------------------------------------------------


def test_env_overrides_storage_url_and_listen(tmp_path: Path) -> None:
    env = {"SLUICE_STORAGE_URL": "redis://127.0.0.1:6379/0", "SLUICE_LISTEN": "0.0.0.0:9000"}
    c = load(tmp_path, example(), env)
    assert c.storage.url == "redis://127.0.0.1:6379/0"
    assert c.server.listen == HostPort("0.0.0.0", 9000)
    assert c.server.admin_listen == HostPort("127.0.0.1", 8081)


def test_empty_env_values_count_as_unset(tmp_path: Path) -> None:
    c = load(tmp_path, example(), {"SLUICE_STORAGE_URL": "", "SLUICE_LISTEN": ""})
    assert (c.storage.url, c.server.listen.port) == ("memory://", 8080)


def test_env_default_is_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_LISTEN", "127.0.0.1:9999")
    assert load_config(write(tmp_path, example())).server.listen.port == 9999


def test_bad_env_values_name_the_variable_with_file_problems(tmp_path: Path) -> None:
    doc = put(example(), ("server", "workers"), 0)
    found = problems(tmp_path, doc, {"SLUICE_STORAGE_URL": "mysql://x", "SLUICE_LISTEN": "9000"})
    assert found[1:] == [
        "environment: SLUICE_STORAGE_URL: must be memory://, redis://HOST[:PORT][/DB], "
        "rediss://HOST[:PORT][/DB] or redis+cluster://HOST[:PORT], got 'mysql://x'",
        "environment: SLUICE_LISTEN: must be HOST:PORT such as 127.0.0.1:8080 (port 0 to 65535), "
        "got '9000'",
    ]
    assert "server.workers" in found[0]


# --- field problems ----------------------------------------------------------------------

FIELD_CASES: list[tuple[tuple[Any, ...], Any, str, str]] = [
    (("server", "listen"), "8080", "server.listen", "must be HOST:PORT such as 127.0.0.1:8080"),
    (("server", "listen"), "h:70000", "server.listen", "(port 0 to 65535), got 'h:70000'"),
    (("server", "adminListen"), 8081, "server.adminListen", "must be HOST:PORT"),
    (
        ("server", "adminListen"),
        "127.0.0.1:8080",
        "server.adminListen",
        "must differ from server.listen (127.0.0.1:8080)",
    ),
    (("server", "workers"), 0, "server.workers", "must be an integer >= 1, got 0"),
    (("server", "workers"), True, "server.workers", "must be an integer >= 1, got a boolean"),
    (("server", "workers"), 2.0, "server.workers", "must be an integer >= 1, got 2.0"),
    (("server", "adminToken"), "", "server.adminToken", "must not be empty"),
    (
        ("server", "shutdownTimeoutSeconds"),
        -1,
        "server.shutdownTimeoutSeconds",
        "must be a number >= 0, got -1",
    ),
    (
        ("server", "port"),
        1,
        "server.port",
        "unknown field 'port' (allowed: listen, adminListen, workers, adminToken, "
        "shutdownTimeoutSeconds, clientHeaderTimeoutSeconds, clientBodyTimeoutSeconds, "
        "allowOpenAdmin)",
    ),
    (("storage", "url"), "mysql://db", "storage.url", "must be memory://, redis://HOST"),
    (("storage", "url"), "redis://h:99999/0", "storage.url", "must be memory://"),
    (("storage", "url"), "redis://h:6379/x", "storage.url", "must be memory://"),
    (("storage", "url"), "redis+cluster://h:7000/3", "storage.url", "must be memory://"),
    (("storage", "onError"), "maybe", "storage.onError", "must be one of allow, deny, got 'maybe'"),
    (("storage", "timeoutMs"), 0, "storage.timeoutMs", "must be an integer >= 1, got 0"),
    (("storage", "nearCacheMb"), -1, "storage.nearCacheMb",
     "must be an integer between 0 and 65536, got -1"),
    (
        ("account", "throttle", "rateLimit"),
        -1,
        "account.throttle.rateLimit",
        "must be a number >= 0, got -1",
    ),
    (
        ("account", "throttle", "rateLimit"),
        float("nan"),
        "account.throttle.rateLimit",
        "must be a number >= 0, got nan",
    ),
    (
        ("account", "throttle", "burstLimit"),
        "5",
        "account.throttle.burstLimit",
        "must be an integer >= 0, got a string",
    ),
    (
        ("account", "maxConcurrency"),
        None,
        "account.maxConcurrency",
        "must be an integer >= 1, got null",
    ),
    (
        ("apiz",),
        [],
        "apiz",
        "unknown field 'apiz' (allowed: server, storage, account, apis, apiKeys, usagePlans, "
        "functions, aws, cognito, iam)",
    ),
    (
        (*MS, "*/*", "throttlingRateLimit"),
        -5,
        'apis[0].stages.prod.methodSettings."*/*".throttlingRateLimit',
        "must be a number >= 0, got -5",
    ),
    (
        (*MS, "*/*", "throttlingRateLimit"),
        "fast",
        'apis[0].stages.prod.methodSettings."*/*".throttlingRateLimit',
        "must be a number >= 0",
    ),
    (
        (*MS, "*/*", "throttlingBurstLimit"),
        1.5,
        'apis[0].stages.prod.methodSettings."*/*".throttlingBurstLimit',
        "must be an integer >= 0, got 1.5",
    ),
    (
        (*MS, "*/*", "cacheTtlInSeconds"),
        3601,
        'apis[0].stages.prod.methodSettings."*/*".cacheTtlInSeconds',
        "must be an integer between 0 and 3600, got 3601",
    ),
    (
        (*MS, "*/*", "cachingEnabled"),
        "yes",
        'apis[0].stages.prod.methodSettings."*/*".cachingEnabled',
        "must be true or false, got a string",
    ),
    (
        (*MS, "*/*", "unauthorizedCacheControlHeaderStrategy"),
        "IGNORE",
        'apis[0].stages.prod.methodSettings."*/*".unauthorizedCacheControlHeaderStrategy',
        "must be one of FAIL_WITH_403, SUCCEED_WITH_RESPONSE_HEADER, SUCCEED_WITHOUT_RESPONSE_HEADER",
    ),
    (
        (*MS, "*/*", "loggingLevel"),
        "LOUD",
        'apis[0].stages.prod.methodSettings."*/*".loggingLevel',
        "must be one of OFF, ERROR, INFO",
    ),
    (
        (*MS, "*/*", "throttlingRateLimt"),
        1,
        'apis[0].stages.prod.methodSettings."*/*".throttlingRateLimt',
        "unknown field 'throttlingRateLimt' (allowed: throttlingRateLimit, throttlingBurstLimit",
    ),
    (
        (*MS, "/pets/GET"),
        {},
        'apis[0].stages.prod.methodSettings."/pets/GET"',
        'must be "*/*" or "{resource path without the leading /}/{METHOD}"',
    ),
    (
        (*MS, "pets/FETCH"),
        {},
        'apis[0].stages.prod.methodSettings."pets/FETCH"',
        "METHOD: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT or *",
    ),
    ((*MS, "*/GET"), {}, 'apis[0].stages.prod.methodSettings."*/GET"', 'must be "*/*" or'),
    (
        (*MS, "cats/GET"),
        {},
        'apis[0].stages.prod.methodSettings."cats/GET"',
        "no resource /cats in ",
    ),
    (
        (*MS, "pets/PUT"),
        {},
        'apis[0].stages.prod.methodSettings."pets/PUT"',
        "resource /pets has no PUT method in ",
    ),
    ((*MS, "*/*"), [], 'apis[0].stages.prod.methodSettings."*/*"', "must be a mapping, got a list"),
    (
        ("apis", 0, "stages", "bad name"),
        {},
        'apis[0].stages."bad name"',
        "must be a string matching [A-Za-z0-9_-]+, got 'bad name'",
    ),
    (
        ("apis", 0, "stages", "s" * 129),
        {},
        f"apis[0].stages.{'s' * 129}",
        "must be at most 128 characters long, got 129",
    ),
    (
        ("apis", 0, "stages", "prod", "variables", "bad-name"),
        "x",
        "apis[0].stages.prod.variables.bad-name",
        "must be a string matching [A-Za-z0-9_]+",
    ),
    (
        ("apis", 0, "stages", "prod", "variables", "v" * 65),
        "x",
        f"apis[0].stages.prod.variables.{'v' * 65}",
        "must be at most 64 characters long",
    ),
    (
        ("apis", 0, "stages", "prod", "variables", "backend"),
        "a b",
        "apis[0].stages.prod.variables.backend",
        "must be a string matching [A-Za-z0-9\\-._~:/?#&=,]+",
    ),
    (
        ("apis", 0, "stages", "prod", "variables", "backend"),
        "x" * 513,
        "apis[0].stages.prod.variables.backend",
        "must be at most 512 characters long, got 513",
    ),
    (
        ("apis", 0, "stages", "prod", "variables", "backend"),
        9001,
        "apis[0].stages.prod.variables.backend",
        "got an integer",
    ),
    (
        ("apis", 0, "stages", "prod", "cacheClusterSize"),
        3,
        "apis[0].stages.prod.cacheClusterSize",
        "must be one of 0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118, 237",
    ),
    (
        ("apis", 0, "stages", "prod", "cacheClusterEnabled"),
        1,
        "apis[0].stages.prod.cacheClusterEnabled",
        "must be true or false, got an integer",
    ),
    (
        ("apis", 0, "stages", "prod", "accessLogSettings"),
        {"destination": "stderr"},
        "apis[0].stages.prod.accessLogSettings.format",
        "is required",
    ),
    (
        ("apis", 0, "stages", "prod", "canarySettings"),
        {},
        "apis[0].stages.prod.canarySettings",
        "unknown field 'canarySettings'",
    ),
    (("apis", 0, "id"), "pet store", "apis[0].id", "must be a string matching [A-Za-z0-9_-]+"),
    (("apis", 0, "definition"), "missing.yaml", "apis[0].definition", "no such file: "),
    (("apis", 0, "definition"), "", "apis[0].definition", "must not be empty"),
    (
        (*PLAN, "apiStages", 0, "apiId"),
        "nope",
        "usagePlans[0].apiStages[0].apiId",
        "no API with id 'nope' in apis (ids: petstore)",
    ),
    (
        (*PLAN, "apiStages", 0, "stage"),
        "dev",
        "usagePlans[0].apiStages[0].stage",
        "API petstore has no stage 'dev' (stages: prod)",
    ),
    (
        (*PLAN, "apiStages", 0, "throttle"),
        {"/cats/GET": {"rateLimit": 1, "burstLimit": 1}},
        'usagePlans[0].apiStages[0].throttle."/cats/GET"',
        "no resource /cats in ",
    ),
    (
        (*PLAN, "apiStages", 0, "throttle"),
        {"pets/GET": {"rateLimit": 1, "burstLimit": 1}},
        'usagePlans[0].apiStages[0].throttle."pets/GET"',
        'must be "/{resource path}/{METHOD}"',
    ),
    (
        (*PLAN, "apiStages", 0, "throttle"),
        {"/pets/GET": {"rateLimit": 1, "burstLimit": 2.5}},
        'usagePlans[0].apiStages[0].throttle."/pets/GET".burstLimit',
        "must be an integer >= 0, got 2.5",
    ),
    (
        (*PLAN, "apiStages", 0, "throttle"),
        {"/pets/GET": {"rateLimit": 1}},
        'usagePlans[0].apiStages[0].throttle."/pets/GET".burstLimit',
        "is required",
    ),
    (
        (*PLAN, "throttle", "rateLimit"),
        -0.1,
        "usagePlans[0].throttle.rateLimit",
        "must be a number >= 0, got -0.1",
    ),
    (
        (*PLAN, "quota", "period"),
        "YEAR",
        "usagePlans[0].quota.period",
        "must be one of DAY, WEEK, MONTH, got 'YEAR'",
    ),
    ((*PLAN, "quota", "limit"), 0, "usagePlans[0].quota.limit", "must be an integer >= 1, got 0"),
    (
        (*PLAN, "quota", "offset"),
        -1,
        "usagePlans[0].quota.offset",
        "must be an integer >= 0, got -1",
    ),
    ((*PLAN, "quota"), {"limit": 5}, "usagePlans[0].quota.period", "is required"),
    (
        (*PLAN, "apiKeys"),
        ["bob"],
        "usagePlans[0].apiKeys[0]",
        "no API key with id 'bob' in apiKeys (ids: alice)",
    ),
    (
        (*PLAN, "apiKeys"),
        ["alice", "alice"],
        "usagePlans[0].apiKeys[1]",
        "duplicate 'alice' (also at usagePlans[0].apiKeys[0])",
    ),
    ((*PLAN, "id"), None, "usagePlans[0].id", "must be a string matching [A-Za-z0-9_-]+, got null"),
    (
        ("apiKeys", 0, "value"),
        "short",
        "apiKeys[0].value",
        "must be 20 to 128 characters long, got 5",
    ),
    (
        ("apiKeys", 0, "value"),
        "k" * 129,
        "apiKeys[0].value",
        "must be 20 to 128 characters long, got 129",
    ),
    (("apiKeys", 0, "enabled"), "yes", "apiKeys[0].enabled", "must be true or false"),
    (
        ("apiKeys", 0, "secret"),
        "x",
        "apiKeys[0].secret",
        "unknown field 'secret' (allowed: id, name, value, enabled, invalidateCache, description)",
    ),
]


@pytest.mark.parametrize(
    ("where", "value", "path", "message"), FIELD_CASES, ids=[c[2] for c in FIELD_CASES]
)
def test_field_problem(
    tmp_path: Path, where: tuple[Any, ...], value: Any, path: str, message: str
) -> None:
    expect(tmp_path, put(example(), where, value), path, message)


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (("apis", 0, "id"), "apis[0].id"),
        (("apis", 0, "definition"), "apis[0].definition"),
        (("usagePlans", 0, "id"), "usagePlans[0].id"),
        (("usagePlans", 0, "apiStages", 0, "stage"), "usagePlans[0].apiStages[0].stage"),
        (("apiKeys", 0, "value"), "apiKeys[0].value"),
    ],
)
def test_required_fields(tmp_path: Path, where: tuple[Any, ...], path: str) -> None:
    doc = example()
    node: Any = doc
    for part in where[:-1]:
        node = node[part]
    del node[where[-1]]
    expect(tmp_path, doc, path, "is required")


def test_duplicate_ids_and_key_values(tmp_path: Path) -> None:
    doc = example()
    doc["apis"].append(copy.deepcopy(doc["apis"][0]))
    doc["apiKeys"].append({"id": "alice", "value": doc["apiKeys"][0]["value"]})
    doc["usagePlans"].append({"id": "basic"})
    file = str(tmp_path / "sluice.yaml")
    found = problems(tmp_path, doc)
    assert f"{file}: apis[1].id: duplicate 'petstore' (also at apis[0])" in found
    assert f"{file}: apiKeys[1].id: duplicate 'alice' (also at apiKeys[0])" in found
    assert (
        f"{file}: apiKeys[1].value: duplicate 'alice-0123456789abcdefghij' (also at apiKeys[0])"
        in found
    )
    assert f"{file}: usagePlans[1].id: duplicate 'basic' (also at usagePlans[0])" in found


def test_api_stage_listed_twice_in_a_plan(tmp_path: Path) -> None:
    doc = example()
    doc["usagePlans"][0]["apiStages"].append({"apiId": "petstore", "stage": "prod"})
    expect(
        tmp_path,
        doc,
        "usagePlans[0].apiStages[1]",
        "duplicate 'petstore/prod' (also at usagePlans[0].apiStages[0])",
    )


def test_a_key_in_two_plans_for_one_stage(tmp_path: Path) -> None:
    doc = example()
    doc["usagePlans"].append(
        {"id": "gold", "apiStages": [{"apiId": "petstore", "stage": "prod"}], "apiKeys": ["alice"]}
    )
    expect(
        tmp_path,
        doc,
        "usagePlans[1].apiKeys[0]",
        "API key alice is already in usage plan basic for petstore/prod; AWS allows one usage "
        "plan per key per API stage",
    )


def test_a_key_in_two_plans_for_different_stages_is_fine(tmp_path: Path) -> None:
    doc = example()
    doc["apis"][0]["stages"]["beta"] = {}
    doc["usagePlans"].append(
        {"id": "gold", "apiStages": [{"apiId": "petstore", "stage": "beta"}], "apiKeys": ["alice"]}
    )
    assert [p.name for p in load(tmp_path, doc).usage_plans] == ["basic", "gold"]


def test_a_bad_api_does_not_make_its_references_errors(tmp_path: Path) -> None:
    doc = put(example(), ("apis", 0, "stages", "prod", "cacheClusterEnabled"), "yes")
    found = problems(tmp_path, doc)
    assert len(found) == 1 and "cacheClusterEnabled" in found[0]


def test_every_problem_across_sections_and_files(tmp_path: Path) -> None:
    doc = put(example(), ("server", "workers"), 0)
    put(doc, ("storage", "onError"), "never")
    put(doc, ("apiKeys", 0, "value"), "short")
    (tmp_path / "bad-api.yaml").write_text("openapi: 3.0.0\ninfo: {title: t}\npaths: {x: {}}\n")
    doc["apis"].append({"id": "other", "definition": "bad-api.yaml"})
    found = problems(tmp_path, doc)
    assert len(found) == 4, found
    assert any(p.startswith(f"{tmp_path / 'bad-api.yaml'}: paths.x: ") for p in found)


def test_definition_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "defs").mkdir()
    shutil.copy(DATA / "petstore.yaml", tmp_path / "defs" / "p.yaml")
    doc = {
        "apis": [{"id": "a", "definition": "defs/p.yaml"}, {"id": "b", "definition": "defs/p.yaml"}]
    }
    c = load(tmp_path, doc)
    assert c.apis[0].definition_path == str(tmp_path / "defs" / "p.yaml")
    assert c.apis[0].definition == c.apis[1].definition


def test_bad_definition_shared_by_two_apis_is_reported_once(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("[1, 2]\n")
    doc = {"apis": [{"id": "a", "definition": "bad.yaml"}, {"id": "b", "definition": "bad.yaml"}]}
    assert problems(tmp_path, doc) == [
        f"{tmp_path / 'bad.yaml'}: must be a mapping (an OpenAPI document), got a list"
    ]


# --- the file itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server: {listen: [}\n", "invalid YAML at line 1, column 19"),
        (
            "server:\n  workers: 1\n  workers: 2\n",
            "invalid YAML at line 3, column 3: duplicate key 'workers'",
        ),
        ("server: {workers: !!int abc}\n", "invalid YAML value: invalid literal for int()"),
        ("a: 2020-13-45\n", "invalid YAML value: month must be in 1..12"),
        ("", "is empty"),
        ("- 1\n- 2\n", "must be a mapping, got a list"),
        ("just text\n", "must be a mapping, got a string"),
        ("a: 1\n---\nb: 2\n", "invalid YAML at line 2, column 1"),
        ('{"server": }', "invalid JSON at line 1, column 12"),
        ("\x00", "invalid YAML"),
    ],
)
def test_unreadable_documents(tmp_path: Path, text: str, message: str) -> None:
    found = problems(tmp_path, text)
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'sluice.yaml'}: "), found
    assert message in found[0], found


def test_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    text = "x-base: &b {workers: 2}\nserver:\n  <<: *b\n  workers: 3\n"
    assert "unknown field 'x-base'" in problems(tmp_path, text)[0]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    for path in (tmp_path / "none.yaml", tmp_path):
        with pytest.raises(ConfigError) as info:
            load_config(path, env={})
        (p,) = info.value.problems
        assert p.file == str(path) and p.message.startswith("cannot read the file: ")


def test_non_utf8_file(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_bytes(b"server: \xff\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(tmp_path / "sluice.yaml", env={})


def test_documents_over_6_mb_are_rejected(tmp_path: Path) -> None:
    file = tmp_path / "big.yaml"
    file.write_text("#" * MAX_DOCUMENT_BYTES + "\n")
    with pytest.raises(ConfigError, match=r"big\.yaml: is larger than 6291456 bytes"):
        load_config(file, env={})


def test_format_problems_is_one_line_per_problem(tmp_path: Path) -> None:
    doc = put(example(), ("server", "workers"), 0)
    put(doc, ("storage", "onError"), "never")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, doc), env={})
    text = format_problems(info.value)
    file = tmp_path / "sluice.yaml"
    assert text.splitlines() == [
        f"{file}: server.workers: must be an integer >= 1, got 0",
        f"{file}: storage.onError: must be one of allow, deny, got 'never'",
    ]
