"""Load drivers: ``wrk`` (when installed) and the built-in asyncio driver."""

from __future__ import annotations

from bench.drivers.base import LoadSettings, RequestSpec, RunResult

__all__ = ["LoadSettings", "RequestSpec", "RunResult"]
