"""The notes functions of the SAM example (Lambda proxy integration, payload format 1.0)."""

from __future__ import annotations

import json
import os
from typing import Any

NOTES = {"1": "buy milk", "2": "write tests"}


def _reply(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}


def list_notes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _reply(200, [{"id": k, "text": v} for k, v in NOTES.items()])


def get_note(event: dict[str, Any], context: Any) -> dict[str, Any]:
    note_id = event["pathParameters"]["id"]
    if note_id not in NOTES:
        return _reply(404, {"message": f"no note {note_id}"})
    return _reply(200, {"id": note_id, "text": NOTES[note_id]})


def hello(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _reply(200, {"message": f"{os.environ['GREETING']} from {context.function_name}"})
