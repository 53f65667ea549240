"""The non-proxy bench scenarios stay what their sources say: the templated route renders the
VTL reference pair of bench/micro/vtl_reference.py over its 1 KB body, its twin proxies the same
request to the same backend route, and the validated route checks the 1 KB body of
bench/micro/test_validation_bench.py against its 10-property model while its twin does not."""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from bench.micro import test_validation_bench as validation_bench
from bench.micro.vtl_reference import REQUEST_BODY, REQUEST_TEMPLATE, RESPONSE_TEMPLATE
from bench.scenario import builtin_dir, load
from bench.upstream import REFERENCE_PATH


def _api() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((builtin_dir() / "nonproxy.openapi.yaml").read_text())
    return doc


def _integration(path: str) -> dict[str, Any]:
    found: dict[str, Any] = _api()["paths"][path]["post"]["x-amazon-apigateway-integration"]
    return found


def test_the_templated_pair_is_the_reference_pair() -> None:
    templated = load(builtin_dir() / "templated.yaml")
    twin = load(builtin_dir() / "templated-proxy.yaml")
    assert [e.body for e in templated.mix] == [e.body for e in twin.mix] == [
        REQUEST_BODY.encode()]
    http = _integration("/orders")
    assert http["type"] == "http"
    assert http["requestTemplates"] == {"application/json": REQUEST_TEMPLATE}
    assert http["responses"]["default"]["responseTemplates"] == {
        "application/json": RESPONSE_TEMPLATE}
    proxy = _integration("/orders-proxy")
    assert proxy["type"] == "http_proxy"
    assert http["uri"] == proxy["uri"] == "http://${stageVariables.backend}" + REFERENCE_PATH


def test_the_validated_pair_differs_by_its_validator_only() -> None:
    validated = load(builtin_dir() / "validated.yaml")
    twin = load(builtin_dir() / "validated-off.yaml")
    body = validated.mix[0].body
    assert body == twin.mix[0].body == validation_bench.BODY
    assert 900 <= len(body) <= 1100
    assert _api()["components"]["schemas"]["Person"] == validation_bench.MODEL
    assert len(validation_bench.MODEL["properties"]) == 10
    on = _api()["paths"]["/people"]["post"]
    off = _api()["paths"]["/people-open"]["post"]
    assert on.pop("x-amazon-apigateway-request-validator") == "body"
    assert on == off
    assert orjson.loads(body)["id"]
