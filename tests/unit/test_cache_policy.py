from __future__ import annotations

import pytest

from cache import WARNING_HEADER, Invalidation, cacheable, invalidation

STRATEGY_OUTCOME = {
    "FAIL_WITH_403": Invalidation.FORBID,
    "SUCCEED_WITH_RESPONSE_HEADER": Invalidation.IGNORE_WITH_WARNING,
    "SUCCEED_WITHOUT_RESPONSE_HEADER": Invalidation.IGNORE,
}


@pytest.mark.parametrize("strategy", list(STRATEGY_OUTCOME))
@pytest.mark.parametrize("require_authorization", [True, False])
@pytest.mark.parametrize("authorized", [True, False])
@pytest.mark.parametrize("cache_control", [None, "", "no-cache", "max-age=0"])
def test_decision_table(
    strategy: str, require_authorization: bool, authorized: bool, cache_control: str | None
) -> None:
    got = invalidation(
        cache_control,
        require_authorization=require_authorization,
        authorized=authorized,
        strategy=strategy,
    )
    if cache_control != "max-age=0":
        expected = Invalidation.NONE
    elif authorized or not require_authorization:
        expected = Invalidation.REFRESH  # anyone may invalidate when authorization is not required
    else:
        expected = STRATEGY_OUTCOME[strategy]
    assert got is expected


@pytest.mark.parametrize(
    "cache_control",
    [
        "max-age=0",
        "MAX-AGE=0",
        "no-cache, max-age=0",
        "max-age=0,no-store",
        "  Max-Age=0  ",
        'max-age="0"',
        "max-age=00",
        'private, no-cache="set-cookie, x", max-age=0',
        "max-age=5, max-age=0",
    ],
)
def test_max_age_zero_is_found_anywhere(cache_control: str) -> None:
    assert (
        invalidation(
            cache_control, require_authorization=False, authorized=False, strategy="FAIL_WITH_403"
        )
        is Invalidation.REFRESH
    )


@pytest.mark.parametrize(
    "cache_control",
    [
        "max-age=10",
        "max-age=0100",
        "s-maxage=0",
        "x-max-age=0",
        "max-age",
        "max-age=",
        'no-cache="max-age=0"',  # inside a quoted argument it is not a directive
        'foo="a, max-age=0", bar',
        "max-stale=0",
    ],
)
def test_other_directives_do_not_invalidate(cache_control: str) -> None:
    assert (
        invalidation(
            cache_control, require_authorization=False, authorized=True, strategy="FAIL_WITH_403"
        )
        is Invalidation.NONE
    )


def test_unknown_strategy_is_an_error_not_a_silent_choice() -> None:
    with pytest.raises(ValueError, match="must be one of FAIL_WITH_403"):
        invalidation("max-age=0", require_authorization=True, authorized=False, strategy="x")


def test_warning_header_text() -> None:
    assert WARNING_HEADER == (
        "199 Cache-control headers were ignored because the caller was unauthorized."
    )


@pytest.mark.parametrize(
    ("status", "body_len", "expected"),
    [
        (200, 0, True),
        (204, 10, True),
        (299, 1_048_576, True),
        (200, 1_048_577, False),
        (199, 10, False),
        (300, 10, False),
        (304, 0, False),
        (404, 10, False),
        (429, 10, False),
        (500, 10, False),
    ],
)
def test_cacheable(status: int, body_len: int, expected: bool) -> None:
    assert cacheable(status, body_len) is expected
