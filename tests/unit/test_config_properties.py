"""Whatever the input, the loaders return a value or raise ConfigError with usable problems."""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.config import load_config, load_definition
from proxy.errors import ConfigError

DATA = Path(__file__).parent.parent / "data"
EXAMPLE = yaml.safe_load((DATA / "sluice.yaml").read_text())
DEFINITION = yaml.safe_load((DATA / "petstore.yaml").read_text())

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["*/*", "pets/GET", "/pets/GET", "DAY", "memory://", "127.0.0.1:1", "3.0"])
)
trees = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(DATA / "petstore.yaml", Path(d) / "petstore.yaml")
        yield Path(d)


def paths_in(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += paths_in(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += paths_in(v, (*prefix, i))
    return out


def mutate(doc: Any, data: st.DataObject) -> Any:
    """Replace, delete or add at a random place of ``doc``."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths_in(doc)))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = data.draw(trees)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][data.draw(st.text(max_size=12))] = data.draw(trees)
    return doc


def check_config(file: Path) -> None:
    try:
        load_config(file, env={})
    except ConfigError as e:
        assert e.problems
        assert all(p.file and p.message for p in e.problems)


def check_definition(file: Path) -> None:
    try:
        load_definition(file, file_label="api.yaml")
    except ConfigError as e:
        assert e.problems
        assert all(p.file == "api.yaml" and p.message for p in e.problems)


def dump(tree: Any) -> str:
    return yaml.safe_dump(tree, allow_unicode=True)


@SETTINGS
@given(tree=trees)
def test_random_trees(workdir: Path, tree: Any) -> None:
    file = workdir / "random.yaml"
    file.write_text(dump(tree))
    check_config(file)
    check_definition(file)


@SETTINGS
@given(data=st.data())
def test_mutated_config(workdir: Path, data: st.DataObject) -> None:
    file = workdir / "mutated.yaml"
    file.write_text(dump(mutate(EXAMPLE, data)))
    check_config(file)


@SETTINGS
@given(data=st.data())
def test_mutated_definition(workdir: Path, data: st.DataObject) -> None:
    file = workdir / "mutated-api.yaml"
    file.write_text(dump(mutate(DEFINITION, data)))
    check_definition(file)
    # and through a config that names it
    config = workdir / "names-mutated.yaml"
    config.write_text(
        dump({**EXAMPLE, "apis": [{"id": "a", "definition": "mutated-api.yaml"}], "usagePlans": []})
    )
    check_config(config)


@SETTINGS
@given(text=st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_random_text(workdir: Path, text: str) -> None:
    file = workdir / "text.yaml"
    file.write_bytes(text.encode("utf-8", "surrogatepass"))
    check_config(file)
    check_definition(file)


@SETTINGS
@given(text=st.text(alphabet="{}[]:,-?&*!|>'\"#%@` \n\tab1.", max_size=80))
def test_yaml_punctuation(workdir: Path, text: str) -> None:
    file = workdir / "punct.yaml"
    file.write_text(text)
    check_config(file)
    check_definition(file)


@SETTINGS
@given(url=st.text(max_size=40), listen=st.text(max_size=30))
def test_random_env_values(workdir: Path, url: str, listen: str) -> None:
    file = workdir / "env.yaml"
    file.write_text(dump(EXAMPLE))
    try:
        load_config(file, env={"SLUICE_STORAGE_URL": url, "SLUICE_LISTEN": listen})
    except ConfigError as e:
        assert all(p.file and p.message for p in e.problems)
