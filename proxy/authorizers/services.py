"""What authorizers share per process, in a module of its own so that the pipeline's shared
types (``proxy._types.Services``) can name it without importing the authorizers."""

from __future__ import annotations

import time
from collections.abc import Callable

from proxy.auth import Jwks

__all__ = ["AuthorizerServices"]


class AuthorizerServices:
    """Per process, owned by the runtime: the clocks authorizers read (injected in tests) and
    the user pools' key sets, read once per process and source (refreshed on an unknown key id,
    never per request) so that a reload keeps them."""

    __slots__ = ("_jwks", "clock", "monotonic")

    def __init__(self, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # epoch seconds: token expiry, SigV4 dates, policy conditions
        self.monotonic = monotonic  # the result cache's TTLs
        self._jwks: dict[str, Jwks] = {}

    def jwks(self, source: str) -> Jwks:
        found = self._jwks.get(source)
        if found is None:
            found = self._jwks[source] = Jwks(source, clock=self.monotonic)
        return found
