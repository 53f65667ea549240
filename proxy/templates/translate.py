"""A SAM or CloudFormation template as a Sluice config (CONTRACT section 9).

``translate_template`` checks the template's sections, reads its parameters (with overrides),
drops the resources whose ``Condition`` is false, expands SAM (``proxy.templates.sam``) and
translates the CloudFormation resources (``proxy.templates.cloudformation``). The result is a
plain config document that the loader checks like a hand-written file, the origin of each of
its fields (to name the template property in the loader's messages), the resources Sluice does
not serve, and notes for the user (generated API key values).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy.config._check import Checker, Invalid, PathT, describe, show
from proxy.config.model import DEFAULT_REGION
from proxy.errors import ConfigError, Problem
from proxy.templates._context import Context
from proxy.templates.cloudformation import Names, translate_resources
from proxy.templates.intrinsics import Evaluator, Scope
from proxy.templates.origins import Origins, Sources
from proxy.templates.parameters import pseudo_parameters, read_parameters
from proxy.templates.reading import expand_includes
from proxy.templates.sam import Expanded, expand_sam, has_sam

__all__ = ["Translation", "translate_template"]

_SECTIONS = ("AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules",
             "Mappings", "Conditions", "Transform", "Resources", "Outputs", "Globals", "Hooks")
_SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
_LOGICAL_ID = re.compile(r"[A-Za-z0-9]+")


@dataclass
class Translation:
    """A template as a Sluice config document, with what the loader and the user need."""

    config: dict[str, Any]
    origins: Origins
    ignored: list[str] = field(default_factory=list)  # "Table (AWS::DynamoDB::Table)"
    notes: list[str] = field(default_factory=list)


def default_stack_name(file: str) -> str:
    """``AWS::StackName`` unless overridden: the template's file name (``MyStack`` for CDK's
    ``MyStack.template.json``), as a valid stack name."""
    base = os.path.basename(file)
    for suffix in (".template.json", ".json", ".yaml", ".yml", ".template"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    name = re.sub(r"[^A-Za-z0-9-]", "-", base).strip("-")
    return name if name and name[0].isalpha() else f"stack-{name}" if name else "sluice"


def translate_template(
    doc: Any,
    *,
    file: str,
    template_dir: str,
    config_dir: str,
    overrides: Mapping[str, Any],
    overrides_file: str,
    overrides_where: PathT = (),
    region: str = DEFAULT_REGION,
) -> Translation:
    """``doc`` (a parsed template read from ``file``) as a Sluice config. ``template_dir`` is
    where its relative paths start, ``config_dir`` where the config's paths start (the same
    folder when the template is served directly). ``overrides`` are parameter values, reported
    as ``overrides_file: overrides_where.NAME`` when wrong; ``region`` is ``AWS::Region``
    unless they override it. Raises ``ConfigError`` with every
    problem, each naming a logical id and property path."""
    ck = Checker(file)
    overrides_ck = Checker(overrides_file)
    try:
        translation = _translate(ck, overrides_ck, doc, template_dir, config_dir, overrides,
                                 overrides_where, region)
    except Invalid:
        translation = None
    except RecursionError:
        ck.report((), "is nested too deeply")
        translation = None
    problems = _unique(overrides_ck.problems + ck.problems)
    if problems or translation is None:
        raise ConfigError(problems or [Problem(file, "", "cannot be translated")])
    return translation


def _unique(problems: list[Problem]) -> list[Problem]:
    # a condition that fails is evaluated (and reported) again by each resource naming it
    return list(dict.fromkeys(problems))


def _translate(ck: Checker, overrides_ck: Checker, doc: Any, template_dir: str,
               config_dir: str, overrides: Mapping[str, Any], overrides_where: PathT,
               region: str) -> Translation | None:
    if not isinstance(doc, dict):
        ck.fail((), f"must be a template (a mapping with Resources), got {describe(doc)}")
    for key in doc:
        if key not in _SECTIONS:
            ck.report((str(key),), f"unknown template section {show(key)} (allowed: "
                      f"{', '.join(_SECTIONS)})")
    _check_transform(ck, doc.get("Transform"))
    doc = expand_includes(ck, doc, template_dir)
    resources = _resources(ck, doc.get("Resources"))
    conditions = _section(ck, doc, "Conditions")
    mappings = _section(ck, doc, "Mappings")
    pseudo = pseudo_parameters(overrides_ck, overrides_where, overrides,
                               default_stack_name(ck.file), region=region)
    parameters = read_parameters(ck, doc.get("Parameters"), overrides, overrides_ck,
                                 overrides_where)
    if ck.problems or overrides_ck.problems:
        return None
    static = Evaluator(ck, Scope(parameters, pseudo, conditions, mappings, resources))
    present = {}
    for lid, resource in resources.items():
        condition = resource.get("Condition")
        try:
            if condition is None or static.condition(condition, ("Resources", lid, "Condition")):
                present[lid] = resource
        except Invalid:
            continue
    if has_sam(present):
        expanded = expand_sam(ck, static, present, doc.get("Globals"))
    else:
        expanded = Expanded(dict(present), Sources())
    if ck.problems:
        return None
    names = Names(None, expanded.extra_refs)
    scope = Scope(parameters, pseudo, conditions, mappings, expanded.resources,
                  expanded.extra_refs)
    ctx = Context(ck, Evaluator(ck, scope, names), expanded.resources, expanded.sources,
                  template_dir, config_dir)
    names.ctx = ctx
    config = translate_resources(ctx)
    if ck.problems:
        return None
    ignored = ctx.ignored + [f"{e} event (Sluice runs only Api events)"
                             for e in expanded.ignored_events]
    if not config.get("apis"):
        ck.report(("Resources",), "has no REST API to serve (an AWS::Serverless::Api, a "
                  "function's Api event or an AWS::ApiGateway::RestApi)")
        return None
    # the ARNs the template builds from AWS::Region and AWS::AccountId (authorizer and
    # integration URIs, policies) are the ones the gateway checks requests against
    config["aws"] = {"region": pseudo["AWS::Region"], "accountId": pseudo["AWS::AccountId"]}
    for section in ("apis", "usagePlans", "apiKeys", "functions"):
        ctx.origins.add((section,), ck.file, ("Resources",))
    return Translation(config, ctx.origins, ignored, ctx.notes)


def _check_transform(ck: Checker, transform: Any) -> None:
    if transform is None:
        return
    names = transform if isinstance(transform, list) else [transform]
    for i, name in enumerate(names):
        where: PathT = ("Transform", i) if isinstance(transform, list) else ("Transform",)
        if name != _SAM_TRANSFORM:
            ck.report(where, f"the transform {show(name)}"
                      f" is not supported: Sluice runs {_SAM_TRANSFORM} (SAM) and, inside "
                      "properties, AWS::Include of a local file")


def _section(ck: Checker, doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        ck.report((name,), f"must be a mapping, got {describe(value)}")
        return {}
    return value


def _resources(ck: Checker, section: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(section, dict) or not section:
        ck.report(("Resources",), "must be a mapping of at least one resource, got "
                  f"{describe(section)}")
        return {}
    out = {}
    for lid, resource in section.items():
        path: PathT = ("Resources", str(lid))
        if not isinstance(lid, str) or not _LOGICAL_ID.fullmatch(lid):
            ck.report(path, "a logical id must be alphanumeric (A-Z, a-z, 0-9)")
            continue
        if not isinstance(resource, dict):
            ck.report(path, f"must be a mapping with a Type, got {describe(resource)}")
            continue
        kind = resource.get("Type")
        if not isinstance(kind, str) or not kind:
            ck.report((*path, "Type"), f"must be a resource type such as "
                      f"AWS::Serverless::Function, got {describe(kind)}")
            continue
        props = resource.get("Properties")
        if props is not None and not isinstance(props, dict):
            ck.report((*path, "Properties"), f"must be a mapping, got {describe(props)}")
            continue
        out[lid] = resource
    return out
