"""Micro-benchmarks of request-body validation: the three draft 4 validators on one ~1 KB body
against a 10-property model (compiled once), and Sluice's whole check (excluded from
`make test`; run with `.venv/bin/pytest bench/micro/test_validation_bench.py -m benchmark`).

Chosen: jsonschema-rs (proxy/validation/body.py). The figures on the 2-core machine, per call:
orjson.loads 1.1 us; jsonschema-rs 0.45 us; fastjsonschema 3.1 us; jsonschema 104 us.
"""

from __future__ import annotations

from typing import Any

import fastjsonschema
import jsonschema
import jsonschema_rs
import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.config.validators import MethodValidation, ModelDef, RequestValidatorDef
from proxy.validation import CompiledModels, compile_request_validator

MODEL: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "email", "age", "tags"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^[a-f0-9-]{36}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "email": {"type": "string", "maxLength": 200},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "score": {"type": "number"},
        "active": {"type": "boolean"},
        "kind": {"type": "string", "enum": ["a", "b", "c"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "address": {"type": "object", "properties": {
            "street": {"type": "string"}, "city": {"type": "string"}, "zip": {"type": "string"}}},
        "notes": {"type": "string"},
    },
}
BODY = orjson.dumps({
    "id": "0f8fad5b-d9cb-469f-a165-70867728950e", "name": "Marco Polo",
    "email": "marco@example.com", "age": 42, "score": 99.5, "active": True, "kind": "b",
    "tags": ["x" * 20 for _ in range(10)],
    "address": {"street": "1 Long Street Name", "city": "Venice", "zip": "30100"},
    "notes": "n" * 480,
})
DOC = orjson.loads(BODY)


def test_body_is_about_1_kb() -> None:
    assert 900 <= len(BODY) <= 1100


@pytest.mark.benchmark
def test_parse_orjson(benchmark) -> None:  # type: ignore[no-untyped-def]
    assert benchmark(orjson.loads, BODY) == DOC


@pytest.mark.benchmark
def test_jsonschema_rs(benchmark) -> None:  # type: ignore[no-untyped-def]
    valid = jsonschema_rs.Draft4Validator(MODEL).is_valid
    assert benchmark(valid, DOC) is True


@pytest.mark.benchmark
def test_fastjsonschema(benchmark) -> None:  # type: ignore[no-untyped-def]
    validate = fastjsonschema.compile({"$schema": "http://json-schema.org/draft-04/schema#",
                                       **MODEL})
    assert benchmark(validate, DOC) == DOC


@pytest.mark.benchmark
def test_jsonschema(benchmark) -> None:  # type: ignore[no-untyped-def]
    valid = jsonschema.Draft4Validator(MODEL).is_valid
    assert benchmark(valid, DOC) is True


@pytest.mark.benchmark
def test_request_validator_check(benchmark) -> None:  # type: ignore[no-untyped-def]
    """The phase as the pipeline runs it: a required header and query parameter, then the
    body (parse and validate) chosen by Content-Type."""
    validation = MethodValidation(
        RequestValidatorDef("all", True, True), {"application/json": "Body"},
        {"Body": ModelDef("Body", MODEL)})
    validator = compile_request_validator(
        validation,
        {"method.request.header.x-api-version": True, "method.request.querystring.q": True},
        CompiledModels(validation.models))
    assert validator is not None
    headers = CIMultiDictProxy(CIMultiDict({"X-Api-Version": "2",
                                            "Content-Type": "application/json"}))
    result = benchmark(validator.check, headers, {}, {"q": "1"}, BODY, "application/json")
    assert result is None
