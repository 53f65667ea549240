"""Reading templates: CloudFormation's short tags in their long form, JSON, the loader's file
checks (size, duplicate keys), the Resources test, and AWS::Include of local files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proxy.config._check import Checker
from proxy.config._source import MAX_DOCUMENT_BYTES
from proxy.errors import ConfigError
from proxy.templates import is_template, read_template
from proxy.templates.reading import expand_includes


def read(tmp_path: Path, text: str, name: str = "template.yaml") -> Any:
    file = tmp_path / name
    file.write_text(text)
    return read_template(file, str(file))


@pytest.mark.parametrize(
    ("yaml_text", "long_form"),
    [
        ("!Ref Stage", {"Ref": "Stage"}),
        ("!Sub 'arn:${AWS::Partition}:s3:::${Bucket}'",
         {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}"}),
        ("!Sub ['${A}-x', {A: !Ref B}]", {"Fn::Sub": ["${A}-x", {"A": {"Ref": "B"}}]}),
        ("!GetAtt Fn.Arn", {"Fn::GetAtt": ["Fn", "Arn"]}),
        ("!GetAtt Db.Endpoint.Address", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
        ("!GetAtt [Fn, Arn]", {"Fn::GetAtt": ["Fn", "Arn"]}),
        ("!Join ['', [a, !Ref B]]", {"Fn::Join": ["", ["a", {"Ref": "B"}]]}),
        ("!If [IsProd, 1, 2]", {"Fn::If": ["IsProd", 1, 2]}),
        ("!Equals [!Ref Env, prod]", {"Fn::Equals": [{"Ref": "Env"}, "prod"]}),
        ("!Not [!Condition IsProd]", {"Fn::Not": [{"Condition": "IsProd"}]}),
        ("!And [!Condition A, !Condition B]",
         {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
        ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
        ("!FindInMap [M, !Ref K, Rate]", {"Fn::FindInMap": ["M", {"Ref": "K"}, "Rate"]}),
        ("!Base64 hello", {"Fn::Base64": "hello"}),
        ("!ImportValue shared-vpc", {"Fn::ImportValue": "shared-vpc"}),
        ("!ImportValue {'Fn::Sub': '${S}-x'}", {"Fn::ImportValue": {"Fn::Sub": "${S}-x"}}),
        ("!Transform {Name: AWS::Include, Parameters: {Location: a.yaml}}",
         {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "a.yaml"}}}),
    ],
)
def test_short_tags_are_read_in_their_long_form(tmp_path: Path, yaml_text: str,
                                                 long_form: Any) -> None:
    doc = read(tmp_path, f"Resources: {{}}\nValue: {yaml_text}\n")
    assert doc["Value"] == long_form


def test_json_templates_are_read(tmp_path: Path) -> None:
    doc = {"Resources": {"Api": {"Type": "AWS::ApiGateway::RestApi"}}}
    assert read(tmp_path, json.dumps(doc), "Stack.template.json") == doc


def test_a_repeated_key_is_an_error_as_in_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read(tmp_path, "Resources:\n  Api: {Type: A}\n  Api: {Type: B}\n")
    assert "duplicate key 'Api'" in str(info.value)


def test_the_loader_size_limit_applies(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read(tmp_path, "Resources: {}\n#" + "x" * MAX_DOCUMENT_BYTES)
    assert "6 MB" in str(info.value)


def test_an_unknown_tag_is_a_yaml_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read(tmp_path, "Resources: !Bogus x\n")
    assert "invalid YAML" in str(info.value)


@pytest.mark.parametrize(("doc", "expected"), [
    ({"Resources": {}}, True),
    ({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"A": {}}}, True),
    ({"apis": [], "server": {}}, False),
    (["Resources"], False),
    (None, False),
])
def test_a_template_is_recognised_by_its_resources_section(doc: Any, expected: bool) -> None:
    assert is_template(doc) is expected


def test_aws_include_reads_a_local_file_relative_to_the_template(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "openapi.yaml").write_text(
        "openapi: 3.0.1\npaths: {}\nx-title: !Sub '${AWS::StackName}'\n")
    ck = Checker(str(tmp_path / "template.yaml"))
    doc = {"Body": {"Fn::Transform": {"Name": "AWS::Include",
                                      "Parameters": {"Location": "api/openapi.yaml"}}}}
    assert expand_includes(ck, doc, str(tmp_path)) == {
        "Body": {"openapi": "3.0.1", "paths": {}, "x-title": {"Fn::Sub": "${AWS::StackName}"}}}
    assert ck.problems == []


@pytest.mark.parametrize(("location", "message"), [
    ("s3://bucket/openapi.yaml", "is not on this machine"),
    ("missing.yaml", "no such file"),
    (7, "must be the path of a local file"),
])
def test_aws_include_problems_name_the_location(tmp_path: Path, location: Any,
                                                message: str) -> None:
    ck = Checker("template.yaml")
    node = {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": location}}}
    expand_includes(ck, {"Resources": {"Api": {"Properties": {"Body": node}}}}, str(tmp_path))
    [problem] = ck.problems
    assert problem.path == ('Resources.Api.Properties.Body."Fn::Transform".Parameters.Location')
    assert message in problem.message


def test_another_transform_in_a_property_is_refused(tmp_path: Path) -> None:
    ck = Checker("template.yaml")
    expand_includes(ck, {"X": {"Fn::Transform": {"Name": "MyMacro"}}}, str(tmp_path))
    [problem] = ck.problems
    assert "'MyMacro' is not supported" in problem.message


def test_an_include_loop_stops(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "x: {'Fn::Transform': {Name: AWS::Include, Parameters: {Location: a.yaml}}}\n")
    ck = Checker("template.yaml")
    node = {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "a.yaml"}}}
    expand_includes(ck, node, str(tmp_path))
    assert any("include loop" in p.message for p in ck.problems)
