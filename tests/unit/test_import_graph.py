"""No import circles: the import graph of ``proxy``, ``ratelimit``, ``cache`` and ``bench``,
read from their source with ``ast``, has no cycle through a module of the package under test.

Every ``import`` and ``from ... import`` counts, wherever it stands: at the top, under
``if TYPE_CHECKING:`` (a circle that only the type checker follows is still a circle in the
design) and inside functions (a deferred import hides a circle from the interpreter, not from
the reader). Relative imports are resolved, and ``from pkg import name`` is an edge to
``pkg.name`` when that is a module, else to ``pkg``. Importing ``a.b`` also runs ``a``'s
``__init__``, but that is not counted as an edge: a package that re-exports its submodules
would otherwise be in a circle with each of them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("proxy", "ratelimit", "cache", "bench")


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` under the packages."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imported(tree: ast.AST, name: str, is_package: bool, known: Mapping[str, Path]) -> set[str]:
    package = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):  # every level: TYPE_CHECKING blocks and function bodies too
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                up = len(parts) - (node.level - 1)
                if up <= 0:
                    raise ValueError(f"{name}: relative import beyond the top-level package")
                base = ".".join(parts[:up])
                if node.module:
                    base = f"{base}.{node.module}"
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    out.add(sub)
                elif base in known:
                    out.add(base)
    out.discard(name)  # `from . import x` in a package's own __init__ resolving to itself
    return out


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports."""
    known = module_files(root, packages)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = _imported(tree, name, path.name == "__init__.py", known)
    return graph


def strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module, each sorted (iterative: no recursion
    limit on deep chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    members: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.append(member)
                        if member == node:
                            break
                    if len(members) > 1:
                        found.append(sorted(members))
    return sorted(found)


def shortest_cycle(graph: Mapping[str, set[str]], component: list[str]) -> list[str]:
    """A shortest circle through the component's first module, as the modules in order."""
    inside = set(component)
    start = component[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(graph[node] & inside):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{component} is not a strongly connected component")


def cycles_through(package: str, graph: Mapping[str, set[str]]) -> list[str]:
    """Each circle with a module in ``package`` (or under it), as printable lines."""
    lines = []
    for component in strongly_connected(graph):
        if any(m == package or m.startswith(f"{package}.") for m in component):
            cycle = " -> ".join(shortest_cycle(graph, component))
            lines.append(f"{len(component)} modules {component}: e.g. {cycle}")
    return lines


# --- the graph builder itself, on a scratch tree ---------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_every_import_form_is_an_edge(tmp_path: Path) -> None:
    _write(tmp_path, {
        "p/__init__.py": "from p.a import A\n",
        "p/a.py": "import os\nfrom . import b\nfrom .sub import c as c_mod\n",
        "p/b.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from p.sub.c import C\n"
            "def f():\n    import p.sub\n"
        ),
        "p/sub/__init__.py": "from .. import b\nfrom ..a import A\n",
        "p/sub/c.py": "from p.sub import missing_name\nfrom p import *\n",
    })
    graph = import_graph(tmp_path, ("p",))
    assert graph == {
        "p": {"p.a"},
        "p.a": {"p.b", "p.sub.c"},
        "p.b": {"p.sub.c", "p.sub"},
        "p.sub": {"p.b", "p.a"},
        "p.sub.c": {"p.sub", "p"},
    }


def test_cycles_are_found_and_listed(tmp_path: Path) -> None:
    _write(tmp_path, {
        "p/__init__.py": "",
        "p/a.py": "from p import b\n",
        "p/b.py": "def f():\n    from p.c import x\n",
        "p/c.py": "import p.a\n",
        "p/d.py": "import p.a\n",
        "q/__init__.py": "",
        "q/x.py": "from q import y\n",
        "q/y.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import q.x\n",
    })
    graph = import_graph(tmp_path, ("p", "q"))
    assert strongly_connected(graph) == [["p.a", "p.b", "p.c"], ["q.x", "q.y"]]
    assert cycles_through("p", graph) == [
        "3 modules ['p.a', 'p.b', 'p.c']: e.g. p.a -> p.b -> p.c -> p.a"
    ]
    assert cycles_through("q.y", graph) == ["2 modules ['q.x', 'q.y']: e.g. q.x -> q.y -> q.x"]
    assert cycles_through("p.d", graph) == []


def test_the_packages_are_all_read() -> None:
    graph = import_graph()
    for package in PACKAGES:
        assert package in graph
    assert "proxy.upstream.pool" in graph["proxy.upstream"]


# --- the project -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "package",
    [
        "proxy",
        "proxy.upstream",
        "ratelimit",
        "cache",
        "bench",
    ],
)
def test_no_import_circle(package: str) -> None:
    found = cycles_through(package, import_graph())
    assert not found, f"import circles through {package}:\n" + "\n".join(found)
