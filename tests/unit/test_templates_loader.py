"""Templates through the config loader and the CLI: `sluice routes TEMPLATE` prints what a
hand-written config of the same API prints, a Sluice config may name templates, parameter
overrides reach the template, and the loader's own checks of a translated config name the
template property they are about."""

from __future__ import annotations

import copy
import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.cli import main
from proxy.config import load_config
from proxy.config.model import Config
from proxy.errors import ConfigError
from proxy.templates import PARAMETER_OVERRIDES_ENV, read_template, translate_template

DATA = Path(__file__).parent.parent / "data"
EXAMPLES = Path(__file__).parent.parent.parent / "examples"
TEMPLATES = DATA / "templates"
PETSTORE = TEMPLATES / "petstore" / "template.yaml"


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() hands --parameter-overrides on through os.environ; monkeypatch restores it
    monkeypatch.setenv(PARAMETER_OVERRIDES_ENV, "")


def hand_written(tmp_path: Path, *, with_proxy: bool) -> Path:
    """tests/data/sluice.yaml and petstore.yaml, the Lambda route kept or not."""
    openapi = yaml.safe_load((DATA / "petstore.yaml").read_text())
    config = yaml.safe_load((DATA / "sluice.yaml").read_text())
    if with_proxy:
        (tmp_path / "fn").mkdir()
        shutil.copy(PETSTORE.parent / "fn" / "app.py", tmp_path / "fn" / "app.py")
        config["functions"] = {"Fn": {"handler": "app.handler", "codeUri": "fn",
                                      "runtime": "python3.11"}}
        config["apis"][0]["stages"]["prod"]["variables"]["fn"] = "Fn"
    else:
        del openapi["paths"]["/{proxy+}"]
    (tmp_path / "petstore.yaml").write_text(yaml.safe_dump(openapi))
    (tmp_path / "sluice.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "sluice.yaml"


def routes(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["routes", *args]) == 0
    return capsys.readouterr().out


def test_routes_of_the_template_equal_those_of_the_hand_written_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = routes(capsys, str(PETSTORE))
    assert table == routes(capsys, str(hand_written(tmp_path, with_proxy=False)))
    assert "HTTP_PROXY GET http://127.0.0.1:9001/petstore/pets/{id}" in table
    assert "MOCK" in table


def test_the_template_loads_to_the_hand_written_configs_plans_keys_and_stages(
        tmp_path: Path) -> None:
    template = load_config(PETSTORE, env={})
    config = load_config(hand_written(tmp_path, with_proxy=False), env={})
    assert template.usage_plans == config.usage_plans
    assert template.api_keys == config.api_keys
    [mine], [theirs] = template.apis, config.apis
    assert mine.id == theirs.id == "petstore"
    assert mine.stages["prod"].variables == theirs.stages["prod"].variables
    assert mine.stages["prod"].cache_cluster_enabled is theirs.stages["prod"].cache_cluster_enabled
    assert mine.stages["prod"].access_log == theirs.stages["prod"].access_log
    assert mine.definition.gateway_responses == theirs.definition.gateway_responses
    assert mine.definition.binary_media_types == theirs.definition.binary_media_types
    for ours, other in zip(mine.definition.resources, theirs.definition.resources, strict=True):
        assert ours.path == other.path
        for verb, method in ours.methods.items():
            assert method.integration == other.methods[verb].integration
            assert method.api_key_required == other.methods[verb].api_key_required
            assert method.request_parameters == other.methods[verb].request_parameters


def test_routes_with_the_lambda_route_equal_the_hand_written_configs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = routes(capsys, str(hand_written(tmp_path, with_proxy=True)))
    table = routes(capsys, str(PETSTORE), "--parameter-overrides", "WithFunction=true")
    assert table.replace(str(PETSTORE.parent), "") == expected.replace(str(tmp_path), "")
    assert "AWS_PROXY Fn " in table


def test_the_sam_example_loads() -> None:
    config = load_config(EXAMPLES / "sam" / "template.yaml", env={})
    assert sorted(f.name for f in config.functions.values()) == ["GetNote", "Hello", "ListNotes"]


@pytest.mark.parametrize("template", ["sam-app/template.yaml", "cdk-app/PetsStack.template.json"])
def test_the_realistic_templates_load(template: str) -> None:
    config = load_config(TEMPLATES / template, env={})
    assert config.apis and config.functions


def test_the_sam_example_translates_to_functions_from_its_folder() -> None:
    example = EXAMPLES / "sam" / "template.yaml"
    translation = translate_template(read_template(example, str(example)), file=str(example),
                                     template_dir=str(example.parent),
                                     config_dir=str(example.parent), overrides={},
                                     overrides_file="--parameter-overrides")
    functions = translation.config["functions"]
    assert sorted(functions) == ["GetNote", "Hello", "ListNotes"]
    for function in functions.values():
        module = function["handler"].split(".")[0]
        assert (example.parent / function["codeUri"] / f"{module}.py").is_file()
    assert [a["id"] for a in translation.config["apis"]] == ["NotesApi", "ServerlessRestApi"]


# --- a Sluice config that names templates ---------------------------------------------------


def test_a_config_names_a_template_and_adds_what_a_template_cannot_say(tmp_path: Path) -> None:
    shutil.copytree(PETSTORE.parent, tmp_path / "stack")
    (tmp_path / "extra.yaml").write_text(textwrap.dedent("""
        openapi: 3.0.1
        info: {title: extra}
        paths:
          /ping:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {application/json: '{"statusCode": 200}'}
        """))
    (tmp_path / "sluice.yaml").write_text(textwrap.dedent("""
        server: {listen: "127.0.0.1:9999"}
        storage: {url: "redis://127.0.0.1:6390/2"}
        apis:
          - id: extra
            definition: extra.yaml
            stages: {v1: {}}
          - template: stack/template.yaml
            parameters: {Backend: "10.0.0.7:8000"}
        usagePlans:
          - id: own
            apiStages: [{apiId: petstore, stage: prod}]
            apiKeys: [bob]
        apiKeys:
          - {id: bob, value: bob-0123456789abcdefghijk}
        """))
    config = load_config(tmp_path / "sluice.yaml", env={})
    assert str(config.server.listen) == "127.0.0.1:9999"
    assert config.storage.url == "redis://127.0.0.1:6390/2"
    assert [a.id for a in config.apis] == ["extra", "petstore"]
    assert config.apis[1].stages["prod"].variables["backend"] == "10.0.0.7:8000"
    assert [p.id for p in config.usage_plans] == ["own", "basic"]
    assert [k.id for k in config.api_keys] == ["bob", "alice"]


def test_problems_of_a_named_template_name_the_template_and_its_property(tmp_path: Path) -> None:
    shutil.copytree(PETSTORE.parent, tmp_path / "stack")
    doc = yaml.safe_load((DATA / "sluice.yaml").read_text())
    shutil.copy(DATA / "petstore.yaml", tmp_path / "petstore.yaml")
    doc["apis"][0]["id"] = "handwritten"
    del doc["usagePlans"], doc["apiKeys"]
    doc["apis"].append({"template": "stack/template.yaml", "parameters": {"Backend": "bad host"}})
    doc["apis"].append({"template": "stack/missing.yaml"})
    (tmp_path / "sluice.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "sluice.yaml", env={})
    found = [str(p).replace(f"{tmp_path}/", "") for p in info.value.problems]
    assert found == [
        "sluice.yaml: apis[2].template: no such file: stack/missing.yaml (paths are relative to "
        "the config file)",
    ]
    doc["apis"].pop()
    (tmp_path / "sluice.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "sluice.yaml", env={})
    found = [str(p).replace(f"{tmp_path}/", "") for p in info.value.problems]
    assert found == [
        "stack/template.yaml: Resources.Prod.Properties.Variables.backend: must be a string "
        "matching [A-Za-z0-9\\-._~:/?#&=,]+, got 'bad host'"]


# --- the loader's checks of a translated config, at the template's properties ---------------


def load_template(tmp_path: Path, doc: dict[str, Any]) -> Config:
    file = tmp_path / "template.json"
    file.write_text(json.dumps(doc))
    return load_config(file, env={})


def template_problems(tmp_path: Path, doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_template(tmp_path, doc)
    return [str(p).replace(f"{tmp_path}/", "") for p in info.value.problems]


PETSTORE_DOC = yaml.load(PETSTORE.read_text(), Loader=__import__(
    "proxy.templates", fromlist=["TemplateLoader"]).TemplateLoader)


def petstore_with(*changes: tuple[tuple[Any, ...], Any]) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(PETSTORE_DOC)
    for path, value in changes:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return doc


@pytest.mark.parametrize(("changes", "expected"), [
    ((((("Resources", "basic", "Properties", "Quota", "Limit"), 0),)),
     "template.json: Resources.basic.Properties.Quota: limit: must be an integer >= 1, got 0"),
    (((("Resources", "Prod", "Properties", "MethodSettings", 0, "ThrottlingRateLimit"), -1),),
     "template.json: Resources.Prod.Properties.MethodSettings[0].ThrottlingRateLimit: must be a "
     "number >= 0, got -1"),
    (((("Resources", "Prod", "Properties", "MethodSettings", 1, "ResourcePath"), "/~1cats"),),
     "template.json: Resources.Prod.Properties.MethodSettings[1]: no resource /cats in "),
    (((("Resources", "PetsGet", "Properties", "Integration", "Uri"), "ftp://x/pets"),),
     "template.json: Resources.PetsGet.Properties.Integration.Uri: must start with http:// or "
     "https:// for type HTTP"),
    (((("Resources", "PetsGet", "Properties", "Integration", "TimeoutInMillis"), 40000),),
     "template.json: Resources.PetsGet.Properties.Integration.TimeoutInMillis: must be an "
     "integer between 50 and 29000, got 40000"),
    (((("Resources", "alice", "Properties", "Value"), "short"),),
     "template.json: Resources.alice.Properties.Value: must be 20 to 128 characters long, got 5"),
    (((("Resources", "basic", "Properties", "ApiStages", 0, "Stage"), "beta"),),
     "template.json: Resources.basic.Properties.ApiStages[0]: stage: API petstore has no stage "
     "'beta' (stages: prod)"),
    (((("Resources", "Throttled", "Properties", "ResponseType"), "SLOW_DOWN"),),
     'template.json: Resources.Throttled.Properties: must be one of ACCESS_DENIED'),
])
def test_loader_problems_name_the_template_property(
        tmp_path: Path, changes: tuple[tuple[tuple[Any, ...], Any], ...], expected: str) -> None:
    found = template_problems(tmp_path, petstore_with(*changes))
    assert any(p.startswith(expected) for p in found), found


def test_a_body_problem_is_at_its_place_in_the_body(tmp_path: Path) -> None:
    openapi = yaml.safe_load((DATA / "petstore.yaml").read_text())
    openapi["paths"]["/pets"]["get"]["x-amazon-apigateway-integration"]["type"] = "grpc"
    del openapi["paths"]["/{proxy+}"]
    doc = {"Resources": {
        "Pets": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Body": openapi}},
        "Deployment": {"Type": "AWS::ApiGateway::Deployment",
                       "Properties": {"RestApiId": {"Ref": "Pets"}, "StageName": "v1"}}}}
    assert template_problems(tmp_path, doc) == [
        'template.json: Resources.Pets.Properties.Body.paths."/pets".get.'
        "x-amazon-apigateway-integration.type: must be one of HTTP_PROXY, HTTP, MOCK, AWS_PROXY, "
        "AWS, got 'grpc'"]


# --- the command line -----------------------------------------------------------------------


def test_parameter_overrides_reach_the_template(capsys: pytest.CaptureFixture[str]) -> None:
    table = routes(capsys, str(PETSTORE), "--parameter-overrides", "Backend=10.1.2.3:8080",
                   "ParameterKey=AliceKey,ParameterValue=alice-9999999999999999999")
    assert "http://10.1.2.3:8080/petstore/pets" in table


def test_validate_a_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(PETSTORE)]) == 0
    assert capsys.readouterr().out == (
        f"{PETSTORE}: ok: 1 API(s), 1 stage(s), 4 method(s), 1 usage plan(s), 1 API key(s), "
        "0 function(s)\n")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--parameter-overrides", "Backend"], 2,
     "sluice: --parameter-overrides: expected KEY=VALUE, got 'Backend'\n"),
    (["--parameter-overrides", "Colour=blue"], 1,
     "--parameter-overrides: Colour: the template has no parameter 'Colour' (parameters: AliceKey, "
     "Backend, WithFunction; also AWS::Region, AWS::AccountId, AWS::StackName)\n"),
    (["--parameter-overrides", "WithFunction=maybe"], 1,
     "--parameter-overrides: WithFunction: must be one of true, false (AllowedValues), got "
     "'maybe'\n"),
])
def test_bad_overrides(capsys: pytest.CaptureFixture[str], args: list[str], code: int,
                       message: str) -> None:
    assert main(["validate", str(PETSTORE), *args]) == code
    assert capsys.readouterr().err == message


