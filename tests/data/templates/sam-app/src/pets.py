"""The pets functions of the test SAM app (Lambda proxy integration, payload format 1.0)."""

from __future__ import annotations

import json
import os
from typing import Any

_PETS = [{"id": "1", "name": "Rex"}, {"id": "2", "name": "Tom"}]


def _response(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}


def list_pets(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("pathParameters"):  # the template routes /pets/{petId} here too
        return get_pet(event, context)
    query = event.get("queryStringParameters") or {}
    limit = int(query.get("limit", len(_PETS)))
    return _response(200, {"table": os.environ.get("TABLE_NAME"), "pets": _PETS[:limit],
                           "principal": (event["requestContext"].get("authorizer") or {})
                           .get("principalId")})


def get_pet(event: dict[str, Any], context: Any) -> dict[str, Any]:
    wanted = event["pathParameters"]["petId"]
    for pet in _PETS:
        if pet["id"] == wanted:
            return _response(200, pet)
    return _response(404, {"message": f"no pet {wanted}"})


def create_pet(event: dict[str, Any], context: Any) -> dict[str, Any]:
    pet = json.loads(event.get("body") or "{}")
    if len(pet.get("name", "")) > int(os.environ.get("MAX_NAME_LENGTH", "64")):
        return _response(400, {"message": "name too long"})
    return _response(201, {"id": "3", **pet})
