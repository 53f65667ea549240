"""Why a body failed its model, in the words of the validator API Gateway runs.

API Gateway validates bodies with java-json-tools' json-schema-validator ("fge"), and
``$context.error.validationErrorString`` is that validator's report: AWS captures show
``[object has missing required properties (["name"])]`` and ``[instance type (string) does
not match any allowed primitive type (allowed: ["integer","number"])]``. No Python library
words its errors so, so this module re-walks a failed body the way fge does, only after the
fast validator (jsonschema-rs) has rejected it:

- at each instance node, the keywords that apply to the node's JSON type run in the order of
  their names (fge keeps them in a ``TreeMap``), then ``format``;
- children are visited only while the report is still empty (fge's default is not a "deep
  check"): an object's members in sorted order, each against ``properties``, then every
  matching ``patternProperties``, else ``additionalProperties``; an array's items against
  ``items`` (or ``items[i]``, else ``additionalItems``);
- ``allOf``/``anyOf``/``oneOf``/``not`` validate into reports of their own and add one message;
- messages are fge's ``validation.properties`` with Jackson's rendering of JSON values
  (compact, numbers as ``BigDecimal.toString``), ``required`` and unwanted properties sorted.

Regular expressions (``pattern``, ``patternProperties``) and ``format`` are decided by
jsonschema-rs as well, so this walk and the fast validator agree on what fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Context, Decimal, InvalidOperation, localcontext
from typing import Any

import jsonschema_rs

__all__ = ["Explainer", "error_string", "json_type", "parse_exact"]

Check = Callable[[Any, list[str]], None]

# fge's NodeType order (an EnumSet prints in declaration order)
_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
_NUMERIC = ("integer", "number")

# keyword -> the instance types fge applies it to ("format" is added after these)
_APPLIES: dict[str, tuple[str, ...]] = {
    "additionalItems": ("array",),
    "additionalProperties": ("object",),
    "allOf": _TYPES,
    "anyOf": _TYPES,
    "dependencies": ("object",),
    "enum": _TYPES,
    "maxItems": ("array",),
    "maxLength": ("string",),
    "maxProperties": ("object",),
    "maximum": _NUMERIC,
    "minItems": ("array",),
    "minLength": ("string",),
    "minProperties": ("object",),
    "minimum": _NUMERIC,
    "multipleOf": _NUMERIC,
    "not": _TYPES,
    "oneOf": _TYPES,
    "pattern": ("string",),
    "required": ("object",),
    "type": _TYPES,
    "uniqueItems": ("array",),
}

_DATE_FORMATS = "[yyyy-MM-dd'T'HH:mm:ssZ, yyyy-MM-dd'T'HH:mm:ss.[0-9]{1,12}Z]"
_FORMAT_MESSAGES = {
    "date-time": 'string "{}" is invalid against requested date format(s) ' + _DATE_FORMATS,
    "email": 'string "{}" is not a valid email address',
    "hostname": 'string "{}" is not a valid hostname',
    "ipv4": 'string "{}" is not a valid IPv4 address',
    "ipv6": 'string "{}" is not a valid IPv6 address',
    "regex": 'string "{}" is not a valid ECMA 262 regular expression',
    "uri": 'string "{}" is not a valid URI',
}
# BigDecimal has unbounded precision; a remainder of numbers far apart needs many digits.
_EXACT = Context(prec=2000, Emax=10**9, Emin=-(10**9))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_exact(body: bytes) -> Any:
    """The body as fge's Jackson reads it: floats as exact decimals, NaN and Infinity
    rejected. Raises ``ValueError`` (or ``RecursionError``) when the body is not JSON."""
    return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _number(value: Any) -> Decimal | int:
    if isinstance(value, float):  # a schema value read from YAML: as written, not binary
        return Decimal(repr(value))
    if isinstance(value, Decimal) and value.is_zero():
        return value.copy_abs()  # BigDecimal has no negative zero
    return value  # type: ignore[no-any-return]


def _render(value: Any) -> str:
    """A JSON value as Jackson's ``JsonNode.toString`` writes it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float | Decimal):
        return str(_number(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_render(v) for v in value) + "]"
    return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_render(v)}"
                          for k, v in value.items()) + "}"


