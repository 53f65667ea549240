"""Templates served by the real gateway: `sluice serve TEMPLATE --parameter-overrides ...` in a
subprocess, and a SAM template's API key, usage plan throttle and quota enforced in-process.
The Lambda routes of the realistic SAM and CDK templates wait for the functions section."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from proxy.config import load_config
from proxy.templates import PARAMETER_OVERRIDES_ENV
from tests.support.gateway import GatewayProcess, run_gateway, serve_app

DATA = Path(__file__).parent.parent / "data" / "templates"


def _backend() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"method": request.method, "path": request.path,
                                  "query": dict(request.query)})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def test_serve_the_petstore_template_with_parameter_overrides(tmp_path: Path) -> None:
    shutil.copytree(DATA / "petstore", tmp_path / "petstore")
    async with serve_app(_backend()) as upstream:
        backend = upstream.removeprefix("http://")
        gateway = GatewayProcess(tmp_path / "petstore" / "template.yaml",
                                 "--parameter-overrides", f"Backend={backend}",
                                 "AliceKey=alice-from-the-command-line1")
        gateway.start()
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{gateway.url}/prod/") as r:
                    assert (r.status, await r.json()) == (200, {"ok": True})
                async with http.get(f"{gateway.url}/prod/pets/7") as r:
                    assert r.status == 200
                    assert (await r.json())["path"] == "/petstore/pets/7"
                async with http.post(f"{gateway.url}/prod/pets") as r:
                    assert (r.status, await r.json()) == (403, {"message": "Forbidden"})
                key = {"x-api-key": "alice-from-the-command-line1"}
                async with http.post(f"{gateway.url}/prod/pets", headers=key) as r:
                    assert r.status == 200
                    assert (await r.json())["method"] == "POST"
        finally:
            gateway.stop()
        assert "Prod: the access log goes to stdout" in gateway.output()


SAM_HTTP = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Backend: {Type: String}
Globals:
  Api:
    Auth:
      ApiKeyRequired: true
      UsagePlan:
        CreateUsagePlan: PER_API
        Throttle: {RateLimit: 0.001, BurstLimit: 2}
        Quota: {Limit: 3, Period: DAY}
Resources:
  Shop:
    Type: AWS::Serverless::Api
    Properties:
      StageName: live
      Variables: {backend: !Ref Backend}
      DefinitionBody:
        openapi: 3.0.1
        info: {title: shop}
        paths:
          /items/{id}:
            get:
              x-amazon-apigateway-integration:
                type: http_proxy
                httpMethod: GET
                uri: http://${stageVariables.backend}/items/{id}
                requestParameters:
                  integration.request.path.id: method.request.path.id
              parameters:
                - {name: id, in: path, required: true, schema: {type: string}}
  Key:
    Type: AWS::ApiGateway::ApiKey
    Properties: {Enabled: true, Value: key-0123456789abcdefghijkl}
  KeyInPlan:
    Type: AWS::ApiGateway::UsagePlanKey
    Properties: {KeyId: !Ref Key, KeyType: API_KEY, UsagePlanId: !Ref ShopUsagePlan}
"""


async def test_a_sam_usage_plan_throttles_and_counts_through_the_gateway(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(SAM_HTTP))
    async with serve_app(_backend()) as upstream:
        monkeypatch.setenv(PARAMETER_OVERRIDES_ENV,
                           json.dumps({"Backend": upstream.removeprefix("http://")}))
        config = load_config(template)
        [generated] = [k.value for k in config.api_keys if k.id == "ShopApiKey"]
        async with run_gateway(template) as gateway, aiohttp.ClientSession() as http:
            url = f"{gateway.url}/live/items/42"
            async with http.get(url) as r:
                assert r.status == 403
            statuses = []
            for key in ("key-0123456789abcdefghijkl",) * 3:
                async with http.get(url, headers={"x-api-key": key}) as r:
                    statuses.append(r.status)
                    if r.status == 200:
                        assert (await r.json())["path"] == "/items/42"
            assert statuses == [200, 200, 429]  # burst 2, refilled 0.001 a second
            async with http.get(url, headers={"x-api-key": generated}) as r:
                assert r.status == 200  # SAM's own key, generated, is in the plan too


async def test_the_sam_app_serves_every_route(tmp_path: Path) -> None:
    shutil.copytree(DATA / "sam-app", tmp_path / "sam-app")
    template = tmp_path / "sam-app" / "template.yaml"
    key = {"x-api-key": next(k.value for k in load_config(template).api_keys)}
    pets = {"Host": "petsapi.execute-api.local"}  # the id is the logical id, in any case
    implicit = {"Host": "ServerlessRestApi.execute-api.local"}
    async with run_gateway(template) as gateway, aiohttp.ClientSession() as http:
        async def call(method: str, path: str, **headers: str) -> tuple[int, object]:
            async with http.request(method, gateway.url + path, headers=headers) as r:
                return r.status, await r.json(content_type=None)

        assert await call("GET", "/Prod/health", **implicit) == (200, {"status": "ok"})
        assert (await call("GET", "/dev/pets", **pets, **key))[0] == 401  # no token
        allowed = {**pets, **key, "Authorization": "Bearer allow-alice"}
        status, body = await call("GET", "/dev/pets?limit=1", **allowed)
        assert status == 200
        assert body == {"table": "pets", "pets": [{"id": "1", "name": "Rex"}],
                        "principal": "alice"}
        assert await call("GET", "/dev/pets/2", **allowed) == (200, {"id": "2", "name": "Tom"})
        assert (await call("POST", "/dev/pets", **allowed))[0] == 201
        assert (await call("GET", "/dev/pets", **{**allowed, "x-api-key": "x" * 20}))[0] == 403
        denied = {**allowed, "Authorization": "Bearer deny"}
        assert (await call("GET", "/dev/pets", **denied))[0] == 403
        assert (await call("OPTIONS", "/dev/pets", **pets))[0] == 200  # preflight: no auth


