"""Resource routing: AWS REST precedence, backtracking, ANY, trailing slashes, raw segments."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from proxy.routing import RouteMatch, Router


def route(router: Router[Any], method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """(resource template, params) or None, so assertions read as one comparison."""
    m = router.match(method, path)
    return None if m is None else (m.resource_path, dict(m.path_params))


def build(*resources: str, methods: tuple[str, ...] = ("GET",)) -> Router[str]:
    """Each resource gets each method; the value names both."""
    return Router([(p, m, f"{m} {p}") for p in resources for m in methods])


class TestAwsExamples:
    """The recorded cases of spec 8.6 (LocalStack TestApigatewayRouting, AWS-validated)."""

    def test_options_backtracks_from_static_without_the_method_to_proxy(self) -> None:
        r = Router([("/test", "POST", "post"), ("/{proxy+}", "OPTIONS", "options")])
        m = r.match("OPTIONS", "/test")
        assert m == RouteMatch("options", "/{proxy+}", {"proxy": "test"})

    def test_post_takes_the_static_resource(self) -> None:
        r = Router([("/test", "POST", "post"), ("/{proxy+}", "OPTIONS", "options")])
        assert r.match("POST", "/test") == RouteMatch("post", "/test", {})

    def test_dead_end_under_static_backtracks_to_root_greedy(self) -> None:
        r = Router(
            [
                ("/part1", "GET", "part1"),
                ("/{param+}", "GET", "greedy"),
                ("/part1/hardcoded-value", "GET", "hard"),
            ]
        )
        assert r.match("GET", "/part1/random-value") == RouteMatch(
            "greedy", "/{param+}", {"param": "part1/random-value"}
        )
        assert route(r, "GET", "/part1/hardcoded-value") == ("/part1/hardcoded-value", {})
        assert route(r, "GET", "/part1") == ("/part1", {})

    def test_greedy_does_not_match_root(self) -> None:
        r = build("/{proxy+}")
        assert r.match("GET", "/") is None
        assert route(r, "GET", "/x") == ("/{proxy+}", {"proxy": "x"})


class TestPrecedence:
    def test_static_beats_param_beats_greedy(self) -> None:
        r = build("/pets/mine", "/pets/{id}", "/pets/{rest+}")
        assert route(r, "GET", "/pets/mine") == ("/pets/mine", {})
        assert route(r, "GET", "/pets/7") == ("/pets/{id}", {"id": "7"})
        assert route(r, "GET", "/pets/7/toys") == ("/pets/{rest+}", {"rest": "7/toys"})

    def test_param_branch_is_tried_before_greedy_even_when_deeper(self) -> None:
        r = build("/{a}/x", "/{g+}")
        assert route(r, "GET", "/1/x") == ("/{a}/x", {"a": "1"})
        assert route(r, "GET", "/1/y") == ("/{g+}", {"g": "1/y"})

    def test_static_dead_end_backtracks_to_param(self) -> None:
        r = build("/a/b", "/{x}/c")
        assert route(r, "GET", "/a/c") == ("/{x}/c", {"x": "a"})

    def test_specific_resource_wins_over_generic_at_same_level(self) -> None:
        r = build("/{x}/{y}", "/a/{y}", "/{x}/b")
        # Kind tuples: /a/{y} = (0,1) < /{x}/b = (1,0) < /{x}/{y} = (1,1).
        assert route(r, "GET", "/a/b") == ("/a/{y}", {"y": "b"})
        assert route(r, "GET", "/z/b") == ("/{x}/b", {"x": "z"})
        assert route(r, "GET", "/z/q") == ("/{x}/{y}", {"x": "z", "y": "q"})

    def test_backtracking_is_method_aware_at_every_level(self) -> None:
        r = Router(
            [
                ("/a/b", "PUT", "static"),
                ("/a/{y}", "POST", "param"),
                ("/{x}/{y}", "DELETE", "both"),
                ("/{g+}", "PATCH", "greedy"),
            ]
        )
        assert route(r, "PUT", "/a/b") == ("/a/b", {})
        assert route(r, "POST", "/a/b") == ("/a/{y}", {"y": "b"})
        assert route(r, "DELETE", "/a/b") == ("/{x}/{y}", {"x": "a", "y": "b"})
        assert route(r, "PATCH", "/a/b") == ("/{g+}", {"g": "a/b"})
        assert r.match("GET", "/a/b") is None

    def test_nested_greedy_after_static_prefix_beats_root_greedy(self) -> None:
        r = build("/{g+}", "/api/{rest+}")
        assert route(r, "GET", "/api/v1/x") == ("/api/{rest+}", {"rest": "v1/x"})
        assert route(r, "GET", "/api") == ("/{g+}", {"g": "api"})

    def test_params_and_greedy_in_one_template(self) -> None:
        r = build("/a/{b}/c/{rest+}")
        assert route(r, "GET", "/a/1/c/x/y/z") == (
            "/a/{b}/c/{rest+}",
            {"b": "1", "rest": "x/y/z"},
        )
        assert r.match("GET", "/a/1/c") is None
        assert r.match("GET", "/a/1/d/x") is None


class TestMethods:
    def test_explicit_method_wins_over_any_on_the_same_resource(self) -> None:
        r = Router([("/pets", "ANY", "any"), ("/pets", "GET", "get")])
        assert r.match("GET", "/pets") == RouteMatch("get", "/pets", {})
        assert r.match("POST", "/pets") == RouteMatch("any", "/pets", {})

    @pytest.mark.parametrize("method", ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"])
    def test_any_covers_each_of_the_seven_methods(self, method: str) -> None:
        r = Router([("/p/{id}", "ANY", "any")])
        assert r.match(method, "/p/1") == RouteMatch("any", "/p/{id}", {"id": "1"})

    @pytest.mark.parametrize("method", ["TRACE", "CONNECT", "get", "ANY", "PROPFIND"])
    def test_other_methods_match_nothing_even_under_any(self, method: str) -> None:
        r = Router([("/p", "ANY", "any"), ("/{g+}", "ANY", "greedy")])
        assert r.match(method, "/p") is None
        assert r.match(method, "/q") is None

    def test_any_on_a_less_specific_resource_does_not_beat_a_more_specific_one(self) -> None:
        r = Router([("/pets/{id}", "ANY", "any"), ("/pets/{rest+}", "GET", "greedy-get")])
        assert r.match("GET", "/pets/1") == RouteMatch("any", "/pets/{id}", {"id": "1"})

    def test_explicit_on_generic_resource_beats_any_on_specific_only_when_specific_lacks_it(
        self,
    ) -> None:
        r = Router([("/pets/mine", "POST", "post"), ("/pets/{id}", "ANY", "any")])
        assert r.match("POST", "/pets/mine") == RouteMatch("post", "/pets/mine", {})
        assert r.match("GET", "/pets/mine") == RouteMatch("any", "/pets/{id}", {"id": "mine"})

    def test_head_does_not_fall_back_to_get(self) -> None:
        r = build("/pets", "/pets/{id}", "/{g+}")
        assert r.match("HEAD", "/pets") is None
        assert r.match("HEAD", "/pets/1") is None
        assert r.match("HEAD", "/x/y") is None

    def test_head_falls_through_to_a_resource_that_defines_it(self) -> None:
        r = Router([("/pets", "GET", "get"), ("/{g+}", "HEAD", "head")])
        assert r.match("HEAD", "/pets") == RouteMatch("head", "/{g+}", {"g": "pets"})


class TestPaths:
    def test_root_resource(self) -> None:
        r = build("/", "/{g+}")
        assert route(r, "GET", "/") == ("/", {})
        assert route(r, "GET", "/a") == ("/{g+}", {"g": "a"})

    def test_root_param_does_not_match_root(self) -> None:
        r = build("/{id}")
        assert r.match("GET", "/") is None
        assert route(r, "GET", "/1") == ("/{id}", {"id": "1"})

    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("/pets/", ("/pets", {})),
            ("/pets/1/", ("/pets/{id}", {"id": "1"})),
            ("/files/a/b/", ("/files/{key+}", {"key": "a/b"})),
        ],
    )
    def test_one_trailing_slash_is_ignored(
        self, path: str, expected: tuple[str, dict[str, str]]
    ) -> None:
        r = build("/pets", "/pets/{id}", "/files/{key+}")
        assert route(r, "GET", path) == expected

    def test_two_trailing_slashes_leave_an_empty_segment(self) -> None:
        r = build("/pets", "/pets/{id}")
        assert r.match("GET", "/pets//") is None

    def test_double_slash_is_an_empty_segment_no_static_or_param_matches(self) -> None:
        r = build("/a/b", "/a/{x}/b", "/a/{x}")
        assert r.match("GET", "/a//b") is None
        assert r.match("GET", "//a/b") is None
        assert r.match("GET", "/a//") is None

    def test_double_slash_is_not_root(self) -> None:
        r = build("/")
        assert r.match("GET", "//") is None

    def test_greedy_keeps_inner_empty_segments(self) -> None:
        r = build("/{g+}", "/a/{rest+}")
        assert route(r, "GET", "/x//y") == ("/{g+}", {"g": "x//y"})
        assert route(r, "GET", "/a//y") == ("/a/{rest+}", {"rest": "/y"})
        assert route(r, "GET", "//x") == ("/{g+}", {"g": "/x"})

    def test_greedy_needs_a_non_empty_character(self) -> None:
        r = build("/a/{rest+}")
        assert r.match("GET", "/a") is None
        assert r.match("GET", "/a/") is None
        assert r.match("GET", "/a//") is None
        assert r.match("GET", "/a///") is None

    def test_greedy_strips_only_one_trailing_slash(self) -> None:
        r = build("/{g+}")
        assert route(r, "GET", "/x//") == ("/{g+}", {"g": "x/"})

    def test_segments_are_matched_and_returned_raw(self) -> None:
        r = build("/a%20b", "/pets/{id}", "/files/{key+}")
        assert route(r, "GET", "/a%20b") == ("/a%20b", {})
        assert r.match("GET", "/a b") is None
        assert route(r, "GET", "/pets/a%2Fb") == ("/pets/{id}", {"id": "a%2Fb"})
        assert route(r, "GET", "/files/x%2Fy/z%20") == ("/files/{key+}", {"key": "x%2Fy/z%20"})

    def test_static_segments_are_case_sensitive(self) -> None:
        r = build("/Pets")
        assert r.match("GET", "/pets") is None
        assert route(r, "GET", "/Pets") == ("/Pets", {})

    def test_unmatched_paths(self) -> None:
        r = build("/pets", "/pets/{id}")
        assert r.match("GET", "/") is None
        assert r.match("GET", "/dogs") is None
        assert r.match("GET", "/pets/1/2") is None

    def test_path_without_leading_slash_matches_nothing(self) -> None:
        r = build("/", "/{g+}")
        assert r.match("GET", "") is None
        assert r.match("GET", "pets") is None

    def test_empty_router_matches_nothing(self) -> None:
        r: Router[str] = Router([])
        assert r.match("GET", "/") is None
        assert r.resources() == ()


class TestMatchObject:
    def test_value_template_and_params(self) -> None:
        r = Router([("/users/{uid}/posts/{pid}", "GET", 42)])
        m = r.match("GET", "/users/u1/posts/p2")
        assert m is not None
        assert m.value == 42
        assert m.resource_path == "/users/{uid}/posts/{pid}"
        assert dict(m.path_params) == {"uid": "u1", "pid": "p2"}

    def test_frozen(self) -> None:
        m = Router([("/a", "GET", 1)]).match("GET", "/a")
        assert m is not None
        with pytest.raises(dataclasses.FrozenInstanceError):
            m.value = 2  # type: ignore[misc]

    def test_static_match_params_cannot_be_mutated(self) -> None:
        r = Router([("/a", "GET", 1)])
        m = r.match("GET", "/a")
        assert m is not None
        with pytest.raises(TypeError):
            m.path_params["x"] = "y"  # type: ignore[index]
        again = r.match("GET", "/a")
        assert again is not None
        assert dict(again.path_params) == {}

    def test_param_matches_do_not_share_state(self) -> None:
        r = Router([("/p/{id}", "GET", 1)])
        first = r.match("GET", "/p/1")
        second = r.match("GET", "/p/2")
        assert first is not None and second is not None
        assert first.path_params == {"id": "1"}
        assert second.path_params == {"id": "2"}


class TestResources:
    def test_sorted_by_path_then_method_with_any_kept_as_declared(self) -> None:
        r = Router(
            [
                ("/pets/{id}", "GET", "c"),
                ("/", "ANY", "a"),
                ("/pets", "POST", "b2"),
                ("/pets", "GET", "b1"),
            ]
        )
        assert r.resources() == (
            ("/", "ANY", "a"),
            ("/pets", "GET", "b1"),
            ("/pets", "POST", "b2"),
            ("/pets/{id}", "GET", "c"),
        )


class TestConstructionErrors:
    @pytest.mark.parametrize(
        ("path", "message"),
        [
            ("/{proxy+}/x", "greedy path variable must be the last segment"),
            ("/a/{g+}/{id}", "greedy path variable must be the last segment"),
            ("/a{b}", "must be a whole segment"),
            ("/{b}c", "must be a whole segment"),
            ("/a/b}", "must be a whole segment"),
            ("/{}", "path variable name must match"),
            ("/{+}", "path variable name must match"),
            ("/{a b}", "path variable name must match"),
            ("/{a}/{a}", "used twice"),
            ("/{a}/{a+}", "used twice"),
            ("pets", "must start with '/'"),
            ("", "must start with '/'"),
            ("/a//b", "empty segment"),
            ("/a/", "empty segment"),
        ],
    )
    def test_bad_resource_path(self, path: str, message: str) -> None:
        with pytest.raises(ValueError, match=message) as err:
            Router([(path, "GET", 1)])
        assert repr(path) in str(err.value)

    @pytest.mark.parametrize("method", ["get", "TRACE", "", "any"])
    def test_unknown_method(self, method: str) -> None:
        with pytest.raises(ValueError, match="unknown HTTP method") as err:
            Router([("/a", method, 1)])
        assert "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT or ANY" in str(err.value)

    @pytest.mark.parametrize("method", ["GET", "ANY"])
    def test_duplicate_path_and_method(self, method: str) -> None:
        with pytest.raises(ValueError, match=f"duplicate method {method} on resource '/a/{{b}}'"):
            Router([("/a/{b}", method, 1), ("/a/{b}", method, 2)])

    def test_same_path_different_methods_is_fine(self) -> None:
        r = Router([("/a", "GET", 1), ("/a", "ANY", 2), ("/a", "POST", 3)])
        assert len(r.resources()) == 3

    @pytest.mark.parametrize(
        "paths",
        [
            ("/pets/{id}", "/pets/{petId}"),
            ("/{a}/x", "/{b}/y"),
            ("/{a+}", "/{b+}"),
        ],
    )
    def test_sibling_path_variables_of_one_kind_must_share_a_name(
        self, paths: tuple[str, str]
    ) -> None:
        with pytest.raises(ValueError, match="only one variable of each kind"):
            Router([(paths[0], "GET", 1), (paths[1], "GET", 2)])

    def test_param_and_greedy_siblings_are_allowed(self) -> None:
        r = build("/{id}", "/{rest+}")
        assert route(r, "GET", "/1") == ("/{id}", {"id": "1"})
        assert route(r, "GET", "/1/2") == ("/{rest+}", {"rest": "1/2"})

    def test_routes_may_be_any_iterable(self) -> None:
        r = Router(iter([("/a", "GET", 1)]))
        assert route(r, "GET", "/a") == ("/a", {})
