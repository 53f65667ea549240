"""``sluice invoke`` and ``sluice validate`` on functions, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent.parent
EXAMPLE = ROOT / "examples" / "functions" / "sluice.yaml"


def sluice(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy", *args], capture_output=True,
                          text=True, timeout=30, cwd=ROOT, input=stdin)


def test_invoke_prints_the_result() -> None:
    done = sluice("invoke", str(EXAMPLE), "pets", "--event",
                  str(EXAMPLE.parent / "events" / "get-pets.json"))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["functionName"] == "pets" and out["functionError"] is None and out["coldStart"]
    assert out["payload"]["statusCode"] == 200
    assert json.loads(out["payload"]["body"]) == [{"id": "1", "type": "dog", "price": 249.99}]
    assert f"pets {out['requestId']} REPORT RequestId: {out['requestId']}" in done.stderr


def test_invoke_prints_a_function_error() -> None:
    done = sluice("invoke", str(EXAMPLE), "fails", "--event", "-", stdin="{}")
    assert done.returncode == 1
    out = json.loads(done.stdout)
    assert out["functionError"] == "Unhandled"
    assert out["payload"]["errorType"] == "RuntimeError"


def test_invoke_an_unknown_function() -> None:
    done = sluice("invoke", str(EXAMPLE), "nope")
    assert done.returncode == 2
    assert "no function 'nope'" in done.stderr and "(functions: fails, pets, slow)" in done.stderr


def test_invoke_gives_the_function_the_configs_region_and_account(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    return {'arn': context.invoked_function_arn, 'region': os.environ['AWS_REGION']}\n")
    (tmp_path / "api.yaml").write_text(yaml.safe_dump({
        "openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": {}}))
    (tmp_path / "sluice.yaml").write_text(yaml.safe_dump({
        "aws": {"region": "eu-west-1", "accountId": "111122223333"},
        "apis": [{"id": "a", "definition": "api.yaml", "stages": {"prod": {}}}],
        "functions": {"who": {"handler": "app.handler"}}}))
    done = sluice("invoke", str(tmp_path / "sluice.yaml"), "who")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["payload"] == {
        "arn": "arn:aws:lambda:eu-west-1:111122223333:function:who", "region": "eu-west-1"}


def test_validate_rejects_unknown_names_bad_timeouts_and_bad_handlers(tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    for name in ("api.yaml",):
        (tmp_path / name).write_text((EXAMPLE.parent / name).read_text())
    (tmp_path / "pets").mkdir()
    (tmp_path / "pets" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    del doc["functions"]["pets"]
    doc["functions"]["fails"]["timeout"] = 1000
    doc["functions"]["slow"]["handler"] = "missing.slow"
    file = tmp_path / "sluice.yaml"
    file.write_text(yaml.safe_dump(doc))
    done = sluice("validate", str(file))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert f"{file}: functions.fails.timeout: must be an integer between 1 and 900, got 1000" \
        in lines
    assert any(line.startswith(f"{file}: functions.slow.handler: no module 'missing' in ")
               for line in lines)
    assert any(line.endswith(
        'paths."/pets".get.x-amazon-apigateway-integration.uri: names function \'pets\', '
        "which is not in functions (names: fails, slow)") for line in lines)
    assert "Traceback" not in done.stderr


def test_validate_the_example() -> None:
    done = sluice("validate", str(EXAMPLE))
    assert done.returncode == 0
    assert done.stdout.strip().endswith("3 function(s)")


def test_routes_say_which_function_each_lambda_route_calls_or_why_it_answers_500(
        tmp_path: Path) -> None:
    fn = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
          "arn:aws:lambda:us-east-1:123456789012:function:{}/invocations")

    def route(kind: str, name: str) -> dict[str, object]:
        return {"post": {"responses": {}, "x-amazon-apigateway-integration": {
            "type": kind, "httpMethod": "POST", "uri": fn.format(name)}}}

    definition = {"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": {
        "/known": route("aws_proxy", "hello"),
        "/custom": route("aws", "hello"),
        "/missing": route("aws_proxy", "${stageVariables.fn}"),
        "/unusable": route("aws", "${stageVariables.bad}")}}
    (tmp_path / "api.yaml").write_text(yaml.safe_dump(definition))
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (tmp_path / "sluice.yaml").write_text(yaml.safe_dump({
        "apis": [{"id": "a", "definition": "api.yaml",
                  "stages": {"prod": {"variables": {"fn": "nobody", "bad": "a:b:c"}}}}],
        "functions": {"hello": {"handler": "app.handler"}}}))
    done = sluice("routes", str(tmp_path / "sluice.yaml"))
    assert done.returncode == 0, done.stderr
    rows = {line.split()[2]: " ".join(line.split()[3:-1]) for line in done.stdout.splitlines()
            if line.startswith("a/prod")}
    assert rows == {"/known": "AWS_PROXY hello", "/custom": "AWS Lambda hello",
                    "/missing": "AWS_PROXY nobody (not in functions: answers 500)",
                    "/unusable": "AWS Lambda (no function: answers 500)"}
