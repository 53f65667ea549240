"""CloudFormation's intrinsic functions and conditions, evaluated over plain parsed values.

Parameters, pseudo parameters, ``Conditions``, ``Mappings`` and the string functions are
evaluated here; what a resource's ``Ref`` or ``Fn::GetAtt`` returns is asked of a ``Namer``
(the physical ids Sluice gives the resources it serves). Without a namer, the evaluator is
*static*: a reference to a resource leaves the expression around it unevaluated (the SAM
phase runs that way, as the SAM transform leaves resource references to CloudFormation).

Every problem is reported to a ``Checker`` at the path of the function that failed, e.g.
``Resources.Fn.Properties.Environment.Variables.TABLE."Fn::ImportValue"``.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from proxy.config._check import Checker, Invalid, PathT, describe, show

__all__ = [
    "NO_VALUE",
    "Evaluator",
    "Namer",
    "Scope",
    "SsmParameter",
    "is_intrinsic",
    "scalar_text",
]


class _NoValue:
    __slots__ = ()

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
"""``Ref: AWS::NoValue``: the property (or list item) it stands for is removed."""


@dataclass(frozen=True, slots=True)
class SsmParameter:
    """A parameter of an ``AWS::SSM::Parameter::Value<...>`` type: CloudFormation reads it from
    Systems Manager, which Sluice cannot; it has a value only from an override."""

    name: str
    type: str


class _Deferred(Exception):
    """A static evaluation met a resource reference: leave the enclosing value as written."""


Namer = Callable[[str, "str | None", PathT], Any]
"""``(logical id, attribute or None for Ref, path) -> value``; reports and raises ``Invalid``
for an attribute Sluice does not know."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What a template's expressions may read besides resources."""

    parameters: Mapping[str, Any] = field(default_factory=dict)  # str, list[str], SsmParameter
    pseudo: Mapping[str, Any] = field(default_factory=dict)  # AWS::Region, ...
    conditions: Mapping[str, Any] = field(default_factory=dict)  # the raw Conditions section
    mappings: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)  # logical id -> resource
    # SAM's references to what it generates ("MyApi.Stage", "MyFunction.Alias")
    extra_refs: Mapping[str, Any] = field(default_factory=dict)


def is_intrinsic(value: Any) -> bool:
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return isinstance(key, str) and (key == "Ref" or key.startswith("Fn::"))
    return False


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_MAX_CONDITION_DEPTH = 64