async def test_the_cdk_app_serves_every_route(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(DATA / "cdk-app", tmp_path / "cdk-app")
    template = tmp_path / "cdk-app" / "PetsStack.template.json"
    async with serve_app(_backend()) as upstream, aiohttp.ClientSession() as http:
        monkeypatch.setenv(PARAMETER_OVERRIDES_ENV,
                           json.dumps({"BackendHost": upstream.removeprefix("http://")}))
        async with run_gateway(template) as gateway:
            base = f"{gateway.url}/prod"
            async with http.get(f"{base}/health") as r:
                assert (r.status, await r.json()) == (200, {"status": "ok"})
            async with http.get(f"{base}/pets") as r:
                assert r.status == 403
            key = {"x-api-key": "client-0123456789abcdefghij"}
            async with http.get(f"{base}/pets", headers=key) as r:
                assert (await r.json())["greeting"] == "hello-world"
            async with http.get(f"{base}/pets/7", headers={"Authorization": "allow"}) as r:
                assert (await r.json())["pet"] == "7"
            async with http.get(f"{base}/pets/7", headers={"Authorization": "no"}) as r:
                assert r.status == 403
            async with http.get(f"{base}/anything/else") as r:
                assert (await r.json())["path"] == "/anything/else"


TWO_APIS = """
Resources:
  Orders:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: orders}
  OrdersGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Orders
      ResourceId: !GetAtt Orders.RootResourceId
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        IntegrationResponses: [{StatusCode: "200", ResponseTemplates: {application/json: '"orders"'}}]
  OrdersDeployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: OrdersGet
    Properties: {RestApiId: !Ref Orders, StageName: v1}
  Pets:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: pets}
  PetsGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Pets
      ResourceId: !GetAtt Pets.RootResourceId
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        IntegrationResponses: [{StatusCode: "200", ResponseTemplates: {application/json: '"pets"'}}]
  PetsDeployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: PetsGet
    Properties: {RestApiId: !Ref Pets, StageName: v1}
"""


async def test_each_api_of_a_template_is_addressed_by_its_logical_id(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(TWO_APIS)
    async with run_gateway(template) as gateway, aiohttp.ClientSession() as http:
        for api, body in (("Orders", "orders"), ("Pets", "pets")):
            url = f"{gateway.url}/restapis/{api}/v1/_user_request_/"
            async with http.get(url) as r:
                assert (r.status, await r.json()) == (200, body)


async def test_the_host_match_ignores_the_case_of_a_logical_id(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(TWO_APIS)
    async with run_gateway(template) as gateway, aiohttp.ClientSession() as http:
        for host in ("Orders.execute-api.local", "orders.execute-api.local"):
            async with http.get(f"{gateway.url}/v1/", headers={"Host": host}) as r:
                assert (r.status, await r.json()) == (200, "orders")


async def test_the_sam_example_serves_its_functions(tmp_path: Path) -> None:
    shutil.copytree(DATA.parent.parent.parent / "examples" / "sam", tmp_path / "sam")
    template = tmp_path / "sam" / "template.yaml"
    [key] = [k.value for k in load_config(template).api_keys]
    async with run_gateway(template) as gateway, aiohttp.ClientSession() as http:
        def url(api: str, stage: str, path: str) -> str:
            return f"{gateway.url}/restapis/{api}/{stage}/_user_request_{path}"

        async with http.get(url("ServerlessRestApi", "Prod", "/hello")) as r:
            assert (r.status, await r.json()) == (200, {"message": "hello from Hello"})
        async with http.get(url("NotesApi", "dev", "/notes")) as r:
            assert (r.status, await r.json()) == (403, {"message": "Forbidden"})
        async with http.get(url("NotesApi", "dev", "/notes"), headers={"x-api-key": key}) as r:
            assert r.status == 200
            assert await r.json() == [{"id": "1", "text": "buy milk"},
                                      {"id": "2", "text": "write tests"}]
        async with http.get(url("NotesApi", "dev", "/notes/9"), headers={"x-api-key": key}) as r:
            assert (r.status, await r.json()) == (404, {"message": "no note 9"})
        async with http.options(url("NotesApi", "dev", "/notes")) as r:  # preflight: no key
            assert r.status == 200
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert r.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
