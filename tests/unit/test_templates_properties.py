"""Random mutations of the realistic templates: loading one either works or fails with problems
that name a template section (a logical id and property path, a parameter, ...), never a
traceback and never a path in the generated config."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.config import load_config
from proxy.errors import ConfigError
from proxy.templates import is_template, read_template

DATA = Path(__file__).parent.parent / "data" / "templates"
SOURCES = {
    "sam-app": "template.yaml",
    "cdk-app": "PetsStack.template.json",
    "petstore": "template.yaml",
}
SECTIONS = {"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules",
            "Mappings", "Conditions", "Transform", "Resources", "Outputs", "Globals", "Hooks"}

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 100_000), st.text(max_size=12),
                    st.sampled_from(["", "*", "/", "GET", "prod", "AWS::NoValue", "python3.11",
                                     "/~1pets", "{proxy+}", "app.handler", "s3://b/k.zip"]))
NAMES = st.sampled_from(["Stage", "StageName", "PetsApi", "Fn", "Nope", "AWS::Region",
                         "PetsApi4A1E5C2B", "Prod", "IsProd", "HasFunction", "Arn",
                         "RootResourceId", "ListPetsFunction"])
INTRINSICS = st.one_of(
    st.builds(lambda n: {"Ref": n}, NAMES),
    st.builds(lambda a, b: {"Fn::GetAtt": [a, b]}, NAMES, NAMES),
    st.builds(lambda n: {"Fn::Sub": "x-${" + n + "}"}, NAMES),
    st.builds(lambda n: {"Fn::If": [n, "a", {"Ref": "AWS::NoValue"}]}, NAMES),
    st.builds(lambda v: {"Fn::Join": ["-", v]}, st.lists(SCALARS, max_size=3)),
    st.builds(lambda v: {"Fn::Select": [v, ["a", "b"]]}, SCALARS),
    st.builds(lambda n: {"Fn::ImportValue": n}, NAMES),
    st.builds(lambda n: {"Fn::FindInMap": [n, n, n]}, NAMES),
    st.builds(lambda: {"Fn::Unknown": 1}),
)
VALUES = st.one_of(SCALARS, INTRINSICS, st.lists(SCALARS, max_size=3),
                   st.dictionaries(st.sampled_from(["Type", "Properties", "Ref", "Path", "x"]),
                                   SCALARS, max_size=2))


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("templates")
    out = {}
    for name in SOURCES:
        shutil.copytree(DATA / name, root / name)
        out[name] = root / name
    return out


@pytest.fixture(scope="module")
def originals() -> dict[str, Any]:
    return {name: read_template(DATA / name / file, file) for name, file in SOURCES.items()}


@pytest.fixture(autouse=True, scope="module")
def _inline_code_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # mutated inline code would otherwise leave a folder per example in the real temp dir
    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("inline"))
    yield
    tempfile.tempdir = saved


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "rename", "type"]))
        key = path[-1]
        if action == "delete":
            del parent[key]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["Colour", "Properties", "Type", "Fn::Sub"]))] = \
                parent.pop(key)
        elif action == "type" and len(path) == 2 and path[0] == "Resources" and \
                isinstance(parent[key], dict):
            parent[key]["Type"] = draw(st.sampled_from([
                "AWS::Serverless::Function", "AWS::Serverless::Api", "AWS::ApiGateway::Method",
                "AWS::ApiGateway::Stage", "AWS::Lambda::Function", "AWS::SQS::Queue",
                "AWS::ApiGateway::UsagePlanKey", "AWS::ApiGateway::Resource"]))
        else:
            parent[key] = draw(VALUES)
    return doc


def check(folder: Path, doc: Any) -> None:
    file = folder / "mutated.template.json"
    file.write_text(json.dumps(doc, default=str))
    label = str(file)
    try:
        load_config(file, env={})
    except ConfigError as e:
        assert e.problems
        if not is_template(doc):
            return  # no Resources left: read as a Sluice config, and refused as one
        top = set(doc) if isinstance(doc, dict) else set()
        for p in e.problems:
            assert p.message
            if p.file == "--parameter-overrides":
                continue
            assert p.file == label or p.file.startswith(str(folder)), p
            first = p.path.split(".")[0].split("[")[0].strip('"')
            assert p.path == "" or first in SECTIONS or first in top, p


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_mutated_templates_fail_with_template_paths(name: str, folders: dict[str, Path],
                                                    originals: dict[str, Any]) -> None:
    @SETTINGS
    @given(st.data())
    def run(data: st.DataObject) -> None:
        check(folders[name], data.draw(mutated(originals[name])))

    run()


def test_the_unmutated_templates_pass_the_same_check(folders: dict[str, Path],
                                                     originals: dict[str, Any]) -> None:
    for name, doc in originals.items():
        check(folders[name], doc)

