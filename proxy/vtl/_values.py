"""Template values as Velocity 1.7 on the JVM sees them, and its operators over them.

Values are plain Python objects, so parsed JSON needs no conversion (converting a 1 KB body
up front cost more than the whole render of the reference template):

    str, int, float, bool, None   Java String, Integer/Long, Double, Boolean, null
    dict                          a JSON object from $input.path / $util.parseJson: a
                                  LinkedHashMap on AWS, printed {k=v, k2=v2}
    list                          a JSON array from $input.path: printed as JSON, as AWS's
                                  JSON arrays print themselves ([{"a":1}], LS-snap)
    JMap, JList                   maps and lists the template builds ({}, [], .keySet(), split):
                                  Java collections, printed {k=v} and [a, b]
    JEntry                        an entry of .entrySet(), printed k=v

Only printing differs by type; methods and operators treat dict/JMap and list/JList alike.
``render`` prints a value into the output, where null prints as nothing (AWS renders a null
reference as the empty string, LS-snap ``test_input_path_template_formatting``); ``jstr`` is
Java's String.valueOf, used inside collections and for string concatenation, where null is
"null".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from proxy.vtl._limits import MAX_COLLECTION, MAX_INT_BITS, MAX_NESTING, MAX_STRING
from proxy.vtl.errors import TemplateRuntimeError


class JList(list[Any]):
    __slots__ = ()


class JMap(dict[Any, Any]):
    __slots__ = ()


class JEntry:
    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value


class Opaque:
    """An object with methods but no useful Java toString ($input, $util, $context and its
    nested objects, $foreach): printed as the empty string, as AWS prints $context.identity
    (LS-snap test_sqs_amz_json_protocol)."""

    __slots__ = ()

    def vtl_prop(self, name: str) -> Any:
        return None

    def vtl_call(self, name: str, args: tuple[Any, ...]) -> Any:
        return None

    def vtl_index(self, key: Any) -> Any:
        return None

    def vtl_set(self, name: str, value: Any) -> None:
        return None

    def vtl_iter(self) -> list[Any] | None:
        return None


class OverrideMap(JMap):
    """$context.requestOverride / responseOverride and their header, path and querystring
    maps: writable with #set, printed as the empty string as AWS prints them."""

    __slots__ = ()


class ForeachState(Opaque):
    """$foreach inside a loop (Velocity 1.7 ForeachScope)."""

    __slots__ = ("i", "size")

    def __init__(self, size: int) -> None:
        self.i = 0
        self.size = size

    def vtl_prop(self, name: str) -> Any:
        if name == "index":
            return self.i
        if name == "count":
            return self.i + 1
        if name == "hasNext":
            return self.i + 1 < self.size
        if name == "first":
            return self.i == 0
        if name == "last":
            return self.i + 1 >= self.size
        return None

    def vtl_call(self, name: str, args: tuple[Any, ...]) -> Any:
        if args:
            return None
        getter = {"getIndex": "index", "getCount": "count", "hasNext": "hasNext",
                  "getHasNext": "hasNext", "isFirst": "first", "isLast": "last"}.get(name)
        return None if getter is None else self.vtl_prop(getter)


def fail(message: str) -> TemplateRuntimeError:
    return TemplateRuntimeError(message)


# ---- printing -------------------------------------------------------------------------------


def java_double(d: float) -> str:
    """Java's Double.toString: plain between 10^-3 and 10^7, else d.dddE[-]n."""
    if d != d:
        return "NaN"
    if d in (float("inf"), float("-inf")):
        return "Infinity" if d > 0 else "-Infinity"
    if d == 0:
        return "-0.0" if str(d).startswith("-") else "0.0"
    mag = abs(d)
    if 1e-3 <= mag < 1e7:
        text = repr(d)
        return text if "." in text else text + ".0"
    sign, digits, exp = Decimal(repr(d)).as_tuple()
    assert isinstance(exp, int)
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    point = exp + len(digits) - 1
    mantissa = ds[0] + "." + (ds[1:] or "0")
    return ("-" if sign else "") + mantissa + "E" + str(point)


def render(x: Any) -> str:
    """A value as printed into the template output (null prints nothing)."""
    t = type(x)
    if t is str:
        return x  # type: ignore[no-any-return]
    if t is int:  # ids and counts: no second call
        return str(x)
    if x is None:
        return ""
    return jstr(x)


def jstr(x: Any) -> str:
    """Java's String.valueOf(x)."""
    t = type(x)
    if t is str:
        return str(x)
    if t is bool:
        return "true" if x else "false"
    if t is int:
        return str(x)
    if t is float:
        return java_double(x)
    if x is None:
        return "null"
    out: list[str] = []
    _print(x, out, [0], 0)
    return "".join(out)


