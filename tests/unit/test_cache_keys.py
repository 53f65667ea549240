from __future__ import annotations

import pytest
from multidict import CIMultiDict, MultiDict

from cache import CacheKeySpec, encoding_variant

Q = "method.request.querystring."
H = "method.request.header."
P = "method.request.path."


def spec(*params: str, namespace: str = "res1", method: str = "GET") -> CacheKeySpec:
    return CacheKeySpec(
        api_id="petstore",
        stage="prod",
        namespace=namespace,
        http_method=method,
        key_parameters=params,
    )


def test_stage_ns_names_api_and_stage() -> None:
    assert spec().stage_ns == "petstore:prod"


def test_without_key_parameters_every_request_shares_one_entry() -> None:
    s = spec()
    assert s.key({"id": "1"}, {"q": "a"}, {"X": "1"}) == s.key({"id": "2"}, {}, {})


def test_path_query_and_header_parameters_each_make_a_difference() -> None:
    s = spec(P + "id", Q + "type", H + "X-Tenant")
    base = s.key({"id": "1"}, {"type": "dog"}, {"X-Tenant": "a"})
    assert s.key({"id": "2"}, {"type": "dog"}, {"X-Tenant": "a"}) != base
    assert s.key({"id": "1"}, {"type": "cat"}, {"X-Tenant": "a"}) != base
    assert s.key({"id": "1"}, {"type": "dog"}, {"X-Tenant": "b"}) != base
    # what is not a key parameter does not count
    assert (
        s.key(
            {"id": "1", "o": "x"}, {"type": "dog", "page": "2"}, {"X-Tenant": "a", "X-Other": "1"}
        )
        == base
    )


def test_header_names_match_in_any_case() -> None:
    s = spec(H + "X-Tenant")
    expected = s.key({}, {}, CIMultiDict({"X-Tenant": "a"}))
    assert s.key({}, {}, CIMultiDict({"x-tenant": "a"})) == expected
    assert s.key({}, {}, {"X-TENANT": "a"}) == expected
    assert s.key({}, {}, {"x-tenant": "a"}) == expected
    assert spec(H + "x-TENANT").key({}, {}, {"X-Tenant": "a"}) == expected


def test_query_names_are_case_sensitive() -> None:
    s = spec(Q + "type")
    assert s.key({}, {"Type": "dog"}, {}) == s.key({}, {}, {})


def test_missing_and_empty_and_repeated_values_differ() -> None:
    s = spec(Q + "a", Q + "b")
    keys = {
        s.key({}, MultiDict(), {}),
        s.key({}, MultiDict(a=""), {}),
        s.key({}, MultiDict(b=""), {}),
        s.key({}, MultiDict([("a", "x"), ("a", "y")]), {}),
        s.key({}, MultiDict([("a", "x"), ("b", "y")]), {}),
        s.key({}, MultiDict([("a", "x"), ("a", "y"), ("b", "y")]), {}),
        s.key({}, MultiDict([("a", "x"), ("b", "y"), ("b", "y")]), {}),
    }
    assert len(keys) == 7


def test_values_cannot_forge_a_separator() -> None:
    s = spec(Q + "a", Q + "b")
    assert s.key({}, {"a": "1:x", "b": "y"}, {}) != s.key({}, {"a": "1", "b": "x1:y"}, {})
    assert spec(namespace="a:1:b").key({}, {}, {}) != spec(Q + "q", namespace="a").key(
        {}, {"q": "b"}, {}
    )


def test_method_is_part_of_the_key() -> None:
    assert spec(method="GET").key({}, {}, {}) != spec(method="POST").key({}, {}, {})


def test_resources_sharing_a_namespace_share_entries_by_value() -> None:
    by_path = spec(P + "petId", namespace="pets")
    by_query = spec(Q + "petId", namespace="pets")
    assert by_path.key({"petId": "7"}, {}, {}) == by_query.key({}, {"petId": "7"}, {})
    other = spec(P + "petId", namespace="owners")
    assert other.key({"petId": "7"}, {}, {}) != by_path.key({"petId": "7"}, {}, {})


def test_gzip_and_plain_clients_get_different_entries() -> None:
    s = spec()
    plain = s.key({}, {}, {})
    gzip = s.key({}, {}, CIMultiDict({"Accept-Encoding": "gzip"}))
    assert gzip != plain
    assert s.key({}, {}, {"accept-encoding": "identity"}) == plain
    assert s.key({}, {}, {"Accept-Encoding": "gzip;q=0"}) == plain
    assert s.key({}, {}, {"Accept-Encoding": "GZIP, x-custom"}) == gzip


@pytest.mark.parametrize(
    ("header", "variant"),
    [
        (None, ""),
        ("", ""),
        ("identity", ""),
        ("gzip", "gzip"),
        ("gzip, deflate, br, zstd", "br,deflate,gzip,zstd"),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", "br,deflate,gzip,zstd"),
        ("gzip;q=0, br", "br"),
        ("gzip;q=bad", ""),
        ("*", "br,deflate,gzip,zstd"),
    ],
)
def test_encoding_variant(header: str | None, variant: str) -> None:
    assert encoding_variant(header) == variant


@pytest.mark.parametrize(
    "param", ["querystring.x", "method.request.body.x", "method.request.header.", "x"]
)
def test_bad_key_parameter_says_what_is_allowed(param: str) -> None:
    with pytest.raises(ValueError, match=r"must be method\.request\.path\.NAME"):
        spec(param)
