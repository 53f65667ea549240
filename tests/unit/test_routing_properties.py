"""Router.match against a brute-force reference built from the spec's definition of precedence.

Reference (spec 8.6, restated): among all resources whose template matches the raw path (one
trailing slash ignored) and that have the method, explicitly or through ANY, pick the one whose
per-segment kinds (static 0, param 1, greedy 2) are lexicographically smallest; on that resource
an explicit method beats ANY. It matches each template as one regex over the whole path string,
so it shares no code or structure with the trie.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.routing import Router

METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


@dataclass(frozen=True)
class Resource:
    template: str
    method: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    kinds: tuple[int, ...]


def compile_resource(template: str, method: str) -> Resource:
    regex, names, kinds = "", [], []
    for part in template.split("/")[1:] if template != "/" else []:
        if part.endswith("+}"):
            regex += r"/(.*[^/].*)"  # the rest, slashes included, not only slashes
            names.append(part[1:-2])
            kinds.append(2)
        elif part.startswith("{"):
            regex += r"/([^/]+)"
            names.append(part[1:-1])
            kinds.append(1)
        else:
            regex += "/" + re.escape(part)
            kinds.append(0)
    return Resource(template, method, re.compile(regex, re.DOTALL), tuple(names), tuple(kinds))


def reference_match(
    resources: list[Resource], method: str, path: str
) -> tuple[str, str, dict[str, str]] | None:
    """(template, declared method, params) of the winner, or None."""
    if method not in METHODS:  # "ANY" is a declaration, never a request method
        return None
    subject = path[:-1] if path.endswith("/") else path
    candidates = []
    for res in resources:
        if res.method not in (method, "ANY"):
            continue
        found = res.pattern.fullmatch(subject)
        if found is None:
            continue
        params = dict(zip(res.names, found.groups(), strict=True))
        candidates.append(((res.kinds, res.method == "ANY"), res, params))
    if not candidates:
        return None
    _, best, params = min(candidates, key=lambda c: c[0])
    return best.template, best.method, params


# Variable names depend only on depth, so sibling variables share a name, as AWS requires.
def segment(depth: int) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["a", "b", "c"]), st.just(f"{{p{depth}}}"))


@st.composite
def template(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=0, max_value=3))
    parts = [draw(segment(depth)) for depth in range(length)]
    if draw(st.booleans()):
        parts.append(f"{{g{len(parts)}+}}")
    return "/" + "/".join(parts)


routes_strategy = st.lists(
    st.tuples(template(), st.sampled_from([*METHODS, "ANY"])),
    min_size=1,
    max_size=12,
    unique=True,
)

request_segment = st.one_of(
    st.sampled_from(["a", "b", "c", "", "d", "%61", "a%2Fb", "p0", "{p0}"]),
    st.text(alphabet=st.characters(blacklist_characters="/"), max_size=3),
)


@st.composite
def request_path(draw: st.DrawFn) -> str:
    parts = draw(st.lists(request_segment, max_size=5))
    trailing = draw(st.sampled_from(["", "", "/", "//"]))
    return "/" + "/".join(parts) + trailing


request_method = st.sampled_from([*METHODS, "ANY", "TRACE"])


@settings(max_examples=300, deadline=None)
@given(
    routes=routes_strategy,
    requests=st.lists(st.tuples(request_method, request_path()), min_size=1, max_size=8),
)
def test_match_equals_reference(
    routes: list[tuple[str, str]], requests: list[tuple[str, str]]
) -> None:
    router = Router([(path, method, (path, method)) for path, method in routes])
    resources = [compile_resource(path, method) for path, method in routes]
    for method, path in requests:
        got = router.match(method, path)
        expected = reference_match(resources, method, path)
        actual = None if got is None else (got.resource_path, got.value[1], dict(got.path_params))
        assert actual == expected, (method, path)
        if got is not None:
            assert got.value[0] == got.resource_path


@settings(max_examples=300, deadline=None)
@given(routes=routes_strategy, method=st.sampled_from(METHODS), data=st.data())
def test_every_resource_is_reachable_through_its_own_path(
    routes: list[tuple[str, str]], method: str, data: st.DataObject
) -> None:
    """Requests built from the templates themselves, so most of them hit something."""
    router = Router([(path, m, (path, m)) for path, m in routes])
    resources = [compile_resource(path, m) for path, m in routes]
    for path, _ in routes:
        concrete = re.sub(
            r"\{[^}]*\}",
            lambda _: data.draw(st.sampled_from(["a", "b", "x", "x/y", "b/c", ""])),
            path,
        )
        got = router.match(method, concrete)
        expected = reference_match(resources, method, concrete)
        actual = None if got is None else (got.resource_path, got.value[1], dict(got.path_params))
        assert actual == expected, (method, concrete)
