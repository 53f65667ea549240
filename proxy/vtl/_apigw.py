"""The API Gateway variables of a mapping template: $input, $util, $context (with its writable
requestOverride / responseOverride) and $stageVariables (DG
api-gateway-mapping-template-reference).

AWS behaviour kept here, with its evidence:
- an empty body reads as ``{}``: $input.body prints ``{}`` (LS-snap test_input_body_formatting)
  and paths run over an empty object, so $input.path('$.x') is null and $input.json('$') is
  ``{}`` (what the console's passthrough template sends a Lambda for a GET);
- a body that is not JSON fails the render when a template reads it with $input.path or
  $input.json: AWS answers 400 "Could not parse request body into json: ..." (users report
  it for form and multipart bodies sent to JSON templates);
- $input.json of a path that matches nothing is ``""`` (LS unit tests, checked on the AWS
  console);
- $input.params(name) looks in path, then querystring, then header, and is "" when absent;
  header names match case-insensitively.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import orjson

from proxy.vtl import _javastr as js
from proxy.vtl._jsonpath import JsonPath, compile_path
from proxy.vtl._methods import prop
from proxy.vtl._values import JEntry, JList, JMap, Opaque, OverrideMap, json_text, jstr
from proxy.vtl.errors import BAD_REQUEST_BODY, TemplateRuntimeError


def parse_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses a few documents Java's parsers read (integers beyond 64 bits are read
    # as floats by orjson, but e.g. lone surrogates escaped as \ud800 are refused)
    return json.loads(text, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"Unrecognized token '{name}'")


def _jackson_message(text: str, err: Exception) -> str:
    stripped = text.lstrip(" \t\r\n")
    if stripped:
        c = stripped[0]
        if c not in '{["-0123456789tfn':
            return (f"Unexpected character ('{c}' (code {ord(c)})): expected a valid value "
                    "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')")
    return str(err).split(":", 1)[0]


class HeaderMap(JMap):
    """$input.params().header: the client's names, looked up case-insensitively."""

    __slots__ = ()

    def get(self, key: Any, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if isinstance(key, str):
            low = key.lower()
            for k, v in self.items():
                if k.lower() == low:
                    return v
        return default

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if isinstance(key, str):
            low = key.lower()
            return any(k.lower() == low for k in self)
        return False


class _Unparsed:
    __slots__ = ()


_UNPARSED = _Unparsed()


class Params(Protocol):
    """The method request's parameters as ``$input.params()`` reads them (``Inputs`` is
    one); each is read only when a template asks for it, so they may be made on demand.
    The query string and headers map a name to its last value, as AWS's do."""

    @property
    def path_params(self) -> Mapping[str, str]: ...

    @property
    def querystring(self) -> Mapping[str, str]: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


def parse_body(body: str | bytes) -> Any:
    """The payload as JSON ($input.path), an empty one as ``{}``; AWS's 400 "Could not parse
    request body into json" when it is not JSON."""
    if type(body) is bytes and body:
        # UTF-8 parsed as it came: no text made and encoded again for the parser (~6k
        # instructions for a 1 KB body with a non-ASCII name); orjson refuses bytes that
        # are not UTF-8, which the text below then reads as U+FFFD
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    text = body_text(body)
    try:
        return parse_json(text)
    except ValueError as err:
        raise TemplateRuntimeError(
            "Could not parse request body into json: " + _jackson_message(text, err),
            BAD_REQUEST_BODY,
        ) from err


def body_text(body: str | bytes) -> str:
    """$input.body: the payload as text (U+FFFD for what is not UTF-8), ``{}`` for none."""
    if type(body) is bytes:
        return body.decode("utf-8", "replace") or "{}"
    return body or "{}"  # type: ignore[return-value]


def found_json(value: Any) -> str:
    """$input.json of what a path found: ``""`` for nothing."""
    return '""' if value is None else json_text(value)


class Input(Opaque):
    # three slots set per render; $input.params() made when first read (~1.5k instructions
    # a render fewer)
    __slots__ = ("_body", "_params", "_root", "_src")

    _params: JMap

    def __init__(self, body: str | bytes, params: Params) -> None:
        self._body = body  # bytes: UTF-8, decoded (U+FFFD for what is not) when read as text
        self._src = params
        self._root: Any = _UNPARSED

    def body(self) -> str:
        body = self._body
        if type(body) is bytes:
            body = self._body = body.decode("utf-8", "replace")
        return body or "{}"  # type: ignore[return-value]

    def root(self) -> Any:
        # the body is parsed at most once per render, and only if a path reads it
        root = self._root
        if root is _UNPARSED:
            root = self._root = parse_body(self._body)
        return root

    def path_c(self, path: JsonPath) -> Any:
        return path.find(self.root())

    def json_c(self, path: JsonPath) -> str:
        return found_json(path.find(self.root()))

    def params(self) -> JMap:
        try:
            params: JMap = self._params
        except AttributeError:
            src = self._src
            params = self._params = JMap(path=JMap(src.path_params),
                                         querystring=JMap(src.querystring),
                                         header=HeaderMap(src.headers))
        return params

    def param(self, name: Any) -> str:
        if not isinstance(name, str):
            return ""
        src = self._src
        value = src.path_params.get(name)
        if value is None:
            value = src.querystring.get(name)
        if value is None:
            headers = src.headers
            value = headers.get(name)
            if value is None:
                low = name.lower()
                value = next((v for k, v in headers.items() if k.lower() == low), "")
        return value

    def vtl_prop(self, name: str) -> Any:
        if name == "body":
            return self.body()
        return None

    def vtl_call(self, name: str, args: tuple[Any, ...]) -> Any:
        if name == "path" and len(args) == 1:
            return self.path_c(_runtime_path(args[0]))
        if name == "json" and len(args) == 1:
            return self.json_c(_runtime_path(args[0]))
        if name == "params":
            if not args:
                return self.params()
            if len(args) == 1:
                return self.param(args[0])
        return None


def _runtime_path(text: Any) -> JsonPath:
    if not isinstance(text, str):
        raise TemplateRuntimeError(f"JSONPath must be a string, got {jstr(text)}")
    try:
        return compile_path(text)
    except ValueError as err:
        raise TemplateRuntimeError(str(err)) from err


def escape_javascript(x: Any) -> str | None:
    """$util.escapeJavaScript(x), which generated code calls directly: printable ASCII (names,
    ids) is escaped here, without a second call (~0.8k of the 4.1k instructions a quoted name
    cost through Util and _javastr, callgrind); anything else by ``_javastr``."""
    if x is None:
        return None
    s: str = x if type(x) is str else jstr(x)
    if s.isascii() and s.isprintable():
        # at most these four to escape, a str.replace per character present: 0.3 us for
        # 'Result "1"' against 0.85 us for str.translate and 0.92 us for re.sub (timeit)
        if "\\" in s:
            s = s.replace("\\", "\\\\")
        if "'" in s:
            s = s.replace("'", "\\'")
        if '"' in s:
            s = s.replace('"', '\\"')
        if "/" in s:
            s = s.replace("/", "\\/")
        return s
    return js.escape_javascript(s)


class Util(Opaque):
    """$util. Arguments are printed to strings first; null in is null out."""

    __slots__ = ()

    @staticmethod
    def escapeJavaScript(x: Any) -> str | None:
        return escape_javascript(x)

    @staticmethod
    def parseJson(x: Any) -> Any:
        if x is None:
            return None
        return parse_json(x if type(x) is str else jstr(x))

    @staticmethod
    def urlEncode(x: Any) -> str | None:
        if x is None:
            return None
        return js.url_encode(x if type(x) is str else jstr(x))

    @staticmethod
    def urlDecode(x: Any) -> str | None:
        if x is None:
            return None
        return js.url_decode(x if type(x) is str else jstr(x))

    @staticmethod
    def base64Encode(x: Any) -> str | None:
        if x is None:
            return None
        return base64.b64encode((x if type(x) is str else jstr(x)).encode()).decode()

    @staticmethod
    def base64Decode(x: Any) -> str | None:
        # java.util.Base64's basic decoder: the standard alphabet only, padding optional
        if x is None:
            return None
        s = x if type(x) is str else jstr(x)
        body = s.rstrip("=")
        if len(s) - len(body) > 2 or len(body) % 4 == 1:
            raise ValueError("Illegal base64 character or length")
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except binascii.Error as err:
            raise ValueError(f"Illegal base64 character: {err}") from err
        return raw.decode("utf-8", errors="replace")

    _CALLS = frozenset({"escapeJavaScript", "parseJson", "urlEncode", "urlDecode",
                        "base64Encode", "base64Decode"})

    def vtl_call(self, name: str, args: tuple[Any, ...]) -> Any:
        if name in self._CALLS and len(args) == 1:
            return getattr(self, name)(args[0])
        return None


class Carry:
    """The override maps of one request, kept across its renders: what a request template
    writes, the response template reads and may add to (recorded from AWS: a MOCK request
    template's responseOverride.status applies to the response, and its response template
    reads back the values, custom keys included)."""

    __slots__ = ("request", "response")

    def __init__(self) -> None:
        # made when a template first names them
        self.request: OverrideMap | None = None
        self.response: OverrideMap | None = None


class Context(Opaque):
    """$context over the caller's mapping (read lazily, key by key) plus the overrides the
    template may write. Nested objects print as the empty string, as on AWS.

    ``path(dotted, names)`` reads ``$context.a.b...`` written in a template (``a`` not an
    override map): the mapping's own ``vtl_path`` when it has one (which must give what
    ``walk_context`` gives: the gateway's reads a variable named in full in one call, ~3k
    of the 13k instructions a nested read cost), else ``walk_context``."""

    __slots__ = ("_carry", "_map", "path")

    def __init__(self, values: Mapping[str, Any], carry: Carry | None = None) -> None:
        self._map = values
        self._carry = Carry() if carry is None else carry
        self.path: Callable[[str, tuple[str, ...]], Any] = (
            getattr(values, "vtl_path", None) or functools.partial(walk_context, values))

    @property
    def request_override(self) -> OverrideMap | None:
        return self._carry.request

    @property
    def response_override(self) -> OverrideMap | None:
        return self._carry.response

    def vtl_prop(self, name: str) -> Any:
        if name == "requestOverride":
            carry = self._carry
            if carry.request is None:
                carry.request = OverrideMap(
                    header=OverrideMap(), path=OverrideMap(), querystring=OverrideMap())
            return carry.request
        if name == "responseOverride":
            carry = self._carry
            if carry.response is None:
                carry.response = OverrideMap(header=OverrideMap())
            return carry.response
        try:
            value = self._map[name]
        except (KeyError, TypeError):
            return None
        return wrap_context(value)

    def _keys(self) -> list[str]:
        keys = list(self._map.keys())
        keys += [k for k in ("requestOverride", "responseOverride") if k not in keys]
        return keys

    def vtl_call(self, name: str, args: tuple[Any, ...]) -> Any:
        return _mapping_call(self, self._keys(), name, args)

    def vtl_index(self, key: Any) -> Any:
        return self.vtl_prop(key) if isinstance(key, str) else None

    def vtl_iter(self) -> list[Any] | None:
        return [self.vtl_prop(k) for k in self._keys()]


class ContextObject(Opaque):
    """A nested $context object ($context.identity, $context.authorizer...)."""

    __slots__ = ("_map",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._map = values

    def vtl_prop(self, name: str) -> Any:
        try:
            return wrap_context(self._map[name])
        except (KeyError, TypeError):
            return None

    def vtl_call(self, name: str, args: tuple[Any, ...]) -> Any:
        return _mapping_call(self, list(self._map.keys()), name, args)

    def vtl_index(self, key: Any) -> Any:
        return self.vtl_prop(key) if isinstance(key, str) else None

    def vtl_iter(self) -> list[Any] | None:
        return [self.vtl_prop(k) for k in self._map]


_SCALARS = frozenset({str, int, float, bool, type(None)})


def walk_context(values: Mapping[str, Any], dotted: str, names: tuple[str, ...]) -> Any:
    """``$context.a.b...`` (``dotted``, split as ``names``; ``a`` not an override map) over
    a $context mapping, a name at a time: what a template reads there."""
    try:
        value = wrap_context(values[names[0]])
    except (KeyError, TypeError):
        value = None
    for name in names[1:]:
        value = prop(value, name)
    return value


def wrap_context(value: Any) -> Any:
    if type(value) in _SCALARS:  # nearly every read: no ABC check (~0.3 us)
        return value
    if isinstance(value, Mapping):
        return ContextObject(value)
    if isinstance(value, list | tuple):
        return JList(wrap_context(v) for v in value)
    return value


def _mapping_call(obj: Context | ContextObject, keys: list[str], name: str,
                  args: tuple[Any, ...]) -> Any:
    if name == "get" and len(args) == 1:
        return obj.vtl_index(args[0])
    if name == "containsKey" and len(args) == 1:
        return args[0] in keys
    if not args:
        if name == "keySet":
            return JList(keys)
        if name == "values":
            return JList(obj.vtl_prop(k) for k in keys)
        if name == "entrySet":
            return JList(JEntry(k, obj.vtl_prop(k)) for k in keys)
        if name == "size":
            return len(keys)
        if name == "isEmpty":
            return not keys
        if name == "toString":
            return ""
    return None


def override_result(m: OverrideMap) -> dict[str, Any]:
    """A written override map as plain str values (a list stays a list, for multi-value
    headers)."""
    out: dict[str, Any] = {}
    for k, v in m.items():
        if v is None:
            continue
        key = k if type(k) is str else jstr(k)
        if isinstance(v, list):
            out[key] = [jstr(e) for e in v]
        else:
            out[key] = jstr(v)
    return out


def override_status(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str and value.strip().isdigit():
        return int(value.strip())
    return None
