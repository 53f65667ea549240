"""The pure parts of the hardening (issue 13): dot segments, the backend-prefix guard, the
bounded log, the Connection-named headers, the open-admin refusal, $ref path items and a config
without APIs."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.http_exceptions import BadHttpMessage
from hypothesis import given
from hypothesis import strategies as st

from proxy.bounded_log import BoundedLog
from proxy.config.loader import load_config
from proxy.errors import ConfigError
from proxy.headers import forwardable
from proxy.paths import directory, escapes, lenient, remove_dot_segments
from proxy.server import Overrides, load, open_admin_problem

DATA = Path(__file__).parent.parent / "data"


# --- dot segments ----------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "resolved"), [
    # RFC 3986 5.2.4's own examples, and the encoded forms
    ("/a/b/c/./../../g", "/a/g"),
    ("/mid/content=5/../6", "/mid/6"),
    ("/prod/../admin/secret", "/admin/secret"),
    ("/prod/%2e%2e/admin", "/admin"),
    ("/prod/%2E%2e/admin", "/admin"),
    ("/prod/.%2E/admin", "/admin"),
    ("/prod/a/../../x", "/x"),
    ("/../../x", "/x"),
    ("/prod/a/.", "/prod/a/"),
    ("/prod/a/..", "/prod/"),
    ("/prod/./a", "/prod/a"),
    ("/prod/a..b/.c/c./...", "/prod/a..b/.c/c./..."),
    ("/prod/a%2F..%2Fb", "/prod/a%2F..%2Fb"),  # an encoded slash does not split a segment
    ("/prod//a/../b", "/prod//b"),
    ("/prod/items/1", "/prod/items/1"),
])
def test_remove_dot_segments(raw: str, resolved: str) -> None:
    assert remove_dot_segments(raw) == resolved


@given(st.lists(st.sampled_from(["a", "b", ".", "..", "%2e", "%2E%2e", ".%2e", "", "x.y"]),
                max_size=12))
def test_resolved_paths_have_no_dot_segments(parts: list[str]) -> None:
    resolved = remove_dot_segments("/" + "/".join(parts))
    assert resolved.startswith("/")
    assert not {".", "..", "%2e", "%2E%2e", ".%2e"} & set(resolved.split("/"))
    assert remove_dot_segments(resolved) == resolved


def test_the_backend_prefix_guard() -> None:
    prefix = directory("/public/{proxy}")
    assert prefix == "/public/"
    assert not escapes("/public/a/b.json", prefix)
    assert not escapes("/public/a%20b", prefix)
    assert not escapes("/public/a/..", prefix)  # resolves to /public/ itself
    for bad in ("/public/../admin", "/public/a%2F..%2F..%2Fadmin", "/public/..%5Cadmin",
                "/public/..\\admin", "/public/%2e%2e/x", "/public/a/../../b"):
        assert escapes(bad, prefix), bad
    assert lenient("/a%2Fb/..") == "/a/"


# --- the bounded log -------------------------------------------------------------------------

class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bounded_log_keeps_a_window_and_counts_what_it_dropped(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = _Clock()
    log = BoundedLog(logging.getLogger("t.bounded"), per_window=3, window_s=10, clock=clock)
    for _ in range(50):
        log.exception("Error handling request from %s", "10.0.0.1",
                      exc_info=BadHttpMessage("Invalid header token:\n  b'x'"))
    assert len(caplog.records) == 3
    assert log.suppressed == 47
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)
    assert caplog.records[0].getMessage().startswith("malformed request from 10.0.0.1 (answered")
    clock.now = 10.0
    log.info("client closed (request %s)", "r1")
    assert caplog.records[-1].getMessage() == (
        "client closed (request r1) (47 similar lines suppressed in the last window)")


def test_bounded_log_keeps_the_traceback_of_a_bug(caplog: pytest.LogCaptureFixture) -> None:
    log = BoundedLog(logging.getLogger("t.bug"), clock=_Clock())
    try:
        raise KeyError("bug")
    except KeyError as exc:
        log.exception("Unhandled exception", exc_info=exc)
    assert caplog.records[0].exc_info is not None


# --- Connection-named headers ----------------------------------------------------------------

def test_headers_named_in_connection_are_dropped() -> None:
    raw = ((b"Host", b"h"), (b"Connection", b"keep-alive, X-Secret"), (b"X-Secret", b"s"),
           (b"connection", b"  x-Other ,close"), (b"X-Other", b"o"), (b"X-Kept", b"k"),
           (b"Keep-Alive", b"timeout=5"), (b"TE", b"trailers"))
    assert forwardable(raw) == [("X-Kept", "k")]
    assert forwardable(((b"Connection", b"keep-alive"), (b"A", b"1"))) == [("A", "1")]


# --- the admin API on a network --------------------------------------------------------------

def _config(tmp_path: Path, server: dict[str, Any]) -> Path:
    shutil.copy(DATA / "petstore.yaml", tmp_path / "petstore.yaml")
    file = tmp_path / "sluice.yaml"
    file.write_text(yaml.safe_dump({"server": server, "apis": [
        {"id": "a", "definition": "petstore.yaml", "stages": {"prod": {}}}]}))
    return file


@pytest.mark.parametrize(("server", "refused"), [
    ({"adminListen": "0.0.0.0:9999"}, True),
    ({"adminListen": "10.1.2.3:9999"}, True),
    ({"adminListen": "[::]:9999"}, True),
    ({"adminListen": "myhost:9999"}, True),
    ({"adminListen": "0.0.0.0:9999", "adminToken": "t0ken"}, False),
    ({"adminListen": "0.0.0.0:9999", "allowOpenAdmin": True}, False),
    ({"adminListen": "127.0.0.2:9999"}, False),
    ({"adminListen": "[::1]:9999"}, False),
    ({"adminListen": "localhost:9999"}, False),
])
def test_open_admin_needs_a_token_or_an_explicit_yes(tmp_path: Path, server: dict[str, Any],
                                                    refused: bool) -> None:
    problem = open_admin_problem(load_config(_config(tmp_path, server)))
    assert (problem is not None) is refused
    if problem is not None:
        assert problem.path == "server.adminListen"
        assert "adminToken" in problem.message and "allowOpenAdmin" in problem.message


def test_admin_listen_flag_is_checked_too(tmp_path: Path) -> None:
    file = _config(tmp_path, {})
    with pytest.raises(ConfigError) as info:
        load(str(file), Overrides(admin_listen=_host("0.0.0.0", 0)))
    assert info.value.problems[0].path == "server.adminListen"


def _host(host: str, port: int) -> Any:
    from proxy.config.model import HostPort

    return HostPort(host, port)


# --- $ref path items and a config without APIs ----------------------------------------------

def _definition_problems(tmp_path: Path, paths: dict[str, Any]) -> list[str]:
    (tmp_path / "api.yaml").write_text(yaml.safe_dump(
        {"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": paths,
         "components": {"pathItems": {"mock": MOCK_ITEM}}}))
    (tmp_path / "sluice.yaml").write_text(yaml.safe_dump(
        {"apis": [{"id": "a", "definition": "api.yaml", "stages": {"prod": {}}}]}))
    try:
        load_config(tmp_path / "sluice.yaml")
    except ConfigError as err:
        return [str(p) for p in err.problems]
    return []


MOCK_ITEM = {"get": {"x-amazon-apigateway-integration": {
    "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
    "responses": {"default": {"statusCode": "200"}}}}}


def test_a_local_ref_path_item_is_resolved(tmp_path: Path) -> None:
    assert _definition_problems(tmp_path, {"/a": {"$ref": "#/components/pathItems/mock"}}) == []
    config = load_config(tmp_path / "sluice.yaml")
    (resource,) = config.apis[0].definition.resources
    assert list(resource.methods) == ["GET"]


@pytest.mark.parametrize(("ref", "says"), [
    ("#/paths/~1a", "references form a loop"),
    ("other.yaml#/paths/~1a", "only local references"),
    ("#/components/pathItems/none", "points to nothing"),
])
def test_an_unresolvable_ref_path_item_is_a_config_error(tmp_path: Path, ref: str,
                                                         says: str) -> None:
    found = _definition_problems(tmp_path, {"/a": {"$ref": ref}})
    assert len(found) == 1 and 'paths."/a"."$ref"' in found[0] and says in found[0], found


@pytest.mark.parametrize("doc", [{"server": {"workers": 1}}, {"apis": []}])
def test_a_config_without_apis_says_so(tmp_path: Path, doc: dict[str, Any]) -> None:
    (tmp_path / "sluice.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "sluice.yaml")
    assert [p.path for p in info.value.problems] == ["apis"]
