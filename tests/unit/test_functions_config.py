"""The ``functions:`` section and Lambda URIs: values, defaults and every rejection message."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.config import load_config
from proxy.config.model import FunctionConfig
from proxy.errors import ConfigError
from proxy.functions.arn import BadFunctionUri, FunctionTarget, resolve

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:{}"
URI = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{}/invocations"

DEFINITION = """
openapi: 3.0.1
info: {title: t, version: "1"}
paths:
  /pets:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "%s"
"""


def write(tmp_path: Path, functions: Any, uri: str | None = None) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "api.yaml").write_text(DEFINITION % (uri or URI.format(ARN.format("getPets"))))
    doc = {"apis": [{"id": "a", "definition": "api.yaml", "stages": {"prod": {}}}],
           "functions": functions}
    file = tmp_path / "sluice.yaml"
    file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return file


def problems(tmp_path: Path, functions: Any, uri: str | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, functions, uri), env={})
    return [f"{p.path}: {p.message}" for p in info.value.problems]


def test_handler_function_defaults_and_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"getPets": {"handler": "app.handler",
                                                       "codeUri": "code"}}), env={})
    assert config.functions["getPets"] == FunctionConfig(
        "getPets", handler="app.handler", code_uri=str(tmp_path / "code"))
    f = config.functions["getPets"]
    assert (f.timeout_s, f.memory_size, f.reserved_concurrency, f.runtime) == (3, 128, None, None)


def test_every_field(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    boot = tmp_path / "code" / "bootstrap"
    boot.write_text("#!/bin/sh\n")
    boot.chmod(0o755)
    config = load_config(write(tmp_path, {
        "getPets": {"handler": "app.handler", "codeUri": "code", "runtime": "python3.12",
                    "interpreter": sys.executable, "environment": {"TABLE": "pets", "NUM": 3,
                                                                   "ON": True},
                    "timeout": 900, "memorySize": 10240, "reservedConcurrency": 0},
        "resize": {"command": ["./bootstrap", "--x"], "codeUri": "code", "timeout": 1,
                   "memorySize": 128},
        "legacy": {"endpoint": "http://127.0.0.1:9009"},
    }), env={})
    f = config.functions["getPets"]
    assert dict(f.environment) == {"TABLE": "pets", "NUM": "3", "ON": "true"}
    assert (f.timeout_s, f.memory_size, f.reserved_concurrency, f.runtime, f.interpreter) == (
        900, 10240, 0, "python3.12", sys.executable)
    assert config.functions["resize"].command == (str(boot), "--x")
    assert config.functions["legacy"].endpoint == "http://127.0.0.1:9009"


@pytest.mark.parametrize(("entry", "where", "message"), [
    ({"handler": "app.handler", "codeUri": "code", "timeout": 0}, "functions.f.timeout",
     "must be an integer between 1 and 900, got 0"),
    ({"handler": "app.handler", "codeUri": "code", "timeout": 901}, "functions.f.timeout",
     "must be an integer between 1 and 900, got 901"),
    ({"handler": "app.handler", "codeUri": "code", "timeout": 2.5}, "functions.f.timeout",
     "must be an integer between 1 and 900, got 2.5"),
    ({"handler": "app.handler", "codeUri": "code", "memorySize": 64}, "functions.f.memorySize",
     "must be an integer between 128 and 10240, got 64"),
    ({"handler": "app.handler", "codeUri": "code", "reservedConcurrency": -1},
     "functions.f.reservedConcurrency", "must be an integer >= 0, got -1"),
    ({"handler": "app", "codeUri": "code"}, "functions.f.handler",
     "must be module.function such as app.handler, got 'app'"),
    ({"handler": "app.handler()", "codeUri": "code"}, "functions.f.handler",
     "must be module.function such as app.handler, got 'app.handler()'"),
    ({"handler": "nope.handler", "codeUri": "code"}, "functions.f.handler",
     "no module 'nope' in {tmp}/code (looked for nope.py and nope/__init__.py)"),
    ({"handler": "app.handler", "codeUri": "missing"}, "functions.f.codeUri",
     "no such directory: {tmp}/missing (paths are relative to the config file)"),
    ({"handler": "app.handler", "codeUri": "code", "runtime": "nodejs20.x"},
     "functions.f.runtime", "handler functions run Python: must be python3.x, got 'nodejs20.x' "
     "(other runtimes: use command with the runtime's bootstrap)"),
    ({"handler": "app.handler", "codeUri": "code", "interpreter": "./nope/python"},
     "functions.f.interpreter", "no such program: ./nope/python"),
    ({"codeUri": "code"}, "functions.f",
     "needs exactly one of handler, command or endpoint, got none"),
    ({"handler": "app.handler", "endpoint": "http://127.0.0.1:1"}, "functions.f",
     "needs exactly one of handler, command or endpoint, got handler and endpoint"),
    ({"command": ["./nope"], "codeUri": "code"}, "functions.f.command[0]",
     "no such program: ./nope"),
    ({"command": ["no-such-program-anywhere"]}, "functions.f.command[0]",
     "no such program: no-such-program-anywhere on PATH"),
    ({"command": ["./app.py"], "codeUri": "code"}, "functions.f.command[0]",
     "not executable: ./app.py"),
    ({"command": ["sh"], "interpreter": "sh"}, "functions.f.interpreter",
     "applies to handler functions only"),
    ({"endpoint": "ftp://x"}, "functions.f.endpoint", "must be http://HOST:PORT of a Lambda "
     "Invoke API server (optionally with the full /2015-03-31/functions/NAME/invocations path),"
     " got 'ftp://x'"),
    ({"endpoint": "http://127.0.0.1:1", "codeUri": "code"}, "functions.f.codeUri",
     "does not apply to an endpoint function"),
    ({"handler": "app.handler", "codeUri": "code", "environment": {"AWS_REGION": "x"}},
     "functions.f.environment.AWS_REGION", "is reserved: Lambda sets it for the function"),
    ({"handler": "app.handler", "codeUri": "code", "environment": {"1X": "x"}},
     "functions.f.environment.1X", "must be a variable name: a letter, then letters, digits or "
     "_ (at least 2 characters)"),
    ({"handler": "app.handler", "codeUri": "code", "environment": {"X1": [1]}},
     "functions.f.environment.X1", "must be a string, got a list"),
    ({"handler": "app.handler", "codeUri": "code", "memory": 1}, "functions.f.memory",
     "unknown field 'memory'"),
])
def test_bad_function_field(tmp_path: Path, entry: dict[str, Any], where: str,
                            message: str) -> None:
    (tmp_path / "code").mkdir()
    found = problems(tmp_path, {"f": entry, "getPets": {"endpoint": "http://127.0.0.1:1"}})
    message = message.replace("{tmp}", str(tmp_path))
    assert any(p.startswith(f"{where}: {message}") for p in found), found


def test_bad_function_name(tmp_path: Path) -> None:
    found = problems(tmp_path, {"a b": {"endpoint": "http://127.0.0.1:1"},
                                "getPets": {"endpoint": "http://127.0.0.1:1"}})
    assert found == ['functions."a b": must be a function name of 1-64 A-Z a-z 0-9 _ -, '
                     "got 'a b'"]


def test_unknown_function_name_in_an_integration(tmp_path: Path) -> None:
    found = problems(tmp_path, {"other": {"endpoint": "http://127.0.0.1:1"}})
    assert found == ['paths."/pets".get.x-amazon-apigateway-integration.uri: names function '
                     "'getPets', which is not in functions (names: other)"]


def test_apis_sharing_a_definition_get_its_problems_once(tmp_path: Path) -> None:
    # the file is loaded once; its references were checked once per API (reported twice)
    file = write(tmp_path, {"other": {"endpoint": "http://127.0.0.1:1"}})
    doc = yaml.safe_load(file.read_text())
    doc["apis"].append({"id": "b", "definition": "api.yaml", "stages": {"prod": {}}})
    file.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        load_config(file, env={})
    assert [f"{p.path}: {p.message}" for p in info.value.problems] == [
        'paths."/pets".get.x-amazon-apigateway-integration.uri: names function '
        "'getPets', which is not in functions (names: other)"]


def test_bad_lambda_uri_in_an_integration(tmp_path: Path) -> None:
    found = problems(tmp_path, {}, uri="arn:aws:apigateway:eu-west-1:s3:path/bucket")
    assert len(found) == 1 and found[0].startswith(
        'paths."/pets".get.x-amazon-apigateway-integration.uri: must be arn:aws:apigateway:')


def test_a_name_from_a_stage_variable_is_not_checked_at_load(tmp_path: Path) -> None:
    uri = URI.format(ARN.format("${stageVariables.fn}"))
    config = load_config(write(tmp_path, {}, uri=uri), env={})
    assert dict(config.functions) == {}


@pytest.mark.parametrize(("uri", "variables", "target"), [
    (URI.format(ARN.format("getPets")), None,
     FunctionTarget("getPets", "eu-west-1", "123456789012", None)),
    (URI.format(ARN.format("getPets:live")), None,
     FunctionTarget("getPets", "eu-west-1", "123456789012", "live")),
    (URI.format(ARN.format("getPets:$LATEST")), None,
     FunctionTarget("getPets", "eu-west-1", "123456789012", "$LATEST")),
    (URI.format(ARN.format("${stageVariables.fn}")), {"fn": "a-b_c"},
     FunctionTarget("a-b_c", "eu-west-1", "123456789012", None)),
    (URI.format(ARN.format("getPets:${stageVariables.alias}")), {"alias": "7"},
     FunctionTarget("getPets", "eu-west-1", "123456789012", "7")),
    (URI.format("${stageVariables.arn}"), {"arn": ARN.format("x")},
     FunctionTarget("x", "eu-west-1", "123456789012", None)),
])
def test_resolve(uri: str, variables: dict[str, str] | None, target: FunctionTarget) -> None:
    assert resolve(uri, variables) == target
    assert target.arn.startswith("arn:aws:lambda:eu-west-1:123456789012:function:")


@pytest.mark.parametrize(("uri", "variables", "reason"), [
    (URI.format(ARN.format("${stageVariables.fn}")), {}, "stage variable fn is not set"),
    (URI.format(ARN.format("${stageVariables.fn}")), None, "stage variable fn is not set"),
    (URI.format(ARN.format("a b")), None, "'arn:aws:lambda:eu-west-1:123456789012:function:a b'"
     " is not a function ARN"),
    (URI.format(ARN.format("x" * 65)), None, "is not a function ARN"),
    ("http://example.com", None, "must be arn:aws:apigateway:{region}:lambda:path/"),
])
def test_resolve_refuses(uri: str, variables: dict[str, str] | None, reason: str) -> None:
    with pytest.raises(BadFunctionUri) as info:
        resolve(uri, variables)
    assert reason in str(info.value)


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    file = write(tmp_path, {"getPets": {"handler": "app.handler", "codeUri": "code"}})
    cwd = os.getcwd()
    os.chdir("/")
    try:
        config = load_config(os.path.relpath(file, "/"), env={})
    finally:
        os.chdir(cwd)
    assert config.functions["getPets"].code_uri == str(tmp_path / "code")
