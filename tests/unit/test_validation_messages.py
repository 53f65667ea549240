"""validationErrorString: the messages of AWS's Java validator (java-json-tools
json-schema-validator), keyword by keyword, in its order; and agreement on what is valid with
the `jsonschema` library as a draft 4 reference."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proxy.validation import PARSE_ERROR, BodyModel, Explainer, error_string
from proxy.validation.explain import parse_exact


def messages(schema: dict[str, Any], body: str) -> list[str]:
    return Explainer(schema).explain(parse_exact(body.encode()))


def one(schema: dict[str, Any], body: str) -> str:
    found = messages(schema, body)
    assert len(found) == 1, found
    return found[0]


# --- each keyword, worded as fge words it ------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "body", "message"),
    [
        ({"required": ["name", "a", "Z"]}, "{}",
         'object has missing required properties (["Z","a","name"])'),
        ({"type": "integer"}, '"x"',
         'instance type (string) does not match any allowed primitive type '
         '(allowed: ["integer"])'),
        ({"type": "number"}, '"x"',  # fge adds integer when number is allowed, and says so
         'instance type (string) does not match any allowed primitive type '
         '(allowed: ["integer","number"])'),
        ({"type": ["string", "null", "array"]}, "true",
         'instance type (boolean) does not match any allowed primitive type '
         '(allowed: ["array","null","string"])'),
        ({"type": "integer"}, "1.0",  # Jackson reads 1.0 as a decimal
         'instance type (number) does not match any allowed primitive type '
         '(allowed: ["integer"])'),
        ({"type": "object"}, "null",
         'instance type (null) does not match any allowed primitive type '
         '(allowed: ["object"])'),
        ({"enum": ["dog", "cat", 1, None, {"a": [1]}]}, '"bird"',
         'instance value ("bird") not found in enum (possible values: '
         '["dog","cat",1,null,{"a":[1]}])'),
        ({"enum": [1]}, "true",
         'instance value (true) not found in enum (possible values: [1])'),
        ({"pattern": "^[a-z]+$"}, '"ABC"',
         'ECMA 262 regex "^[a-z]+$" does not match input string "ABC"'),
        ({"minLength": 3}, '"ab"', 'string "ab" is too short (length: 2, required minimum: 3)'),
        ({"maxLength": 2}, '"héé"', 'string "héé" is too long (length: 3, maximum allowed: 2)'),
        ({"minimum": 25}, "10",
         "numeric instance is lower than the required minimum (minimum: 25, found: 10)"),
        ({"maximum": 500}, "501.50",
         "numeric instance is greater than the required maximum (maximum: 500, found: 501.50)"),
        ({"maximum": 2.5}, "1e3",
         "numeric instance is greater than the required maximum (maximum: 2.5, found: 1E+3)"),
        ({"maximum": 5, "exclusiveMaximum": True}, "5",
         "numeric instance is not strictly lower than the required maximum 5"),
        ({"multipleOf": 0.5}, "0.7", "remainder of division is not zero (0.7 / 0.5)"),
        ({"additionalProperties": False, "properties": {"a": {}}, "patternProperties": {
            "^x-": {}}}, '{"a": 1, "x-b": 2, "zz": 3, "b": 4}',
         'object instance has properties which are not allowed by the schema: ["b","zz"]'),
        ({"minProperties": 2}, '{"a": 1}',
         "object has too few properties (found 1 but schema requires at least 2)"),
        ({"maxProperties": 0}, '{"a": 1}',
         "object has too many properties (found 1 but schema requires at most 0)"),
        ({"minItems": 2}, "[1]",
         "array is too short: must have at least 2 elements but instance has 1 elements"),
        ({"maxItems": 1}, "[1, 2]",
         "array is too long: must have at most 1 elements but instance has 2 elements"),
        ({"uniqueItems": True}, "[1, 1.0]", "array must not contain duplicate elements"),
        ({"items": [{}, {}], "additionalItems": False}, "[1, 2, 3]",
         "schema only allows 2 elements in array but instance has 3 elements"),
        ({"dependencies": {"card": ["billing", "cvv"]}}, '{"card": 1, "cvv": 2}',
         'property "card" of object has missing property dependencies '
         '(schema requires ["billing","cvv"]; missing: ["billing"])'),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "null",
         "instance failed to match at least one required schema among 2"),
        ({"allOf": [{"type": "integer"}, {"minimum": 5}, {"maximum": 1}]}, "3",
         "instance failed to match all required schemas (matched only 1 out of 3)"),
        ({"oneOf": [{"type": "integer"}, {"minimum": 1}]}, "3",
         "instance failed to match exactly one schema (matched 2 out of 2)"),
        ({"oneOf": [{"type": "string"}, {"type": "null"}]}, "3",
         "instance failed to match exactly one schema (matched 0 out of 2)"),
        ({"not": {"type": "string"}}, '"x"', "instance matched a schema which it should not have"),
        ({"format": "email"}, '"nope"', 'string "nope" is not a valid email address'),
        ({"format": "ipv4"}, '"1.2.3"', 'string "1.2.3" is not a valid IPv4 address'),
        ({"format": "date-time"}, '"2020-01-01"',
         "string \"2020-01-01\" is invalid against requested date format(s) "
         "[yyyy-MM-dd'T'HH:mm:ssZ, yyyy-MM-dd'T'HH:mm:ss.[0-9]{1,12}Z]"),
        ({"format": "uri"}, '"a b"', 'string "a b" is not a valid URI'),
        ({"format": "hostname"}, '"-bad-"', 'string "-bad-" is not a valid hostname'),
    ],
)
def test_fge_message(schema: dict[str, Any], body: str, message: str) -> None:
    assert one(schema, body) == message


def test_formats_aws_does_not_check_are_not_checked() -> None:
    assert messages({"format": "byte"}, '"not base64 !"') == []
    assert messages({"format": "int32", "type": "number"}, "1e12") == []


# --- fge's order -------------------------------------------------------------------------


def test_keywords_run_in_name_order_and_all_of_one_level_report() -> None:
    schema = {"type": "string", "enum": ["a"], "minLength": 5}
    # enum < type; minLength does not apply to an integer
    assert messages(schema, "7") == [
        'instance value (7) not found in enum (possible values: ["a"])',
        'instance type (integer) does not match any allowed primitive type '
        '(allowed: ["string"])',
    ]


def test_children_are_not_visited_once_a_level_failed() -> None:
    schema = {"required": ["b"], "properties": {"a": {"type": "string"}}}
    assert messages(schema, '{"a": 1}') == ['object has missing required properties (["b"])']


def test_members_are_visited_in_sorted_order_and_each_reports_its_own_level() -> None:
    schema = {"properties": {
        "zeta": {"type": "string"},
        "alpha": {"type": "object", "required": ["x"]},
        "mid": {"type": "object", "properties": {"deep": {"type": "string"}}},
    }}
    # "alpha" fails first; "mid" still runs its own keywords (none fail) but is not entered;
    # "zeta" reports at its level.
    assert messages(schema, '{"zeta": 1, "mid": {"deep": 2}, "alpha": {}}') == [
        'object has missing required properties (["x"])',
        'instance type (integer) does not match any allowed primitive type '
        '(allowed: ["string"])',
    ]


def test_a_nested_failure_is_found_when_the_levels_above_pass() -> None:
    schema = {"type": "object", "properties": {"pets": {"type": "array", "items": {
        "type": "object", "properties": {"price": {"type": "number", "maximum": 500}}}}}}
    assert messages(schema, '{"pets": [{"price": 1}, {"price": 900}]}') == [
        "numeric instance is greater than the required maximum (maximum: 500, found: 900)"]


def test_members_match_properties_and_every_matching_pattern() -> None:
    schema = {"properties": {"a1": {"type": "string"}},
              "patternProperties": {"^a": {"minimum": 5}, "1$": {"maximum": 0}},
              "additionalProperties": {"type": "null"}}
    # properties first, then the patterns in sorted order ("1$" < "^a")
    assert messages(schema, '{"a1": 3}') == [
        'instance type (integer) does not match any allowed primitive type '
        '(allowed: ["string"])',
        "numeric instance is greater than the required maximum (maximum: 0, found: 3)",
        "numeric instance is lower than the required minimum (minimum: 5, found: 3)",
    ]
    assert messages(schema, '{"b": 3}') == [
        'instance type (integer) does not match any allowed primitive type '
        '(allowed: ["null"])']


def test_refs_and_recursive_models() -> None:
    schema = {"$ref": "#/definitions/Node", "definitions": {"Node": {
        "type": "object", "required": ["v"],
        "properties": {"next": {"$ref": "#/definitions/Node"}}}}}
    assert messages(schema, '{"v": 1, "next": {"v": 2, "next": {"v": 3}}}') == []
    assert messages(schema, '{"v": 1, "next": {"v": 2, "next": {}}}') == [
        'object has missing required properties (["v"])']


def test_a_reference_loop_constrains_nothing() -> None:
    schema = {"$ref": "#/definitions/A", "definitions": {
        "A": {"$ref": "#/definitions/B"}, "B": {"$ref": "#/definitions/A"}}}
    assert messages(schema, '{"x": 1}') == []
    self_ref = {"$ref": "#/definitions/A", "definitions": {
        "A": {"allOf": [{"$ref": "#/definitions/A"}]}}}
    assert messages(self_ref, "1") == []


# --- the string AWS substitutes ----------------------------------------------------------


def test_error_string_is_a_java_list_json_escaped() -> None:
    assert error_string(['object has missing required properties (["a"])', "x"]) == (
        r'[object has missing required properties ([\"a\"]), x]')
    assert error_string(['string "a\\b\n" is too short']) == (
        r'[string \"a\\b\n\" is too short]')


def test_body_model_end_to_end() -> None:
    model = BodyModel("Pet", {"$ref": "#/definitions/Pet", "definitions": {"Pet": {
        "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}})
    assert model.errors(b'{"name": "x"}') is None
    assert model.errors(b'{"name": 5}') == (
        r'[instance type (integer) does not match any allowed primitive type '
        r'(allowed: [\"string\"])]')
    assert model.errors(b"{nope") == PARSE_ERROR
    assert model.errors(b"[" * 5000 + b"]" * 5000) is not None  # deep, never a traceback


def test_exact_numbers_decide_where_a_double_cannot() -> None:
    model = BodyModel("N", {"type": "integer", "maximum": 2**70})
    big = str(2**70).encode()
    assert model.errors(big) is None  # an integer beyond 64 bits is still an integer
    assert model.errors(str(2**70 + 1).encode()) == (
        rf"[numeric instance is greater than the required maximum (maximum: {2**70}, "
        rf"found: {2**70 + 1})]")


# --- agreement with a reference draft 4 validator ----------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-20, 20),
                    st.sampled_from([0.5, 1.5, -2.5, 10.25]), st.sampled_from(["", "a", "ab", "b1",
                                                                              "abc", "A"]))
NAMES = st.sampled_from(["a", "b", "c", "a1"])


def values(depth: int = 2) -> st.SearchStrategy[Any]:
    if depth == 0:
        return SCALARS
    inner = values(depth - 1)
    return st.one_of(SCALARS, st.lists(inner, max_size=3),
                     st.dictionaries(NAMES, inner, max_size=3))


TYPES = st.sampled_from(["array", "boolean", "integer", "null", "number", "object", "string"])


def _draft4(schema: dict[str, Any]) -> dict[str, Any]:
    if "maximum" not in schema:
        schema.pop("exclusiveMaximum", None)  # draft 4 requires maximum beside it
    return schema


def schemas(depth: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.builds(_draft4, st.fixed_dictionaries({}, optional={
        "type": st.one_of(TYPES, st.lists(TYPES, min_size=1, max_size=3, unique=True)),
        "enum": st.lists(SCALARS, min_size=1, max_size=3, unique_by=lambda v: json.dumps(v)),
        "minimum": st.sampled_from([0, 1, 2.5]),
        "maximum": st.sampled_from([0, 3, 10.25]),
        "exclusiveMaximum": st.booleans(),
        "multipleOf": st.sampled_from([2, 0.5, 3]),
        "minLength": st.integers(0, 2),
        "maxLength": st.integers(0, 2),
        "pattern": st.sampled_from(["^a", "b", "[0-9]$"]),
        "minItems": st.integers(0, 2),
        "maxItems": st.integers(0, 2),
        "uniqueItems": st.booleans(),
        "required": st.lists(NAMES, min_size=1, max_size=2, unique=True),
        "minProperties": st.integers(0, 2),
        "maxProperties": st.integers(0, 2),
        "additionalProperties": st.booleans(),
        "dependencies": st.dictionaries(NAMES, st.lists(NAMES, min_size=1, max_size=2,
                                                        unique=True), max_size=1),
    }))
    if depth == 0:
        return leaf
    inner = schemas(depth - 1)

    def nest(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        return {**base, **extra}

    return st.builds(nest, leaf, st.fixed_dictionaries({}, optional={
        "properties": st.dictionaries(NAMES, inner, max_size=2),
        "patternProperties": st.dictionaries(st.sampled_from(["^a", "1$"]), inner, max_size=1),
        "items": st.one_of(inner, st.lists(inner, min_size=1, max_size=2)),
        "additionalItems": st.one_of(st.booleans(), inner),
        "allOf": st.lists(inner, min_size=1, max_size=2),
        "anyOf": st.lists(inner, min_size=1, max_size=2),
        "oneOf": st.lists(inner, min_size=1, max_size=2),
        "not": inner,
    }))


@settings(max_examples=100, deadline=None)
@given(schemas(), values())
# found by this test: without a list of "items", draft 4 ignores "additionalItems"
@example(schema={"additionalItems": {"minimum": 0}}, value=["ab", -5])
@example(schema={"items": {"type": "string"}, "additionalItems": {"minimum": 0}},
         value=["ab", "c"])
def test_the_explanation_agrees_with_a_reference_validator(schema: dict[str, Any],
                                                           value: Any) -> None:
    body = json.dumps(value).encode()
    reference = jsonschema.Draft4Validator(schema).is_valid(json.loads(body))
    found = messages(schema, body.decode())
    assert (found == []) is reference, found
    model = BodyModel("M", schema)
    errors = model.errors(body)
    assert (errors is None) is reference, errors
    if errors is not None:
        assert errors == error_string(found)
