"""A queue worker of the test SAM app; Sluice serves APIs only, so it is never run."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> None:
    for record in event.get("Records", []):
        print(record.get("body"))