def _canon(value: Any) -> Any:
    """A hashable form in which equal JSON values are equal, numbers by value (fge's
    ``JsonNumEquivalence``: 1 and 1.0 are the same) and booleans apart from numbers."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, int | float | Decimal):
        return ("n", Decimal(_number(value)))
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("a", tuple(_canon(v) for v in value))
    return ("o", frozenset((k, _canon(v)) for k, v in value.items()))


def _java_sorted(names: Iterable[str]) -> list[str]:
    # Java's String.compareTo orders by UTF-16 code unit, which UTF-16-BE bytes preserve.
    return sorted(names, key=lambda s: s.encode("utf-16-be", "surrogatepass"))


def _java_list(items: Iterable[str]) -> str:
    return "[" + ",".join(json.dumps(i, ensure_ascii=False) for i in items) + "]"


def error_string(messages: list[str]) -> str:
    """``$context.error.validationErrorString``: the messages as a Java list prints them,
    JSON-escaped without the quotes (captures show ``\\"`` inside, and templates put the
    variable between quotes)."""
    return json.dumps("[" + ", ".join(messages) + "]", ensure_ascii=False)[1:-1]


class _Node:
    """One schema, compiled: its checks per instance type, and how it picks children."""

    __slots__ = ("additional", "additional_items", "checks", "item_list", "items",
                 "patterns", "properties")

    def __init__(self) -> None:
        self.checks: dict[str, tuple[Check, ...]] = {}
        self.properties: dict[str, _Node] = {}
        self.patterns: list[tuple[Callable[[str], bool], _Node]] = []
        self.additional: _Node | None = None
        self.items: _Node | None = None
        self.item_list: list[_Node] | None = None
        self.additional_items: _Node | None = None


class Explainer:
    """fge's report for a failed instance of one compiled schema (``{"$ref":
    "#/definitions/NAME", "definitions": {...}}`` as ``model_closure`` makes it)."""

    __slots__ = ("_built", "_root", "_stack", "_top")

    def __init__(self, schema: dict[str, Any]) -> None:
        self._top = schema
        self._built: dict[int, _Node] = {}
        self._stack: set[tuple[int, int]] = set()
        self._root = self._build(schema)

    # --- compiling -----------------------------------------------------------------------

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        seen: set[int] = set()
        while "$ref" in schema:
            if id(schema) in seen:
                return None  # a reference loop: no constraint (as jsonschema-rs has it)
            seen.add(id(schema))
            target: Any = self._top
            for token in schema["$ref"].lstrip("#").lstrip("/").split("/"):
                if not token:
                    continue
                token = token.replace("~1", "/").replace("~0", "~")
                target = target[int(token)] if isinstance(target, list) else target[token]
            schema = target
        return schema

    def _build(self, raw: Any) -> _Node:
        schema = self._resolve(raw) if isinstance(raw, dict) else None
        if schema is None:
            return _Node()
        known = self._built.get(id(schema))
        if known is not None:
            return known
        node = self._built[id(schema)] = _Node()
        per_type: dict[str, list[Check]] = {t: [] for t in _TYPES}
        for keyword in sorted(k for k in schema if k in _APPLIES):
            check = self._check(keyword, schema)
            if check is not None:
                for t in _APPLIES[keyword]:
                    per_type[t].append(check)
        fmt = schema.get("format")
        if fmt in _FORMAT_MESSAGES:
            per_type["string"].append(_format_check(fmt))
        node.checks = {t: tuple(c) for t, c in per_type.items() if c}
        for name, sub in schema.get("properties", {}).items():
            node.properties[name] = self._build(sub)
        for regex in sorted(schema.get("patternProperties", {})):
            node.patterns.append((_regex(regex), self._build(schema["patternProperties"][regex])))
        if isinstance(schema.get("additionalProperties"), dict):
            node.additional = self._build(schema["additionalProperties"])
        items = schema.get("items")
        if isinstance(items, dict):
            node.items = self._build(items)
        elif isinstance(items, list):
            node.item_list = [self._build(s) for s in items]
        if isinstance(schema.get("additionalItems"), dict):
            node.additional_items = self._build(schema["additionalItems"])
        return node

    def _check(self, keyword: str, schema: dict[str, Any]) -> Check | None:
        value = schema[keyword]
        make = _SIMPLE.get(keyword)
        if make is not None:
            return make(value, schema)
        if keyword in ("allOf", "anyOf", "oneOf"):
            return self._combinator(keyword, [self._build(s) for s in value])
        if keyword == "not":
            sub = self._build(value)

            def not_(inst: Any, out: list[str]) -> None:
                if not self._sub_report(sub, inst):
                    out.append("instance matched a schema which it should not have")

            return not_
        if keyword == "dependencies":
            return self._dependencies(value)
        return None

    def _combinator(self, keyword: str, subs: list[_Node]) -> Check:
        size = len(subs)

        def check(inst: Any, out: list[str]) -> None:
            if keyword == "anyOf":
                if not any(not self._sub_report(s, inst) for s in subs):
                    out.append(f"instance failed to match at least one required schema among "
                               f"{size}")
                return
            matched = sum(1 for s in subs if not self._sub_report(s, inst))
            if keyword == "allOf" and matched != size:
                out.append(f"instance failed to match all required schemas (matched only "
                           f"{matched} out of {size})")
            elif keyword == "oneOf" and matched != 1:
                out.append(f"instance failed to match exactly one schema (matched {matched} "
                           f"out of {size})")

        return check

    def _dependencies(self, value: dict[str, Any]) -> Check:
        props = {k: v for k, v in value.items() if isinstance(v, list)}
        schemas = {k: self._build(v) for k, v in value.items() if isinstance(v, dict)}

        def check(inst: dict[str, Any], out: list[str]) -> None:
            for name in _java_sorted(props):
                if name not in inst:
                    continue
                missing = [p for p in props[name] if p not in inst]
                if missing:
                    out.append(f'property "{name}" of object has missing property dependencies '
                               f"(schema requires {_java_list(props[name])}; "
                               f"missing: {_java_list(missing)})")
            for name in _java_sorted(schemas):
                if name in inst:
                    self._process(schemas[name], inst, out)

        return check

    # --- walking -------------------------------------------------------------------------

    def explain(self, instance: Any) -> list[str]:
        """fge's error messages for ``instance``, in its order; empty when it is valid."""
        out: list[str] = []
        self._process(self._root, instance, out)
        return out

    def _sub_report(self, node: _Node, inst: Any) -> list[str]:
        sub: list[str] = []
        self._process(node, inst, sub)
        return sub

    def _process(self, node: _Node, inst: Any, out: list[str]) -> None:
        key = (id(node), id(inst))
        if key in self._stack:
            return  # a schema that re-enters itself for the same value adds nothing
        self._stack.add(key)
        try:
            for check in node.checks.get(json_type(inst), ()):
                check(inst, out)
            if out:
                return  # not a deep check: stop at the first level that failed
            if isinstance(inst, dict):
                for name in _java_sorted(inst):
                    for child in _select(node, name):
                        self._process(child, inst[name], out)
            elif isinstance(inst, list):
                for i, item in enumerate(inst):
                    schema = _item_schema(node, i)
                    if schema is not None:
                        self._process(schema, item, out)
        finally:
            self._stack.discard(key)