def test_overrides_for_a_config_without_templates_are_refused(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = hand_written(tmp_path, with_proxy=False)
    assert main(["validate", str(config), "--parameter-overrides", "A=1"]) == 1
    assert capsys.readouterr().err == (
        f"--parameter-overrides: applies to templates: {config} is a Sluice config that names "
        "none\n")


def test_a_bad_overrides_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARAMETER_OVERRIDES_ENV, "[1]")
    with pytest.raises(ConfigError) as info:
        load_config(PETSTORE)
    assert [str(p) for p in info.value.problems] == [
        "environment: SLUICE_PARAMETER_OVERRIDES: must be a JSON object of parameter names to "
        "string values"]


SAM_FUNCTION = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: src, Timeout: 1000}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: nomodule.handler
      MemorySize: 64
      Environment: {Variables: {AWS_REGION: eu-west-1}}
      Events:
        Get: {Type: Api, Properties: {Path: /x, Method: get}}
"""


def test_function_problems_name_the_sam_property_or_global(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(SAM_FUNCTION)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "template.yaml", env={})
    found = sorted(str(p).replace(f"{tmp_path}/", "") for p in info.value.problems)
    assert found == [
        "template.yaml: Globals.Function.Timeout: must be an integer between 1 and 900, got 1000",
        "template.yaml: Resources.Fn.Properties.Environment.Variables.AWS_REGION: is reserved: "
        "Lambda sets it for the function",
        "template.yaml: Resources.Fn.Properties.MemorySize: must be an integer between 128 and "
        "10240, got 64",
    ]


def test_a_missing_handler_module_is_named_at_the_handler(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    text = SAM_FUNCTION.replace(", Timeout: 1000", "").replace("      MemorySize: 64\n", "")
    (tmp_path / "template.yaml").write_text(text.replace(
        "      Environment: {Variables: {AWS_REGION: eu-west-1}}\n", ""))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "template.yaml", env={})
    assert [str(p).replace(f"{tmp_path}/", "") for p in info.value.problems] == [
        "template.yaml: Resources.Fn.Properties.Handler: no module 'nomodule' in src (looked for "
        "nomodule.py and nomodule/__init__.py)"]
