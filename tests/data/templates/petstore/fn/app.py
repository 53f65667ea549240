"""The function behind the petstore template's {proxy+} route (with WithFunction=true)."""

from __future__ import annotations

import json
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps({"path": event.get("path")})}
