"""Reading a CloudFormation or SAM template: YAML with CloudFormation's short-form tags (``!Ref``,
``!Sub``, ``!GetAtt``, ...) read into their long form, or JSON; and the ``AWS::Include``
transform for documents on the local disk.

The file checks (6 MB, UTF-8, duplicate keys) are the config loader's own
(``proxy.config._source``), so a template fails the same way a config file does.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from proxy.config._check import Checker, PathT, describe, show
from proxy.config._source import StrictLoader, read_document
from proxy.errors import ConfigError

__all__ = ["TemplateLoader", "expand_includes", "is_template", "read_template"]

# Short form -> long form key. `!Condition` is the condition reference used inside
# Fn::And/Or/Not; everything else is Fn::<name>.
_SHORT_TAGS = (
    "Ref",
    "Condition",
    "Sub",
    "GetAtt",
    "Join",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Select",
    "Split",
    "FindInMap",
    "Base64",
    "GetAZs",
    "ImportValue",
    "Cidr",
    "Transform",
    "Length",
    "ToJsonString",
)


class TemplateLoader(StrictLoader):
    """The config loader's strict YAML reader plus CloudFormation's short-form tags."""


def _constructor(key: str) -> Any:
    def construct(loader: TemplateLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            assert isinstance(node, yaml.MappingNode)
            value = loader.construct_mapping(node, deep=True)
        if key == "Fn::GetAtt" and isinstance(value, str):
            # `!GetAtt Resource.Attribute` (the attribute may itself contain dots)
            value = value.split(".", 1)
        return {key: value}

    return construct


for _tag in _SHORT_TAGS:
    TemplateLoader.add_constructor(
        "!" + _tag, _constructor(_tag if _tag in ("Ref", "Condition") else "Fn::" + _tag)
    )


def is_template(doc: Any) -> bool:
    """A CloudFormation or SAM template is recognised by its ``Resources`` section."""
    return isinstance(doc, dict) and "Resources" in doc


def read_template(path: str | os.PathLike[str], label: str) -> Any:
    """The parsed document at ``path`` (YAML with short tags, or JSON); ``ConfigError`` naming
    ``label`` when it cannot be read."""
    return read_document(path, label, TemplateLoader)


_INCLUDE = "Fn::Transform"
_MAX_INCLUDES = 64


def expand_includes(ck: Checker, doc: Any, base_dir: str) -> Any:
    """``doc`` with every ``Fn::Transform: {Name: AWS::Include, Parameters: {Location: FILE}}``
    replaced by the document in FILE (relative to ``base_dir``), as ``sam`` and CloudFormation
    do for an included OpenAPI file. Problems go to ``ck``; the failing node is left as it was."""
    budget = [_MAX_INCLUDES]
    return _expand(ck, doc, (), base_dir, budget)


def _expand(ck: Checker, node: Any, path: PathT, base_dir: str, budget: list[int]) -> Any:
    if isinstance(node, list):
        return [_expand(ck, v, (*path, i), base_dir, budget) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    if _INCLUDE not in node:
        return {k: _expand(ck, v, (*path, k), base_dir, budget) for k, v in node.items()}
    included = _include(ck, node[_INCLUDE], (*path, _INCLUDE), base_dir, budget)
    if included is None:
        return node
    rest = {k: _expand(ck, v, (*path, k), base_dir, budget) for k, v in node.items()
            if k != _INCLUDE}
    if not rest:
        return included
    if not isinstance(included, dict):
        ck.report((*path, _INCLUDE), "an included document merged with other keys must be a "
                  f"mapping, got {describe(included)}")
        return node
    return {**included, **rest}


def _include(ck: Checker, spec: Any, path: PathT, base_dir: str, budget: list[int]) -> Any:
    if not (isinstance(spec, dict) and spec.get("Name") == "AWS::Include"):
        name = spec.get("Name") if isinstance(spec, dict) else None
        ck.report(path, f"the transform {show(name)} is not supported: Sluice runs only "
                  "AWS::Include (of a local file)")
        return None
    params = spec.get("Parameters")
    location = params.get("Location") if isinstance(params, dict) else None
    where = (*path, "Parameters", "Location")
    if not isinstance(location, str) or not location:
        ck.report(where, f"must be the path of a local file, got {describe(location)}")
        return None
    if "://" in location:
        ck.report(where, f"{show(location)} is not on this machine: Sluice reads included "
                  "documents from local paths (relative to the template)")
        return None
    budget[0] -= 1
    if budget[0] < 0:
        ck.report(where, f"more than {_MAX_INCLUDES} AWS::Include transforms (an include loop?)")
        return None
    file = os.path.join(base_dir, location)
    label = os.path.normpath(os.path.join(os.path.dirname(ck.file), location))
    if not os.path.isfile(file):
        ck.report(where, f"no such file: {label} (paths are relative to the template)")
        return None
    try:
        doc = read_template(file, label)
    except ConfigError as e:
        ck.problems.extend(e.problems)
        return None
    return _expand(ck, doc, path, os.path.dirname(file), budget)
