"""The pets handler of the test CDK app (Lambda proxy integration)."""

from __future__ import annotations

import json
import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    pet = (event.get("pathParameters") or {}).get("petId")
    body = {"pet": pet, "greeting": os.environ.get("GREETING"), "path": event.get("path")}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}
