"""A payload as a parameter-mapping source (spec 8.5): ``method.request.body[.JSONPath]`` in
``requestParameters`` and ``integration.response.body[.JSONPath]`` in ``responseParameters``.

The whole body maps as its text. ``body.JSONPath`` (``body.customer.name``: the path without
its ``$.``) reads the body as JSON, once per request however many mappings read it; a string
maps as itself, any other value as compact JSON, and a body that is not JSON or a path that
finds nothing maps to nothing (the header or parameter is not set).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from proxy.vtl import compile_path

__all__ = ["BodyDoc", "BodySource", "compile_body_source"]


class _Unparsed:
    __slots__ = ()


_UNPARSED = _Unparsed()
_NOT_JSON = _Unparsed()


class BodyDoc:
    """One payload, parsed as JSON at most once."""

    __slots__ = ("_root", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._root: Any = _UNPARSED

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def root(self) -> Any:
        root = self._root
        if root is _UNPARSED:
            try:
                root = orjson.loads(self.data) if self.data else _NOT_JSON
            except orjson.JSONDecodeError:
                root = _NOT_JSON
            self._root = root
        return root


BodySource = Callable[[BodyDoc], str | None]


def compile_body_source(suffix: str) -> BodySource | None:
    """The getter for ``...body`` (``suffix`` empty) or ``...body.PATH`` (``suffix`` the path
    after ``body.``); None when the path is not a JSONPath this gateway reads."""
    if not suffix:
        return lambda doc: doc.text()
    try:
        path = compile_path("$." + suffix)
    except ValueError:
        return None

    def get(doc: BodyDoc) -> str | None:
        root = doc.root()
        if root is _NOT_JSON:
            return None
        found = path.find(root)
        if found is None:
            return None
        if isinstance(found, str):
            return found
        return orjson.dumps(found).decode()

    return get