def _select(node: _Node, name: str) -> list[_Node]:
    chosen = [node.properties[name]] if name in node.properties else []
    chosen.extend(sub for matches, sub in node.patterns if matches(name))
    if not chosen and node.additional is not None:
        chosen.append(node.additional)
    return chosen


def _item_schema(node: _Node, index: int) -> _Node | None:
    if node.items is not None:
        return node.items
    if node.item_list is None:  # no items, or one schema for all: additionalItems is ignored
        return None
    if index < len(node.item_list):
        return node.item_list[index]
    return node.additional_items


def _regex(pattern: str) -> Callable[[str], bool]:
    # jsonschema-rs decides, so this walk agrees with the validator that rejected the body.
    return jsonschema_rs.Draft4Validator({"pattern": pattern}).is_valid


def _format_check(fmt: str) -> Check:
    valid = jsonschema_rs.Draft4Validator({"format": fmt}, validate_formats=True).is_valid
    message = _FORMAT_MESSAGES[fmt]

    def check(inst: str, out: list[str]) -> None:
        if not valid(inst):
            out.append(message.replace("{}", inst, 1))

    return check


# --- the keywords that look only at the value ---------------------------------------------


def _type(value: Any, schema: dict[str, Any]) -> Check:
    allowed = {value} if isinstance(value, str) else set(value)
    if "number" in allowed:
        allowed.add("integer")  # fge's digester: "number" admits integers, and says so
    names = [t for t in _TYPES if t in allowed]
    listed = _java_list(names)

    def check(inst: Any, out: list[str]) -> None:
        found = json_type(inst)
        if found not in allowed:
            out.append(f"instance type ({found}) does not match any allowed primitive type "
                       f"(allowed: {listed})")

    return check


def _enum(value: list[Any], schema: dict[str, Any]) -> Check:
    accepted = {_canon(v) for v in value}
    listed = _render(value)

    def check(inst: Any, out: list[str]) -> None:
        if _canon(inst) not in accepted:
            out.append(f"instance value ({_render(inst)}) not found in enum "
                       f"(possible values: {listed})")

    return check


def _required(value: list[str], schema: dict[str, Any]) -> Check:
    names = _java_sorted(dict.fromkeys(value))

    def check(inst: dict[str, Any], out: list[str]) -> None:
        missing = [n for n in names if n not in inst]
        if missing:
            out.append(f"object has missing required properties ({_java_list(missing)})")

    return check


