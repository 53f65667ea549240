"""Cache keys: compiled once per method, built per request without touching the store.

A key is ``METHOD:len:namespace:`` + the Accept-Encoding variant + ``:`` + each key
parameter as ``len:value`` (``-`` when absent, ``#count:`` then each value when repeated).
Every part is self-delimiting, so no value can forge another key, and a missing parameter
differs from an empty one. Only values enter the key, never parameter names: methods that
share a ``cacheNamespace`` share entries by value, as in AWS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy, MultiMapping

_SOURCES = {
    "path": "path",
    "querystring": "query",
    "multivaluequerystring": "query",
    "header": "header",
    "multivalueheader": "header",
}
_PREFIX = "method.request."

# Codings a cached body may carry. Clients that accept different sets of them get different
# entries, so a gzip body never reaches a client that did not ask for it (Kong #12796, APISIX
# PR #13376 shipped exactly that bug).
_CODINGS = frozenset({"br", "deflate", "gzip", "zstd"})
_variants: dict[str, str] = {}
_VARIANTS_MAX = 1024  # distinct raw Accept-Encoding strings remembered; browsers send a handful


def encoding_variant(accept_encoding: str | None) -> str:
    """The sorted known codings a client accepts (``q=0`` excluded); ``""`` for identity."""
    if not accept_encoding:
        return ""
    variant = _variants.get(accept_encoding)
    if variant is None:
        variant = _parse_accept_encoding(accept_encoding)
        if len(_variants) >= _VARIANTS_MAX:
            _variants.clear()
        _variants[accept_encoding] = variant
    return variant


def _parse_accept_encoding(value: str) -> str:
    accepted: set[str] = set()
    for item in value.lower().split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip()
        q = params.strip()
        if q.startswith("q="):
            try:
                if float(q[2:]) <= 0:
                    continue
            except ValueError:
                continue
        if coding == "*":
            accepted |= _CODINGS
        elif coding in _CODINGS:
            accepted.add(coding)
    return ",".join(sorted(accepted))


def _part(values: Sequence[str]) -> str:
    if len(values) == 1:
        return f"{len(values[0])}:{values[0]}"
    if not values:
        return "-"
    # The count keeps ([a, b], [b]) and ([a], [b, b]) apart.
    return f"#{len(values)}:" + "".join(f"{len(v)}:{v}" for v in values)


class CacheKeySpec:
    """The key recipe of one method: namespace, method and ``cacheKeyParameters``.

    ``key_parameters`` are ``method.request.{path,querystring,header}.NAME`` (the
    ``multivalue*`` forms are accepted too). Without any, every request to the resource shares
    one entry, path parameters included, as in AWS.
    """

    __slots__ = ("_params", "_prefix", "stage_ns")

    def __init__(
        self,
        *,
        api_id: str,
        stage: str,
        namespace: str,
        http_method: str,
        key_parameters: Sequence[str],
    ) -> None:
        self.stage_ns = f"{api_id}:{stage}"
        self._prefix = f"{http_method.upper()}:{len(namespace)}:{namespace}:"
        params: list[tuple[str, str]] = []
        for expr in key_parameters:
            source, _, name = expr.removeprefix(_PREFIX).partition(".")
            if not expr.startswith(_PREFIX) or source not in _SOURCES or not name:
                raise ValueError(
                    f"cache key parameter {expr!r} must be method.request.path.NAME, "
                    "method.request.querystring.NAME or method.request.header.NAME"
                )
            kind = _SOURCES[source]
            params.append((kind, name.lower() if kind == "header" else name))
        self._params = tuple(params)

    def key(
        self,
        path_params: Mapping[str, str],
        query: Mapping[str, str] | MultiMapping[str],
        headers: Mapping[str, str] | MultiMapping[str],
    ) -> str:
        """The entry key of one request; header names are matched case-insensitively
        (``headers`` is aiohttp's ``CIMultiDict`` or any mapping)."""
        multi_query, multi_headers = _is_multi(query), _is_multi(headers)
        accept = _values(headers, multi_headers, "accept-encoding", header=True)
        parts = [self._prefix, encoding_variant(",".join(accept)), ":"]
        for kind, name in self._params:
            if kind == "path":
                value = path_params.get(name)
                parts.append("-" if value is None else f"{len(value)}:{value}")
            elif kind == "query":
                parts.append(_part(_values(query, multi_query, name, header=False)))
            else:
                parts.append(_part(_values(headers, multi_headers, name, header=True)))
        return "".join(parts)


_MULTI_TYPES = frozenset({MultiDict, MultiDictProxy, CIMultiDict, CIMultiDictProxy})


def _is_multi(values: object) -> bool:
    # isinstance against the MultiMapping ABC costs 120-250 ns, this type lookup ~55 ns
    # (timeit, 2-core box), and key() asks for query and headers on every cached request.
    kind = type(values)
    if kind in _MULTI_TYPES:
        return True
    return kind is not dict and isinstance(values, MultiMapping)


def _values(
    values: Mapping[str, str] | MultiMapping[str], multi: bool, name: str, *, header: bool
) -> Sequence[str]:
    # Every repeated value counts: ?type=a&type=b must not share an entry with ?type=b.
    # A CIMultiDict (aiohttp's request.headers) matches header names in any case itself; a
    # plain mapping of headers is tried lower-case, then scanned.
    if multi:
        return values.getall(name, ())  # type: ignore[union-attr]
    value = values.get(name)
    if value is not None:
        return (value,)
    if header:
        for other, value in values.items():
            if other.lower() == name:
                return (value,)
    return ()