class Evaluator:
    """Evaluates intrinsic functions in values of one template (see the module docstring)."""

    __slots__ = ("_conditions", "_evaluating", "ck", "namer", "scope")

    def __init__(self, ck: Checker, scope: Scope, namer: Namer | None = None) -> None:
        self.ck = ck
        self.scope = scope
        self.namer = namer
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    @property
    def static(self) -> bool:
        return self.namer is None

    def fail(self, path: PathT, message: str) -> NoReturn:
        self.ck.fail(path, message)

    # --- values ------------------------------------------------------------------------

    def value(self, node: Any, path: PathT) -> Any:
        """``node`` with every intrinsic function evaluated; ``NO_VALUE`` when it is
        ``AWS::NoValue``. Raises ``Invalid`` after reporting a problem. In static mode a value
        that refers to a resource is returned as written."""
        try:
            return self._value(node, path, keep=True)
        except _Deferred:
            return node

    def _value(self, node: Any, path: PathT, keep: bool = False) -> Any:
        """With ``keep`` (outside any function), a plain mapping or list keeps an item that
        refers to a resource as written; inside a function's arguments the whole function
        waits for the resource."""
        if isinstance(node, dict):
            if is_intrinsic(node):
                key = next(iter(node))
                function = _FUNCTIONS.get(key)
                if function is None:
                    self.fail((*path, key), f"unknown intrinsic function {show(key)}")
                return function(self, node[key], (*path, key))
            items = node.items()
        elif isinstance(node, list):
            items = enumerate(node)  # type: ignore[assignment]
        else:
            return node
        out: dict[Any, Any] = {}
        failed = False
        for k, v in items:
            try:
                got = self._value(v, (*path, k), keep)
            except _Deferred:
                if not keep:
                    raise
                got = v
            except Invalid:
                failed = True
                continue
            if got is not NO_VALUE:
                out[k] = got
        if failed:
            raise Invalid
        return list(out.values()) if isinstance(node, list) else out

    def string(self, node: Any, path: PathT, what: str = "a string") -> str:
        """An evaluated value that must be a string (numbers are converted, as CloudFormation
        does for string properties)."""
        got = self._known(node, path)
        text = scalar_text(got)
        if text is None:
            self.fail(path, f"must be {what}, got {describe(got)}")
        return text

    def strings(self, node: Any, path: PathT) -> list[str]:
        got = self._known(node, path)
        if not isinstance(got, list):
            self.fail(path, f"must be a list, got {describe(got)}")
        out = []
        for i, item in enumerate(got):
            text = scalar_text(item)
            if text is None:
                self.fail((*path, i), f"must be a string, got {describe(item)}")
            out.append(text)
        return out

    def _known(self, node: Any, path: PathT) -> Any:
        try:
            return self._value(node, path)
        except _Deferred:
            self.fail(path, "must be known before CloudFormation creates resources: it may not "
                      "refer to a resource here")

    # --- conditions --------------------------------------------------------------------

    def condition(self, name: Any, path: PathT) -> bool:
        """The value of the named condition of the ``Conditions`` section."""
        if not isinstance(name, str):
            self.fail(path, f"must be the name of a condition, got {describe(name)}")
        if name in self._conditions:
            return self._conditions[name]
        if name not in self.scope.conditions:
            known = ", ".join(sorted(map(str, self.scope.conditions))) or "none"
            self.fail(path, f"no condition {show(name)} in Conditions (conditions: {known})")
        if name in self._evaluating or len(self._evaluating) > _MAX_CONDITION_DEPTH:
            self.fail(("Conditions", name), "conditions refer to each other in a loop")
        self._evaluating.add(name)
        try:
            result = self._truth(self.scope.conditions[name], ("Conditions", name))
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = result
        return result

    def _truth(self, node: Any, path: PathT) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            key = next(iter(node))
            if key == "Condition":
                return self.condition(node[key], (*path, key))
            if key in _CONDITION_FUNCTIONS:
                return _CONDITION_FUNCTIONS[key](self, node[key], (*path, key))
        if isinstance(node, bool):
            return node
        if isinstance(node, str) and node.lower() in ("true", "false"):
            return node.lower() == "true"
        self.fail(path, "must be a condition function (Fn::Equals, Fn::And, Fn::Or, Fn::Not or "
                  f"Condition), got {describe(node)}")

    # --- references --------------------------------------------------------------------

    def ref(self, name: Any, path: PathT) -> Any:
        if not isinstance(name, str):
            self.fail(path, f"must be the name of a parameter or resource, got {describe(name)}")
        scope = self.scope
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in scope.pseudo:
            return scope.pseudo[name]
        if name in scope.parameters:
            value = scope.parameters[name]
            if isinstance(value, SsmParameter):
                self.fail(path, f"parameter {name} is of type {value.type}: CloudFormation reads "
                          "it from SSM Parameter Store, which Sluice cannot; give its value with "
                          f"--parameter-overrides {name}=VALUE")
            return value
        if name in scope.resources or name in scope.extra_refs or self.static:
            # statically, an unknown name may be a resource SAM generates (MyFunctionRole)
            return self.resource(name, None, path)
        if name.startswith("AWS::"):
            self.fail(path, f"unknown pseudo parameter {show(name)} (known: AWS::NoValue, "
                      f"{', '.join(sorted(scope.pseudo))})")
        self.fail(path, f"no parameter or resource named {show(name)} in this template")

    def resource(self, logical_id: str, attribute: str | None, path: PathT) -> Any:
        if self.namer is None:
            raise _Deferred
        return self.namer(logical_id, attribute, path)


