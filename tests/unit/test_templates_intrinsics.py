"""Intrinsic functions, conditions, parameters and pseudo parameters: each function's value, and
each failure reported at the property path of the function that failed."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from proxy.config._check import Checker, Invalid, PathT
from proxy.templates.intrinsics import NO_VALUE, Evaluator, Scope, SsmParameter
from proxy.templates.parameters import parse_overrides, pseudo_parameters, read_parameters

WHERE: PathT = ("Resources", "Fn", "Properties", "X")
PSEUDO = pseudo_parameters(Checker("t"), (), {}, "my-stack")
RESOURCES = {"Fn": {"Type": "AWS::Lambda::Function"}, "Api": {"Type": "AWS::ApiGateway::RestApi"}}


def namer(logical_id: str, attribute: str | None, path: PathT) -> Any:
    return f"<{logical_id}{'.' + attribute if attribute else ''}>"


def evaluator(*, static: bool = False, parameters: dict[str, Any] | None = None,
              conditions: dict[str, Any] | None = None,
              mappings: dict[str, Any] | None = None) -> Evaluator:
    scope = Scope(parameters or {"Env": "prod", "Subnets": ["a", "b", "c"], "Size": "3"}, PSEUDO,
                  conditions or {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                                 "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]}},
                  mappings or {"Limits": {"prod": {"Rate": 100}, "dev": {"Rate": 10}},
                               "Accounts": {123456789012: {"Name": "main"}}},
                  RESOURCES, {"Api.Stage": "ApiProdStage"})
    return Evaluator(Checker("template.yaml"), scope, None if static else namer)


def value(node: Any, **kwargs: Any) -> Any:
    return evaluator(**kwargs).value(node, WHERE)


def problem(node: Any, **kwargs: Any) -> str:
    ev = evaluator(**kwargs)
    with pytest.raises(Invalid):
        ev.value(node, WHERE)
    [found] = ev.ck.problems
    return str(found)


@pytest.mark.parametrize(("node", "expected"), [
    ({"Ref": "Env"}, "prod"),
    ({"Ref": "Subnets"}, ["a", "b", "c"]),
    ({"Ref": "AWS::Region"}, "us-east-1"),
    ({"Ref": "AWS::AccountId"}, "123456789012"),
    ({"Ref": "AWS::StackName"}, "my-stack"),
    ({"Ref": "AWS::Partition"}, "aws"),
    ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
    ({"Ref": "Fn"}, "<Fn>"),
    ({"Ref": "Api.Stage"}, "<Api.Stage>"),
    ({"Fn::GetAtt": ["Fn", "Arn"]}, "<Fn.Arn>"),
    ({"Fn::GetAtt": "Fn.Arn"}, "<Fn.Arn>"),
    ({"Fn::Sub": "${AWS::Region}-${Env}-${Fn.Arn}-${!Literal}"},
     "us-east-1-prod-<Fn.Arn>-${Literal}"),
    ({"Fn::Sub": ["${A}/${Env}", {"A": {"Ref": "Size"}}]}, "3/prod"),
    ({"Fn::Join": [":", ["a", {"Ref": "Env"}, 7]]}, "a:prod:7"),
    ({"Fn::Join": [",", {"Ref": "Subnets"}]}, "a,b,c"),
    ({"Fn::Select": ["1", {"Ref": "Subnets"}]}, "b"),
    ({"Fn::Select": [0, {"Fn::Split": ["/", "x/y"]}]}, "x"),
    ({"Fn::If": ["IsProd", "big", "small"]}, "big"),
    ({"Fn::If": ["IsDev", "big", {"Ref": "AWS::NoValue"}]}, NO_VALUE),
    ({"Fn::FindInMap": ["Limits", {"Ref": "Env"}, "Rate"]}, 100),
    ({"Fn::FindInMap": ["Accounts", {"Ref": "AWS::AccountId"}, "Name"]}, "main"),
    ({"Fn::Base64": "hi"}, base64.b64encode(b"hi").decode()),
    ({"Fn::GetAZs": ""}, ["us-east-1a", "us-east-1b", "us-east-1c"]),
    ({"a": {"Ref": "AWS::NoValue"}, "b": [1, {"Ref": "AWS::NoValue"}, 2]}, {"b": [1, 2]}),
])
def test_functions_evaluate_as_cloudformation_does(node: Any, expected: Any) -> None:
    assert value(node) == expected


@pytest.mark.parametrize(("node", "message"), [
    ({"Fn::ImportValue": "shared-vpc"},
     'Resources.Fn.Properties.X."Fn::ImportValue": Fn::ImportValue is not supported: it reads '
     "an output exported by another stack"),
    ({"Ref": "Nope"}, "Resources.Fn.Properties.X.Ref: no parameter or resource named 'Nope'"),
    ({"Ref": "AWS::Nope"}, "unknown pseudo parameter 'AWS::Nope'"),
    ({"Fn::GetAtt": ["Nope", "Arn"]}, '"Fn::GetAtt"[0]: no resource named \'Nope\''),
    ({"Fn::Sub": "${Nope}"}, '"Fn::Sub": no parameter or resource named \'Nope\''),
    ({"Fn::Sub": "${Subnets}"}, "${Subnets} is a list, not a string"),
    ({"Fn::Join": [",", "a"]}, '"Fn::Join"[1]: must be a list of values to join'),
    ({"Fn::Join": [","]}, "Fn::Join takes a list of 2 arguments"),
    ({"Fn::Select": [5, ["a"]]}, "index 5 is out of range for a list of 1"),
    ({"Fn::If": ["Nope", 1, 2]}, "no condition 'Nope' in Conditions (conditions: IsDev, IsProd)"),
    ({"Fn::FindInMap": ["Limits", "qa", "Rate"]}, "Mappings.Limits has no key 'qa'"),
    ({"Fn::Bogus": 1}, "unknown intrinsic function 'Fn::Bogus'"),
    ({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, "Fn::Cidr is not supported"),
    # a YAML .inf or .nan is no text, here as in a string property (it became "inf")
    ({"Fn::Join": ["", ["a", float("inf")]]}, '"Fn::Join"[1][1]: must be a string'),
])
def test_failures_name_the_property_and_the_function(node: Any, message: str) -> None:
    assert message in problem(node)


def test_a_condition_loop_is_reported() -> None:
    conditions = {"A": {"Fn::Not": [{"Condition": "B"}]}, "B": {"Fn::Not": [{"Condition": "A"}]}}
    assert "conditions refer to each other in a loop" in problem(
        {"Fn::If": ["A", 1, 2]}, conditions=conditions)


def test_conditions_combine() -> None:
    conditions = {
        "P": {"Fn::Equals": ["a", "a"]},
        "Q": {"Fn::Equals": [{"Ref": "Size"}, 4]},
        "Both": {"Fn::And": [{"Condition": "P"}, {"Condition": "Q"}]},
        "Either": {"Fn::Or": [{"Condition": "P"}, {"Condition": "Q"}]},
        "Numbers": {"Fn::Equals": [{"Ref": "Size"}, 3]},  # "3" equals 3, as in CloudFormation
    }
    ev = evaluator(conditions=conditions)
    assert [ev.condition(c, ()) for c in ("Both", "Either", "Numbers")] == [False, True, True]


def test_an_ssm_parameter_has_no_value_without_an_override() -> None:
    message = problem({"Ref": "Latest"}, parameters={
        "Latest": SsmParameter("Latest", "AWS::SSM::Parameter::Value<String>")})
    assert "give its value with --parameter-overrides Latest=VALUE" in message


def test_static_evaluation_leaves_resource_references_as_written() -> None:
    node = {"A": {"Fn::Sub": "${Fn.Arn}"}, "B": {"Ref": "Env"},
            "C": {"Fn::Join": ["", [{"Ref": "AWS::Region"}, {"Fn::GetAtt": ["Gen", "Arn"]}]]}}
    assert value(node, static=True) == {"A": {"Fn::Sub": "${Fn.Arn}"}, "B": "prod",
                                        "C": node["C"]}


# --- parameters -------------------------------------------------------------------------


def parameters(section: dict[str, Any], overrides: dict[str, Any] | None = None
               ) -> tuple[dict[str, Any], list[str]]:
    ck, oc = Checker("template.yaml"), Checker("--parameter-overrides")
    values = read_parameters(ck, section, overrides or {}, oc, ())
    return values, [str(p) for p in ck.problems + oc.problems]


def test_defaults_overrides_and_types() -> None:
    values, problems = parameters({
        "Stage": {"Type": "String", "Default": "dev"},
        "Rate": {"Type": "Number", "Default": 10},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a, b"},
        "Ids": {"Type": "List<Number>", "Default": "1,2"},
        "Vpc": {"Type": "AWS::EC2::VPC::Id", "Default": "vpc-1"},
        "Bootstrap": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk/version"},
        "Given": {"Type": "String"},
        "Flag": {"Type": "String", "Default": False, "AllowedValues": [True, False]},
    }, {"Given": "x", "Rate": 25})
    assert problems == []
    assert values == {"Stage": "dev", "Rate": "25", "Flag": "false", "Zones": ["a", "b"], "Ids": ["1", "2"],
                      "Vpc": "vpc-1", "Given": "x",
                      "Bootstrap": SsmParameter("Bootstrap", "AWS::SSM::Parameter::Value<String>")}


@pytest.mark.parametrize(("spec", "given", "message"), [
    ({"Type": "String", "AllowedValues": ["dev", "prod"]}, "qa",
     "--parameter-overrides: P: must be one of dev, prod (AllowedValues), got 'qa'"),
    ({"Type": "String", "AllowedPattern": "[a-z]+"}, "Ab",
     "must match [a-z]+ (AllowedPattern), got 'Ab'"),
    ({"Type": "String", "MinLength": 3}, "ab", "must be at least 3 characters (MinLength), got 2"),
    ({"Type": "String", "MaxLength": 1}, "ab", "must be at most 1 characters (MaxLength), got 2"),
    ({"Type": "Number", "MinValue": 5}, "4", "must be >= 5 (MinValue), got '4'"),
    ({"Type": "Number", "MaxValue": 5}, "6", "must be <= 5 (MaxValue), got '6'"),
    ({"Type": "Number"}, "many", "must be a number, got 'many'"),
    ({"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]}, "a,c",
     "must be one of a, b (AllowedValues), got 'c'"),
])
def test_override_values_are_checked(spec: dict[str, Any], given: str, message: str) -> None:
    _, problems = parameters({"P": spec}, {"P": given})
    assert any(message in p for p in problems), problems


@pytest.mark.parametrize(("section", "overrides", "message"), [
    ({"P": {"Type": "String"}}, {},
     "template.yaml: Parameters.P: has no Default: give it a value with --parameter-overrides "
     "P=VALUE"),
    ({"P": {"Type": "Strnig", "Default": "x"}}, {},
     "template.yaml: Parameters.P.Type: must be String, Number"),
    ({"P": {"Type": "String", "Default": "x"}}, {"Q": "1"},
     "--parameter-overrides: Q: the template has no parameter 'Q' (parameters: P;"),
    ({"P": {"Type": "String", "Default": "qa", "AllowedValues": ["dev"]}}, {},
     "template.yaml: Parameters.P.Default: must be one of dev (AllowedValues), got 'qa'"),
])
def test_parameter_problems_name_where_the_value_came_from(
        section: dict[str, Any], overrides: dict[str, Any], message: str) -> None:
    _, problems = parameters(section, overrides)
    assert any(p.startswith(message) for p in problems), problems


def test_pseudo_parameters_can_be_overridden() -> None:
    ck = Checker("--parameter-overrides")
    pseudo = pseudo_parameters(ck, (), {"AWS::Region": "cn-north-1", "AWS::AccountId": "111122223333",
                                        "AWS::StackName": "pets"}, "template")
    assert ck.problems == []
    assert (pseudo["AWS::Region"], pseudo["AWS::Partition"], pseudo["AWS::URLSuffix"],
            pseudo["AWS::AccountId"], pseudo["AWS::StackName"]) == (
        "cn-north-1", "aws-cn", "amazonaws.com.cn", "111122223333", "pets")
    pseudo_parameters(ck, (), {"AWS::Region": "mars", "AWS::AccountId": "12"}, "template")
    assert [str(p) for p in ck.problems] == [
        "--parameter-overrides: \"AWS::Region\": must be a region such as eu-west-1, got 'mars'",
        "--parameter-overrides: \"AWS::AccountId\": must be 12 digits, got '12'"]


def test_override_items_take_both_forms() -> None:
    values, bad = parse_overrides(["Stage=prod", "ParameterKey=Url,ParameterValue=http://x?a=b",
                                   "Empty=", "nothing"])
    assert values == {"Stage": "prod", "Url": "http://x?a=b", "Empty": ""}
    assert bad == ["nothing"]
