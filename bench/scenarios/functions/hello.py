"""The `lambda` scenario's function: a trivial Lambda proxy handler."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": '{"hello":"world"}'}