def _additional_properties(value: Any, schema: dict[str, Any]) -> Check | None:
    if value is not False:
        return None  # true or a schema: every member is allowed here
    known = set(schema.get("properties", {}))
    patterns = [_regex(p) for p in schema.get("patternProperties", {})]

    def check(inst: dict[str, Any], out: list[str]) -> None:
        extra = [k for k in inst if k not in known and not any(m(k) for m in patterns)]
        if extra:
            out.append("object instance has properties which are not allowed by the schema: "
                       + _java_list(_java_sorted(extra)))

    return check


def _additional_items(value: Any, schema: dict[str, Any]) -> Check | None:
    items = schema.get("items")
    if value is not False or not isinstance(items, list):
        return None
    allowed = len(items)

    def check(inst: list[Any], out: list[str]) -> None:
        if len(inst) > allowed:
            out.append(f"schema only allows {allowed} elements in array but instance has "
                       f"{len(inst)} elements")

    return check


def _bound(limit: Any, exclusive: bool, upper: bool) -> Check:
    bound = _number(limit)
    shown = str(bound)

    def check(inst: Any, out: list[str]) -> None:
        value = _number(inst)
        if (value > bound) if upper else (value < bound):
            word = "greater than the required maximum (maximum" if upper else \
                "lower than the required minimum (minimum"
            out.append(f"numeric instance is {word}: {shown}, found: {value})")
        elif value == bound and exclusive:
            out.append(f"numeric instance is not strictly lower than the required maximum "
                       f"{shown}")

    return check


def _maximum(value: Any, schema: dict[str, Any]) -> Check:
    return _bound(value, schema.get("exclusiveMaximum") is True, upper=True)


def _minimum(value: Any, schema: dict[str, Any]) -> Check:
    # exclusiveMinimum is removed at load: "not supported by API Gateway" (DG known issues)
    return _bound(value, False, upper=False)


def _multiple_of(value: Any, schema: dict[str, Any]) -> Check:
    divisor = Decimal(_number(value))

    def check(inst: Any, out: list[str]) -> None:
        try:
            with localcontext(_EXACT):
                remainder = Decimal(_number(inst)) % divisor
        except InvalidOperation:
            remainder = Decimal(1)
        if remainder != 0:
            out.append(f"remainder of division is not zero ({_render(inst)} / {_render(value)})")

    return check


def _length(limit: int, upper: bool) -> Check:
    def check(inst: str, out: list[str]) -> None:
        size = len(inst)  # code points, as fge's codePointCount
        if upper and size > limit:
            out.append(f'string "{inst}" is too long (length: {size}, maximum allowed: '
                       f"{limit})")
        elif not upper and size < limit:
            out.append(f'string "{inst}" is too short (length: {size}, required minimum: '
                       f"{limit})")

    return check


def _pattern(value: str, schema: dict[str, Any]) -> Check:
    matches = _regex(value)

    def check(inst: str, out: list[str]) -> None:
        if not matches(inst):
            out.append(f'ECMA 262 regex "{value}" does not match input string "{inst}"')

    return check


def _count(limit: int, upper: bool, what: str) -> Check:
    def check(inst: list[Any] | dict[str, Any], out: list[str]) -> None:
        size = len(inst)
        if what == "items":
            if upper and size > limit:
                out.append(f"array is too long: must have at most {limit} elements but "
                           f"instance has {size} elements")
            elif not upper and size < limit:
                out.append(f"array is too short: must have at least {limit} elements but "
                           f"instance has {size} elements")
        elif upper and size > limit:
            out.append(f"object has too many properties (found {size} but schema requires at "
                       f"most {limit})")
        elif not upper and size < limit:
            out.append(f"object has too few properties (found {size} but schema requires at "
                       f"least {limit})")

    return check


def _unique(value: Any, schema: dict[str, Any]) -> Check | None:
    if value is not True:
        return None

    def check(inst: list[Any], out: list[str]) -> None:
        seen: set[Any] = set()
        for item in inst:
            c = _canon(item)
            if c in seen:
                out.append("array must not contain duplicate elements")
                return
            seen.add(c)

    return check


_SIMPLE: dict[str, Callable[[Any, dict[str, Any]], Check | None]] = {
    "additionalItems": _additional_items,
    "additionalProperties": _additional_properties,
    "enum": _enum,
    "maxItems": lambda v, s: _count(v, True, "items"),
    "maxLength": lambda v, s: _length(v, True),
    "maxProperties": lambda v, s: _count(v, True, "properties"),
    "maximum": _maximum,
    "minItems": lambda v, s: _count(v, False, "items"),
    "minLength": lambda v, s: _length(v, False),
    "minProperties": lambda v, s: _count(v, False, "properties"),
    "minimum": _minimum,
    "multipleOf": _multiple_of,
    "pattern": _pattern,
    "required": _required,
    "type": _type,
    "uniqueItems": _unique,
}
