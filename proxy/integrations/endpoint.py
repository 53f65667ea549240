"""An HTTP integration's ``uri`` compiled once per stage, for HTTP and HTTP_PROXY alike: the
origin the upstream pool connects to, the path as literal pieces and ``{name}`` placeholders,
the static query, and the prefix a filled-in path must stay under (``proxy.paths``).

``${stageVariables.x}`` is put in here; a variable the stage lacks, a scheme other than http(s)
or no host makes the endpoint ``broken``: AWS answers such a method 500 Internal server error at
request time (issue 2, item 5), so the invoker does too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from proxy.paths import directory
from proxy.upstream.base import Origin

__all__ = ["Endpoint", "PathPart"]

_STAGE_VAR = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.\-]+)\+?\}")

PathPart = str | tuple[str]
"""A literal piece of the path, or ``(name,)`` for a ``{name}`` placeholder."""


class Endpoint:
    __slots__ = ("broken", "origin", "path_parts", "prefix", "static_query", "uri")

    def __init__(self, uri: str, stage_variables: Mapping[str, str],
                 tls_insecure: bool = False) -> None:
        self.broken = any(m.group(1) not in stage_variables for m in _STAGE_VAR.finditer(uri))
        uri = _STAGE_VAR.sub(lambda m: stage_variables.get(m.group(1), ""), uri)
        self.uri = uri
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.broken = True
            self.origin = Origin("http", "invalid", 80)
        else:
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                port = 80
                self.broken = True
            self.origin = Origin(parts.scheme, parts.hostname, port, tls_insecure)
        self.path_parts: list[PathPart] = []
        pos = 0
        path = parts.path or "/"
        for m in _PLACEHOLDER.finditer(path):
            self.path_parts.append(path[pos:m.start()])
            self.path_parts.append((m.group(1),))
            pos = m.end()
        self.path_parts.append(path[pos:])
        # what the filled-in path must stay under, read as leniently as a backend might
        # (proxy.paths): a value with ../ or %2F..%2F cannot reach a sibling of the prefix
        self.prefix = directory(path[:path.index("{")]) if len(self.path_parts) > 1 else None
        self.static_query = parts.query

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(p[0] for p in self.path_parts if isinstance(p, tuple))
