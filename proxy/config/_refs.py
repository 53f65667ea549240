"""Local ``$ref``s in an OpenAPI or Swagger document: a JSON pointer (RFC 6901) in a URI
fragment, so each token is percent-decoded, then ``~1`` and ``~0`` unescaped."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from proxy.config._check import Checker, PathT, show

__all__ = ["escape", "pointer", "resolve_local", "unescape"]

# a longer chain of references than any document needs: taken to be a loop
_MAX_HOPS = 16


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer(fragment: str) -> list[str]:
    """``/a/b~1c`` -> ``["a", "b/c"]`` (JSON pointer tokens, percent-decoded as in a URI)."""
    if not fragment:
        return []
    return [unescape(unquote(t)) for t in fragment.lstrip("/").split("/")]


def resolve_local(ck: Checker, path: PathT, doc: Any, value: Any) -> Any:
    """``value``, or what its local ``$ref`` (``#/components/parameters/x``) points to in
    ``doc``, following references as AWS's importer does; a reference to another file, to
    nothing or in a loop fails at ``path.$ref``."""
    for _ in range(_MAX_HOPS):
        if not (isinstance(value, dict) and "$ref" in value):
            return value
        ref = value["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            ck.fail((*path, "$ref"), "only local references (#/...) are supported")
        target: Any = doc
        for token in pointer(ref[1:]):
            if not isinstance(target, dict) or token not in target:
                ck.fail((*path, "$ref"), f"{show(ref)} points to nothing in this document")
            target = target[token]
        value = target
    ck.fail((*path, "$ref"), "references form a loop")
