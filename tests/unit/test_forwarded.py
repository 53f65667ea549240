"""X-Forwarded-For/Port/Proto: one helper for HTTP_PROXY, HTTP and AWS_PROXY."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from proxy.headers import forwarded


def _request(scheme: str, sockname: Any, headers: dict[str, str] | None = None) -> Any:
    return SimpleNamespace(scheme=scheme, headers=headers or {},
                           protocol=SimpleNamespace(sockname=sockname))


def test_port_from_the_socket() -> None:
    assert forwarded(_request("http", ("127.0.0.1", 8080)), "1.2.3.4") == (
        ("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Port", "8080"),
        ("X-Forwarded-Proto", "http"))


def test_https_without_sockname_is_443() -> None:
    # AWS_PROXY wrote "80" here while HTTP and HTTP_PROXY wrote 443
    assert forwarded(_request("https", None), "1.2.3.4")[1] == ("X-Forwarded-Port", "443")
    assert forwarded(_request("http", None), "1.2.3.4")[1] == ("X-Forwarded-Port", "80")


def test_client_forwarded_for_is_appended_to() -> None:
    request = _request("http", None, {"X-Forwarded-For": "9.9.9.9"})
    assert forwarded(request, "1.2.3.4")[0] == ("X-Forwarded-For", "9.9.9.9, 1.2.3.4")
    assert forwarded(_request("http", None), None)[0] == ("X-Forwarded-For", "")
