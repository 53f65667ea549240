"""Request paths made safe to route and to forward: dot segments resolved before routing, and a
backend path that would leave its integration URI's prefix refused.

A client that sends ``/prod/../admin/secret`` (or ``%2e%2e``, or ``/prod/a/../../x``) must not
reach a backend path outside the one the API exposes. Sluice resolves dot segments the RFC 3986
(section 5.2.4) way before the stage is looked up, as a normalising front end does: the router
and every later phase see the resolved path, so ``/prod/public/../x`` is ``/prod/x``, and
``/prod/../admin`` names the stage ``admin``. ``%2e`` counts as a dot; an encoded slash
(``%2F``) does not split a segment, as RFC 3986 says, so a path parameter may carry one. What a
backend makes of a value with encoded slashes or backslashes is its own affair, so the HTTP
integration checks the final backend path too (``escapes``): once decoded and resolved, it must
stay under the integration URI's literal prefix.
"""

from __future__ import annotations

from urllib.parse import unquote

__all__ = ["directory", "escapes", "lenient", "remove_dot_segments"]

_DOTS = frozenset({".", "..", "%2e", "%2E", ".%2e", ".%2E", "%2e.", "%2E.", "%2e%2e", "%2E%2E",
                   "%2e%2E", "%2E%2e"})


def remove_dot_segments(path: str) -> str:
    """``path`` (raw, starting with "/") with its ``.`` and ``..`` segments resolved; a ``..``
    at the root stays at the root (RFC 3986 5.2.4). Other text is returned unchanged."""
    # Nearly every path has neither "/." nor "/%2": one scan each, no split (timeit ~60 ns).
    if "/." not in path and "/%2" not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    last = len(segments) - 1
    for i, seg in enumerate(segments[1:], 1):
        if seg in _DOTS:
            if out and seg.replace("%2e", ".").replace("%2E", ".") == "..":
                out.pop()
            if i == last:  # "/a/.." and "/a/." end in a slash, as the RFC's output does
                out.append("")
            continue
        out.append(seg)
    return "/" + "/".join(out)


def lenient(path: str) -> str:
    """``path`` as a lenient backend may read it: percent-decoded, backslashes as slashes, dot
    segments resolved."""
    return remove_dot_segments(unquote(path).replace("\\", "/"))


def directory(path: str) -> str:
    """The directory ``escapes`` keeps a path under: ``path`` up to and with its last "/"."""
    return lenient(path).rpartition("/")[0] + "/"


def escapes(path: str, prefix: str) -> bool:
    """Whether ``path`` (a backend request path, raw) leaves the directory ``prefix`` (from
    ``directory``) once read leniently, as a backend that decodes before resolving would."""
    # the cheap test first: without a dot or an escape nothing can climb (~50 ns)
    if "." not in path and "%" not in path and "\\" not in path:
        return False
    return not (lenient(path) + "/").startswith(prefix)
