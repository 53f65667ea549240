"""What ``.name``, ``.name(args)``, ``[key]`` and ``#foreach`` do to each kind of value: the
Java methods real mapping templates call on strings, numbers, lists and maps.

As in Velocity, a method that does not exist for the value, or is called with arguments of
the wrong kind, yields null (here: the implementation raises TypeError and ``call`` answers
None); a method that throws in Java (substring out of range, parseInt of "abc") raises
ValueError or IndexError, which fails the render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.vtl import _javastr as js
from proxy.vtl._values import (
    JEntry,
    JList,
    JMap,
    Opaque,
    checked_length,
    checked_string,
    eq,
    grow_check,
    jstr,
)

Method = Callable[..., Any]


def _int(x: Any) -> int:
    if type(x) is not int:
        raise TypeError
    return x


def _str(x: Any) -> str:
    if type(x) is not str:
        raise TypeError
    return x


def java_equals(a: Any, b: Any) -> bool:
    if b is None:
        return False
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return (isinstance(a, dict) and isinstance(b, dict) and a == b) or (
            isinstance(a, list) and isinstance(b, list) and a == b)
    return type(a) is type(b) and bool(a == b)


def _compare_to(a: Any, b: Any) -> int:
    if type(a) is not type(b):
        raise TypeError
    if type(a) is str:
        for x, y in zip(a, b, strict=False):
            if x != y:
                return ord(x) - ord(y)
        return len(a) - len(b)
    return int((a > b) - (a < b))


# ---- String ---------------------------------------------------------------------------------


def _substring(s: str, begin: Any, end: Any = None) -> str:
    b = _int(begin)
    e = len(s) if end is None else _int(end)
    if b < 0 or e > len(s) or b > e:
        raise IndexError(f"begin {b}, end {e}, length {len(s)}")
    return s[b:e]


def _index_of(s: str, target: Any, start: Any = 0) -> int:
    frm = max(_int(start), 0)
    if type(target) is int:
        target = chr(target)
    t = _str(target)
    if frm > len(s):
        return len(s) if t == "" else -1
    return s.find(t, frm)


def _last_index_of(s: str, target: Any, start: Any = None) -> int:
    if type(target) is int:
        target = chr(target)
    t = _str(target)
    if start is None:
        return s.rfind(t)
    frm = _int(start)
    if frm < 0:
        return -1
    return s.rfind(t, 0, frm + len(t))


def _char_at(s: str, i: Any) -> str:
    k = _int(i)
    if not 0 <= k < len(s):
        raise IndexError(f"index {k}, length {len(s)}")
    return s[k]


def _replace(s: str, target: Any, replacement: Any) -> str:
    t, r = _cs(target), _cs(replacement)
    count = s.count(t) if t else len(s) + 1
    # refuse before building: 1 MB replaced char by char with 1 MB strings is a terabyte
    checked_length(len(s) + count * (len(r) - len(t)))
    return s.replace(t, r)


def _cs(x: Any) -> Any:
    # a CharSequence argument: a String; Velocity finds no method for other types
    if type(x) is not str:
        raise TypeError
    return x


def _replace_all(s: str, regex: Any, replacement: Any) -> str:
    return checked_string(js.replace_all(s, _str(regex), _str(replacement)))


def _replace_first(s: str, regex: Any, replacement: Any) -> str:
    return checked_string(js.replace_all(s, _str(regex), _str(replacement), count=1))


def _split(s: str, regex: Any, limit: Any = 0) -> JList:
    return JList(js.split(s, _str(regex), _int(limit)))


def _starts_with(s: str, prefix: Any, offset: Any = 0) -> bool:
    off = _int(offset)
    return off >= 0 and s.startswith(_str(prefix), off)


_STR: dict[str, Method] = {
    "length": lambda s: len(s),
    "isEmpty": lambda s: len(s) == 0,
    "substring": _substring,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "charAt": _char_at,
    "contains": lambda s, x: _cs(x) in s,
    "startsWith": _starts_with,
    "endsWith": lambda s, x: s.endswith(_str(x)),
    "equals": lambda s, x: type(x) is str and s == x,
    "equalsIgnoreCase": lambda s, x: type(x) is str and s.lower() == x.lower(),
    "compareTo": _compare_to,
    "compareToIgnoreCase": lambda s, x: _compare_to(s.lower(), _str(x).lower()),
    "toLowerCase": lambda s: s.lower(),
    "toUpperCase": lambda s: s.upper(),
    "trim": js.trim,
    "concat": lambda s, x: checked_string(s + _str(x)),
    "replace": _replace,
    "replaceAll": _replace_all,
    "replaceFirst": _replace_first,
    "matches": lambda s, regex: js.java_regex(_str(regex)).fullmatch(s) is not None,
    "split": _split,
    "toString": lambda s: s,
    "valueOf": lambda s, x: jstr(x),
}

# ---- numbers and booleans (static methods reached through an instance, the way templates
# get Integer.parseInt: #set($Integer = 0) ... $Integer.parseInt($s)) ---------------------------


def _number_common(cast: Callable[[Any], Any]) -> dict[str, Method]:
    return {
        "toString": jstr,
        "equals": java_equals,
        "compareTo": _compare_to,
        "intValue": lambda x: int(x),
        "longValue": lambda x: int(x),
        "doubleValue": lambda x: float(x),
        "floatValue": lambda x: float(x),
        "parseInt": lambda x, s: js.parse_int(s),
        "parseLong": lambda x, s: js.parse_int(s, 64),
        "parseDouble": lambda x, s: js.parse_double(s),
        "valueOf": lambda x, s: cast(s),
    }


_INT: dict[str, Method] = _number_common(lambda s: js.parse_int(_str(s)))
_FLOAT: dict[str, Method] = {
    **_number_common(lambda s: js.parse_double(_str(s))),
    "isNaN": lambda x: x != x,
    "isInfinite": lambda x: x in (float("inf"), float("-inf")),
}
_BOOL: dict[str, Method] = {
    "toString": jstr,
    "equals": java_equals,
    "booleanValue": lambda b: b,
    "parseBoolean": lambda b, s: isinstance(s, str) and s.lower() == "true",
    "valueOf": lambda b, s: isinstance(s, str) and s.lower() == "true",
}

# ---- List -----------------------------------------------------------------------------------


def _list_get(lst: list[Any], i: Any) -> Any:
    k = _int(i)
    if not 0 <= k < len(lst):
        raise IndexError(f"Index {k} out of bounds for length {len(lst)}")
    return lst[k]


def _list_add(lst: list[Any], *args: Any) -> Any:
    grow_check(len(lst) + 1)
    if len(args) == 1:
        lst.append(args[0])
        return True
    if len(args) == 2:
        k = _int(args[0])
        if not 0 <= k <= len(lst):
            raise IndexError(f"Index: {k}, Size: {len(lst)}")
        lst.insert(k, args[1])
        return None
    raise TypeError


def _list_add_all(lst: list[Any], other: Any) -> bool:
    if not isinstance(other, list):
        raise TypeError
    grow_check(len(lst) + len(other))
    lst.extend(other)
    return bool(other)


def _list_remove(lst: list[Any], x: Any) -> Any:
    if type(x) is int:
        return lst.pop(_list_index(lst, x))
    for i, e in enumerate(lst):
        if java_equals(e, x):
            del lst[i]
            return True
    return False


def _list_index(lst: list[Any], k: int) -> int:
    if not 0 <= k < len(lst):
        raise IndexError(f"Index {k} out of bounds for length {len(lst)}")
    return k


def _list_set(lst: list[Any], i: Any, x: Any) -> Any:
    k = _list_index(lst, _int(i))
    old = lst[k]
    lst[k] = x
    return old


def _index_in(lst: list[Any], x: Any) -> int:
    for i, e in enumerate(lst):
        if eq(e, x) and (e is not None) == (x is not None):
            return i
    return -1


def _last_index_in(lst: list[Any], x: Any) -> int:
    for i in range(len(lst) - 1, -1, -1):
        if eq(lst[i], x) and (lst[i] is not None) == (x is not None):
            return i
    return -1


def _sub_list(lst: list[Any], a: Any, b: Any) -> JList:
    lo, hi = _int(a), _int(b)
    if lo < 0 or hi > len(lst) or lo > hi:
        raise IndexError(f"fromIndex {lo}, toIndex {hi}, size {len(lst)}")
    return JList(lst[lo:hi])


_LIST: dict[str, Method] = {
    "size": lambda lst: len(lst),
    "isEmpty": lambda lst: len(lst) == 0,
    "get": _list_get,
    "contains": lambda lst, x: _index_in(lst, x) >= 0,
    "indexOf": _index_in,
    "lastIndexOf": _last_index_in,
    "add": _list_add,
    "addAll": _list_add_all,
    "remove": _list_remove,
    "set": _list_set,
    "clear": lambda lst: lst.clear(),
    "subList": _sub_list,
    "toString": jstr,
    "equals": java_equals,
}

# ---- Map ------------------------------------------------------------------------------------


def _map_get(m: dict[Any, Any], k: Any) -> Any:
    try:
        return m.get(k)
    except TypeError:
        return None


def _map_put(m: dict[Any, Any], k: Any, v: Any) -> Any:
    old = m.get(k)
    if k not in m:
        grow_check(len(m) + 1)
    m[k] = v
    return old


def _map_put_all(m: dict[Any, Any], other: Any) -> None:
    if not isinstance(other, dict):
        raise TypeError
    grow_check(len(m) + len(other))
    m.update(other)


def _map_contains_key(m: dict[Any, Any], k: Any) -> bool:
    try:
        return m.get(k) is not None or k in m
    except TypeError:
        return False


_MAP: dict[str, Method] = {
    "get": _map_get,
    "getOrDefault": lambda m, k, d: m[k] if _map_contains_key(m, k) else d,
    "put": _map_put,
    "putAll": _map_put_all,
    "containsKey": _map_contains_key,
    "containsValue": lambda m, v: any(eq(x, v) for x in m.values()),
    "keySet": lambda m: JList(m.keys()),
    "values": lambda m: JList(m.values()),
    "entrySet": lambda m: JList(JEntry(k, v) for k, v in m.items()),
    "size": lambda m: len(m),
    "isEmpty": lambda m: len(m) == 0,
    "remove": lambda m, k: m.pop(k, None),
    "clear": lambda m: m.clear(),
    "toString": jstr,
    "equals": java_equals,
}


def _entry_set_value(e: JEntry, v: Any) -> Any:
    old = e.value
    e.value = v
    return old


_ENTRY: dict[str, Method] = {
    "getKey": lambda e: e.key,
    "getValue": lambda e: e.value,
    "setValue": _entry_set_value,
    "toString": jstr,
}

_METHODS: dict[type, dict[str, Method]] = {
    str: _STR, int: _INT, float: _FLOAT, bool: _BOOL, list: _LIST, JList: _LIST,
    dict: _MAP, JMap: _MAP, JEntry: _ENTRY,
}


def _methods_for(obj: Any) -> dict[str, Method] | None:
    table = _METHODS.get(type(obj))
    if table is None:
        if isinstance(obj, dict):
            table = _MAP
        elif isinstance(obj, list):
            table = _LIST
    return table


def call(obj: Any, name: str, args: tuple[Any, ...]) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Opaque):
        return obj.vtl_call(name, args)
    table = _methods_for(obj)
    if table is None:
        return None
    method = table.get(name)
    if method is None:
        return None
    try:
        return method(obj, *args)
    except TypeError:
        return None


def prop(obj: Any, name: str) -> Any:
    """``$obj.name``: a map's entry, else Velocity's getName()/isName() for the few getters
    templates use."""
    t = type(obj)
    if t is dict or t is JMap:
        return obj.get(name)
    if obj is None:
        return None
    if isinstance(obj, Opaque):
        return obj.vtl_prop(name)
    if isinstance(obj, dict):
        return obj.get(name)
    if t is JEntry:
        if name == "key":
            return obj.key
        if name == "value":
            return obj.value
        return None
    if name == "empty" and (t is str or isinstance(obj, list)):
        return len(obj) == 0
    return None


def index(obj: Any, key: Any) -> Any:
    """``$obj[key]`` as Velocity 1.7's ASTIndex: ``obj.get(key)``, with a negative list index
    counted from the end. A list read past its end throws (IndexOutOfBoundsException); a
    value without a matching get() yields null."""
    if isinstance(obj, list):
        if type(key) is not int:
            return None
        k = key + len(obj) if key < 0 else key
        return _list_get(obj, k)
    if isinstance(obj, dict):
        try:
            return obj.get(key)
        except TypeError:
            return None
    if isinstance(obj, Opaque):
        return obj.vtl_index(key)
    return None


def set_prop(obj: Any, name: str, value: Any) -> None:
    if isinstance(obj, dict):
        _map_put(obj, name, value)
    elif isinstance(obj, Opaque):
        obj.vtl_set(name, value)


def set_index(obj: Any, key: Any, value: Any) -> None:
    if isinstance(obj, list):
        if type(key) is int:
            _list_set(obj, key if key >= 0 else key + len(obj), value)
    elif isinstance(obj, dict):
        try:
            _map_put(obj, key, value)
        except TypeError:
            return


def iterate(obj: Any) -> list[Any] | None:
    """What #foreach walks: a list, or a map's values (Velocity 1.7); nothing else."""
    if isinstance(obj, list):
        return obj
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, Opaque):
        return obj.vtl_iter()
    return None