def _print(x: Any, out: list[str], size: list[int], depth: int) -> None:
    # one walk with a running size, so a list holding itself or a huge structure fails
    # instead of eating the heap
    if depth > MAX_NESTING:
        raise fail("nesting too deep to print")
    t = type(x)
    if t is str:
        s = x
    elif t is bool or t is int or t is float or x is None:
        s = jstr(x)
    elif t is list:
        s = json_text(x)
    elif t is OverrideMap:
        s = ""
    elif isinstance(x, dict):
        out.append("{")
        size[0] += 1
        first = True
        for k, v in x.items():
            if not first:
                out.append(", ")
            first = False
            _print(k, out, size, depth + 1)
            out.append("=")
            _print(v, out, size, depth + 1)
            size[0] += 3
            if size[0] > MAX_STRING:
                raise fail("value too large to print")
        out.append("}")
        return
    elif isinstance(x, list):
        out.append("[")
        size[0] += 1
        for i, v in enumerate(x):
            if i:
                out.append(", ")
            _print(v, out, size, depth + 1)
            size[0] += 2
            if size[0] > MAX_STRING:
                raise fail("value too large to print")
        out.append("]")
        return
    elif t is JEntry:
        _print(x.key, out, size, depth + 1)
        out.append("=")
        _print(x.value, out, size, depth + 1)
        return
    else:
        s = ""
    size[0] += len(s)
    if size[0] > MAX_STRING:
        raise fail("value too large to print")
    out.append(s)


def _json_default(x: Any) -> Any:
    if type(x) is JEntry:
        return jstr(x)
    if isinstance(x, Opaque):
        return None
    raise TypeError


def json_text(x: Any) -> str:
    """A value as compact JSON text ($input.json, and how JSON arrays print)."""
    if type(x) is list and not _fits(x):
        raise fail("value too large to print")
    try:
        return orjson.dumps(x, default=_json_default).decode()
    except TypeError:
        # integers beyond 64 bits: orjson refuses them, Java's JSON writers print them
        import json

        return json.dumps(x, separators=(",", ":"), ensure_ascii=False,
                          default=_json_default)


def _fits(x: Any) -> bool:
    # a list the template grew with .add() could hold huge strings many times over; measure
    # before serialising (parsed JSON always fits: it came from a body of bounded size)
    budget = MAX_STRING
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            budget -= len(v)
        elif isinstance(v, list):
            budget -= len(v)
            stack.extend(v)
        elif isinstance(v, dict):
            budget -= len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        else:
            budget -= 8
        if budget < 0:
            return False
    return True


# ---- truth, equality, order -----------------------------------------------------------------


def truth(x: Any) -> bool:
    # Velocity 1.7: only null and false are false; "" and 0 and [] are true
    return x is not None and x is not False


def _is_number(x: Any) -> bool:
    t = type(x)
    return t is int or t is float


def eq(a: Any, b: Any) -> bool:
    # AWS compares a null reference equal both to $null and to "" (LS-snap
    # test_input_path_template_formatting: isNull and isEmptyString are both "true")
    if a is None:
        a = ""
    if b is None:
        b = ""
    ta, tb = type(a), type(b)
    if ta is tb:
        return bool(a == b)
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if (isinstance(a, dict) and isinstance(b, dict)) or (
        isinstance(a, list) and isinstance(b, list)
    ):
        return bool(a == b)
    # Velocity 1.7 ASTEQNode: values of unrelated classes compare by toString()
    return jstr(a) == jstr(b)


def compare(op: str, a: Any, b: Any) -> bool:
    # Velocity 1.7 orders numbers only; anything else logs an error and is false
    if not (_is_number(a) and _is_number(b)):
        return False
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


# ---- arithmetic -----------------------------------------------------------------------------


def _int_result(r: int) -> int:
    if r.bit_length() > MAX_INT_BITS:
        raise fail("integer result too large")
    return r


def add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if _is_number(a) and _is_number(b):
        r = a + b
        return _int_result(r) if type(r) is int else r
    if type(a) is str or type(b) is str:
        # Velocity 1.7 ASTAddNode joins when either side is a String
        s = jstr(a) + jstr(b)
        if len(s) > MAX_STRING:
            raise fail("string too large")
        return s
    return None


def arith(op: str, a: Any, b: Any) -> Any:
    """- * / % on numbers; null (Velocity logs and yields null) for anything else, and for
    division by zero."""
    if not (_is_number(a) and _is_number(b)):
        return None
    if op == "-":
        r = a - b
    elif op == "*":
        r = a * b
    elif b == 0:
        return None
    elif type(a) is int and type(b) is int:
        # Java integer division truncates toward zero; % keeps the dividend's sign
        q = abs(a) // abs(b)
        if (a < 0) != (b < 0):
            q = -q
        r = q if op == "/" else a - b * q
    elif op == "/":
        r = a / b
    else:
        import math

        r = math.fmod(a, b)
    return _int_result(r) if type(r) is int else r


def negate(a: Any) -> Any:
    return -a if _is_number(a) else None


# ---- construction ---------------------------------------------------------------------------


def make_range(low: Any, high: Any) -> JList | None:
    if type(low) is not int or type(high) is not int:
        return None
    if abs(high - low) >= MAX_COLLECTION:
        raise fail("range too large")
    step = 1 if high >= low else -1
    return JList(range(low, high + step, step))


def interp(parts: tuple[Any, ...]) -> str:
    s = "".join([p if type(p) is str else render(p) for p in parts])
    if len(s) > MAX_STRING:
        raise fail("string too large")
    return s


def checked_string(s: str) -> str:
    if len(s) > MAX_STRING:
        raise fail("string too large")
    return s


def checked_length(length: int) -> None:
    if length > MAX_STRING:
        raise fail("string too large")


def grow_check(size: int) -> None:
    if size > MAX_COLLECTION:
        raise fail("collection too large")
