"""A Lambda proxy (payload format 1.0) handler: JSON CRUD on pets, kept in the instance's
memory (so a warm instance remembers, as Lambda's execution environments do)."""
from __future__ import annotations

import json
import time

PETS = {"1": {"id": "1", "type": "dog", "price": 249.99}}
STARTED = time.time()


def _answer(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}


def handler(event, context):
    method = event["httpMethod"]
    pet_id = (event.get("pathParameters") or {}).get("petId")
    if pet_id is None:
        if method == "GET":
            kind = (event.get("queryStringParameters") or {}).get("type")
            pets = [p for p in PETS.values() if kind is None or p["type"] == kind]
            return _answer(200, pets)
        if method == "POST":
            try:
                pet = json.loads(event.get("body") or "")
            except ValueError:
                return _answer(400, {"message": "the body must be a JSON pet"})
            if not isinstance(pet, dict) or not isinstance(pet.get("type"), str):
                return _answer(400, {"message": "a pet needs a type"})
            pet_id = str(max((int(k) for k in PETS), default=0) + 1)
            PETS[pet_id] = {"id": pet_id, "type": pet["type"], "price": pet.get("price")}
            return _answer(201, PETS[pet_id])
        return _answer(405, {"message": f"{method} is not allowed"})
    pet = PETS.get(pet_id)
    if pet is None:
        return _answer(404, {"message": f"no pet {pet_id}"})
    if method == "GET":
        return _answer(200, pet)
    if method == "PUT":
        try:
            pet.update(json.loads(event.get("body") or "{}"))
        except ValueError:
            return _answer(400, {"message": "the body must be JSON"})
        pet["id"] = pet_id
        return _answer(200, pet)
    if method == "DELETE":
        del PETS[pet_id]
        return {"statusCode": 204}
    return _answer(405, {"message": f"{method} is not allowed"})


def fails(event, context):
    """An unhandled exception: API Gateway answers 502 Internal server error."""
    raise RuntimeError("this function always fails")


def slow(event, context):
    """Sleeps ?seconds= (default 1) before answering; past the 3 s timeout it times out."""
    seconds = float((event.get("queryStringParameters") or {}).get("seconds", "1"))
    time.sleep(seconds)
    return _answer(200, {"slept": seconds,
                         "remainingMs": context.get_remaining_time_in_millis(),
                         "warmForSeconds": round(time.time() - STARTED, 1)})


def me(event, context):
    """Behind the TOKEN authorizer: who the authorizer said the caller is."""
    authorizer = event["requestContext"]["authorizer"]
    return _answer(200, {"principal": authorizer["principalId"], "plan": authorizer["plan"],
                         "admin": authorizer["admin"]})