def scalar_text(value: Any) -> str | None:
    """A scalar as CloudFormation reads it where text is wanted (``false`` is ``"false"``, a
    YAML number its digits); None for anything else, a NaN or an infinity included."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    return None


def _args(ev: Evaluator, node: Any, path: PathT, count: int | tuple[int, int], name: str
          ) -> list[Any]:
    lo, hi = (count, count) if isinstance(count, int) else count
    if not isinstance(node, list) or not lo <= len(node) <= hi:
        n = str(lo) if lo == hi else f"{lo} to {hi}"
        ev.fail(path, f"{name} takes a list of {n} arguments, got {describe(node)}"
                + (f" of {len(node)}" if isinstance(node, list) else ""))
    return node


# --- the functions -------------------------------------------------------------------------


def _fn_ref(ev: Evaluator, node: Any, path: PathT) -> Any:
    return ev.ref(node, path)


def _fn_get_att(ev: Evaluator, node: Any, path: PathT) -> Any:
    if isinstance(node, str):
        node = node.split(".", 1)
    args = _args(ev, node, path, 2, "Fn::GetAtt")
    logical_id = ev._value(args[0], (*path, 0))
    attribute = ev._value(args[1], (*path, 1))
    if not isinstance(logical_id, str) or not isinstance(attribute, str) or not attribute:
        ev.fail(path, "must be [LogicalId, Attribute] (or LogicalId.Attribute)")
    if logical_id not in ev.scope.resources and not ev.static:
        ev.fail((*path, 0), f"no resource named {show(logical_id)} in this template")
    return ev.resource(logical_id, attribute, path)


def _fn_sub(ev: Evaluator, node: Any, path: PathT) -> str:
    variables: dict[str, Any] = {}
    if isinstance(node, list):
        args = _args(ev, node, path, 2, "Fn::Sub")
        text, given = args
        if not isinstance(given, dict):
            ev.fail((*path, 1), f"must be a mapping of variables, got {describe(given)}")
        variables = {k: (v, (*path, 1, k)) for k, v in given.items()}
        text_path: PathT = (*path, 0)
    else:
        text, text_path = node, path
    if not isinstance(text, str):
        ev.fail(text_path, f"must be a string, got {describe(text)}")

    def substitute(m: re.Match[str]) -> str:
        name = m[1]
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            raw, where = variables[name]
            got = ev._value(raw, where)
        elif "." in name and name not in ev.scope.pseudo and name not in ev.scope.extra_refs:
            resource, attribute = name.split(".", 1)
            if resource not in ev.scope.resources and not ev.static:
                ev.fail(text_path, f"${{{name}}}: no resource named {show(resource)}")
            got = ev.resource(resource, attribute, text_path)
        else:
            got = ev.ref(name, text_path)
        out = scalar_text(got)
        if out is None:
            ev.fail(text_path, f"${{{name}}} is {describe(got)}, not a string")
        return out

    return _SUB_VAR.sub(substitute, text)


def _fn_join(ev: Evaluator, node: Any, path: PathT) -> str:
    args = _args(ev, node, path, 2, "Fn::Join")
    delimiter = ev._value(args[0], (*path, 0))
    if not isinstance(delimiter, str):
        ev.fail((*path, 0), f"the delimiter must be a string, got {describe(delimiter)}")
    items = ev._value(args[1], (*path, 1))
    if not isinstance(items, list):
        ev.fail((*path, 1), f"must be a list of values to join, got {describe(items)}")
    parts = []
    for i, item in enumerate(items):
        text = scalar_text(item)
        if text is None:
            ev.fail((*path, 1, i), f"must be a string, got {describe(item)}")
        parts.append(text)
    return delimiter.join(parts)


def _fn_select(ev: Evaluator, node: Any, path: PathT) -> Any:
    args = _args(ev, node, path, 2, "Fn::Select")
    index = ev._value(args[0], (*path, 0))
    if isinstance(index, str) and index.isdigit():
        index = int(index)
    if isinstance(index, bool) or not isinstance(index, int):
        ev.fail((*path, 0), f"the index must be an integer, got {describe(index)}")
    items = ev._value(args[1], (*path, 1))
    if not isinstance(items, list):
        ev.fail((*path, 1), f"must be a list, got {describe(items)}")
    if not 0 <= index < len(items):
        ev.fail((*path, 0), f"index {index} is out of range for a list of {len(items)}")
    return items[index]


def _fn_split(ev: Evaluator, node: Any, path: PathT) -> list[str]:
    args = _args(ev, node, path, 2, "Fn::Split")
    delimiter = ev._value(args[0], (*path, 0))
    if not isinstance(delimiter, str) or not delimiter:
        ev.fail((*path, 0), f"the delimiter must be a non-empty string, got {describe(delimiter)}")
    return ev.string(args[1], (*path, 1)).split(delimiter)


def _fn_if(ev: Evaluator, node: Any, path: PathT) -> Any:
    args = _args(ev, node, path, 3, "Fn::If")
    chosen = 1 if ev.condition(args[0], (*path, 0)) else 2
    return ev._value(args[chosen], (*path, chosen))


def _fn_find_in_map(ev: Evaluator, node: Any, path: PathT) -> Any:
    args = _args(ev, node, path, 3, "Fn::FindInMap")
    keys = [ev.string(a, (*path, i)) for i, a in enumerate(args)]
    level: Any = ev.scope.mappings
    where = "Mappings"
    for i, key in enumerate(keys):
        # YAML reads an unquoted account id or number key as an integer: match it as text
        found = [k for k in level if scalar_text(k) == key] if isinstance(level, dict) else []
        if not found:
            ev.fail((*path, i), f"{where} has no key {show(key)}")
        level = level[found[0]]
        where = f"{where}.{key}"
    return ev._value(level, ("Mappings", *keys))


def _fn_base64(ev: Evaluator, node: Any, path: PathT) -> str:
    return base64.b64encode(ev.string(node, path).encode()).decode()


def _fn_get_azs(ev: Evaluator, node: Any, path: PathT) -> list[str]:
    region = ev.string(node, path) or str(ev.scope.pseudo.get("AWS::Region", ""))
    return [f"{region}{zone}" for zone in "abc"]


def _fn_condition_only(ev: Evaluator, node: Any, path: PathT) -> Any:
    return ev._truth({path[-1]: node}, path[:-1])


def _unsupported(reason: str) -> Callable[[Evaluator, Any, PathT], Any]:
    def function(ev: Evaluator, node: Any, path: PathT) -> Any:
        ev.fail(path, reason)

    return function


_FUNCTIONS: dict[str, Callable[[Evaluator, Any, PathT], Any]] = {
    "Ref": _fn_ref,
    "Fn::GetAtt": _fn_get_att,
    "Fn::Sub": _fn_sub,
    "Fn::Join": _fn_join,
    "Fn::Select": _fn_select,
    "Fn::Split": _fn_split,
    "Fn::If": _fn_if,
    "Fn::FindInMap": _fn_find_in_map,
    "Fn::Base64": _fn_base64,
    "Fn::GetAZs": _fn_get_azs,
    "Fn::Equals": _fn_condition_only,
    "Fn::And": _fn_condition_only,
    "Fn::Or": _fn_condition_only,
    "Fn::Not": _fn_condition_only,
    "Fn::ImportValue": _unsupported(
        "Fn::ImportValue is not supported: it reads an output exported by another stack, "
        "which Sluice does not have; use a parameter instead and give its value with "
        "--parameter-overrides"
    ),
    "Fn::Cidr": _unsupported("Fn::Cidr is not supported by Sluice"),
    "Fn::Length": _unsupported("Fn::Length (AWS::LanguageExtensions) is not supported"),
    "Fn::ToJsonString": _unsupported("Fn::ToJsonString (AWS::LanguageExtensions) is not supported"),
    "Fn::Transform": _unsupported(
        "Fn::Transform is supported only as AWS::Include of a local file"
    ),
}


# --- condition functions ---------------------------------------------------------------


def _cond_equals(ev: Evaluator, node: Any, path: PathT) -> bool:
    args = _args(ev, node, path, 2, "Fn::Equals")
    a, b = (ev._known(v, (*path, i)) for i, v in enumerate(args))
    return bool(_comparable(a) == _comparable(b))


def _comparable(value: Any) -> Any:
    text = scalar_text(value)
    return text if text is not None else value


def _cond_and(ev: Evaluator, node: Any, path: PathT) -> bool:
    args = _args(ev, node, path, (2, 10), "Fn::And")
    return all([ev._truth(c, (*path, i)) for i, c in enumerate(args)])


def _cond_or(ev: Evaluator, node: Any, path: PathT) -> bool:
    args = _args(ev, node, path, (2, 10), "Fn::Or")
    return any([ev._truth(c, (*path, i)) for i, c in enumerate(args)])


def _cond_not(ev: Evaluator, node: Any, path: PathT) -> bool:
    args = _args(ev, node, path, 1, "Fn::Not")
    return not ev._truth(args[0], (*path, 0))


_CONDITION_FUNCTIONS: dict[str, Callable[[Evaluator, Any, PathT], bool]] = {
    "Fn::Equals": _cond_equals,
    "Fn::And": _cond_and,
    "Fn::Or": _cond_or,
    "Fn::Not": _cond_not,
}
