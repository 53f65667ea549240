"""A template's ``Parameters`` and the pseudo parameters, with the values given by
``--parameter-overrides`` (or ``parameters:`` of a Sluice config entry) checked the way
CloudFormation checks them at deploy time.

Values are strings, as in CloudFormation (``Ref`` to a ``Number`` parameter is a string too);
list types are lists of strings. ``AWS::Region``, ``AWS::AccountId`` and ``AWS::StackName``
may be overridden like parameters (as ``sam local`` allows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from proxy.config._check import Checker, PathT, describe, show
from proxy.config.model import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, REGION_PATTERN
from proxy.templates.intrinsics import SsmParameter, scalar_text

__all__ = [
    "PSEUDO_OVERRIDES",
    "parse_overrides",
    "pseudo_parameters",
    "read_parameters",
]

PSEUDO_OVERRIDES = ("AWS::AccountId", "AWS::Region", "AWS::StackName")

_REGION = re.compile(REGION_PATTERN)
_ACCOUNT = re.compile(r"[0-9]{12}")
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_LIST_TYPES = re.compile(r"CommaDelimitedList|List<.+>")
_SSM_VALUE = re.compile(r"AWS::SSM::Parameter::Value<.+>")
_AWS_TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9:]+")
_OVERRIDE = re.compile(r"ParameterKey=([^,]+),ParameterValue=(.*)", re.DOTALL)


def parse_overrides(items: list[str]) -> tuple[dict[str, str], list[str]]:
    """``KEY=VALUE`` items (or SAM's ``ParameterKey=KEY,ParameterValue=VALUE``) as a mapping,
    and the items that are neither."""
    values: dict[str, str] = {}
    bad: list[str] = []
    for item in items:
        m = _OVERRIDE.fullmatch(item)
        if m:
            values[m[1]] = m[2]
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            bad.append(item)
        else:
            values[key] = value
    return values, bad


def _partition(region: str) -> tuple[str, str]:
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


def pseudo_parameters(
    ck: Checker, where: PathT, overrides: Mapping[str, Any], stack_name: str, *,
    region: str = DEFAULT_REGION,
) -> dict[str, Any]:
    """``AWS::Region`` (``region`` unless overridden) and the rest, defaults replaced by
    overrides (reported at ``where``)."""
    region = _override(ck, where, overrides, "AWS::Region", region, _REGION,
                       "a region such as eu-west-1")
    account = _override(ck, where, overrides, "AWS::AccountId", DEFAULT_ACCOUNT_ID, _ACCOUNT,
                        "12 digits")
    stack = _override(ck, where, overrides, "AWS::StackName", stack_name, _STACK_NAME,
                      "a stack name: a letter, then letters, digits and -")
    partition, suffix = _partition(region)
    return {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::StackName": stack,
        "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack}/"
        "00000000-0000-0000-0000-000000000000",
        "AWS::Partition": partition,
        "AWS::URLSuffix": suffix,
        "AWS::NotificationARNs": [],
    }


def _override(ck: Checker, where: PathT, overrides: Mapping[str, Any], name: str, default: str,
              pattern: re.Pattern[str], what: str) -> str:
    if name not in overrides:
        return default
    value = scalar_text(overrides[name])
    if value is None or not pattern.fullmatch(value):
        ck.report((*where, name), f"must be {what}, got {show(overrides[name])}")
        return default
    return value


def read_parameters(
    ck: Checker, section: Any, overrides: Mapping[str, Any], overrides_ck: Checker,
    overrides_where: PathT,
) -> dict[str, Any]:
    """Every parameter's value: a string, a list of strings, or an ``SsmParameter`` (which has
    none without an override). Problems in the template go to ``ck``, unknown or bad override
    values to ``overrides_ck`` at ``overrides_where``."""
    values: dict[str, Any] = {}
    if section is None:
        section = {}
    if not isinstance(section, dict):
        ck.report(("Parameters",), f"must be a mapping of parameters, got {describe(section)}")
        section = {}
    for name in overrides:
        if name not in section and name not in PSEUDO_OVERRIDES:
            known = ", ".join(sorted(map(str, section))) or "none"
            overrides_ck.report((*overrides_where, name), f"the template has no parameter "
                                f"{show(name)} (parameters: {known}; also AWS::Region, "
                                "AWS::AccountId, AWS::StackName)")
    for name, spec in section.items():
        path: PathT = ("Parameters", str(name))
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9]+", name):
            ck.report(path, "a parameter name must be alphanumeric")
            continue
        if not isinstance(spec, dict):
            ck.report(path, f"must be a mapping with a Type, got {describe(spec)}")
            continue
        kind = spec.get("Type")
        if not isinstance(kind, str) or not (
            kind in ("String", "Number") or _LIST_TYPES.fullmatch(kind) or _AWS_TYPE.fullmatch(kind)
            or _SSM_VALUE.fullmatch(kind)
        ):
            ck.report((*path, "Type"), "must be String, Number, List<Number>, "
                      f"CommaDelimitedList or an AWS-specific type, got {show(kind)}")
            continue
        if name in overrides:
            raw, where, err = overrides[name], (*overrides_where, name), overrides_ck
        elif _SSM_VALUE.fullmatch(kind):
            # no value here: its Default (if any) names the SSM parameter, not its value
            values[name] = SsmParameter(name, kind)
            continue
        elif "Default" in spec:
            raw, where, err = spec["Default"], (*path, "Default"), ck
        else:
            ck.report(path, f"has no Default: give it a value with --parameter-overrides "
                      f"{name}=VALUE (or parameters: in the Sluice config that names the "
                      "template)")
            continue
        text = scalar_text(raw)
        if text is None:
            err.report(where, f"must be a string, got {describe(raw)}")
            continue
        value = _check_value(err, where, kind, text, spec, ck, path)
        if value is not None:
            values[name] = value
    return values


def _check_value(ck: Checker, where: PathT, kind: str, text: str, spec: dict[Any, Any],
                 template_ck: Checker, path: PathT) -> str | list[str] | None:
    # CloudFormation trims the spaces around each member of a list type ("a, b" is [a, b])
    items = [i.strip(" ") for i in text.split(",")] if _LIST_TYPES.fullmatch(kind) else [text]
    allowed = spec.get("AllowedValues")
    if allowed is not None and not isinstance(allowed, list):
        template_ck.report((*path, "AllowedValues"), f"must be a list, got {describe(allowed)}")
        allowed = None
    pattern = spec.get("AllowedPattern")
    compiled = None
    if pattern is not None:
        try:
            compiled = re.compile(pattern) if isinstance(pattern, str) else None
        except (re.error, RecursionError, OverflowError):
            compiled = None
        if compiled is None:
            template_ck.report((*path, "AllowedPattern"), "must be a regular expression")
    ok = True
    for item in items:
        if kind == "Number" or kind == "List<Number>":
            try:
                number = float(item)
            except ValueError:
                ck.report(where, f"must be a number, got {show(item)}")
                ok = False
                continue
            for bound, too_small in (("MinValue", True), ("MaxValue", False)):
                limit = spec.get(bound)
                if isinstance(limit, int | float | str) and not isinstance(limit, bool):
                    try:
                        broken = number < float(limit) if too_small else number > float(limit)
                    except ValueError:
                        broken = False
                    if broken:
                        ck.report(where, f"must be {'>=' if bound == 'MinValue' else '<='} "
                                  f"{limit} ({bound}), got {show(item)}")
                        ok = False
        if allowed is not None and item not in [scalar_text(a) for a in allowed]:
            shown = ", ".join(str(scalar_text(a)) for a in allowed)
            ck.report(where, f"must be one of {shown} (AllowedValues), got {show(item)}")
            ok = False
        if compiled is not None and compiled.fullmatch(item) is None:
            ck.report(where, f"must match {pattern} (AllowedPattern), got {show(item)}")
            ok = False
        for bound, too_short in (("MinLength", True), ("MaxLength", False)):
            limit = spec.get(bound)
            if isinstance(limit, int) and not isinstance(limit, bool) and (
                    len(item) < limit if too_short else len(item) > limit):
                ck.report(where, f"must be {'at least' if bound == 'MinLength' else 'at most'} "
                          f"{limit} characters ({bound}), got {len(item)}")
                ok = False
    if not ok:
        return None
    return items if _LIST_TYPES.fullmatch(kind) else text
