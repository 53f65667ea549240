"""JSONPath for $input.path / $input.json, with Jayway JsonPath's results (what AWS runs): a
definite path (names and single indexes only) yields the value or null; an indefinite one
(``*``, ``..``, slices, unions) yields the list of matches, possibly empty. A path without a
leading ``$`` is read as ``$.`` + path, as Jayway does.

Supported: ``$``, ``.name``, ``['name']``, ``[0]``, ``[-1]``, ``[0,2]``, ``[1:3]``, ``[*]``,
``.*``, ``..name``, ``..*``, ``..[0]``. Filters (``[?(...)]``) are not: compiling one raises
ValueError, which a literal path turns into a load-time TemplateError.

Paths are compiled once (at template compile time when the path is a literal); a path of
names and indexes runs as a plain loop over dict.get / list indexing, the fast path the
reference template hits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

# steps: ("name", key) | ("index", (i, ...)) | ("slice", start, stop) | ("wild",)
#        | ("scan", step)
Step = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class JsonPath:
    text: str
    steps: tuple[Step, ...]
    simple: tuple[str | int, ...] | None  # set when every step is a name or one index

    def find(self, root: Any) -> Any:
        simple = self.simple
        if simple is not None:
            cur = root
            for key in simple:
                if type(key) is str:
                    if not isinstance(cur, dict):
                        return None
                    cur = cur.get(key)
                else:
                    if not isinstance(cur, list):
                        return None
                    try:
                        cur = cur[int(key)]
                    except IndexError:
                        return None
            return cur
        nodes = [root]
        for step in self.steps:
            nodes = _apply(step, nodes)
        return nodes


def _apply(step: Step, nodes: list[Any]) -> list[Any]:
    kind = step[0]
    out: list[Any] = []
    if kind == "name":
        key = step[1]
        out.extend(node[key] for node in nodes if isinstance(node, dict) and key in node)
    elif kind == "index":
        for node in nodes:
            if isinstance(node, list):
                out.extend(node[i] for i in step[1] if -len(node) <= i < len(node))
    elif kind == "slice":
        for node in nodes:
            if isinstance(node, list):
                out.extend(node[step[1]:step[2]])
    elif kind == "wild":
        for node in nodes:
            if isinstance(node, dict):
                out.extend(node.values())
            elif isinstance(node, list):
                out.extend(node)
    else:  # scan: the step applied to every node of the subtree, in document order
        for node in nodes:
            for each in _walk(node):
                out.extend(_apply(step[1], [each]))
    return out


def _walk(node: Any) -> list[Any]:
    out: list[Any] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        out.append(cur)
        if isinstance(cur, dict):
            stack.extend(reversed(list(cur.values())))
        elif isinstance(cur, list):
            stack.extend(reversed(cur))
    return out


@functools.lru_cache(maxsize=1024)
def compile_path(text: str) -> JsonPath:
    if not isinstance(text, str):
        raise ValueError("a JSONPath is a string")
    path = text.strip()
    if not path.startswith("$"):
        path = "$." + path
    steps: list[Step] = []
    i, n = 1, len(path)
    while i < n:
        if path.startswith("..", i):
            i += 2
            if i < n and path[i] == "[":
                step, i = _bracket(path, i, text)
            elif i < n and path[i] == "*":
                step, i = ("wild",), i + 1
            else:
                name, i = _name(path, i, text)
                step = ("name", name)
            steps.append(("scan", step))
        elif path[i] == ".":
            i += 1
            if i < n and path[i] == "*":
                steps.append(("wild",))
                i += 1
            else:
                name, i = _name(path, i, text)
                steps.append(("name", name))
        elif path[i] == "[":
            step, i = _bracket(path, i, text)
            steps.append(step)
        else:
            raise ValueError(f"invalid JSONPath {text!r} at character {i + 1}")
    simple: list[str | int] = []
    for step in steps:
        if step[0] == "name":
            simple.append(step[1])
        elif step[0] == "index" and len(step[1]) == 1:
            simple.append(step[1][0])
        else:
            return JsonPath(text, tuple(steps), None)
    return JsonPath(text, tuple(steps), tuple(simple))


def _name(path: str, i: int, text: str) -> tuple[str, int]:
    j = i
    while j < len(path) and path[j] not in ".[":
        j += 1
    name = path[i:j].strip()
    if not name:
        raise ValueError(f"invalid JSONPath {text!r}: empty property name")
    return name, j


def _bracket(path: str, i: int, text: str) -> tuple[Step, int]:
    # i is at "["; quoted names may hold "]" so scan quote-aware
    j = i + 1
    quote: str | None = None
    while j < len(path):
        c = path[j]
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "]":
            break
        j += 1
    else:
        raise ValueError(f"invalid JSONPath {text!r}: unclosed [")
    inner = path[i + 1:j].strip()
    end = j + 1
    if inner == "*":
        return ("wild",), end
    if inner.startswith("?"):
        raise ValueError(f"JSONPath filters are not supported: {text!r}")
    if inner[:1] in ("'", '"'):
        if len(inner) < 2 or inner[-1] != inner[0] or inner.count(inner[0]) != 2:
            raise ValueError(f"invalid JSONPath {text!r}: only one quoted name per []")
        return ("name", inner[1:-1]), end
    try:
        if ":" in inner:
            lo, _, hi = inner.partition(":")
            if ":" in hi:
                raise ValueError
            return ("slice", int(lo) if lo.strip() else None,
                    int(hi) if hi.strip() else None), end
        return ("index", tuple(int(p) for p in inner.split(","))), end
    except ValueError:
        raise ValueError(f"invalid JSONPath {text!r}: bad index [{inner}]") from None
