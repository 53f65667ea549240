"""Waiting for a condition that a socket event will make true (not a timing assumption)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float = 3.0,
                     what: str = "condition") -> None:
    """Poll ``check`` (plain or async) until it is true; fail after ``within`` seconds."""
    end = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert time.monotonic() < end, f"not within {within:g} s: {what}"
        await asyncio.sleep(0.005)
